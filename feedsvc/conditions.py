"""Expected conditions logged as they come and go: one line when one starts, one when it ends.

A full disk, a read-only folder, an index being rebuilt or a lock file that cannot be opened are
not bugs: the operator needs to know when each began and when it was over, and nothing in
between (a request or a retry per second must not write a line each, or the log floods). A bug
(an exception nobody expected) is logged once with its traceback, and then treated the same way.
"""

from __future__ import annotations

import logging
import threading


class Conditions:
    """The conditions one component is in, by key; each logged once when it starts or changes
    and once when it ends."""

    def __init__(self, log: logging.Logger):
        self._log = log
        self._current: dict[str, tuple[str, str]] = {}  # key -> (what was said, when it ends)
        self._lock = threading.Lock()

    def start(
        self, key: str, message: str, ended: str, *, bug: bool = False, level: int = logging.WARNING
    ) -> None:
        """Say ``message`` (at ``level``) unless it was the last thing said of ``key``; ``ended``
        is said by ``end(key)`` (nothing if empty). With ``bug``, the exception being handled is
        logged with its traceback."""
        with self._lock:
            if self._current.get(key, ("",))[0] == message:
                return
            self._current[key] = (message, ended)
        if bug:
            self._log.exception("%s", message)
        else:
            self._log.log(level, "%s", message)

    def end(self, key: str) -> None:
        """Say that ``key``'s condition is over, if it was in one."""
        with self._lock:
            found = self._current.pop(key, None)
        if found is not None and found[1]:
            self._log.info("%s", found[1])

    def __contains__(self, key: str) -> bool:
        return key in self._current
