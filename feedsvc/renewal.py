"""Building the index again for a new document parser, beside serving.

An upgrade of feedsvc that reads some documents better (document.PARSER_VERSION) must reach the
documents indexed before it, not only those edited since: an index made by an earlier parser
(store.OTHER_PARSER) is built again from the whole folder. It is complete and nearly right
meanwhile, so the service serves it at once and keeps it in step with the folder, and the
worker that leads the watch (watch.py) has it built again by this process, at the priority of
the start-up scan (Store.renew: beside the index, then brought in step and put in place; every
worker then reads the new one). Made before serving, the rebuild kept a restart from serving for
as long (16 s at 20,000 documents, minutes at a million); made by the worker itself, it would
hold that worker's interpreter lock as long; made under the index's write lock, it kept every
change waiting as long.

    python -m feedsvc.renewal SETTINGS NICE PARENT_PID LOG_LEVEL

SETTINGS is the service's settings as JSON (config.overrides_of): the parse settings and the
document size limit must be the service's, or the new index would be made with others. Exit
status 0 once the index is renewed (or was not owed any more), 2, with the reason in the log,
when it could not be: the leader starts it again later (``retry_after``), logging at a level
that says only errors, so that a lasting cause (a full disk) is said once.
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
# After a failed renewal, the leader starts the next this much later (watch.py), twice as
# long after each failure in a row, up to RETRY_MAX_SECONDS: each attempt reads the whole
# folder (minutes at a million documents) before a lasting cause such as a full disk stops it.
RETRY_SECONDS = 60.0
RETRY_MAX_SECONDS = 3600.0


def retry_after(failures: int) -> float:
    """Seconds from the ``failures``-th failed renewal in a row (1 or more) to the next try:
    60, 120, 240... up to an hour."""
    return min(RETRY_SECONDS * 2.0 ** min(failures - 1, 32), RETRY_MAX_SECONDS)


def start(settings: config.Config, level: int) -> subprocess.Popen[bytes]:
    """Start the renewal of the index of ``settings`` in a process of its own
    (rescan.start_beside), logging at ``level``. It dies with the calling thread
    (PR_SET_PDEATHSIG), which must stop it with ``kill`` when it stops. Raises OSError when no
    process can be started."""
    return start_beside(__name__, settings, level)


def main(argv: list[str]) -> int:
    # Ctrl-C at a terminal is the service's to take (this process has a group of its own, but
    # a signal sent to every process of the service must not print a traceback here). SIGTERM
    # keeps its default, silent end: the parser processes inherit it, and the pool ends them
    # with it when the renewal fails (ignored, the pool waited for them for ever).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = settle_beside(argv)
    try:
        store = Store(settings)
        try:
            store.renew()  # says what it does, in two lines
        finally:
            store.release()
    except EXPECTED as exc:
        log.warning(
            "could not build the index %s again for this version's document parser (%s); "
            "serving the one it has, and trying again in %.0f s, then less often",
            settings.index_path,
            indexfile.explain(exc),
            RETRY_SECONDS,
        )
        return EXIT_EXPECTED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
