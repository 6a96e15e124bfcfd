"""Static build times: `feedsvc build` full and incremental, against the service's own rendering.

    python -m benchmarks.build N [--corpus-dir DIR] [--jobs J] [--followed-only [--rounds R]]

Generates (once) a corpus of N documents with benchmarks.corpus, indexes it, and times, in one
process: a full build; a rebuild with nothing changed; a rebuild after one edited document (a
paragraph added to a document in the middle of the archive), after one new newest document, and
after deleting it again, each followed from the change by the kept builder (inventory.follow)
and, for the same change made again, with every URL listed (the ratio: followed / every URL).
The baseline, measured in the
same run, is the service rendering every URL of the site once through its WSGI app in one process
(what a full build cannot do with less CPU than): the full build is reported as a ratio to it.
Figures are wall-clock seconds and CPU seconds of this process and its workers; the machine is
shared, so compare ratios, not seconds.

With ``--followed-only`` (for large N, where each step of the above takes many minutes): after
the full build, only the followed rebuilds, each change made and undone ``--rounds`` times (each
undo is itself a followed rebuild of the same change), with the median of each; no rebuild with
every URL listed. Each round is made twice, alternated: writing every file at once (the
baseline) and as ``build --watch`` does, putting off the listing pages a new or deleted document
shifts (the time until the rest is in OUT, then the time to write those).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from feedsvc import config, inventory
from feedsvc.build import Builder, BuildReport, request

from . import corpus

CHANGE_INTERVAL_SECONDS = 1.1  # between two changes of --followed-only (_followed_rounds)


def _cpu() -> float:
    """CPU seconds of this process and its children, the render processes a kept builder keeps
    running included (RUSAGE_CHILDREN counts only children that have ended)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + _live_children()


def _live_children() -> float:
    """CPU seconds of this process's running children, from /proc (Linux)."""
    tick, me, total = os.sysconf("SC_CLK_TCK"), os.getpid(), 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue  # ended since the listing
        if int(fields[1]) == me:  # the parent's pid; then utime and stime, in clock ticks
            total += int(fields[11]) + int(fields[12])
    return total / tick


def timed(label: str, step: Callable[[], BuildReport | int]) -> float:
    wall, cpu = time.perf_counter(), _cpu()
    result = step()
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    if isinstance(result, BuildReport):
        detail = (
            f"{result.urls} URLs listed ({result.inventory}), {result.rendered} rendered, "
            f"{len(result.written)} files written"
        )
    else:
        detail = f"{result} URLs rendered"
    print(f"{label:48s} {wall:8.2f} s wall {cpu:8.2f} s CPU   {detail}", flush=True)
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="documents in the corpus")
    parser.add_argument("--corpus-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--followed-only", action="store_true",
                        help="after the full build, only followed rebuilds")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="with --followed-only")
    args = parser.parse_args(argv)
    # Generated once, and again if a run was stopped while writing it (corpus.ensure).
    seeds = corpus.ensure(args.corpus_dir, args.n)
    work = Path(tempfile.mkdtemp(prefix="feedsvc-build-bench-"))
    try:
        settings = config.load(
            {"SEEDS_DIR": str(seeds), "INDEX_PATH": str(work / "index.sqlite3"), "WATCH": "false"}
        )
        builder = Builder(settings, work / "out", jobs=args.jobs, keep_workers=True)
        builder.svc.store.refresh(parallel=True)
        print(f"N = {args.n}, {args.jobs} jobs, load average {os.getloadavg()[0]:.1f}")
        full = timed("full build", builder.build)
        timed("rebuild, nothing changed", builder.build)
        edited = sorted(seeds.glob("*.txt"))[args.n // 2]
        original = edited.read_bytes()
        newest = seeds / "999999_00000000deadbeef.txt"

        def edit() -> None:
            # A text edit: one more paragraph at the end (its dateline, so its channels, stay).
            edited.write_bytes(original.rstrip() + b"\n\nOne more sentence.\n")

        def add() -> None:
            newest.write_text(
                "A new story arrives\n1 Jan 2026\n\nOSLO (Reuters) - It happened today.\n\n"
                "More text follows.\n"
            )

        changes = [
            ("one edit", edited.name, edit, lambda: edited.write_bytes(original)),
            ("one new document", newest.name, add, newest.unlink),
            ("one deletion", newest.name, newest.unlink, add),
        ]
        if args.followed_only:
            try:
                _followed_rounds(builder, changes, args.rounds)
            finally:
                edited.write_bytes(original)
                newest.unlink(missing_ok=True)
            builder.close()
            return 0
        try:
            for label, name, change, undo in changes:
                # The change, followed by the kept builder; undone; made again and rebuilt
                # listing every URL: both rebuilds render the same URLs.
                change()
                followed = timed(f"after {label}, followed", lambda: _rebuild(builder, name))  # noqa: B023
                undo()
                _rebuild(builder, name)
                change()
                whole = timed(
                    f"after {label}, every URL listed",
                    lambda: _rebuild(builder, name, follow=False),  # noqa: B023
                )
                print(f"{label}: followed / every URL listed {followed / whole:.2f}", flush=True)
        finally:
            edited.write_bytes(original)
            newest.unlink(missing_ok=True)
        baseline = timed("baseline: render every URL once", lambda: _render_all(builder))
        print(f"full build / baseline: {full / baseline:.2f}")
        builder.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _followed_rounds(builder: Builder, changes: list, rounds: int) -> None:
    """Each change and its undo, ``rounds`` times, each rebuilt as a kept builder follows it:
    once writing every file at once (the baseline), once as ``build --watch`` does, with the
    listing pages a change shifted put off (Builder.build's ``defer``) and written after, a
    batch at a time, alternated round by round."""
    for label, name, change, undo in changes[:2]:  # the deletion is the new document's undo
        walls: dict[tuple[str, str], list[float]] = {}
        after: dict[str, list[float]] = {"change": [], "undo": []}

        for _ in range(rounds):
            for mode in ("at once", "watched"):
                for step, act in (("change", change), ("undo", undo)):
                    # Changes a second apart, as edits come: a file rewritten within the second
                    # it was last written is dated a second on, and its rebuild waits for that
                    # second (build.Builder._commit), which back-to-back rounds would time.
                    time.sleep(CHANGE_INTERVAL_SECONDS)
                    act()
                    defer = mode == "watched"
                    shown = f"after {label if step == 'change' else 'its undo'}, {mode}"
                    wall = timed(shown, lambda: _rebuild(builder, name, defer=defer))  # noqa: B023
                    walls.setdefault((step, mode), []).append(wall)
                    if defer:
                        drained = timed("  then the pages put off", lambda: _drain(builder))
                        after[step].append(drained)
        for step in ("change", "undo"):
            at_once = statistics.median(walls[step, "at once"])
            watched = statistics.median(walls[step, "watched"])
            print(
                f"{label if step == 'change' else '  its undo'}: in OUT after {watched:.2f} s "
                f"as build --watch writes it, against {at_once:.2f} s writing every file at once "
                f"({watched / at_once:.2f}); the pages put off then written in "
                f"{statistics.median(after[step]):.2f} s (medians of {rounds})",
                flush=True,
            )


def _rebuild(builder: Builder, name: str, follow: bool = True, defer: bool = False) -> BuildReport:
    builder.svc.store.refresh(names=[name])
    return builder.build(follow=follow, defer=defer)


def _drain(builder: Builder) -> int:
    """Write what the last build put off, a batch at a time: the URLs rendered."""
    rendered = 0
    while builder.deferred:
        rendered += builder.write_deferred().rendered
    return rendered


def _render_all(builder: Builder) -> int:
    builder.svc.cache.clear()
    snapshot = inventory.Snapshot(builder.svc, datetime.now(UTC))
    targets = inventory.targets(builder.app, snapshot)
    for target in targets:
        request(builder.app, target.url, builder.settings.site_url)
    return len(targets)


if __name__ == "__main__":
    raise SystemExit(main())
