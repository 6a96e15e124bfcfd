"""The performance benchmark of issue 5: feedsvc against nginx, and the indexer against a floor.

    python -m benchmarks.run [--quick] [--sizes 1000,10000,100000] [--out benchmarks/results]

The machine is shared and noisy, so every figure is a ratio against a baseline measured in the
same run, the two alternating, reported as the median and min-max over several rounds:

* serving: ``wrk`` against ``feedsvc serve`` (its default workers and threads) and against nginx
  serving the very same bytes as static files (a pre-compressed copy for gzip), for 200, gzip and
  304 responses of /feed.atom and /feed.rss and for one permalink page;
* indexing: a first ``feedsvc index`` against a floor (read every file, split it into paragraphs,
  dateutil-parse its date line), both as fresh processes; then a restart with unchanged documents,
  and how long a document written into the seeds folder of a running server takes to reach every
  feed;
* growth: the serving ratios at the largest N against the smallest, and each worker's resident
  memory.

It prints a table of targets with PASS/FAIL and writes ``results.json`` and ``performance.png``
into the output folder. Corpora are generated once into ``--corpus-dir`` and reused. Every process
it starts runs in its own session and is stopped, by process group, on exit, failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import corpus
from .ceiling import save as save_response
from .harness import Processes, WrkResult, child_pids, fetch, free_port, rss_mib, wait_until_up
from .harness import wrk as run_wrk
from .nginx import nginx_has_gzip_static, publish_static, start_nginx
from .report import FEED_200, FEED_304, FEED_GZIP, PERMALINK, plot, table, verdicts

REPO = Path(__file__).resolve().parents[1]

# -- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...]
    rounds: int
    seconds: int
    warmup_seconds: int
    index_rounds: int
    visibility_trials: int
    connections: int
    threads: int
    seed: int
    out: Path
    corpus_dir: Path
    quick: bool
    ceiling: bool
    serve_workers: int | None
    serve_threads: int | None
    source: Path | None


def parse_args(argv: Sequence[str] | None) -> Settings | Path:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Measure feedsvc against nginx and a read-and-parse floor (issue 5): "
        "serving, indexing, growth. Prints the targets with PASS/FAIL; writes results.json "
        "and performance.png into --out.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="sizes 1000,10000, short wrk runs: a few minutes"
    )
    parser.add_argument(
        "--sizes", help="corpus sizes (default 1000,10000,100000; quick: 1000,10000)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results"),
        help="folder for results.json, performance.png and server logs",
    )
    parser.add_argument(
        "--rounds", type=int, help="wrk rounds per case and server (default 5; quick: 3)"
    )
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (default 5; quick: 1)")
    parser.add_argument("--index-rounds", type=int, help="first-index rounds (default 3; quick: 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "feedsvc-bench-corpus",
        help="where corpora are generated once and reused (default: %(default)s)",
    )
    parser.add_argument(
        "--ceiling",
        action=argparse.BooleanOptionalAction,
        help="also measure a bare WSGI callable under granian replaying feedsvc's responses "
        "(default: on; quick: off)",
    )
    parser.add_argument(
        "--serve-workers", type=int, help="feedsvc serve --workers (default: its own)"
    )
    parser.add_argument(
        "--serve-threads", type=int, help="feedsvc serve --threads (default: its own)"
    )
    parser.add_argument(
        "--source",
        type=Path,
        help="measure the feedsvc package in this folder (e.g. a `git archive` snapshot) "
        "instead of the installed one",
    )
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor:
        return args.floor
    quick = args.quick
    sizes = args.sizes or ("1000,10000" if quick else "1000,10000,100000")
    try:
        parsed_sizes = tuple(sorted({int(s) for s in sizes.split(",") if s.strip()}))
    except ValueError:
        parser.error(f"--sizes {sizes!r} must be whole numbers separated by commas")
    if not parsed_sizes or min(parsed_sizes) < 60:
        parser.error("every size must be at least 60 (the feed holds 50 articles)")
    return Settings(
        sizes=parsed_sizes,
        rounds=args.rounds or (3 if quick else 5),
        seconds=args.seconds or (1 if quick else 5),
        warmup_seconds=1,
        index_rounds=args.index_rounds or (2 if quick else 3),
        visibility_trials=3 if quick else 7,
        connections=args.connections,
        threads=args.threads,
        seed=args.seed,
        out=args.out,
        corpus_dir=args.corpus_dir,
        quick=quick,
        ceiling=not quick if args.ceiling is None else args.ceiling,
        serve_workers=args.serve_workers,
        serve_threads=args.serve_threads,
        source=args.source.resolve() if args.source else None,
    )


# -- the corpus and the floor ----------------------------------------------------------------


def ensure_corpus(settings: Settings, n: int) -> Path:
    """The generated corpus of ``n`` documents, written once and reused while complete."""
    folder = settings.corpus_dir / f"n{n}-seed{settings.seed}"
    marker = folder / ".complete"  # hidden: feedsvc does not treat it as a document
    if marker.exists() and marker.read_text().strip() == str(n):
        for path in folder.glob("*.txt"):  # probes left by an interrupted run
            if int(path.name.split("_", 1)[0]) >= n:
                path.unlink()
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    log(f"generating {n:,} documents into {folder}")
    corpus.write(folder, n, settings.seed)
    marker.write_text(f"{n}\n")
    return folder


_BLANK_LINES = re.compile(r"\n\s*\n")


def floor(folder: Path) -> tuple[int, int]:
    """The least an indexer must do: read every file, split it into paragraphs, and
    dateutil-parse its date line. Returns the number of paragraphs and of dates parsed."""
    from dateutil import parser as dateutil_parser

    tzinfos = {"ET": -5 * 3600, "UTC": 0}
    parsed = paragraph_count = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".txt"):
            continue
        text = (folder / name).read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
        paragraph_count += len([p.strip() for p in _BLANK_LINES.split(text)])
        lines = [line for line in text.split("\n", 4)[:4] if line.strip()]
        date_line = lines[1] if len(lines) > 1 else ""
        try:
            dateutil_parser.parse(date_line, tzinfos=tzinfos)
            parsed += 1
        except (ValueError, OverflowError):
            pass
    return paragraph_count, parsed


# -- commands --------------------------------------------------------------------------------


def feedsvc_command() -> list[str]:
    script = Path(sys.executable).with_name("feedsvc")
    found = str(script) if script.exists() else shutil.which("feedsvc")
    if not found:
        raise SystemExit("feedsvc is not installed in this environment: pip install -e .")
    return [found]


def feedsvc_env(seeds: Path, index: Path, port: int, source: Path | None) -> dict[str, str]:
    # The developer's own FEEDSVC_* settings must not leak into the measurement.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    if source:  # ahead of the editable install, whose finder comes after sys.path
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    env.update(
        FEEDSVC_SEEDS_DIR=str(seeds),
        FEEDSVC_INDEX_PATH=str(index),
        FEEDSVC_SITE_URL=f"http://127.0.0.1:{port}",
    )
    return env


def remove_index(index: Path) -> None:
    for path in index.parent.glob(index.name + "*"):
        path.unlink()


# -- indexing --------------------------------------------------------------------------------


def measure_indexing(
    procs: Processes, settings: Settings, seeds: Path, index: Path, n: int
) -> dict[str, Any]:
    env = feedsvc_env(seeds, index, 1, settings.source)
    floor_cmd = [sys.executable, "-m", "benchmarks.run", "--floor", str(seeds)]
    index_cmd = [*feedsvc_command(), "index"]
    # feedsvc runs outside the repository, so that nothing (granian puts its working directory
    # first on sys.path) can import the working tree instead of --source.
    here = index.parent
    procs.run(floor_cmd, cwd=REPO)  # warm the page cache: both then read from memory
    floors: list[float] = []
    firsts: list[float] = []
    for round_ in range(settings.index_rounds):
        remove_index(index)
        pair = [("floor", floor_cmd), ("index", index_cmd)]
        for what, cmd in pair if round_ % 2 == 0 else reversed(pair):
            seconds, out = procs.run(cmd, env=env, cwd=REPO if what == "floor" else here)
            (floors if what == "floor" else firsts).append(seconds)
            if what == "index" and f"{n} articles" not in out:
                raise RuntimeError(f"feedsvc index did not index all {n} documents: {out}")
        log(f"  index round {round_ + 1}: floor {floors[-1]:.2f} s, first index {firsts[-1]:.2f} s")
    restarts = [procs.run(index_cmd, env=env, cwd=here)[0] for _ in range(settings.index_rounds)]
    serve_restarts = [
        serve_restart(procs, settings, seeds, index) for _ in range(settings.index_rounds)
    ]
    startup = [
        procs.run([*feedsvc_command(), "--help"], env=env, cwd=here)[0]
        for _ in range(settings.index_rounds)
    ]
    log(f"  restart with unchanged documents: {', '.join(f'{s:.2f}' for s in restarts)} s")
    log(f"  serve restart to first feed: {', '.join(f'{s:.2f}' for s in serve_restarts)} s")
    return {
        "floor_s": floors,
        "first_index_s": firsts,
        "ratio": [i / f for i, f in zip(firsts, floors, strict=True)],
        "restart_s": restarts,
        "serve_restart_s": serve_restarts,
        "cli_startup_s": startup,
    }


def serve_restart(procs: Processes, settings: Settings, seeds: Path, index: Path) -> float:
    """Seconds from starting ``feedsvc serve`` on an up-to-date index to the first 200 of
    /feed.atom: what readers wait for when the operator restarts the service."""
    port = free_port()
    started = time.perf_counter()
    server = procs.start(
        [*feedsvc_command(), "serve", "--bind", f"127.0.0.1:{port}"],
        env=feedsvc_env(seeds, index, port, settings.source),
        log=index.parent / "serve-restart.log",
        cwd=index.parent,
    )
    try:
        wait_until_up(port, "/feed.atom", server, timeout=60, interval=0.01)
        return time.perf_counter() - started
    finally:
        procs.stop(server)


# -- serving ---------------------------------------------------------------------------------


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

    def p99_ratios(self, who: str = "feedsvc", baseline: str = "nginx") -> list[float]:
        pairs = zip(self.runs[who], self.runs[baseline], strict=True)
        return [a.p99_ms / b.p99_ms for a, b in pairs]


def build_cases(port: int, nginx_root: Path, ceiling: Path | None, gzip_static: bool) -> list[Case]:
    """Copy what feedsvc serves into nginx's root (and the ceiling's folder) and describe
    the requests; nginx's If-None-Match is filled in by ``finish_cases`` once it is up."""
    cases = []
    gz = ("Accept-Encoding: gzip",)
    for fmt in ("atom", "rss"):
        path = f"/feed.{fmt}"
        plain, packed = fetch(port, path), fetch(port, path, {"Accept-Encoding": "gzip"})
        _expect(plain.status == 200 and packed.headers.get("content-encoding") == "gzip", path)
        inm = (f"If-None-Match: {plain.headers['etag']}",)
        publish_static(nginx_root, path, plain.body, packed.body)
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
    if ceiling:
        save_response(ceiling, page_path, "identity", page.status, page.headers, page.body)
    cases.append(_case("permalink 200", PERMALINK, Request(page_path), Request(page_path)))
    return cases


def _case(name: str, target: float, ours: Request, static: Request) -> Case:
    return Case(name, target, {"feedsvc": ours, "ceiling": ours, "nginx": static})


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
            etag = fetch(ports["nginx"], requests["nginx"].path).headers["etag"]
            requests["nginx"] = Request(requests["nginx"].path, (f"If-None-Match: {etag}",))
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


def measure_serving(
    procs: Processes, settings: Settings, cases: list[Case], ports: dict[str, int]
) -> dict[str, CaseResult]:
    """Rounds of one wrk run per case and server, rotating which server goes first."""

    def run(case: Case, who: str, seconds: int) -> WrkResult:
        request = case.requests[who]
        url = f"http://127.0.0.1:{ports[who]}{request.path}"
        return wrk(procs, url, request.headers, settings, seconds)

    for case in cases:  # workers render and cache; nginx's files reach the page cache
        for who in ports:
            run(case, who, settings.warmup_seconds)
    results = {case.name: CaseResult({who: [] for who in ports}) for case in cases}
    servers = list(ports)
    for round_ in range(settings.rounds):
        for number, case in enumerate(cases):
            shift = (round_ + number) % len(servers)
            for who in servers[shift:] + servers[:shift]:
                measured = run(case, who, settings.seconds)
                if measured.bad:
                    raise RuntimeError(f"{who} {case.name}: {measured.bad} bad responses")
                results[case.name].runs[who].append(measured)
        shown = ", ".join(f"{name} {r.ratios()[-1]:.2f}" for name, r in results.items())
        log(f"  serving round {round_ + 1}/{settings.rounds}, feedsvc/nginx: {shown}")
    return results


# -- a new document reaching every feed ------------------------------------------------------


def probe_document(seeds: Path, n: int, trial: int, seed: int) -> tuple[str, str]:
    """Write a new document, newest of all, atomically; returns (file name, article id)."""
    name = corpus.file_name(n + trial, seed)
    _, text = next(corpus.generate(1, seed=-1 - trial - 1000 * seed))
    when = datetime.now(UTC) - timedelta(minutes=5)
    lines = text.split("\n")
    lines[0] = f"Benchmark probe {trial} reaches every feed of the service."
    lines[1] = when.strftime("%b %d, %Y %I:%M %p UTC")
    scratch = seeds / f".{name}.tmp"  # hidden names are not documents
    scratch.write_text("\n".join(lines), encoding="utf-8")
    os.replace(scratch, seeds / name)
    return name, name.split("_", 1)[1].removesuffix(".txt")


def time_to_visible(port: int, article_id: str, started: float, timeout: float = 20.0) -> float:
    """Seconds from ``started`` until every feed, from every worker, shows ``article_id``.

    Each poll opens a new connection, so the workers take turns; the document counts as visible
    from the first poll after the last one that did not show it, once it has been shown
    continuously for a second and at least 30 polls.
    """
    needle = f"/articles/{article_id}/".encode()
    paths = ("/feed.atom", "/feed.rss", "/feed.json")
    first_hit_after, hits = None, 0
    while time.perf_counter() - started < timeout:
        for path in paths:
            reply = fetch(port, path)
            now = time.perf_counter()
            if reply.status == 200 and needle in reply.body:
                first_hit_after = first_hit_after or now
                hits += 1
            else:
                first_hit_after, hits = None, 0
        if first_hit_after and hits >= 30 and time.perf_counter() - first_hit_after > 1.0:
            return first_hit_after - started
    return float("inf")


def measure_visibility(settings: Settings, seeds: Path, port: int, n: int) -> list[float]:
    rng = random.Random(settings.seed)
    seconds = []
    written = []
    try:
        for trial in range(settings.visibility_trials):
            time.sleep(rng.uniform(0.2, 1.2))  # land at a different point of the poll cycle
            name, article_id = probe_document(seeds, n, trial, settings.seed)
            written.append(name)
            seconds.append(time_to_visible(port, article_id, time.perf_counter()))
        shown = ", ".join(f"{s:.2f}" for s in seconds)
        log(f"  new document visible in every feed after: {shown} s")
    finally:
        for name in written:
            (seeds / name).unlink(missing_ok=True)
    return seconds


# -- one size --------------------------------------------------------------------------------


def measure_size(procs: Processes, settings: Settings, scratch: Path, n: int) -> dict[str, Any]:
    seeds = ensure_corpus(settings, n)
    work = scratch / f"n{n}"
    work.mkdir()
    index = work / "index.sqlite3"
    log(f"N = {n:,}: indexing")
    result: dict[str, Any] = {"n": n}
    result["indexing"] = measure_indexing(procs, settings, seeds, index, n)
    log(f"N = {n:,}: serving")
    result.update(measure_servers(procs, settings, work, seeds, index, n))
    shutil.copy(work / "feedsvc.log", settings.out / f"feedsvc-{n}.log")
    return result


def measure_servers(
    procs: Processes, settings: Settings, work: Path, seeds: Path, index: Path, n: int
) -> dict[str, Any]:
    ports = {"feedsvc": free_port(), "nginx": free_port()}
    ceiling = work / "ceiling" if settings.ceiling else None
    if ceiling:
        ports["ceiling"] = free_port()
    server, ready_s = start_feedsvc(procs, settings, work, seeds, index, ports["feedsvc"])
    gzip_static = nginx_has_gzip_static()
    cases = build_cases(ports["feedsvc"], work / "nginx" / "root", ceiling, gzip_static)
    baselines = [start_nginx(procs, work / "nginx", ports["nginx"], gzip_static)]
    wait_until_up(ports["nginx"], "/feed.atom", baselines[0], timeout=30)
    if ceiling:
        baselines.append(start_ceiling(procs, settings, ceiling, ports["ceiling"]))
        wait_until_up(ports["ceiling"], "/feed.atom", baselines[1], timeout=60)
    cases = finish_cases(cases, ports)
    serving = measure_serving(procs, settings, cases, ports)
    workers = child_pids(server.pid)
    workers_mib = [rss_mib(pid) for pid in workers]
    memory = {"server_mib": rss_mib(server.pid), "workers_mib": workers_mib}
    log(f"  resident memory: workers {', '.join(f'{m:.0f}' for m in workers_mib)} MiB")
    for proc in baselines:
        procs.stop(proc)
    visible = measure_visibility(settings, seeds, ports["feedsvc"], n)
    procs.stop(server)
    return {
        "serve_ready_s": ready_s,
        "serve_options": serve_options(settings),
        "nginx_gzip_static": gzip_static,
        "cases": {case.name: case_json(case, serving[case.name]) for case in cases},
        "memory": memory,
        "visible_s": visible,
    }


def start_feedsvc(
    procs: Processes, settings: Settings, work: Path, seeds: Path, index: Path, port: int
) -> tuple[subprocess.Popen[bytes], float]:
    started = time.perf_counter()
    options = [f"--{k}={v}" for k, v in serve_options(settings).items()]
    server = procs.start(
        [*feedsvc_command(), "serve", "--bind", f"127.0.0.1:{port}", *options],
        env=feedsvc_env(seeds, index, port, settings.source),
        log=work / "feedsvc.log",
        cwd=work,
    )
    wait_until_up(port, "/feed.atom", server, timeout=300)
    return server, time.perf_counter() - started


def serve_options(settings: Settings) -> dict[str, int]:
    """``feedsvc serve``'s workers and threads: its own defaults unless the run chose others."""
    from feedsvc import cli  # read only, to give the ceiling server the same settings

    workers = settings.serve_workers or int(getattr(cli, "DEFAULT_WORKERS", 2))
    threads = settings.serve_threads or int(getattr(cli, "DEFAULT_THREADS", 1))
    return {"workers": workers, "threads": threads}


def start_ceiling(
    procs: Processes, settings: Settings, folder: Path, port: int
) -> subprocess.Popen[bytes]:
    """granian running ``benchmarks.ceiling:app`` with feedsvc serve's settings."""
    options = serve_options(settings)
    granian = Path(sys.executable).with_name("granian")
    cmd = [
        str(granian) if granian.exists() else "granian",
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(options["workers"]),
        "--blocking-threads",
        str(options["threads"]),
        "--backlog",
        "2048",
        "--no-ws",
        "benchmarks.ceiling:app",
    ]
    env = {**os.environ, "FEEDSVC_BENCH_CEILING": str(folder)}
    return procs.start(cmd, env=env, log=folder / "granian.log", cwd=REPO)


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
    return data


# -- main ------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def environment(settings: Settings) -> dict[str, Any]:
    def output(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> str:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=30, env=env)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
        "nginx": output(["nginx", "-v"]),
        "wrk": output(["wrk", "--version"]),
        "git": output(["git", "describe", "--always", "--dirty"]),
        "feedsvc": output(
            [sys.executable, "-c", "import feedsvc; print(feedsvc.__file__)"],
            feedsvc_env(Path(), Path(), 1, settings.source),
            Path(tempfile.gettempdir()),  # as feedsvc runs: not from the repository
        ),
    }


def check_tools() -> None:
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install {tool})")
    feedsvc_command()


def wrk(
    procs: Processes, url: str, headers: Iterable[str], settings: Settings, seconds: int
) -> WrkResult:
    return run_wrk(
        procs,
        url,
        headers,
        seconds=seconds,
        connections=settings.connections,
        threads=settings.threads,
    )


def run(settings: Settings, procs: Processes) -> int:
    check_tools()
    if settings.source:  # for serve_options' look at feedsvc's defaults
        sys.path.insert(0, str(settings.source))
    settings.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "settings": {
            **asdict(settings),
            "out": str(settings.out),
            "corpus_dir": str(settings.corpus_dir),
        },
        "environment": environment(settings),
        "sizes": [],
    }
    scratch = Path(tempfile.mkdtemp(prefix="feedsvc-bench-"))
    scratch.chmod(0o755)  # nginx's workers run as another user when started by root
    results_path = settings.out / "results.json"
    try:
        for n in settings.sizes:
            results["sizes"].append(measure_size(procs, settings, scratch, n))
            results_path.write_text(json.dumps(results, indent=2, default=str))  # so far
    finally:
        procs.stop_all()
        shutil.rmtree(scratch, ignore_errors=True)
    results["environment"]["loadavg_after"] = os.getloadavg()
    rows = verdicts(results["sizes"])
    results["verdicts"] = [{**asdict(r), "measured": r.measured} for r in rows]
    results_path.write_text(json.dumps(results, indent=2, default=str))
    plot(results["sizes"], settings.out / "performance.png")
    for group in ("targets", "ceiling", "growth"):
        chosen = [r for r in rows if r.group == group]
        if chosen:
            print("\n" + table(chosen))
    print(f"\nwrote {settings.out / 'results.json'} and {settings.out / 'performance.png'}")
    return 0 if all(r.passed is not False for r in rows) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parsed = parse_args(argv)
    if isinstance(parsed, Path):
        print(floor(parsed))
        return 0
    procs = Processes()
    atexit.register(procs.stop_all)

    def terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, terminate)
    # Even when started in the background, where shells make SIGINT ignored by default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(parsed, procs)
    except KeyboardInterrupt:
        log("interrupted; stopping every process started")
        return 130
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
