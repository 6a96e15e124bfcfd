"""The ceiling: a bare WSGI callable replaying feedsvc's own responses under granian.

It answers each benchmarked path with the bytes and headers feedsvc gave for it (200, gzip, 304
on a matching If-None-Match) and does nothing else, so it is the fastest any WSGI application can
be under the same server and settings. feedsvc against it shows what feedsvc's own code costs;
it against nginx shows what the server costs. Only for measurement: it trusts its inputs.

``run.py`` writes the responses into a folder and starts
``granian --interface wsgi benchmarks.ceiling:app`` with FEEDSVC_BENCH_CEILING set to that folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# Hop-by-hop and per-response headers the server writes itself.
SERVER_HEADERS = frozenset({"server", "date", "connection", "transfer-encoding", "keep-alive"})


def save(
    folder: Path, path: str, variant: str, status: int, headers: dict[str, str], body: bytes
) -> None:
    """Record one response (``variant`` is identity, gzip or 304) for the ceiling to replay."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    body_file = f"{len(manifest)}-{variant}.body"
    (folder / body_file).write_bytes(body)
    kept = [[k, v] for k, v in headers.items() if k.lower() not in SERVER_HEADERS]
    manifest[f"{path} {variant}"] = {"status": status, "headers": kept, "body": body_file}
    manifest_path.write_text(json.dumps(manifest))


def _load(folder: Path) -> dict[str, tuple[str, list[tuple[str, str]], bytes]]:
    statuses = {200: "200 OK", 304: "304 Not Modified"}
    manifest = json.loads((folder / "manifest.json").read_text())
    return {
        key: (
            statuses[entry["status"]],
            [(k, v) for k, v in entry["headers"]],
            (folder / entry["body"]).read_bytes(),
        )
        for key, entry in manifest.items()
    }


_RESPONSES = (
    _load(Path(os.environ["FEEDSVC_BENCH_CEILING"]))
    if ("FEEDSVC_BENCH_CEILING" in os.environ)
    else {}
)
_ETAGS = {
    key.rsplit(" ", 1)[0]: {v for k, v in headers if k.lower() == "etag"}
    for key, (_, headers, _) in _RESPONSES.items()
}


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if environ.get("HTTP_IF_NONE_MATCH") in _ETAGS.get(path, ()):
        variant = "304"
    elif "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
        variant = "gzip"
    else:
        variant = "identity"
    response = _RESPONSES.get(f"{path} {variant}") or _RESPONSES.get(f"{path} identity")
    if response is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return []
    status, headers, body = response
    start_response(status, headers)
    return [body]
