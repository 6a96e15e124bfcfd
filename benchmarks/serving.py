"""Serving measured: wrk against feedsvc, nginx and the ceiling, in rotating rounds.

Each round runs one wrk per case and server, rotating which server goes first, after a warm-up
run per case and server (workers render and cache; nginx's files reach the page cache). The
ceiling is granian running ``benchmarks.ceiling:app`` with feedsvc serve's workers and threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .cases import Case, CaseResult, build_cases, case_json, finish_cases
from .harness import (
    REPO,
    Processes,
    WrkResult,
    child_pids,
    cpu_seconds,
    free_port,
    log,
    rss_mib,
    wait_until_up,
)
from .harness import wrk as run_wrk
from .nginx import nginx_has_gzip_static, start_nginx, start_nginx_with_headers
from .service import serve_options, start_feedsvc
from .settings import Settings
from .tier import build_static, start_static, start_tier, start_tier_ceiling
from .visibility import measure_visibility

NGINX_START_TIMEOUT_SECONDS = 30
CEILING_START_TIMEOUT_SECONDS = 60
# The ceiling's listen backlog: feedsvc serve's (feedsvc.serving.BACKLOG).
BACKLOG = 2048


def measure_servers(
    procs: Processes, settings: Settings, work: Path, seeds: Path, index: Path, n: int
) -> dict[str, Any]:
    ports = {"feedsvc": free_port(), "nginx": free_port()}
    ceiling = work / "ceiling" if settings.ceiling else None
    if ceiling:
        ports["ceiling"] = free_port()
    server, ready_s = start_feedsvc(procs, settings, work, seeds, index, ports["feedsvc"])
    gzip_static = nginx_has_gzip_static()
    cases, served = build_cases(ports["feedsvc"], work / "nginx" / "root", ceiling, gzip_static)
    started = {"nginx": start_nginx(procs, work / "nginx", ports["nginx"], gzip_static)}
    wait_until_up(ports["nginx"], "/feed.atom", started["nginx"], NGINX_START_TIMEOUT_SECONDS)
    build_s = None
    if settings.tier:
        ports["tier"] = free_port()
        started["tier"] = start_tier(procs, work / "tier", ports["tier"], ports["feedsvc"])
        wait_until_up(ports["tier"], "/feed.atom", started["tier"], NGINX_START_TIMEOUT_SECONDS)
    if settings.tier_ceiling:
        ports["tiercap"] = free_port()
        started["tiercap"] = start_tier_ceiling(
            procs, work / "tiercap", ports["tiercap"], ports["nginx"]
        )
        wait_until_up(
            ports["tiercap"], "/feed.atom", started["tiercap"], NGINX_START_TIMEOUT_SECONDS
        )
    if settings.static:
        ports["static"] = free_port()
        (work / "static").mkdir()
        log("  feedsvc build, for nginx to serve")
        state, build_s = build_static(
            procs, seeds, index, work / "static" / "out", ports["feedsvc"], settings.source
        )
        started["static"] = start_static(procs, work / "static" / "nginx", ports["static"], state)
        wait_until_up(ports["static"], "/feed.atom", started["static"], NGINX_START_TIMEOUT_SECONDS)
        # And the baseline's files with the service's headers: what the built configuration
        # costs beyond sending them.
        ports["headers"] = free_port()
        started["headers"] = start_nginx_with_headers(
            procs, work / "headers", ports["headers"], work / "nginx" / "root", served
        )
        wait_until_up(
            ports["headers"], "/feed.atom", started["headers"], NGINX_START_TIMEOUT_SECONDS
        )
    if ceiling:
        started["ceiling"] = start_ceiling(procs, settings, ceiling, ports["ceiling"])
        wait_until_up(
            ports["ceiling"], "/feed.atom", started["ceiling"], CEILING_START_TIMEOUT_SECONDS
        )
    cases = finish_cases(cases, ports)
    pids = {"feedsvc": server.pid, **{who: proc.pid for who, proc in started.items()}}
    serving = measure_serving(procs, settings, cases, ports, pids)
    workers = child_pids(server.pid)
    workers_mib = [rss_mib(pid) for pid in workers]
    memory = {"server_mib": rss_mib(server.pid), "workers_mib": workers_mib}
    log(f"  resident memory: workers {', '.join(f'{m:.0f}' for m in workers_mib)} MiB")
    for proc in started.values():
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
        "static_build_s": build_s,
    }


def measure_serving(
    procs: Processes,
    settings: Settings,
    cases: list[Case],
    ports: dict[str, int],
    pids: dict[str, int],
) -> dict[str, CaseResult]:
    """Rounds of one wrk run per case and server, rotating which server goes first; with the
    CPU each server (its process and workers) spent in each run."""

    def run(case: Case, who: str, seconds: int) -> WrkResult:
        request = case.requests[who]
        url = f"http://127.0.0.1:{ports[who]}{request.path}"
        before = cpu_seconds(pids[who])
        result = wrk(procs, url, request.headers, settings, seconds)
        result.cpu_s = cpu_seconds(pids[who]) - before
        return result

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
        str(BACKLOG),
        "--no-ws",
        "benchmarks.ceiling:app",
    ]
    env = {**os.environ, "FEEDSVC_BENCH_CEILING": str(folder)}
    return procs.start(cmd, env=env, log=folder / "granian.log", cwd=REPO)
