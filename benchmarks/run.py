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

The parts: settings.py (the command line), corpus.py (the documents), floor.py (the indexing
baseline), service.py (running feedsvc), indexing.py, cases.py, serving.py and visibility.py (the
measurements), harness.py (processes, HTTP, wrk), nginx.py and ceiling.py (the serving
baselines), report.py (targets, tables, plot). This module runs them, size by size.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import corpus
from .harness import REPO, Processes, log
from .indexing import measure_indexing
from .report import PLOT_EXTRA, plot, table, verdicts
from .service import feedsvc_command, feedsvc_env
from .serving import measure_servers
from .settings import Settings, parse_args


def measure_size(procs: Processes, settings: Settings, scratch: Path, n: int) -> dict[str, Any]:
    seeds = corpus.ensure(settings.corpus_dir, n, settings.seed)
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
    written = [results_path]
    try:
        plot(results["sizes"], settings.out / "performance.png")
        written.append(settings.out / "performance.png")
    except ModuleNotFoundError as missing:
        if missing.name != "matplotlib":
            raise
        # The figures are all in results.json; the plot is a view of them, so its absence
        # is said, not failed on.
        log(f"performance.png not drawn: matplotlib is not installed ({PLOT_EXTRA})")
    for group in ("targets", "beyond", "beyond cpu", "ceiling", "growth"):
        chosen = [r for r in rows if r.group == group]
        if chosen:
            print("\n" + table(chosen))
    print("\nwrote " + " and ".join(str(path) for path in written))
    return 0 if all(r.passed is not False for r in rows) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parsed = parse_args(argv)
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
