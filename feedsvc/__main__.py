"""The ``feedsvc`` command's entry point (``feedsvc`` and ``python -m feedsvc``).

A Ctrl-C while the command still imports its modules (a tenth of a second, before it has set its
own handlers) ends it as SIGINT ends a program: quietly, the shell told it was interrupted. It
printed a KeyboardInterrupt traceback from whichever import it was in.
"""

from __future__ import annotations

import os
import signal


def run() -> None:
    try:
        from .cli import main
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        raise  # not reached: the signal ends the process
    main()


if __name__ == "__main__":
    run()
