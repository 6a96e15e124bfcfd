"""How the benchmark runs feedsvc: the command, its environment, its serve options.

feedsvc always runs as an operator runs it, as a fresh process of the installed ``feedsvc``
command, outside the repository, with only the FEEDSVC_* settings the benchmark gives it. With
``--source`` (see settings.py), a snapshot of the package is put ahead of the installed one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .harness import Processes, wait_until_up
from .settings import Settings

# The first start on a large corpus indexes it before serving.
SERVE_START_TIMEOUT_SECONDS = 300


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
    # Like for like: nginx, the baseline, runs with access_log off. (A feedsvc from before the
    # access log, measured with --source, would refuse a setting it does not know.)
    if "ACCESS_LOG" in known_settings():
        env["FEEDSVC_ACCESS_LOG"] = "off"
    return env


def known_settings() -> set[str]:
    """The settings the measured feedsvc has (read from its settings table)."""
    from feedsvc import config  # the package measured: --source is first on sys.path

    return {setting.name for setting in config.SETTINGS}


def remove_index(index: Path) -> None:
    for path in index.parent.glob(index.name + "*"):
        path.unlink()


def start_feedsvc(
    procs: Processes, settings: Settings, work: Path, seeds: Path, index: Path, port: int
) -> tuple[subprocess.Popen[bytes], float]:
    started = time.perf_counter()
    options = [f"--{k}={v}" for k, v in serve_options(settings).items()]
    env = feedsvc_env(seeds, index, port, settings.source)
    if settings.static and "SEARCH" in known_settings():
        # A static site has no search box (`feedsvc build` renders its pages with search off):
        # with the service's search on, the pages nginx serves as the baseline and the built
        # ones would differ by the form, and check_same would stop the run.
        env["FEEDSVC_SEARCH"] = "false"
    server = procs.start(
        [*feedsvc_command(), "serve", "--bind", f"127.0.0.1:{port}", *options],
        env=env,
        log=work / "feedsvc.log",
        cwd=work,
    )
    wait_until_up(port, "/feed.atom", server, timeout=SERVE_START_TIMEOUT_SECONDS)
    return server, time.perf_counter() - started


def serve_options(settings: Settings) -> dict[str, int]:
    """``feedsvc serve``'s workers and threads: its own defaults unless the run chose others."""
    from feedsvc import cli  # read only, to give the ceiling server the same settings

    workers = settings.serve_workers or int(getattr(cli, "DEFAULT_WORKERS", 2))
    threads = settings.serve_threads or int(getattr(cli, "DEFAULT_THREADS", 1))
    return {"workers": workers, "threads": threads}
