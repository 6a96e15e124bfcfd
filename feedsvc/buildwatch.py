"""``feedsvc build --watch``: keep a static build current as documents change.

The seeds folder is watched through the kernel's file notifications (as ``feedsvc serve`` does,
with a full rescan every ``watch.SAFETY_RESCAN_SECONDS``); each change is indexed, OUT is rebuilt
incrementally (build.py), and the hook, a shell command such as an ``rsync`` or an object-store
sync, runs after every build that changed OUT. The hook runs beside the watch: OUT keeps
following the documents while it runs, however long it takes (a sync cut off on a dead network
can hang for ever), and it runs again once it ends if OUT changed meanwhile. A failing hook is
logged and run again later; it never stops the watch. The loop also rebuilds when another
process changed the index, and when the clock alone changes a page
(build.BuildReport.next_change: an embargo lifting, an archive period ending, the news
sitemap's window moving).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import watchfiles

from .build import Builder, BuildReport
from .changes import log_report, quantity
from .conditions import Conditions
from .indexfile import explain
from .outtree import OutTree
from .store import EDIT_SETTLE_SECONDS
from .watch import EXPECTED, RECURSIVE, SAFETY_RESCAN_SECONDS, changed_names, held_after

log = logging.getLogger(__name__)

# How often the loop wakes without a notification: to notice the clock and other processes,
# and to write the next batch of the listing pages a change shifted (_Owed), which waits
# this long after the last one (a wake costs a stat() of the index's generation file).
WAKE_MILLISECONDS = 50
# How often the watch looks for a seeds folder that is missing, or cannot be watched.
MISSING_WAKE_SECONDS = 1.0
# How long a hook has to end after SIGTERM when the watch stops, before SIGKILL.
HOOK_STOP_SECONDS = 5.0
HOOK_POLL_SECONDS = 0.05
# A failed hook (a sync cut off, nginx busy) is run again after this long, then twice as long
# after each failure, up to the maximum; and after every change meanwhile.
HOOK_RETRY_SECONDS = 30.0
HOOK_RETRY_MAX_SECONDS = 300.0
# A hook still running after this long is said once (the watch goes on beside it).
HOOK_SLOW_SECONDS = 300.0


def start_hook(hook: str, config_changed: bool, out: str) -> subprocess.Popen[bytes] | None:
    """Start ``hook`` in a shell, in OUT's parent folder; None (and a log line) when it cannot.

    It gets BUILD_OUT (the folder) and BUILD_CONFIG_CHANGED (1 when the generated server
    configuration changed since the hook last succeeded, so that a hook can reload nginx only
    then). It runs in a process group of its own: a stop (Ctrl-C, SIGTERM to feedsvc alone)
    ends the whole hook (``_end_group``), not only its shell."""
    changed = "1" if config_changed else "0"
    env = {**os.environ, "BUILD_OUT": out, "BUILD_CONFIG_CHANGED": changed}
    try:
        return subprocess.Popen(
            hook, shell=True, env=env, cwd=os.path.dirname(out), start_new_session=True
        )
    except OSError as exc:
        log.error("the hook %r could not run: %s", hook, exc)
        return None


def _succeeded(hook: str, returncode: int) -> bool:
    if returncode != 0:
        log.error("the hook %r failed with exit status %d", hook, returncode)
        return False
    return True


def run_hook(hook: str, config_changed: bool, out: str) -> bool:
    """Run ``hook`` (``start_hook``) and wait for it; False (and a log line) when it fails. A
    stop while it runs ends the hook's whole group, then raises here as it came."""
    process = start_hook(hook, config_changed, out)
    if process is None:
        return False
    try:
        returncode = process.wait()
    except BaseException:
        _end_group(process)
        raise
    return _succeeded(hook, returncode)


def publish(hook: str, tree: OutTree) -> bool:
    """Run ``hook`` if OUT changed since a hook last succeeded (OutTree.unpublished: also
    across runs, so a hook that failed, or a build without one, is made up for by the next
    build with one); whether OUT is now published. BUILD_CONFIG_CHANGED says whether the
    configuration changed since then."""
    unpublished = tree.unpublished()
    if not unpublished:
        return True
    if not run_hook(hook, unpublished == "config", str(tree.out)):
        return False
    tree.published()
    return True


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the hook's process group, then SIGKILL to what is left of it after
    HOOK_STOP_SECONDS. The whole group, not the shell alone: a shell that ends at SIGTERM may
    leave a command of the hook that ignores it (a trial: `sh script.sh`, whose script set
    `trap '' TERM`, outlived the watch)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + HOOK_STOP_SECONDS
    while (alive := _group_alive(process)) and time.monotonic() < deadline:
        time.sleep(HOOK_POLL_SECONDS)
    if alive:  # (once gone, its number may be another group's)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    """Whether a process of the hook's group is left (its shell reaped, if it ended)."""
    process.poll()
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def watch(
    builder: Builder,
    hook: str | None = None,
    stop: threading.Event | None = None,
    on_build: Callable[[BuildReport], None] | None = None,
    next_change: datetime | None = None,
) -> None:
    """Rebuild OUT after every change until ``stop`` is set, and publish it with ``hook``,
    first as the watch begins (what the first build, or an earlier run, left unpublished) and
    then after each change (``_Owed``: beside the watch, one hook at a time); a hook that failed
    is run again HOOK_RETRY_SECONDS later (twice that after another failure, up to
    HOOK_RETRY_MAX_SECONDS), changes or not. Ctrl-C raises KeyboardInterrupt to the caller,
    which says it stopped (OUT keeps its last whole build: see outtree); a hook that runs is
    ended first."""
    owed = _Owed(hook, builder.tree)
    try:
        owed.publish()
        _follow(builder, owed, stop, on_build, next_change)
    finally:
        owed.stop()


# What one wake of the watch reports: (kind, path) of each change.
Changes = set[tuple[watchfiles.Change, str]]


def _notifications(
    folder: Path, stop: threading.Event | None, poll_seconds: float
) -> Iterator[Changes]:
    """watchfiles' change sets for ``folder`` (an empty one every WAKE_MILLISECONDS), until
    ``stop`` is set. Whatever happens to the folder itself, a change set naming it (a full
    scan, which says the folder is missing, once, or finds what changed meanwhile): when it
    is gone (then every MISSING_WAKE_SECONDS until it is back, also when it is missing as the
    watch begins: watchfiles cannot watch it), and when it is watched again after that or was
    replaced (a share mounted again, a folder renamed away and another put in its place: the
    kernel's watch follows the old one, and would report nothing more). Where notifications
    fail (the kernel's watches run out), that is said, and the folder is scanned whole every
    ``poll_seconds`` (FEEDSVC_POLL_INTERVAL) until they are tried again, SAFETY_RESCAN_SECONDS
    later, as `feedsvc serve`'s watcher does."""
    stop = stop or threading.Event()
    itself = {(watchfiles.Change.modified, str(folder))}  # changed_names: a full scan
    notifications = Conditions(log)
    rewatched = False  # the watch begun again: its first wake looks at the whole folder
    while not stop.is_set():
        identity = _identity(folder)
        if identity is None:
            yield itself
            stop.wait(MISSING_WAKE_SECONDS)
            rewatched = True
            continue
        try:
            for changes in watchfiles.watch(
                folder,
                watch_filter=None,
                debounce=50,
                step=20,
                rust_timeout=WAKE_MILLISECONDS,
                yield_on_timeout=True,
                stop_event=stop,
                raise_interrupt=True,  # not watchfiles' own warning: the command says it stopped
                recursive=RECURSIVE,
            ):
                notifications.end("notifications")
                yield changes | itself if rewatched else changes  # what changed unwatched
                rewatched = False
                if _identity(folder) != identity:
                    break  # gone or replaced: watched again, or waited for
        except (OSError, RuntimeError) as exc:  # RuntimeError: watchfiles' own failures
            if _identity(folder) is None:  # gone before the watch was in place
                rewatched = True
                continue
            notifications.start(
                "notifications",
                f"no file-system notifications for {folder} ({exc}); rescanning every "
                f"{poll_seconds:g} s",
                f"file-system notifications for {folder} work again",
            )
            yield from _polls(folder, stop, poll_seconds, itself)
        rewatched = True


def _polls(
    folder: Path, stop: threading.Event, poll_seconds: float, itself: Changes
) -> Iterator[Changes]:
    """Without notifications, for SAFETY_RESCAN_SECONDS: a change set naming the folder (a
    full scan) every ``poll_seconds``, and an empty one every WAKE_MILLISECONDS between (the
    loop's other work: the hook, releases, deferred pages)."""
    until = time.monotonic() + SAFETY_RESCAN_SECONDS
    next_scan = 0.0
    while not stop.is_set() and time.monotonic() < until:
        if time.monotonic() >= next_scan:
            next_scan = time.monotonic() + poll_seconds
            yield itself
        else:
            yield set()
        stop.wait(WAKE_MILLISECONDS / 1000)


def _identity(folder: Path) -> tuple[int, int] | None:
    """The folder's device and inode, or None when there is no folder there."""
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


def _follow(
    builder: Builder,
    owed: _Owed,
    stop: threading.Event | None,
    on_build: Callable[[BuildReport], None] | None,
    next_change: datetime | None,
) -> None:
    """The watch's loop (``watch``)."""
    store = builder.svc.store
    # The first wake rescans the folder: what was written after the first build read it and
    # before the watch began is in no notification (CI once wrote a document just then; the
    # safety rescan found it 30 s later).
    last_scan = time.monotonic() - SAFETY_RESCAN_SECONDS - 1
    seen = store.version()
    # Published documents found unreadable or unparseable (maybe being written): name ->
    # ((size, mtime_ns) then, since when). Their articles stay until the same state is looked
    # at again EDIT_SETTLE_SECONDS later; then they are judged (skipped, said, withdrawn), as
    # `feedsvc serve`'s watcher does (watch.held_after).
    held: dict[str, tuple[tuple[int, int], float]] = {}
    # What cannot be read ("index": the folder gone, the index locked) or written ("build": a
    # full disk) is said once, and once more when it is over.
    conditions = Conditions(log)
    stage = "index"
    for changes in _notifications(store.seeds_dir, stop, builder.svc.config.poll_interval):
        owed.poll()  # a hook that ended: published, failed, or to run again
        try:
            stage = "index"
            now = time.monotonic()
            settled = {
                n: sig for n, (sig, since) in held.items() if now - since >= EDIT_SETTLE_SECONDS
            }
            names: set[str] | None
            if now - last_scan > SAFETY_RESCAN_SECONDS:
                last_scan, names = now, None
            elif changes:
                names = changed_names(store.seeds_dir, changes)
                if names is not None:
                    names |= settled.keys()
            else:
                names = set(settled)
            indexed = False
            if names is None or names:
                report = store.refresh(names=names, settled=settled)
                conditions.end("index")
                held = held_after(held, names, report, now)
                if report.rebuilt is None:  # a rebuild is said in two lines by the store
                    log_report(report)  # each document added, changed, removed or skipped
                indexed = report.any_change
            # Any change of what the store shows: this refresh, another process's, a release.
            indexed = store.version() != seen or indexed
            seen = store.version()
            due = next_change is not None and datetime.now(UTC) >= next_change
            # OUT removed (`rm -rf public` to start clean): built again whole, without waiting
            # for a document to change.
            gone = not builder.tree.out.is_dir()
            stage = "build"
            if not (indexed or due or gone):
                if builder.deferred:  # nothing new: what the last changes put off
                    owed.write(builder)
                elif owed.retry_due():  # or a hook that failed
                    owed.publish(again=True)
                continue
            built = builder.build(defer=True)
            conditions.end("build")
        except EXPECTED as exc:
            # A vanished seeds folder, a full disk, a locked index: a condition, not a bug; one
            # line, and the next change (or the safety rescan) tries again.
            out, seeds = builder.tree.out, store.seeds_dir
            conditions.start(
                stage,
                f"cannot rebuild {out} from {seeds}: {explain(exc)}; trying again",
                f"{out} follows {seeds} again" if stage == "index" else f"{out} is written again",
                level=logging.ERROR,
            )
            continue
        except Exception:
            # Broad on purpose: whatever it is must not end the watch; its traceback is wanted.
            log.exception("rebuilding %s failed", builder.tree.out)
            continue
        next_change = built.next_change
        if built.changed:
            log.info(
                "%s: %s written, %s removed in %.2f s (%s listed: %s)%s",
                builder.tree.out, quantity(len(built.written), "file"), f"{len(built.removed):,}",
                built.seconds, quantity(built.urls, "URL"), built.inventory,
                f"; {built.deferred:,} writes put off follow: shifted listing pages, then the "
                "server configuration" if built.deferred else "",
            )  # fmt: skip
            owed.changed()
            owed.publish()
        owed.started(built)
        if on_build is not None:
            on_build(built)


class _Owed:
    """What the watch still owes: the writes a build put off, made a batch at a time between
    changes (Builder.write_deferred) so that the next change never waits for all of them, and
    the hook once they are all made (a build in between runs it for what is made by then),
    or again after it failed. The hook runs beside the watch, one at a time: a change while it
    runs has it run again once it ends."""

    def __init__(self, hook: str | None, tree: OutTree):
        self.hook, self.tree, self.out = hook, tree, str(tree.out)
        self.retry_seconds = HOOK_RETRY_SECONDS
        self.retry_at: float | None = None  # monotonic: when a failed hook is run again
        self.running: subprocess.Popen[bytes] | None = None
        self.running_since = 0.0  # monotonic
        self.running_again = False  # the one running is the retry of a failed one
        self.said_slow = False  # that the one running runs long
        # Commits that moved files into OUT, counted: a hook that succeeded published OUT as
        # it is only if none came while it ran.
        self.commits = self.commits_then = 0
        self.since = 0.0  # when the oldest build whose put-off writes are not all made ended
        self.pages = self.files = 0
        self.config_written = False  # by the batches since

    def started(self, built: BuildReport) -> None:
        """After each build: what it put off, if anything, is written from now."""
        if built.deferred and not self.since:
            self.since = time.monotonic()

    def write(self, builder: Builder) -> None:
        """One batch (Builder.write_deferred); raises as it does, and then the builder has
        dropped the rest: the next change lists every URL, so a full disk is said once, not
        at every wake."""
        batch = builder.write_deferred()
        self.pages += batch.rendered
        self.files += len(batch.written)
        self.config_written = self.config_written or batch.config_changed
        if batch.written or batch.config_changed:
            self.changed()
        if batch.deferred:
            return
        log.info(
            "%s: what the last changes put off is written: %s shifted listing pages%s, "
            "%s in %.2f s",
            self.out, f"{self.pages:,}", " and the server configuration" if self.config_written
            else "", quantity(self.files, "file"), time.monotonic() - self.since,
        )  # fmt: skip
        self.since, self.pages, self.files, self.config_written = 0.0, 0, 0, False
        self.publish()

    def changed(self) -> None:
        """A commit moved files into OUT."""
        self.commits += 1

    def publish(self, again: bool = False) -> None:
        """Start the hook if OUT is not published as it is (OutTree.unpublished) and none runs
        (``poll`` starts it again when that one ends, if OUT changed meanwhile); ``again``: the
        retry of one that failed (``retry_due``), whose next wait is twice as long if it fails
        too."""
        if not self.hook or self.running is not None:
            return
        try:
            unpublished = self.tree.unpublished()
        except EXPECTED as exc:  # the manifest unreadable (a full disk): as a failed hook
            log.error("cannot tell whether %s is published: %s", self.out, explain(exc))
            self._failed(again)
            return
        if not unpublished:
            self.retry_at, self.retry_seconds = None, HOOK_RETRY_SECONDS
            return
        if again:
            log.info("running the hook again: %s changed since it last succeeded", self.out)
        self.running = start_hook(self.hook, unpublished == "config", self.out)
        if self.running is None:
            self._failed(again)
            return
        self.running_since, self.running_again = time.monotonic(), again
        self.commits_then, self.said_slow = self.commits, False

    def poll(self) -> None:
        """At every wake: whether the hook that runs has ended. Succeeded, OUT is published as
        it was when the hook began (OutTree.published, unless a commit came since: then it
        runs again); failed, it runs again later. One that runs long is said once."""
        running = self.running
        if running is None:
            return
        if running.poll() is None:
            ran = time.monotonic() - self.running_since
            if ran >= HOOK_SLOW_SECONDS and not self.said_slow:
                self.said_slow = True
                log.warning("the hook has run for %.0f s; %s keeps following the documents, "
                            "and the hook runs again once it ends", ran, self.out)  # fmt: skip
            return
        self.running = None
        if not _succeeded(self.hook or "", running.returncode):
            self._failed(self.running_again)
            return
        self.retry_at, self.retry_seconds = None, HOOK_RETRY_SECONDS
        try:
            if self.commits == self.commits_then:
                self.tree.published()
        except EXPECTED as exc:
            log.error("cannot record that %s is published: %s", self.out, explain(exc))
        self.publish()  # what changed while it ran

    def _failed(self, again: bool) -> None:
        if again:
            self.retry_seconds = min(2 * self.retry_seconds, HOOK_RETRY_MAX_SECONDS)
        self.retry_at = time.monotonic() + self.retry_seconds
        log.info("the hook runs again in %d s, or after the next change", self.retry_seconds)

    def stop(self) -> None:
        """End the hook that runs, its whole group (``_end_group``), as the watch stops."""
        if self.running is not None:
            _end_group(self.running)
            self.running = None

    def retry_due(self) -> bool:
        return self.retry_at is not None and time.monotonic() >= self.retry_at
