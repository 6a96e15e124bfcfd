"""Indexing measured: a first ``feedsvc index`` against the floor, then restarts.

The floor (``python -m benchmarks.floor``) and ``feedsvc index`` run as fresh processes in
alternating order over the same corpus, its files in the page cache for both. Then ``feedsvc
index`` on an unchanged folder, ``feedsvc serve`` from start to its first feed on an up-to-date
index, and ``feedsvc --help`` (the command's own start-up).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from .harness import REPO, Processes, free_port, log, wait_until_up
from .service import feedsvc_command, feedsvc_env, remove_index
from .settings import Settings

RESTART_TIMEOUT_SECONDS = 60
# How often a restarting server is asked for its first feed.
POLL_SECONDS = 0.01


def measure_indexing(
    procs: Processes, settings: Settings, seeds: Path, index: Path, n: int
) -> dict[str, Any]:
    env = feedsvc_env(seeds, index, 1, settings.source)
    floor_cmd = [sys.executable, "-m", "benchmarks.floor", str(seeds)]
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
            if what == "index" and not re.search(rf"\b({n}|{n:,}) articles\b", out):
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
        wait_until_up(
            port, "/feed.atom", server, timeout=RESTART_TIMEOUT_SECONDS, interval=POLL_SECONDS
        )
        return time.perf_counter() - started
    finally:
        procs.stop(server)
