"""Keep the store in step with the seeds folder while serving.

One process at a time is the leader: it holds an exclusive lock on a file beside the index, and
re-indexes as soon as the kernel reports a change in the folder (inotify, through watchfiles),
plus a full rescan every ``SAFETY_RESCAN_SECONDS`` for file systems that miss notifications (less
often for a folder so large that rescans would take more than ``SAFETY_RESCAN_MAX_SHARE`` of the
time), done by a process of its own at the lowest CPU priority (rescan.py), so that it never
takes the CPU or the interpreter lock from the requests the leader serves. The leader's first
look at the folder, once the kernel watches it, is such a scan too (at a higher priority): it
finds what changed while no one watched, as the first requests of a restart are served.
Where notifications are not available it rescans every poll interval instead. The other workers
only wait to take over: if the leader dies, the kernel releases its lock and another worker
takes the lead within ``LEAD_RETRY_SECONDS``. Serving what the leader commits is not the
watcher's business: every worker's response cache checks the store's version on every request.

Changes are coalesced, because every commit drops every worker's cached responses, and a
document rewritten every 10 ms had every page rendered again after each write (mixed
throughput fell 97 %). A changed document is read once it has been quiet for
``QUIET_SECONDS`` (a save in several writes is read once, whole), or ``MAX_WAIT_SECONDS`` after
its first change if it never is; and at most one commit follows another per
``MIN_COMMIT_INTERVAL_SECONDS``, however many documents change. A published document found
unreadable or unparseable right after it changed (being written in place) keeps its article and
is looked at again after ``store.EDIT_SETTLE_SECONDS``. The last write of a document waits
for none of them longer than lastmod.SETTLE_SECONDS in all, so every change is still dated
right (a document still being written has later writes, which date it later). The leader also
checks, at every tick, that the index file is still there, and has it rebuilt when it is not.

The watcher outlives every error. An expected one (a full disk, a lock file that cannot be
opened for a moment, file descriptors running out) is one line when it starts and one when it
ends, and is retried with back-off; a bug is logged once with its traceback and retried the
same way. A leader whose changes keep waiting says so (``BEHIND_WARNING_SECONDS``).

An index made by an earlier document parser (an upgrade of feedsvc) is served and kept in step
as any, and the leader has it built again beside it, by a process of its own (renewal.py).

The leader also tells ``on_change`` (the WebSub notifier) about every change it commits and
about every embargo that lifts, once the change is what every worker serves.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import watchfiles

from . import changes, indexfile, renewal
from .changes import log_report
from .conditions import Conditions
from .rescan import (
    LOWEST_PRIORITY_NICE,
    START_SCAN_NICE,
    RescanFailed,
    RescanStopped,
    scan_apart,
)
from .store import EDIT_SETTLE_SECONDS, Report, Store

log = logging.getLogger(__name__)

LEAD_RETRY_SECONDS = 1.0
SAFETY_RESCAN_SECONDS = 30.0
# How often the leader looks at what is due (changes held back, documents being written,
# embargoes, the index file) when the folder is quiet.
TICK_SECONDS = 0.25
# A changed document is read once it has been quiet this long, or this long after its first
# change while it keeps changing; and at most one commit per this long (see the module doc).
QUIET_SECONDS = 0.25
MAX_WAIT_SECONDS = 5.0
MIN_COMMIT_INTERVAL_SECONDS = 1.0
# After a failure, the first retry comes this soon, and each next one twice as late, up to the
# last.
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
# A change waiting this long to be indexed is said in the log: the index is behind the folder.
BEHIND_WARNING_SECONDS = 10.0
# Errors the watcher expects from the world (disks, permissions, file descriptors, the index);
# anything else is a bug in feedsvc.
EXPECTED = (OSError, sqlite3.Error, indexfile.ForeignIndex, indexfile.IndexUnavailable)
# Documents are the files of the folder itself (seedfiles.py): subfolders are never read, and
# a recursive watch walks every entry to find them as it starts, holding the interpreter lock
# all the while (2.5 s at a million files, every time a leader starts watching: its requests
# wait). Not recursive, it starts in 0.2 s.
RECURSIVE = False
# A safety rescan stats every file: at a million files that is seconds of work. It runs every
# SAFETY_RESCAN_SECONDS, or less often, so as to take at most this share of the leader's time.
SAFETY_RESCAN_MAX_SHARE = 0.05


class Watcher:
    def __init__(
        self, store: Store, interval: float, on_change: Callable[[Report], None] | None = None
    ):
        self.store = store
        self.interval = interval  # rescan period when notifications are unavailable
        self.on_change = on_change
        self._stop = threading.Event()
        self._lock_path = Path(f"{store.index_path}.watch")
        self._lock_file: IO[str] | None = None
        self._last_scan = 0.0
        self._last_scan_seconds = 0.0  # how long the last full scan took
        self._scan_lock = threading.Lock()
        self._scanner: threading.Thread | None = None
        self._scan_found: set[str] = set()  # what a background rescan found, to refresh
        self._scan_failed = False  # and whether it failed (the whole scan is then owed)
        self._released_through = 0.0  # embargoes lifted up to here (epoch seconds) were told
        # File names reported changed -> (first seen, when to look at them), monotonic; and no
        # commit before _quiet_until, no refresh before _retry_at (after a failure).
        self._pending: dict[str, tuple[float, float]] = {}
        # Published documents found bad (maybe being written): the size and time they had, and
        # since when (monotonic). The same after EDIT_SETTLE_SECONDS, they are withdrawn.
        self._held: dict[str, tuple[tuple[int, int], float]] = {}
        self._quiet_until = 0.0
        self._retry_at = 0.0
        # Since when (monotonic) a full scan failed and is owed: what it would have found waits.
        self._scan_owed_since: float | None = None
        self._retry_delay = RETRY_FIRST_SECONDS
        self._next_tick = 0.0
        # The process building the index again for this parser (renewal.py), and when to look
        # whether one is owed (monotonic; infinity: looked, none owed).
        self._renewal: subprocess.Popen[bytes] | None = None
        self._renewal_due = 0.0
        self._renewal_failures = 0  # in a row: the later ones are not said again
        self._conditions = Conditions(log)
        self._thread = threading.Thread(target=self._run, name="feedsvc-watcher", daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and give up leadership (another process may then take over)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._scanner is not None and self._scanner.is_alive():
            self._scanner.join(timeout=10)  # a safety rescan under way is ended (rescan.py)
        renewing = self._renewal  # not cleared: the watcher's thread may not have ended
        if renewing is not None:  # the next leader's renewal goes on from its index
            renewing.kill()
            renewing.wait()
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
        delay = RETRY_FIRST_SECONDS
        while not self._stop.is_set():
            try:
                leading = self.is_leader or self._try_to_lead()
                self._conditions.end("thread")
                if leading:
                    self._lead()
                else:
                    self._stop.wait(LEAD_RETRY_SECONDS)
                delay = RETRY_FIRST_SECONDS
            except Exception as exc:
                # A non-leader that dies here leaves no one to take over when the leader goes.
                self._conditions.start(
                    "thread",
                    f"the watcher of {self.store.seeds_dir} failed ({indexfile.explain(exc)}); "
                    f"trying again, less and less often (up to {RETRY_MAX_SECONDS:.0f} s apart)",
                    f"the watcher of {self.store.seeds_dir} runs again",
                    bug=not isinstance(exc, EXPECTED),
                )
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
        self.store.close()

    def _lead(self) -> None:
        # Until stopped: watch the folder while it exists, wait for it while it does not.
        while not self._stop.is_set() and self.is_leader:
            if self._missing_folder():
                self._stop.wait(self.interval)
                continue
            self._renew_if_owed()  # before the first scan, which then waits for it
            self._watch()  # which scans the whole folder first

    def _missing_folder(self) -> bool:
        folder = self.store.seeds_dir
        if folder.is_dir():
            self._conditions.end("folder")
            return False
        self._conditions.start(
            "folder",
            f"the seeds folder {folder} is missing; serving the index as it is until it is back",
            f"the seeds folder {folder} is back",
        )
        return True

    def _watch(self) -> None:
        """Re-index as changes are reported; returns when the folder itself goes away, when
        leadership is lost, or after a while without notifications (to try them again)."""
        watching_since = time.monotonic()
        try:
            for changes in watchfiles.watch(
                self.store.seeds_dir,
                watch_filter=None,
                debounce=50,
                step=20,
                rust_timeout=int(TICK_SECONDS * 1000),
                yield_on_timeout=True,
                stop_event=self._stop,
                raise_interrupt=False,
                recursive=RECURSIVE,
            ):
                self._conditions.end("notifications")
                # What changed before the kernel watched the folder (while the service was
                # stopped, while another leader died) is only found by a scan begun once the
                # watch is in place. It runs apart, as a safety rescan does (rescan.py): a
                # thread of its own held up the leader's first responses of a restart.
                first_look = self._last_scan < watching_since
                names = changed_names(self.store.seeds_dir, changes)
                if names is None or (first_look and self._scanning()):
                    self._refresh()  # the folder replaced, or a scan begun before the watch
                else:
                    # Scans run beside this thread (_scan_in_background): what they find is
                    # held and refreshed like any reported change.
                    if first_look:
                        self._scan_in_background(START_SCAN_NICE)
                    elif time.monotonic() - self._last_scan > self._rescan_interval():
                        self._scan_in_background()
                    self._hold(names | self._scanned())
                    self._refresh_due()
                if not self._tick():
                    return
        except (OSError, RuntimeError) as exc:
            if self._missing_folder():
                return
            self._conditions.start(
                "notifications",
                f"no file-system notifications for {self.store.seeds_dir} ({exc}); rescanning "
                f"every {self.interval:.1f} s",
                f"file-system notifications for {self.store.seeds_dir} work again",
            )
            # Notifications are tried again after a while: they may have failed for a moment
            # (file descriptors or inotify watches running out).
            until = time.monotonic() + SAFETY_RESCAN_SECONDS
            while time.monotonic() < until and not self._stop.wait(
                min(self.interval, TICK_SECONDS)
            ):
                if time.monotonic() - self._last_scan >= self.interval:
                    self._refresh()
                if not self._tick():
                    return

    def _tick(self) -> bool:
        """What is due every TICK_SECONDS; False when the watch must end."""
        now = time.monotonic()
        if now < self._next_tick:
            return True
        self._next_tick = now + TICK_SECONDS
        self._announce_releases()
        self._renew_if_owed()
        if not self.store.index_present():
            self._refresh()  # the index was deleted: rebuilt from the whole folder
        else:
            self.store.check_file()
        self._say_if_behind()
        return not self._missing_folder() and self._still_leading()

    def _renew_if_owed(self) -> None:
        """Start the renewal of an index made by an earlier document parser (renewal.py), once
        it is known to be owed; and again after a failed one, renewal.retry_after later,
        saying only errors then: the first said why it failed."""
        if self._renewing() or time.monotonic() < self._renewal_due:
            return
        self._renewal_due = float("inf")  # looked at again only if the renewal fails
        try:
            if self.store.renewal_owed():
                level = logging.getLogger("feedsvc").getEffectiveLevel()
                level = level if self._renewal_failures == 0 else max(level, logging.ERROR)
                self._renewal = renewal.start(self.store.settings, level)
        except EXPECTED as exc:
            what = f"the index {self.store.index_path} for this version's document parser"
            self._renewal_failed(f"cannot have {what} built ({indexfile.explain(exc)})")

    def _renewing(self) -> bool:
        """Whether the renewal runs; once it has ended, whether it failed decides when to try
        again (its process said why)."""
        renewing = self._renewal
        if renewing is None or renewing.poll() is None:
            return renewing is not None
        self._renewal = None
        if renewing.returncode != 0:
            self._renewal_failed(None)
        elif self._renewal_failures:
            log.info("the index %s is built again for this version's document parser, after "
                     "%s", self.store.index_path,
                     changes.quantity(self._renewal_failures, "failed attempt"))  # fmt: skip
            self._renewal_failures = 0
        return False

    def _renewal_failed(self, why: str | None) -> None:
        """Try again later; ``why`` is said the first time (None: the renewal said it)."""
        if why is not None and self._renewal_failures == 0:
            log.warning("%s; trying again in %.0f s, then less often", why, renewal.RETRY_SECONDS)
        self._renewal_failures += 1
        self._renewal_due = time.monotonic() + renewal.retry_after(self._renewal_failures)

    def _try_to_lead(self) -> bool:
        lock_file = indexfile.try_lock(self._lock_path, wait=False)
        if lock_file is None:
            return False
        self._lock_file = lock_file
        self._released_through = time.time()  # what lifted before was told by the last leader
        log.info("this process now watches %s", self.store.seeds_dir)
        return True

    def _still_leading(self) -> bool:
        """Whether the lock file held is still the one at its path: if it was deleted, another
        process may lock the new one, and two leaders would both write."""
        if self._lock_file is None or indexfile.holds(self._lock_file, self._lock_path):
            return self._lock_file is not None
        self._lock_file.close()
        self._lock_file = None
        log.warning("the lock file %s was removed; electing a leader again", self._lock_path)
        return False

    def _scanning(self) -> bool:
        return self._scanner is not None and self._scanner.is_alive()

    def _scan_in_background(self, nice: int = LOWEST_PRIORITY_NICE) -> None:
        """Start a scan of the whole folder beside the watcher (a thread waiting for the
        process that scans at priority ``nice``, rescan.py), so that the changes the file
        system reports meanwhile are indexed at once: at a million files a scan takes 10 s and
        more, and new documents waited for it. What it finds is refreshed by the watcher's
        thread (``_scanned``)."""
        self._last_scan = time.monotonic()
        if not self._scanning():
            self._scanner = threading.Thread(
                target=self._safety_scan, args=(nice,), name="feedsvc-scan", daemon=True
            )
            self._scanner.start()

    def _safety_scan(self, nice: int) -> None:
        started = time.monotonic()
        found: list[str] = []
        failed = False
        try:
            # In a process of its own at a low priority (rescan.py): as a thread of this
            # worker it held the interpreter lock and a full share of the CPU from serving.
            found = scan_apart(self.store.seeds_dir, self.store.index_path, self._stop, nice)
        except RescanStopped:
            return
        except RescanFailed:
            failed = True  # said, once, by the full scan the watcher then owes (_scanned)
        except Exception:  # a bug: its traceback is wanted, and the watcher must go on
            log.exception("the safety rescan of %s failed", self.store.seeds_dir)
            failed = True
        # Its wall-clock time: at the lowest priority a rescan takes longer on a busy machine,
        # and the next one then comes later (_rescan_interval), which is when that is wanted.
        self._last_scan_seconds = time.monotonic() - started
        with self._scan_lock:
            self._scan_found.update(found)
            self._scan_failed = self._scan_failed or failed
            self._last_scan = time.monotonic()  # the next one is due an interval from now

    def _scanned(self) -> set[str]:
        """File names the last safety rescan found changed, once (empty while it runs). After
        a failed one, the whole scan is owed: the watcher's own thread does it (_refresh_due),
        with back-off, saying once what fails."""
        with self._scan_lock:
            found, self._scan_found = self._scan_found, set()
            failed, self._scan_failed = self._scan_failed, False
        if failed and self._scan_owed_since is None:
            self._scan_owed_since = time.monotonic()
        return found

    def _rescan_interval(self) -> float:
        """Seconds between safety rescans: SAFETY_RESCAN_SECONDS, longer for a folder so large
        that its rescans would take more than SAFETY_RESCAN_MAX_SHARE of the time."""
        return max(SAFETY_RESCAN_SECONDS, self._last_scan_seconds / SAFETY_RESCAN_MAX_SHARE)

    def _hold(self, names: set[str]) -> None:
        """Note changes: each file is due once quiet, or MAX_WAIT_SECONDS after it first
        changed."""
        now = time.monotonic()
        for name in names:
            first = self._pending.get(name, (now, now))[0]
            self._pending[name] = (first, min(first + MAX_WAIT_SECONDS, now + QUIET_SECONDS))

    def _refresh_due(self) -> None:
        """Refresh the files whose time has come, unless the last commit was too recent."""
        now = time.monotonic()
        if self._scan_owed_since is not None and now >= self._retry_at:
            self._refresh()  # a failed full scan is retried with the back-off, not in 30 s
            return
        if not self._pending or now < self._quiet_until or now < self._retry_at:
            return
        due = {name for name, (_, when) in self._pending.items() if when <= now}
        if due:
            self._refresh(due)

    def _refresh(self, names: set[str] | None = None) -> None:
        """Refresh ``names``, or the whole folder; on failure, say so once and retry later."""
        now = time.monotonic()
        if names is None:
            if now < self._retry_at:
                return
            self._last_scan = now
        settled = {
            name: signature
            for name, (signature, since) in self._held.items()
            if now - since >= EDIT_SETTLE_SECONDS
        }
        try:
            report = self.store.refresh(names=names, settled=settled)
            if names is None:
                self._last_scan_seconds = time.monotonic() - self._last_scan
        except Exception as exc:
            # Expected conditions (a folder removed, a full disk, an index locked by another
            # program): one line when they start, retried with back-off. Anything else is a
            # bug: its traceback is wanted, and the thread must go on.
            self._retry_at = now + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_SECONDS)
            if names is None and self._scan_owed_since is None:
                self._scan_owed_since = now
            if not self._missing_folder():
                self._conditions.start(
                    "refresh",
                    f"cannot refresh the index {self.store.index_path} from "
                    f"{self.store.seeds_dir}: {indexfile.explain(exc)}; serving the last good "
                    "state, and trying again",
                    f"the index is in step with {self.store.seeds_dir} again",
                    bug=not isinstance(exc, EXPECTED),
                )
            return
        self._retry_at, self._retry_delay = 0.0, RETRY_FIRST_SECONDS
        if names is None:
            self._scan_owed_since = None
        self._conditions.end("refresh")
        self._settle(names, report)
        if report.rebuilt is None:  # a rebuild is said in two lines by the store, not per file
            log_report(report)
            if report.any_change and self.on_change is not None:
                self.on_change(report)

    def _settle(self, names: set[str] | None, report: Report) -> None:
        """Forget what was looked at, but for documents being written (looked at again soon);
        after a commit, hold changes back for a while."""
        now = time.monotonic()
        # A document being written keeps the time of its first change: one that is rewritten
        # without pause, and always found half-written, is still read within MAX_WAIT_SECONDS.
        firsts = {name: self._pending.get(name, (now,))[0] for name in report.unsettled}
        self._held = held_after(self._held, names, report, now)
        if names is None:
            self._pending.clear()
        else:
            for name in names:
                self._pending.pop(name, None)
        for name, first in firsts.items():
            self._pending[name] = (first, self._held[name][1] + EDIT_SETTLE_SECONDS)
        if report.any_change or report.times_changed or report.rebuilt:
            self._quiet_until = now + MIN_COMMIT_INTERVAL_SECONDS

    def _say_if_behind(self) -> None:
        now = time.monotonic()
        waiting = [first for first, _ in self._pending.values()]
        if self._scan_owed_since is not None:
            waiting.append(self._scan_owed_since)
        if now - min(waiting, default=now) > BEHIND_WARNING_SECONDS:
            self._conditions.start(
                "behind",
                f"the index is more than {BEHIND_WARNING_SECONDS:.0f} s behind "
                f"{self.store.seeds_dir}: changes are waiting to be indexed",
                f"the index has caught up with {self.store.seeds_dir}",
            )
        elif not waiting:
            self._conditions.end("behind")

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
            self._conditions.end("releases")
        except Exception as exc:  # as in _refresh: never let this kill the watcher thread
            self._conditions.start(
                "releases",
                f"cannot tell the hub of released articles: {indexfile.explain(exc)}",
                "released articles are told to the hub again",
                bug=not isinstance(exc, EXPECTED),
            )


def held_after(
    held: dict[str, tuple[tuple[int, int], float]],
    names: set[str] | None,
    report: Report,
    now: float,
) -> dict[str, tuple[tuple[int, int], float]]:
    """The documents held as maybe being written (name -> ((size, mtime_ns), since when,
    monotonic)) after a refresh of ``names`` (None: the whole folder) that ``report`` tells:
    those it looked at are forgotten, but those it found unsettled, each held since the first
    look at the state it has now, however often looked at since (one that keeps changing
    starts again)."""
    kept = {} if names is None else {n: h for n, h in held.items() if n not in names}
    for name, signature in report.unsettled.items():
        previous = held.get(name)
        kept[name] = (signature, previous[1] if previous and previous[0] == signature else now)
    return kept


def changed_names(
    folder: os.PathLike[str], changes: set[tuple[watchfiles.Change, str]]
) -> set[str] | None:
    """Names of the files in ``folder`` that watchfiles reported changed; None when only a
    full scan will do (the folder itself was replaced or removed)."""
    real = os.path.realpath(folder)
    names = set()
    for _, path in changes:
        parent, name = os.path.split(path)
        if os.path.realpath(parent) == real:
            names.add(name)
        elif os.path.realpath(path) == real:
            return None
    return names
