"""A million documents: what grows with N, measured against the same service at N = 1,000.

    python -m benchmarks.million [--n 1000000] [--baseline 1000] [--corpus-dir DIR]
                                 [--work DIR] [--reuse-index] [--out benchmarks/results]

The corpus (benchmarks.corpus, about 3.1 KB a document: 3.9 GB on disk at a million) is
generated once. Then, for both sizes:

- the first ``feedsvc index`` (wall clock, and the writing process's peak resident memory,
  from GNU time, ``apt-get install time``;
  ``--reuse-index`` keeps an index already in step with the folder, taking its time from
  nothing), the index's size on disk, and a full rescan of the unchanged folder (what the
  watcher does for safety, and ``feedsvc index`` on restart), in a process of its own;
- ``feedsvc serve`` restarted on the up-to-date index, to its first 200 on /feed.atom (asked
  every 10 ms), as an operator restarts it: each run serves until its start-up scans are over
  and is then stopped as ``--stop`` says (``sigterm``: to the server alone, as systemd does with
  docs/feedsvc.service; ``ctrl-c``: SIGINT to the process group), ``--restarts`` times at each
  size, the sizes alternating; then ``--crashes`` restarts after a SIGKILL to the process group,
  which leaves no record of a clean stop, so the start reads the whole index (PRAGMA
  quick_check). Each start says whether the record of a clean stop was there, and the check's
  time when the server logged one. ``--restarts-only`` stops there;
- both services then run side by side (their defaults: 2 workers, 8 threads, access log off):
  the first render of each kind of page, once the watcher's start-up scans are over;
- feed 200, gzip and 304 and a permalink with wrk, the two services alternating in each round:
  the ratio of req/s at N over N = 1,000 in the same round, and of the service's CPU per
  request (its main process and workers), which a shared machine's load moves far less;
- a new document in every feed of the large service, from every worker (visibility.py);
- each worker's resident memory, after all of that;
- the sitemap: how many parts, and the first render of the last one.

It prints a Markdown table and writes ``million.json`` into ``--out``. The index (about 5 GB at
a million) is deleted at the end unless ``--work`` names a folder to keep it in; the corpus
stays in ``--corpus-dir`` (delete it by hand: 3.9 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import corpus
from .harness import Processes, child_pids, cpu_seconds, fetch, free_port, log, wait_until_up
from .indexing import POLL_SECONDS
from .service import feedsvc_command, feedsvc_env, remove_index, start_feedsvc
from .serving import wrk
from .settings import Settings, parse_args
from .visibility import measure_visibility

# The pages whose first render is timed: feeds of the site, an agency and a city; listings,
# facet indexes, the OPML list, the sitemap index; an article's page. (/feed.atom is rendered
# when the service is seen to be up: the restart figure holds it.)
FIRST_RENDERS = ("/feed.rss", "/feed.json", "/sources/reuters/feed.atom",
                 "/places/paris/feed.atom", "/", "/sources/reuters", "/sources", "/places",
                 "/feeds.opml", "/sitemap.xml", "/news-sitemap.xml")  # fmt: skip
QUIET_CPU_SECONDS = 0.2  # CPU a service may use over 2 s and still count as idle
SETTLE_TIMEOUT_SECONDS = 600
# How an operator stops the service: (signal, to the whole process group). systemd with
# docs/feedsvc.service (KillMode=mixed) sends SIGTERM to the server alone; Ctrl-C in a terminal
# is SIGINT to the group. A crash is SIGKILL to the group: no record of a clean stop is left.
STOPS = {"sigterm": (signal.SIGTERM, False), "ctrl-c": (signal.SIGINT, True),
         "crash": (signal.SIGKILL, True)}  # fmt: skip
STOP_TIMEOUT_SECONDS = 30
# A start after a crash reads the whole index first: 25 s at a million on a quiet machine.
RESTART_TIMEOUT_SECONDS = 600
WHOLE_CHECK_LOGGED = re.compile(r"checked the whole index .* \(([\d.]+) s\)")
# Where a start spends its time, from the server's log: the first line each of these begins, in
# the order a start logs them (the main process's check and count of the index, its summary of
# skipped documents, granian's start, the first worker up).
START_MARKS = {
    "index counted": r"serving [\d,]+ indexed",
    "summary done": r"serving http",
    "granian started": r"Starting granian",
    "first worker up": r"Started worker",
}
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \[\d+\] \w+ [\w.]+: (.*)$", re.M)


@dataclass
class Service:
    n: int
    seeds: Path
    index: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, peak resident MiB of the process itself, output) of a command.

    The peak comes from GNU time (``/usr/bin/time -f %M``): a process's own ru_maxrss counts
    from its parent's size when it was forked, and this benchmark is large.
    """
    with tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        timed = ["/usr/bin/time", "-o", peak.name, "-f", "%M", *cmd]
        done = subprocess.run(timed, env=env, cwd=cwd, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stdout}{done.stderr}")
        return seconds, int(peak.read().split()[-1]) / 1024, done.stdout + done.stderr


def index(svc: Service, settings: Settings, reuse: bool) -> dict[str, Any]:
    env = feedsvc_env(svc.seeds, svc.index, 1, None)
    cmd = [*feedsvc_command(), "index"]
    found: dict[str, Any] = {}
    if not reuse or not svc.index.exists():
        remove_index(svc.index)
        log(f"N = {svc.n:,}: first index")
        seconds, peak, out = run_measured(cmd, env, svc.index.parent)
        if not re.search(rf"\b({svc.n}|{svc.n:,}) articles\b", out):
            raise RuntimeError(f"feedsvc index did not index all {svc.n:,} documents: {out}")
        found.update(first_index_s=seconds, first_index_peak_mib=peak)
    log(f"N = {svc.n:,}: rescans of the unchanged folder")
    rescans = [run_measured(cmd, env, svc.index.parent)[:2] for _ in range(3)]
    found.update(
        rescan_s=[s for s, _ in rescans],
        rescan_peak_mib=[m for _, m in rescans],
        # The index path is a symbolic link to the build it names: counted once, as the build.
        index_mib=sum(
            p.stat().st_size
            for p in svc.index.parent.glob(svc.index.name + "*")
            if not p.is_symlink()
        )
        / 2**20,
    )
    return found


def wait_until_idle(svc: Service) -> float:
    """Seconds until the service's processes use (almost) no CPU: the watcher's start-up scans
    of the folder are over."""
    assert svc.proc is not None
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_TIMEOUT_SECONDS:
        before = cpu_seconds(svc.proc.pid)
        time.sleep(2)
        if cpu_seconds(svc.proc.pid) - before < QUIET_CPU_SECONDS:
            return time.monotonic() - started - 2
    return float("inf")


def memory_mib(pid: int) -> dict[str, list[float]]:
    """Resident and proportional (shared pages split) memory of each worker of ``pid``."""
    rss, pss = [], []
    for worker in child_pids(pid):
        text = Path(f"/proc/{worker}/smaps_rollup").read_text()
        rss.append(int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1)) / 1024)  # type: ignore[union-attr]
        pss.append(int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1)) / 1024)  # type: ignore[union-attr]
    return {"rss": rss, "pss": pss}


def serve_once(
    procs: Processes, settings: Settings, svc: Service, work: Path, stop: str
) -> dict[str, Any]:
    """One run of ``feedsvc serve`` on ``svc``'s index, as an operator restarts the service:
    seconds from its launch to its first 200 of /feed.atom, then serving until the watcher's
    start-up scans are over, then stopped as ``stop`` (a key of STOPS) says.

    Returns {"clean_record": whether the record of a clean stop (``<index>.clean``) was there at
    launch, "launched_at" (epoch seconds), "first_feed_s", "whole_check_s": the start-up check's
    time if the server logged one, "log_marks_s": start_marks, "settle_s", "stop": ``stop``,
    "exit_status", "left_record": whether this stop left the record}.
    """
    mark = svc.index.with_name(f"{svc.index.name}.clean")
    clean_record = mark.exists()
    log_path = work / f"restarts-{svc.n}.log"
    log_from = log_path.stat().st_size if log_path.exists() else 0
    port = free_port()
    launched_at = time.time()  # to set beside the server's log lines (wall clock, as they are)
    started = time.perf_counter()
    svc.proc = procs.start(
        [*feedsvc_command(), "serve", "--bind", f"127.0.0.1:{port}"],
        env=feedsvc_env(svc.seeds, svc.index, port, settings.source),
        log=log_path,
        cwd=work,
    )
    try:
        wait_until_up(
            port, "/feed.atom", svc.proc, timeout=RESTART_TIMEOUT_SECONDS, interval=POLL_SECONDS
        )
        first_feed = time.perf_counter() - started
        settle = wait_until_idle(svc)
        number, to_group = STOPS[stop]
        if to_group:
            os.killpg(svc.proc.pid, number)
        else:
            os.kill(svc.proc.pid, number)
        svc.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
    finally:
        procs.stop(svc.proc)  # whatever is left of the group (nothing, after a clean stop)
    with log_path.open("rb") as logged:
        logged.seek(log_from)
        text = logged.read().decode(errors="replace")
    checked = WHOLE_CHECK_LOGGED.search(text)
    return {
        "clean_record": clean_record,
        "launched_at": launched_at,
        "first_feed_s": first_feed,
        "whole_check_s": float(checked.group(1)) if checked else None,
        "log_marks_s": start_marks(text, launched_at),
        "settle_s": settle,
        "stop": stop,
        "exit_status": svc.proc.returncode,
        "left_record": mark.exists(),
    }


def start_marks(text: str, launched_at: float) -> dict[str, float]:
    """Seconds from the launch to the first log line of each START_MARKS in ``text`` (one run's
    log; its times are the local wall clock, to the millisecond)."""
    found: dict[str, float] = {}
    for stamp, message in LOG_LINE.findall(text):
        when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        for mark, pattern in START_MARKS.items():
            if mark not in found and re.match(pattern, message):
                found[mark] = when - launched_at
    return found


def restarts(
    procs: Processes,
    settings: Settings,
    services: list[Service],
    work: Path,
    *,
    count: int,
    crashes: int,
    stop: str,
) -> dict[str, Any]:
    """Restart to first feed at each size, the sizes alternating: ``count`` after a clean stop
    (``stop``), then ``crashes`` after a crash. A first run at each size, after whatever came
    before, is not counted; the last is stopped cleanly, to leave the index as it found it.

    Returns, per size, "after_clean_s" and "after_crash_s" (seconds to the first feed) and every
    run's serve_once record under "runs"; and the load averages before and after."""
    stops = [stop] * count + ["crash"] * crashes + [stop]
    found: dict[str, Any] = {"loadavg": os.getloadavg()}
    for svc in services:
        found[str(svc.n)] = {"after_clean_s": [], "after_crash_s": [], "runs": []}
    for k, this_stop in enumerate(stops):
        for svc in services if k % 2 == 0 else services[::-1]:
            run = serve_once(procs, settings, svc, work, this_stop)
            mine = found[str(svc.n)]
            after = mine["runs"][-1]["stop"] if mine["runs"] else None
            run["after"] = after
            mine["runs"].append(run)
            if after == "crash":
                mine["after_crash_s"].append(run["first_feed_s"])
            elif after is not None:
                mine["after_clean_s"].append(run["first_feed_s"])
            record = "there" if run["clean_record"] else "absent"
            log(f"  N = {svc.n:,}: after {after or 'the index'}: first feed "
                f"{run['first_feed_s']:.2f} s (record {record}, whole-index check "
                f"{run['whole_check_s']} s), scans over after {run['settle_s']:.0f} s; "
                f"{this_stop} left a record: {run['left_record']}")  # fmt: skip
    found["loadavg_end"] = os.getloadavg()
    return found


def first_renders(svc: Service) -> dict[str, float]:
    """Seconds each page takes when first asked for (rendered, not cached), by what it is; and
    the number of sitemap parts."""
    pages = {path: path for path in FIRST_RENDERS}
    atom = fetch(svc.port, "/feed.atom").body
    if link := re.search(rb"<link href=\"http://127\.0\.0\.1:\d+(/articles/[^\"]+)\"", atom):
        pages["an article's page"] = link.group(1).decode()
    if older := re.search(rb"rel=\"prev-archive\" href=\"http://127\.0\.0\.1:\d+([^\"]+)\"", atom):
        pages["the newest archive page"] = older.group(1).decode()
    sitemap = fetch(svc.port, "/sitemap.xml").body
    parts = re.findall(rb"<loc>http://127\.0\.0\.1:\d+(/sitemaps/\d+\.xml)</loc>", sitemap)
    if parts:
        pages["the last sitemap part"] = parts[-1].decode()
    found: dict[str, float] = {}
    for label, path in pages.items():
        started = time.perf_counter()
        reply = fetch(svc.port, path)
        found[label] = time.perf_counter() - started
        if reply.status != 200:
            raise RuntimeError(f"{path}: {reply.status}")
    found["sitemap parts"] = len(parts) if b"<sitemapindex" in sitemap else 1
    return found


def compare_serving(
    procs: Processes, settings: Settings, big: Service, small: Service
) -> dict[str, Any]:
    """wrk against both services, alternating, for 200, gzip and 304 of /feed.atom and for a
    permalink; the ratio big/small per round."""
    cases: dict[str, dict[int, tuple[str, list[str]]]] = {}
    for svc in (big, small):
        atom = fetch(svc.port, "/feed.atom")
        etag = atom.headers["etag"]
        link = re.search(rb"<link href=\"http://127\.0\.0\.1:\d+(/articles/[^\"]+)\"", atom.body)
        assert link is not None
        for name, path, headers in (
            ("atom 200", "/feed.atom", []),
            ("atom gzip", "/feed.atom", ["Accept-Encoding: gzip"]),
            ("atom 304", "/feed.atom", [f"If-None-Match: {etag}"]),
            ("permalink 200", link.group(1).decode(), []),
        ):
            cases.setdefault(name, {})[svc.n] = (path, headers)
    runs: dict[str, dict[int, list[float]]] = {name: {big.n: [], small.n: []} for name in cases}
    # The service's CPU per request (its main process and workers): what each request costs,
    # which the load of a shared machine moves far less than req/s.
    cpu_us: dict[str, dict[int, list[float]]] = {name: {big.n: [], small.n: []} for name in cases}
    for per_size in cases.values():  # warm-up: render and cache everything measured
        for svc in (big, small):
            path, headers = per_size[svc.n]
            wrk(procs, f"http://127.0.0.1:{svc.port}{path}", headers, settings, 1)
    for round_ in range(settings.rounds):
        for name, per_size in cases.items():
            order = (big, small) if round_ % 2 == 0 else (small, big)
            for svc in order:
                path, headers = per_size[svc.n]
                url = f"http://127.0.0.1:{svc.port}{path}"
                before = cpu_seconds(svc.proc.pid)  # type: ignore[union-attr]
                result = wrk(procs, url, headers, settings, settings.seconds)
                used = cpu_seconds(svc.proc.pid) - before  # type: ignore[union-attr]
                if result.bad:
                    raise RuntimeError(f"{name} at N = {svc.n:,}: {result.bad} bad responses")
                runs[name][svc.n].append(result.rps)
                cpu_us[name][svc.n].append(used / result.requests * 1e6)
        log(f"  serving round {round_ + 1}/{settings.rounds}: " + ", ".join(
            f"{name} {r[big.n][-1] / r[small.n][-1]:.2f}" for name, r in runs.items()))  # fmt: skip
    return {
        name: {"rps": {str(n): v for n, v in r.items()},
               "ratio": [b / s for b, s in zip(r[big.n], r[small.n], strict=True)],
               "cpu_us": {str(n): v for n, v in cpu_us[name].items()},
               "cpu_ratio": [b / s for b, s in zip(cpu_us[name][big.n], cpu_us[name][small.n],
                                                   strict=True)]}
        for name, r in runs.items()
    }  # fmt: skip


def median_range(values: list[float], unit: str = "", digits: int = 2) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.{digits}f}{unit}"
    return f"{med:,.{digits}f}{unit} [{min(values):,.{digits}f}-{max(values):,.{digits}f}]"


def report(results: dict[str, Any], big: int, small: int) -> str:
    b, s = results[str(big)], results[str(small)]
    lines = [f"| | N = {small:,} | N = {big:,} |", "|---|---|---|"]

    def row(label: str, key: str, unit: str = " s", digits: int = 2) -> None:
        def show(r: dict[str, Any]) -> str:
            value = r.get(key)
            if value is None:
                return "-"
            return median_range(value if isinstance(value, list) else [value], unit, digits)

        lines.append(f"| {label} | {show(s)} | {show(b)} |")

    row("first `feedsvc index`", "first_index_s")
    row("its peak resident memory", "first_index_peak_mib", " MiB", 0)
    row("index on disk", "index_mib", " MiB", 0)
    row("`feedsvc index`, folder unchanged (a full rescan)", "rescan_s")
    row("its peak resident memory", "rescan_peak_mib", " MiB", 0)
    row("`feedsvc serve` restart to first feed, after a clean stop", "serve_restart_s")
    row("the same after a crash (SIGKILL)", "serve_restart_after_crash_s")
    row("watcher's start-up scans done after", "settle_s")
    row("new document in every feed, every worker", "visible_s")
    row("worker resident memory (each)", "worker_rss_mib", " MiB", 0)
    row("worker proportional memory (each)", "worker_pss_mib", " MiB", 0)
    for label, seconds in b["first_render_s"].items():
        theirs = s["first_render_s"].get(label)
        if label == "sitemap parts":
            lines.append(f"| sitemap parts | {theirs} | {seconds} |")
            continue
        shown = "-" if theirs is None else f"{theirs * 1000:,.0f} ms"
        lines.append(f"| first render: {label} | {shown} | {seconds * 1000:,.0f} ms |")
    lines += ["", f"| case | req/s at N = {small:,} | req/s at N = {big:,} | ratio |",
              "|---|---|---|---|"]  # fmt: skip
    for name, r in results["serving"].items():
        small_rps, big_rps = (median_range(r["rps"][str(n)], "", 0) for n in (small, big))
        lines.append(f"| {name} | {small_rps} | {big_rps} | {median_range(r['ratio'])} |")
    lines += ["", f"| case | server CPU per request at N = {small:,} | at N = {big:,} | ratio |",
              "|---|---|---|---|"]  # fmt: skip
    for name, r in results["serving"].items():
        small_cpu, big_cpu = (median_range(r["cpu_us"][str(n)], " µs", 1) for n in (small, big))
        lines.append(f"| {name} | {small_cpu} | {big_cpu} | {median_range(r['cpu_ratio'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=1000)
    parser.add_argument("--corpus-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "feedsvc-bench-corpus")  # fmt: skip
    parser.add_argument("--work", type=Path, help="keep the indexes here (default: deleted)")
    parser.add_argument("--reuse-index", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--restarts",
        type=int,
        default=5,
        help="restarts after a clean stop at each size (default: 5)",
    )
    parser.add_argument(
        "--crashes", type=int, default=2, help="restarts after a crash at each size (default: 2)"
    )
    parser.add_argument(
        "--stop",
        choices=("sigterm", "ctrl-c"),
        default="sigterm",
        help="how a clean stop is made (default: sigterm, to the server alone)",
    )
    parser.add_argument(
        "--restarts-only",
        action="store_true",
        help="stop after the restarts (no serving, visibility, memory)",
    )
    args = parser.parse_args(argv)
    settings = parse_args(["--sizes", f"{args.baseline},{args.n}", "--rounds", str(args.rounds),
                           "--seconds", str(args.seconds),
                           "--corpus-dir", str(args.corpus_dir)])  # fmt: skip
    work = args.work or Path(tempfile.mkdtemp(prefix="feedsvc-million-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    procs = Processes()
    results: dict[str, Any] = {"n": args.n, "baseline": args.baseline, "loadavg": os.getloadavg()}
    services = [Service(n, corpus.ensure(args.corpus_dir, n), work / f"index-{n}.sqlite3")
                for n in (args.baseline, args.n)]  # fmt: skip
    try:
        for svc in services:
            results[str(svc.n)] = index(svc, settings, args.reuse_index)
            log(f"N = {svc.n:,}: {results[str(svc.n)]}")
        log(f"restarts: {args.restarts} after a clean stop ({args.stop}), {args.crashes} after a "
            "crash, at each size")  # fmt: skip
        results["restarts"] = restarts(procs, settings, services, work, count=args.restarts,
                                       crashes=args.crashes, stop=args.stop)  # fmt: skip
        for svc in services:
            made = results["restarts"][str(svc.n)]
            results[str(svc.n)]["serve_restart_s"] = made["after_clean_s"]
            results[str(svc.n)]["serve_restart_after_crash_s"] = made["after_crash_s"]
        if args.restarts_only:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "million.json").write_text(json.dumps(results, indent=2, default=str))
            for svc in services:
                for label, key in (("after a clean stop", "serve_restart_s"),
                                   ("after a crash", "serve_restart_after_crash_s")):  # fmt: skip
                    print(f"N = {svc.n:,}: restart to first feed {label}: "
                          f"{median_range(results[str(svc.n)][key], ' s')}")  # fmt: skip
            print(f"load averages: {results['restarts']['loadavg']} before the restarts, "
                  f"{results['restarts']['loadavg_end']} after")  # fmt: skip
            return 0
        for svc in services:
            svc.port = free_port()
            svc.proc, _ = start_feedsvc(procs, settings, work, svc.seeds, svc.index, svc.port)
        for svc in services:
            results[str(svc.n)]["settle_s"] = wait_until_idle(svc)
            results[str(svc.n)]["first_render_s"] = first_renders(svc)
            log(f"N = {svc.n:,}: first renders {results[str(svc.n)]['first_render_s']}")
        small, big = services
        results["serving"] = compare_serving(procs, settings, big, small)
        for svc in services:
            wait_until_up(svc.port, "/feed.atom", svc.proc, timeout=60)  # type: ignore[arg-type]
            results[str(svc.n)]["visible_s"] = measure_visibility(settings, svc.seeds, svc.port,
                                                                  svc.n)  # fmt: skip
            memory = memory_mib(svc.proc.pid)  # type: ignore[union-attr]
            results[str(svc.n)].update(worker_rss_mib=memory["rss"], worker_pss_mib=memory["pss"])
        results["loadavg_end"] = os.getloadavg()
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "million.json").write_text(json.dumps(results, indent=2, default=str))
        print(report(results, args.n, args.baseline))
        print(
            f"load averages: {results['loadavg']} at the start, {results['loadavg_end']} at the end"
        )
    finally:
        procs.stop_all()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
