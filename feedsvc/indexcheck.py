"""The whole-index check a start after a crash owes, made beside the first requests.

`feedsvc serve` reads the whole index file (PRAGMA quick_check) before serving when something
wrote it while the service was stopped (indexfile.py, "a clean stop"). After a crash nothing
did: SQLite keeps a database whole through the crash of a process writing it (every commit is
whole or absent), so the check is owed only against a disk that lies. It took 7-19 s of a
restart at a million documents, all of it before the first request; made here instead, in a
process of its own at a low priority, it leaves the restart under a second. If it finds the
index damaged, this process rebuilds it aside (Store.verify, as any process may) while the
workers go on serving, the damaged parts answered with 503 as when a reader finds damage.

    python -m feedsvc.indexcheck SETTINGS NICE PARENT_PID LOG_LEVEL

SETTINGS is the service's settings as JSON (config.overrides_of): a rebuild must read the
documents with the service's date settings and size limit, not the defaults.

Exit status 0 once the index is checked (and rebuilt if it had to be); 2, with the reason in
the log, when it could not be. `serve` records a clean stop only after a check that ended.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys

from . import config, indexfile
from .rescan import EXIT_EXPECTED, EXPECTED, settle_beside, start_beside
from .store import Store

log = logging.getLogger(__name__)


def start(settings: config.Config, level: int) -> subprocess.Popen[bytes]:
    """Start the check of the index of ``settings`` in a process of its own at the priority
    of the start-up scan (rescan.START_SCAN_NICE), logging at ``level`` to this process's
    stderr. It dies with the calling thread (PR_SET_PDEATHSIG), which must ``stop`` it.
    Raises OSError when no process can be started."""
    return start_beside(__name__, settings, level)


def stop(check: subprocess.Popen[bytes]) -> bool:
    """End the check if it still runs (a rebuild it began resumes at the next one); whether it
    had checked the whole index."""
    if check.poll() is None:
        check.kill()
    return check.wait() == 0


def main(argv: list[str]) -> int:
    # The service's stop is for `serve` to make (it ends this process): a stop sent to every
    # process of the service (systemd's) must not end a rebuild half-way with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settings = settle_beside(argv)
    try:
        store = Store(settings)
        try:
            store.check_whole()
        finally:
            store.release()
    except EXPECTED as exc:
        log.warning(
            "could not check the index %s after the crash of the last service (%s); the next "
            "start checks it",
            settings.index_path,
            indexfile.explain(exc),
        )
        return EXIT_EXPECTED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
