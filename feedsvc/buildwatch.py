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
from .watch import SAFETY_RESCAN_SECONDS, changed_names

log = logging.getLogger(__name__)

# How often the loop wakes without a notification: to notice the clock and other processes.
WAKE_MILLISECONDS = 250


def run_hook(hook: str, report: BuildReport, out: str) -> bool:
    """Run ``hook`` in a shell, in OUT's parent folder; False (and a log line) when it fails.

    It gets BUILD_OUT (the folder) and BUILD_CONFIG_CHANGED (1 when the generated server
    configuration changed, so that a hook can reload nginx only then)."""
    changed = "1" if report.config_changed else "0"
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
    for changes in watchfiles.watch(
        store.seeds_dir,
        watch_filter=None,
        debounce=50,
        step=20,
        rust_timeout=WAKE_MILLISECONDS,
        yield_on_timeout=True,
        stop_event=stop,
        raise_interrupt=True,  # not watchfiles' own warning: the command says it stopped
    ):
        try:
            indexed = False
            if time.monotonic() - last_scan > SAFETY_RESCAN_SECONDS:
                last_scan = time.monotonic()
                indexed = store.refresh().any_change
            elif changes:
                indexed = store.refresh(names=changed_names(store.seeds_dir, changes)).any_change
            # Any change of what the store shows: this refresh, another process's, a release.
            indexed = store.version() != seen or indexed
            seen = store.version()
            due = next_change is not None and datetime.now(UTC) >= next_change
            if not (indexed or due):
                continue
            report = builder.build()
        except Exception:
            # Broad on purpose: a full disk or a vanished folder must not end the watch; the
            # error is logged and the next change tries again.
            log.exception("rebuilding %s failed", builder.tree.out)
            continue
        next_change = report.next_change
        if report.changed:
            log.info(
                "%s: %d files written, %d removed in %.2f s (%d URLs listed: %s)",
                builder.tree.out, len(report.written), len(report.removed), report.seconds,
                report.urls, report.inventory,
            )  # fmt: skip
            if hook:
                run_hook(hook, report, str(builder.tree.out))
        if on_build is not None:
            on_build(report)
