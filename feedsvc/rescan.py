"""The watcher's scans of the whole folder, each in a process of its own at a low CPU priority.

A safety rescan (watch.py) stats every file of the folder and compares it with the index: at a
million files that is 6-10 s of CPU every few minutes. Run as a thread of the serving worker
that leads the watch, it held that worker's interpreter lock for much of that time and took a
full share of the CPU from the requests being served: the feeds' req/s at a million documents
fell in the measurement rounds it overlapped (docs/performance.md, "A million documents").
A process of its own has no lock to share, and at the lowest priority (nice 19) it gets the CPU
that serving leaves: the rescan is a safety net for missed notifications, and may take longer.
The leader's first scan (what changed while the service was stopped) runs the same way, beside
the first requests of a restart, at a priority between: ``START_SCAN_NICE``.

    python -m feedsvc.rescan SEEDS_DIR INDEX_PATH NICE PARENT_PID

prints the names ``Store.scan`` returns (files that differ from the index), each followed by a
NUL (a file name can hold any other character). It only reads: the leader indexes what it
names. Exit status 2, with one line on stderr, for what the world causes (a folder or index
that cannot be read, see ``EXPECTED``); anything else is a bug, and its traceback is on stderr.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from . import config, indexfile, logs
from .indexing import die_with
from .store import Store

# The lowest priority of the CPU scheduler (nice(2) values run from -20 to 19).
LOWEST_PRIORITY_NICE = 19
# The first scan after a start finds what changed while the service was stopped: on a busy
# machine it gets about a tenth of a core against serving (the scheduler's weights: 110 against
# 1,024), where the lowest priority gets under 2 % and would leave those changes unseen for
# minutes at a million files. A process of its own either way: as a thread of the leading
# worker, it shared that worker's interpreter lock with the requests it served for the first
# 20 s of every restart at a million files.
START_SCAN_NICE = 10
# Errors that the folder, the disk or the index cause, not feedsvc.
EXPECTED = (OSError, sqlite3.Error, indexfile.ForeignIndex, indexfile.IndexUnavailable,
            config.ConfigError)  # fmt: skip
EXIT_EXPECTED = 2
# How often (seconds) a caller waiting for the scan looks whether it was asked to stop.
STOP_POLL_SECONDS = 0.25


def start_beside(module: str, settings: config.Config, level: int) -> subprocess.Popen[bytes]:
    """Start ``python -m MODULE SETTINGS NICE PARENT_PID LOG_LEVEL`` (renewal.py, indexcheck.py):
    the service's settings as JSON (config.overrides_of: the new process must read documents
    as the service does), at START_SCAN_NICE, logging at ``level`` to this process's stderr.
    In a process group of its own: Ctrl-C at a terminal goes to the service's group, and would
    print the process's traceback if it came while it still imports. Raises OSError when no
    process can be started."""
    command = [sys.executable, "-m", module, json.dumps(config.overrides_of(settings)),
               str(START_SCAN_NICE), str(os.getpid()), str(level)]  # fmt: skip
    return subprocess.Popen(command, process_group=0)


def settle_beside(argv: list[str]) -> config.Config:
    """The first steps of a process ``start_beside`` started, once it has set its signals: die
    with the process that started it, log at its level, lower its priority. Returns the
    settings it was given."""
    overrides, priority, parent, level = argv
    die_with(int(parent))
    logs.configure(int(level))
    # By increment: raising a priority back needs privilege.
    os.nice(max(0, int(priority) - os.nice(0)))
    return config.load(json.loads(overrides))  # the service's own, valid


class RescanFailed(Exception):
    """The rescan could not read the folder or the index (its words say why)."""


class RescanStopped(Exception):
    """The rescan was stopped before it was done (its process is ended)."""


def scan_apart(
    seeds_dir: Path, index_path: Path, stop: threading.Event, nice: int = LOWEST_PRIORITY_NICE
) -> list[str]:
    """The names of the files of ``seeds_dir`` that differ from the index at ``index_path``
    (``Store.scan``), found by a process of its own at the priority ``nice`` (nice(2), from 0
    to 19; never above this process's own).

    Raises RescanFailed when the folder or the index cannot be read (or no process can be
    started), RescanStopped when ``stop`` is set meanwhile, and RuntimeError (with the child's
    traceback) for a bug.
    """
    command = [
        sys.executable, "-m", __name__, str(seeds_dir), str(index_path), str(nice), str(os.getpid())
    ]  # fmt: skip
    try:
        # It dies with this process (main): it never outlives a stopped service.
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:  # no process to be had: file descriptors or memory running out
        raise RescanFailed(indexfile.explain(exc)) from exc
    with child:
        while True:
            try:
                out, err = child.communicate(timeout=STOP_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if stop.is_set():
                    child.kill()
                    child.communicate()
                    raise RescanStopped() from None
    if child.returncode == EXIT_EXPECTED:
        raise RescanFailed(err.decode(errors="replace").strip())
    if child.returncode != 0:
        raise RuntimeError(
            f"the safety rescan process ended with status {child.returncode}:\n"
            + err.decode(errors="replace")
        )
    return [os.fsdecode(name) for name in out.split(b"\0")[:-1]]


def main(argv: list[str]) -> int:
    seeds_dir, index_path, priority, parent = argv
    # Never outlive the worker that asked: a scan left running after the service stopped
    # would close its connection after the record of the clean stop was written, changing
    # the index's -wal file, and the next start would check the whole index (25 s at a
    # million documents) for nothing.
    die_with(int(parent))
    wanted = int(priority)
    # By increment: a process may lower its own priority, and raising it back needs privilege
    # (a service started at nice 15 runs its scans at 15, not 10).
    os.nice(max(0, wanted - os.nice(0)))
    try:
        settings = config.load({"SEEDS_DIR": seeds_dir, "INDEX_PATH": index_path})
        store = Store(settings)
        names = store.scan()
        store.close()
    except EXPECTED as exc:
        print(indexfile.explain(exc), file=sys.stderr)
        return EXIT_EXPECTED
    sys.stdout.buffer.write(b"".join(os.fsencode(name) + b"\0" for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
