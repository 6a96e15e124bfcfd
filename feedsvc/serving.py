"""``feedsvc serve``'s processes: granian's server, and the app each of its workers loads.

The server process binds nothing itself (see listen.py for the checks made before) and starts
``workers`` processes, each of which builds the app from the settings the command validated, so
every worker serves exactly what the command was started with (the site URL derived from
``--bind`` included), whatever its environment says.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from . import logs, stopsignals
from .accesslog import AccessLog
from .config import Config
from .indexing import die_with
from .listen import Address

# A worker still running this long after SIGTERM is killed: shutdown takes at most this long
# even if a request hangs (its graceful path takes milliseconds).
WORKERS_KILL_TIMEOUT_SECONDS = 3
# Connections the kernel queues for the workers to accept.
BACKLOG = 2048
# Open connections each worker holds (granian's backpressure), idle ones included: an attacker
# must open this many per worker, faster than HEADER_READ_TIMEOUT_SECONDS closes them, to lock
# anyone out. Each needs a file descriptor, so the soft limit is raised towards it.
CONNECTIONS_PER_WORKER = 8192
FILE_DESCRIPTOR_RESERVE = 256  # the index, the log, the watcher, the seeds being read
# A connection must send its request head within this time, from its first moment and between
# keep-alive requests alike (hyper, in HTTP/1-only mode: auto mode has no timer before the
# protocol is known, so idle sockets were kept forever).
HEADER_READ_TIMEOUT_SECONDS = 10
# glibc malloc arenas a worker's threads share (limit_malloc_arenas); M_ARENA_MAX is mallopt's
# parameter number for it in glibc's malloc.h.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8

WSGIApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]

log = logging.getLogger(__name__)


def serve(
    address: Address,
    settings: Config,
    *,
    workers: int,
    threads: int,
    log_config: dict[str, Any],
    debug: bool = False,
) -> None:
    """Run granian until SIGINT or SIGTERM."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    server = Server(
        "feedsvc:create_app",  # shown in the process title; the app comes from load_app
        interface=Interfaces.WSGI,
        address=address.ip,
        port=address.port,
        workers=workers,
        blocking_threads=threads,
        backlog=BACKLOG,
        backpressure=connections_per_worker(),
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_SECONDS * 1000),
        websockets=False,
        # A worker that dies (the OOM killer, a kill -9) is replaced at once. If the same one
        # dies again within 5.5 s of being replaced, granian stops everything and exits with
        # status 1: its crash-loop rule, which no setting changes (granian 2.x, server/common.py
        # _serve_loop). That is when a supervisor starts the service again (docs/faults.md,
        # docs/feedsvc.service). respawn_interval and workers_lifetime are left alone: they only
        # pace SIGHUP reloads and periodic recycling, neither of which feedsvc uses.
        respawn_failed_workers=True,
        workers_kill_timeout=WORKERS_KILL_TIMEOUT_SECONDS,
        log_access=False,  # feedsvc writes its own, in the Combined Log Format
        log_dictconfig=log_config,
        log_level=LogLevels.debug if debug else LogLevels.info,
    )
    stopsignals.install()
    try:
        server.serve(target_loader=partial(load_app, settings), wrap_loader=False)
    except SystemExit as stopped:
        if stopped.code:
            log.error(
                "granian stopped the service: a worker died again within 5.5 s of being "
                "replaced; exiting with status %s for the supervisor to start it again",
                stopped.code,
            )
        raise


def connections_per_worker() -> int:
    """CONNECTIONS_PER_WORKER, or what the file-descriptor limit allows, after raising the soft
    limit as far as the hard one permits (workers inherit it)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CONNECTIONS_PER_WORKER + FILE_DESCRIPTOR_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY:
        return CONNECTIONS_PER_WORKER
    return max(1, min(CONNECTIONS_PER_WORKER, soft - FILE_DESCRIPTOR_RESERVE))


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Let the worker's many request threads share ``arenas`` glibc malloc arenas.

    glibc gives threads arenas of their own, up to eight per core, and each keeps what it once
    held: with the request threads admission.py needs, a worker grew from about 95 MiB to 150
    after bursts of renders. (The same as MALLOC_ARENA_MAX, which glibc reads only at start-up,
    before this process could set it.) Nothing happens where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_ARENA_MAX, arenas)


def load_app(settings: Config) -> WSGIApp:
    """The WSGI app of one worker (called by granian in the worker process).

    The settings are not checked again: a worker started while the seeds folder is briefly
    away must serve the index, not fail and make granian give up on a crash loop."""
    from . import create_app

    if threading.current_thread() is threading.main_thread():  # a process of its own
        server = os.getppid()
        stopsignals.install(parent=server)
        # The server killed alone (kill -9 PID, the OOM killer) left its workers serving for
        # ever, holding the port, so that no new `feedsvc serve` could start: they die with it,
        # as in any crash. Not SIGTERM: a graceful stop waits for a client still sending its
        # request (up to HEADER_READ_TIMEOUT_SECONDS), where the server would have killed the
        # worker after WORKERS_KILL_TIMEOUT_SECONDS. granian starts and restarts workers from
        # its main thread, which lives as long as the server (PR_SET_PDEATHSIG follows the
        # thread that started this process).
        die_with(server)
    limit_malloc_arenas()
    app = create_app(settings)
    write = logs.access_writer(settings.access_log)
    return app if write is None else AccessLog(app, write)
