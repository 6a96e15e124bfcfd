"""Keep the store in step with the seeds folder while serving.

One process at a time is the leader: it holds an exclusive lock on a file beside the index, and
re-indexes as soon as the kernel reports a change in the folder (inotify, through watchfiles),
plus a full rescan every ``SAFETY_RESCAN_SECONDS`` for file systems that miss notifications.
Where notifications are not available it rescans every poll interval instead. The other workers
only wait to take over: if the leader dies, the kernel releases its lock and another worker
takes the lead within ``LEAD_RETRY_SECONDS``. Serving what the leader commits is not the
watcher's business: every worker's response cache checks the store's version on every request.

The leader also tells ``on_change`` (the WebSub notifier) about every change it commits and
about every embargo that lifts, once the change is what every worker serves.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import IO

import watchfiles

from .changes import log_report
from .store import Report, Store

log = logging.getLogger(__name__)

LEAD_RETRY_SECONDS = 1.0
SAFETY_RESCAN_SECONDS = 30.0


class Watcher:
    def __init__(
        self, store: Store, interval: float, on_change: Callable[[Report], None] | None = None
    ):
        self.store = store
        self.interval = interval  # rescan period when notifications are unavailable
        self.on_change = on_change
        self._stop = threading.Event()
        self._lock_file: IO[str] | None = None
        self._last_scan = 0.0
        self._released_through = 0.0  # embargoes lifted up to here (epoch seconds) were told
        # The condition last reported, and what to say when it clears.
        self._trouble: tuple[str, str] | None = None
        self._thread = threading.Thread(target=self._run, name="feedsvc-watcher", daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and give up leadership (another process may then take over)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @property
    def is_leader(self) -> bool:
        return self._lock_file is not None

    def poll_once(self) -> None:
        """One step without notifications: lead if possible, and if leading rescan and tell of
        lifted embargoes."""
        if self.is_leader or self._try_to_lead():
            self._refresh()
            self._announce_releases()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.is_leader or self._try_to_lead():
                self._lead()
            else:
                self._stop.wait(LEAD_RETRY_SECONDS)
        self.store.close()

    def _lead(self) -> None:
        # Until stopped: watch the folder while it exists, wait for it while it does not.
        while not self._stop.is_set():
            if self._missing_folder():
                self._stop.wait(self.interval)
                continue
            self._refresh()
            self._watch()

    def _missing_folder(self) -> bool:
        if self.store.seeds_dir.is_dir():
            return False
        folder = self.store.seeds_dir
        self._report_trouble(
            f"the seeds folder {folder} is missing; serving the index as it is until it is back",
            f"the seeds folder {folder} is back",
        )
        return True

    def _watch(self) -> None:
        """Re-index as changes are reported; returns when the folder itself goes away."""
        watching_since = time.monotonic()
        try:
            for changes in watchfiles.watch(
                self.store.seeds_dir,
                watch_filter=None,
                debounce=50,
                step=20,
                rust_timeout=1000,
                yield_on_timeout=True,
                stop_event=self._stop,
                raise_interrupt=False,
            ):
                # The first scan ran before the kernel watched the folder: what changed in
                # between is only found by scanning again, once the watch is in place.
                first_look = self._last_scan < watching_since
                if first_look or time.monotonic() - self._last_scan > SAFETY_RESCAN_SECONDS:
                    self._refresh()
                elif changes:
                    self._refresh(self._changed_names(changes))
                self._announce_releases()  # at least every second (rust_timeout)
                if self._missing_folder():
                    return  # the notifications followed the old folder: watch the new one
        except (OSError, RuntimeError) as exc:
            if self._missing_folder():
                return
            log.warning(
                "no file-system notifications for %s (%s); rescanning every %.1f s",
                self.store.seeds_dir, exc, self.interval,
            )  # fmt: skip
            while not self._stop.wait(min(self.interval, LEAD_RETRY_SECONDS)):
                if time.monotonic() - self._last_scan >= self.interval:
                    self._refresh()
                self._announce_releases()

    def _try_to_lead(self) -> bool:
        lock_file = open(f"{self.store.index_path}.watch", "a")  # noqa: SIM115 - held while leading
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        self._lock_file = lock_file
        self._released_through = time.time()  # what lifted before was told by the last leader
        log.info("this process now watches %s", self.store.seeds_dir)
        return True

    def _changed_names(self, changes: set[tuple[watchfiles.Change, str]]) -> set[str] | None:
        """File names in the seeds folder that changed; None when only a full scan will do."""
        folder = os.path.realpath(self.store.seeds_dir)
        names = set()
        for _, path in changes:
            parent, name = os.path.split(path)
            if os.path.realpath(parent) == folder:
                names.add(name)
            elif os.path.realpath(path) == folder:
                return None  # the folder itself was replaced or removed
        return names

    def _refresh(self, names: set[str] | None = None) -> None:
        if names is None:
            self._last_scan = time.monotonic()
        elif not names:
            return
        try:
            report = self.store.refresh(names=names)
        except (OSError, sqlite3.Error) as exc:
            # Expected conditions (a folder removed, a full disk, an index locked by another
            # program): one line when they start, the next change or rescan tries again.
            if not self._missing_folder():
                self._report_trouble(
                    f"cannot refresh the index from {self.store.seeds_dir}: {exc}",
                    f"the index is in step with {self.store.seeds_dir} again",
                )
            return
        except Exception:
            # Anything else is a bug: its traceback is wanted, and the thread must go on.
            log.exception("refreshing the index from %s failed", self.store.seeds_dir)
            return
        self._report_trouble(None)
        log_report(report)
        if report.any_change and self.on_change is not None:
            self.on_change(report)

    def _announce_releases(self) -> None:
        """Tell ``on_change`` of the embargoes lifted since the last look. Every worker serves
        a released article from the moment of its release (the store's version changes then),
        so the hub that hears of it fetches it."""
        if self.on_change is None:
            return
        now = time.time()
        try:
            released = self.store.released_between(self._released_through, now)
            self._released_through = now
            if released:
                ids = [article_id for article_id, _ in released]
                self.on_change(Report(added=ids, touched=[slugs for _, slugs in released]))
        except Exception:  # as in _refresh: never let this kill the watcher thread
            log.exception("announcing released articles failed")

    def _report_trouble(self, trouble: str | None, cleared: str = "") -> None:
        """Log a condition once when it starts (one line, no traceback), and once when it clears
        (``trouble`` None)."""
        if trouble == (self._trouble and self._trouble[0]):
            return
        if trouble is not None:
            log.warning("%s", trouble)
        elif self._trouble is not None:
            log.info("%s", self._trouble[1])
        self._trouble = (trouble, cleared) if trouble is not None else None
