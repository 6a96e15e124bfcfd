"""The serving cases: which requests each server gets, and that they all answer alike.

feedsvc's responses are copied into nginx's root (and into the ceiling's folder) as static files,
so the servers serve the very same bytes; every case is checked to get the same status, body and
Content-Encoding from each before it is measured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .ceiling import save as save_response
from .harness import WrkResult, fetch
from .nginx import publish_static
from .report import FEED_200, FEED_304, FEED_GZIP, PERMALINK


@dataclass(frozen=True)
class Request:
    path: str
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One kind of request, as sent to each server (nginx's path and ETag differ)."""

    name: str
    target: float | None
    requests: dict[str, Request]


@dataclass
class CaseResult:
    runs: dict[str, list[WrkResult]] = field(default_factory=dict)

    def ratios(self, who: str = "feedsvc", baseline: str = "nginx") -> list[float]:
        pairs = zip(self.runs[who], self.runs[baseline], strict=True)
        return [a.rps / b.rps for a, b in pairs]

    def cpu_ratios(self, who: str, baseline: str = "nginx") -> list[float]:
        """Server CPU per request of ``who`` over the baseline's, run by run (> 1: costlier)."""
        pairs = zip(self.runs[who], self.runs[baseline], strict=True)
        return [
            (a.cpu_s / a.requests) / (b.cpu_s / b.requests)
            for a, b in pairs
            if a.cpu_s and b.cpu_s and a.requests and b.requests
        ]

    def p99_ratios(self, who: str = "feedsvc", baseline: str = "nginx") -> list[float]:
        pairs = zip(self.runs[who], self.runs[baseline], strict=True)
        return [a.p99_ms / b.p99_ms for a, b in pairs]


def build_cases(
    port: int, nginx_root: Path, ceiling: Path | None, gzip_static: bool
) -> tuple[list[Case], dict[str, list[tuple[str, str]]]]:
    """Copy what feedsvc serves into nginx's root (and the ceiling's folder) and describe
    the requests; nginx's If-None-Match is filled in by ``finish_cases`` once it is up. Also
    the header fields feedsvc sent with each path (for nginx.start_nginx_with_headers)."""
    cases = []
    served: dict[str, list[tuple[str, str]]] = {}
    gz = ("Accept-Encoding: gzip",)
    for fmt in ("atom", "rss"):
        path = f"/feed.{fmt}"
        plain, packed = fetch(port, path), fetch(port, path, {"Accept-Encoding": "gzip"})
        _expect(plain.status == 200 and packed.headers.get("content-encoding") == "gzip", path)
        inm = (f"If-None-Match: {plain.headers['etag']}",)
        publish_static(nginx_root, path, plain.body, packed.body)
        served[path] = plain.fields
        if ceiling:
            not_modified = fetch(port, path, _headers(inm))
            for variant, reply in (("identity", plain), ("gzip", packed), ("304", not_modified)):
                save_response(ceiling, path, variant, reply.status, reply.headers, reply.body)
        gzip_path = path if gzip_static else path + ".gz"
        cases += [
            _case(f"{fmt} 200", FEED_200, Request(path), Request(path)),
            _case(f"{fmt} gzip", FEED_GZIP, Request(path, gz), Request(gzip_path, gz)),
            _case(f"{fmt} 304", FEED_304, Request(path, inm), Request(path)),
        ]
    page_path = _permalink(fetch(port, "/feed.atom").body)
    page = fetch(port, page_path)
    _expect(page.status == 200, page_path)
    publish_static(nginx_root, page_path, page.body, None)
    served[page_path] = page.fields
    if ceiling:
        save_response(ceiling, page_path, "identity", page.status, page.headers, page.body)
    cases.append(_case("permalink 200", PERMALINK, Request(page_path), Request(page_path)))
    return cases, served


def _case(name: str, target: float, ours: Request, static: Request) -> Case:
    # The cache tier is asked exactly what feedsvc is; the static build by its own path, with
    # its own ETag for 304s (finish_cases), like the baseline; the tier's ceiling, the cache in
    # front of the baseline, and nginx with feedsvc's headers, exactly what the baseline is.
    built = Request(ours.path, tuple(h for h in ours.headers if not h.startswith("If-None-Match")))
    return Case(
        name, target,
        {"feedsvc": ours, "ceiling": ours, "nginx": static, "tier": ours, "static": built,
         "tiercap": static, "headers": static},
    )  # fmt: skip


def _permalink(atom: bytes) -> str:
    link = re.search(rb'<link href="http://127\.0\.0\.1:\d+(/articles/[^"]+)"', atom)
    _expect(link is not None, "a permalink in /feed.atom")
    return link.group(1).decode()  # type: ignore[union-attr]


def finish_cases(cases: list[Case], ports: dict[str, int]) -> list[Case]:
    """Give nginx's 304 requests nginx's own ETag; check every server answers alike."""
    finished = []
    for case in cases:
        requests = {who: r for who, r in case.requests.items() if who in ports}
        if case.name.endswith("304"):
            for who in ("nginx", "static", "tiercap", "headers"):  # servers with nginx's ETags
                if who in requests:
                    etag = fetch(ports[who], requests[who].path).headers["etag"]
                    requests[who] = Request(requests[who].path, (f"If-None-Match: {etag}",))
        case = Case(case.name, case.target, requests)
        check_same(case, ports)
        finished.append(case)
    return finished


def _headers(lines: Iterable[str]) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in lines)


def check_same(case: Case, ports: dict[str, int]) -> None:
    """Status, body and Content-Encoding must be the same from every server."""
    replies = {
        who: fetch(ports[who], r.path, _headers(r.headers)) for who, r in case.requests.items()
    }
    ours = replies.pop("feedsvc")
    for who, theirs in replies.items():
        _expect(ours.status == theirs.status, f"{case.name}: {who} status {theirs.status}")
        _expect(ours.body == theirs.body, f"{case.name}: {who}'s body differs from feedsvc's")
        coding = theirs.headers.get("content-encoding")
        _expect(ours.headers.get("content-encoding") == coding, f"{case.name}: {who} {coding}")


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"unexpected response: {what}")


def case_json(case: Case, result: CaseResult) -> dict[str, Any]:
    data = {
        "target": case.target,
        "requests": {who: asdict(request) for who, request in case.requests.items()},
        "runs": {who: [asdict(run) for run in runs] for who, runs in result.runs.items()},
        "ratio": result.ratios(),
        "p99_ratio": result.p99_ratios(),
    }
    if "ceiling" in result.runs:
        data["ceiling_ratio"] = result.ratios("ceiling")
        data["feedsvc_vs_ceiling"] = result.ratios("feedsvc", "ceiling")
    for who in ("tier", "static", "tiercap", "headers"):
        if who in result.runs:
            data[f"{who}_ratio"] = result.ratios(who)
            data[f"{who}_cpu_ratio"] = result.cpu_ratios(who)
    if "static" in result.runs and "headers" in result.runs:
        # The generated configuration against the least nginx does to send the same responses.
        data["static_vs_headers"] = result.ratios("static", "headers")
        data["static_vs_headers_cpu"] = result.cpu_ratios("static", "headers")
    return data
