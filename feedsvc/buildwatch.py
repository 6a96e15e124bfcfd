"""``feedsvc build --watch``: keep a static build current as documents change.

The seeds folder is watched through the kernel's file notifications (as ``feedsvc serve`` does,
with a full rescan every ``watch.SAFETY_RESCAN_SECONDS``); each change is indexed, OUT is rebuilt
incrementally (build.py), and the hook, a shell command such as an ``rsync`` or an object-store
sync, runs after every build that changed OUT. A failing hook is logged and the next change runs
it again; it never stops the watch. The loop also rebuilds when another process changed the
index, and when the clock alone changes a page (build.BuildReport.next_change: an embargo
lifting, an archive period ending, the news sitemap's window moving).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import watchfiles

from .build import Builder, BuildReport
from .changes import log_report
from .indexfile import explain
from .store import EDIT_SETTLE_SECONDS, Report
from .watch import EXPECTED, RECURSIVE, SAFETY_RESCAN_SECONDS, changed_names

log = logging.getLogger(__name__)

# How often the loop wakes without a notification: to notice the clock and other processes,
# and to write the next batch of the listing pages a change shifted (_Shifted), which waits
# this long after the last one (a wake costs a stat() of the index's generation file).
WAKE_MILLISECONDS = 50


def run_hook(hook: str, config_changed: bool, out: str) -> bool:
    """Run ``hook`` in a shell, in OUT's parent folder; False (and a log line) when it fails.

    It gets BUILD_OUT (the folder) and BUILD_CONFIG_CHANGED (1 when the generated server
    configuration changed since the hook last ran, so that a hook can reload nginx only
    then)."""
    changed = "1" if config_changed else "0"
    env = {**os.environ, "BUILD_OUT": out, "BUILD_CONFIG_CHANGED": changed}
    try:
        finished = subprocess.run(hook, shell=True, env=env, cwd=os.path.dirname(out), check=False)
    except OSError as exc:
        log.error("the hook %r could not run: %s", hook, exc)
        return False
    if finished.returncode != 0:
        log.error("the hook %r failed with exit status %d", hook, finished.returncode)
        return False
    return True


def watch(
    builder: Builder,
    hook: str | None = None,
    stop: threading.Event | None = None,
    on_build: Callable[[BuildReport], None] | None = None,
    next_change: datetime | None = None,
) -> None:
    """Rebuild OUT after every change until ``stop`` is set. Ctrl-C raises KeyboardInterrupt
    to the caller, which says it stopped (OUT keeps its last whole build: see outtree)."""
    store = builder.svc.store
    last_scan = time.monotonic()
    seen = store.version()
    # Published documents found unreadable or unparseable (maybe being written): name ->
    # ((size, mtime_ns) then, since when). Their articles stay until the same state is looked
    # at again EDIT_SETTLE_SECONDS later; then they are judged (skipped, said, withdrawn), as
    # `feedsvc serve`'s watcher does (watch.Watcher._settle).
    held: dict[str, tuple[tuple[int, int], float]] = {}
    shifted = _Shifted()
    for changes in watchfiles.watch(
        store.seeds_dir,
        watch_filter=None,
        debounce=50,
        step=20,
        rust_timeout=WAKE_MILLISECONDS,
        yield_on_timeout=True,
        stop_event=stop,
        raise_interrupt=True,  # not watchfiles' own warning: the command says it stopped
        recursive=RECURSIVE,
    ):
        try:
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
                held = _hold(held, names, report, now)
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
            if not (indexed or due or gone):
                if builder.deferred:  # nothing new: the listing pages the last change shifted
                    shifted.write(builder, hook)
                continue
            built = builder.build(defer=True)
        except EXPECTED as exc:
            # A vanished seeds folder, a full disk, a locked index: a condition, not a bug; one
            # line, and the next change (or the safety rescan) tries again.
            log.error(
                "cannot rebuild %s from %s: %s; trying again",
                builder.tree.out, store.seeds_dir, explain(exc),
            )  # fmt: skip
            continue
        except Exception:
            # Broad on purpose: whatever it is must not end the watch; its traceback is wanted.
            log.exception("rebuilding %s failed", builder.tree.out)
            continue
        next_change = built.next_change
        if built.changed:
            log.info(
                "%s: %d files written, %d removed in %.2f s (%d URLs listed: %s)%s",
                builder.tree.out, len(built.written), len(built.removed), built.seconds,
                built.urls, built.inventory,
                f"; {built.deferred} shifted listing pages follow" if built.deferred else "",
            )  # fmt: skip
            if hook:
                config_changed = shifted.config_changed or built.config_changed
                if run_hook(hook, config_changed, str(builder.tree.out)):
                    shifted.config_changed = False
        shifted.started(built)
        if on_build is not None:
            on_build(built)


class _Shifted:
    """The listing pages a change shifted, written a batch at a time between changes
    (Builder.write_deferred), so that the next change never waits for all of them; the hook
    runs once they are all written (a build in between runs it for what is written by then)."""

    def __init__(self) -> None:
        self.since = 0.0  # when the build that put them off ended
        self.written = 0
        # The generated configuration changed since the hook last ran without failing.
        self.config_changed = False

    def started(self, built: BuildReport) -> None:
        """After each build: what it put off, if anything, is written from now."""
        if built.deferred:
            self.since, self.written = time.monotonic(), 0

    def write(self, builder: Builder, hook: str | None) -> None:
        """One batch (Builder.write_deferred); raises as it does, and then the builder has
        dropped the rest: the next change lists every URL, so a full disk is said once, not
        at every wake."""
        batch = builder.write_deferred()
        self.written += len(batch.written)
        self.config_changed = self.config_changed or batch.config_changed
        if batch.deferred:
            return
        log.info(
            "%s: the listing pages the last change shifted: %d files written in %.2f s",
            builder.tree.out, self.written, time.monotonic() - self.since,
        )  # fmt: skip
        if hook and self.written and run_hook(hook, self.config_changed, str(builder.tree.out)):
            self.config_changed = False


def _hold(
    held: dict[str, tuple[tuple[int, int], float]],
    names: set[str] | None,
    report: Report,
    now: float,
) -> dict[str, tuple[tuple[int, int], float]]:
    """``held`` after a refresh of ``names`` (None: the whole folder): the documents it looked
    at are forgotten, but those it found unsettled, each held since it was first seen in the
    state it has now."""
    kept = {} if names is None else {n: h for n, h in held.items() if n not in names}
    for name, signature in report.unsettled.items():
        previous = held.get(name)
        kept[name] = (signature, previous[1] if previous and previous[0] == signature else now)
    return kept
