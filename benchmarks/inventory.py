"""The part of every static rebuild that grows with N: a snapshot of the index and the list of
every URL with its inputs (inventory.py), as ``Builder.build`` takes them on each rebuild.

    python -m benchmarks.inventory N [--corpus-dir DIR] [--source DIR ...] [--rounds R]
    python -m benchmarks.inventory N --follow [--corpus-dir DIR] [--rounds R]

Indexes the generated corpus of N documents (benchmarks.corpus) once, with the installed
feedsvc, then times ``Snapshot`` and ``inventory.targets`` in fresh processes, three times each,
with the permalinks already known (as a running builder knows them). With several ``--source``
folders (``git archive`` snapshots of feedsvc, which must share the index's schema), their
processes alternate, round after round; each source's median CPU is given as a ratio to the
first's, and every source must list the same URLs with the same inputs. Nothing is rendered or
written: this is a floor under any rebuild, whatever changed.

With ``--follow``, one process measures what a kept builder (``build --watch``) does after one
edit (a paragraph added to a document in the middle of the archive), one new newest document,
and its deletion: the index refreshed for that one name, then the snapshot and the list of URLs
(a) followed from the change (inventory.follow, inventory.followed) and (b) listed whole, each
``--rounds`` times, alternated; then the URLs whose inputs changed rendered once, as the build
renders them (build.render: identity, gzip and brotli bodies, staged as files; nothing is
committed to an OUT folder). The followed list must give exactly the whole list after the change.
Figures are CPU and wall seconds, medians; the ratio is followed / whole.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from . import corpus
from .harness import REPO
from .service import feedsvc_command, feedsvc_env

TRIALS = 3
T = TypeVar("T")


def child(source: str, seeds: str, index: str) -> None:
    """In a fresh process, with ``source`` (if any) first on sys.path: print one JSON line."""
    from datetime import UTC, datetime

    if source:  # ahead of the working tree, which ``python -m`` puts first
        sys.path.insert(0, source)
    import feedsvc

    if source and not feedsvc.__file__.startswith(source):
        raise SystemExit(f"{source}: feedsvc imported from {feedsvc.__file__}")
    from feedsvc import create_app, inventory

    app = create_app({"SEEDS_DIR": seeds, "INDEX_PATH": index, "WATCH": "false"})
    svc = app.extensions["feedsvc"]
    first = inventory.Snapshot(svc, datetime.now(UTC))
    known = {inventory.permalink_key(t.inputs): t.url for t in inventory.article_pages(first)}
    cpu, wall = [], []
    targets: list = []
    for _ in range(TRIALS):
        started, used = time.perf_counter(), time.process_time()
        targets = inventory.targets(app, inventory.Snapshot(svc, datetime.now(UTC), known))
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    digest = hashlib.sha256(repr(targets).encode()).hexdigest()
    print(json.dumps({"feedsvc": feedsvc.__file__, "cpu": cpu, "wall": wall,
                      "urls": len(targets), "digest": digest}))  # fmt: skip


def run_child(source: Path | None, seeds: Path, index: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.inventory", "--child", str(source or ""), str(seeds),
         str(index)],
        env=env, cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def _timed(step: Callable[[], T]) -> tuple[T, float, float]:
    started, used = time.perf_counter(), time.process_time()
    result = step()
    return result, time.process_time() - used, time.perf_counter() - started


def follow(seeds: Path, index: Path, n: int, rounds: int) -> bool:
    """The ``--follow`` measurement (module docstring); False when following gave other URLs."""
    from datetime import UTC, datetime

    from feedsvc import create_app, inventory
    from feedsvc.build import render

    site_url = "http://127.0.0.1:8000"
    app = create_app({"SEEDS_DIR": str(seeds), "INDEX_PATH": str(index), "WATCH": "false",
                      "SITE_URL": site_url})  # fmt: skip
    svc = app.extensions["feedsvc"]
    first = inventory.Snapshot(svc, datetime.now(UTC))
    known = {inventory.permalink_key(t.inputs): t.url for t in inventory.article_pages(first)}
    before = inventory.Snapshot(svc, datetime.now(UTC), known)
    whole = {t.url: t for t in inventory.targets(app, before)}
    print(f"N = {n:,}: {len(whole):,} URLs, load average {os.getloadavg()[0]:.1f}", flush=True)
    edited = seeds / corpus.file_name(n // 2)
    original = edited.read_bytes()
    newest = seeds / corpus.file_name(n + 1)  # removed by corpus.ensure if left behind
    # (label, the file it touches, the change): one type for the three changes' callables.
    changes: list[tuple[str, Path, Callable[[], object]]] = [
        ("one edit", edited, lambda: edited.write_bytes(original + b"\nOne more sentence.\n")),
        ("one new document", newest, lambda: newest.write_text(
            "A new story arrives\n1 Jan 2026\n\nOSLO (Reuters) - It happened today.\n")),
        ("one deletion", newest, newest.unlink),
    ]  # fmt: skip
    same = True
    staging = Path(tempfile.mkdtemp(prefix="feedsvc-follow-staging-"))
    try:
        for label, path, change in changes:
            change()
            _, index_cpu, _ = _timed(lambda: svc.store.refresh(names=[path.name]))  # noqa: B023
            cpu: dict[str, list[float]] = {"followed": [], "whole": []}
            wall: dict[str, list[float]] = {"followed": [], "whole": []}
            listed: list = []
            gone: list = []
            full: list = []
            for round_ in range(rounds):
                for way in ["followed", "whole"][:: -1 if round_ % 2 else 1]:
                    if way == "followed":
                        (listed, gone), used, took = _timed(lambda: _followed(app, before))  # noqa: B023
                    else:
                        full, used, took = _timed(lambda: _whole(app, known))
                    cpu[way].append(used)
                    wall[way].append(took)
            after = {t.url: t for t in full}
            removed = set(gone)
            result = {url: t for url, t in whole.items() if url not in removed}
            result.update((t.url, t) for t in listed)
            same = same and result == after
            todo = [t for t in listed if whole.get(t.url) != t]
            svc.cache.clear()  # as the builder does before it renders
            _, render_cpu, render_wall = _timed(
                lambda: [render(app, site_url, t, None, staging) for t in todo]  # noqa: B023
            )
            f_cpu, w_cpu = statistics.median(cpu["followed"]), statistics.median(cpu["whole"])
            f_wall, w_wall = statistics.median(wall["followed"]), statistics.median(wall["whole"])
            print(f"{label}: index {index_cpu:.2f} s CPU; snapshot and list: followed "
                  f"{f_cpu:.2f} s CPU ({f_wall:.2f} wall, {len(listed):,} URLs), whole "
                  f"{w_cpu:.2f} s CPU ({w_wall:.2f} wall, {len(full):,} URLs), "
                  f"{f_cpu / w_cpu:.2f} x; render {len(todo)} changed URLs {render_cpu:.2f} s "
                  f"CPU ({render_wall:.2f} wall); followed + render / whole + render "
                  f"{(f_cpu + render_cpu) / (w_cpu + render_cpu):.2f} x; "
                  + ("same URLs and inputs" if result == after else "URLS DIFFER"),
                  flush=True)  # fmt: skip
            before, whole = inventory.Snapshot(svc, datetime.now(UTC), known), after
    finally:
        edited.write_bytes(original)
        newest.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return same


def _whole(app: Any, known: dict[str, str]) -> list:
    """A snapshot and every URL, as a builder lists them without an earlier snapshot."""
    from datetime import UTC, datetime

    from feedsvc import inventory

    svc = app.extensions["feedsvc"]
    return inventory.targets(app, inventory.Snapshot(svc, datetime.now(UTC), known))


def _followed(app: Any, before: Any) -> tuple[list, list]:
    """A snapshot and the URLs the change since ``before`` touches, as a kept builder does (the
    snapshot made from ``before`` and the change, where the store can tell what changed)."""
    from datetime import UTC, datetime

    from feedsvc import inventory

    svc = app.extensions["feedsvc"]
    after = inventory.Snapshot(svc, datetime.now(UTC), before.permalinks, before)
    scope = inventory.follow(before, after)
    if scope is None:
        raise SystemExit("the change was not followed")
    return inventory.followed(app, before, after, scope)


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="documents in the corpus")
    parser.add_argument("--corpus-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "feedsvc-bench-corpus")  # fmt: skip
    parser.add_argument("--source", type=Path, action="append", default=[],
                        help="a feedsvc source folder to measure (repeat to compare)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--follow", action="store_true",
                        help="time rebuilds that follow one change (module docstring)")  # fmt: skip
    args = parser.parse_args(argv)
    sources: list[Path | None] = [s.resolve() for s in args.source] or [None]
    seeds = corpus.ensure(args.corpus_dir, args.n)
    work = Path(tempfile.mkdtemp(prefix="feedsvc-inventory-"))
    try:
        index = work / "index.sqlite3"
        env = feedsvc_env(seeds, index, 8000, None)
        subprocess.run([*feedsvc_command(), "index"], env=env, check=True, capture_output=True)
        if args.follow:
            return 0 if follow(seeds, index, args.n, args.rounds) else 1
        results: dict[int, list[dict]] = {i: [] for i in range(len(sources))}
        for round_ in range(args.rounds):
            order = list(range(len(sources)))
            if round_ % 2:
                order.reverse()
            for i in order:
                found = run_child(sources[i], seeds, index)
                results[i].append(found)
                print(f"round {round_ + 1}: {found['feedsvc']}: CPU "
                      + ", ".join(f"{c:.2f}" for c in found["cpu"]) + " s, wall "
                      + ", ".join(f"{w:.2f}" for w in found["wall"])
                      + f" s, {found['urls']:,} URLs", flush=True)  # fmt: skip
        digests = {r["digest"] for runs in results.values() for r in runs}
        base = statistics.median(c for r in results[0] for c in r["cpu"])
        for i, runs in results.items():
            median = statistics.median(c for r in runs for c in r["cpu"])
            print(f"{sources[i] or 'installed feedsvc'}: median CPU {median:.2f} s, "
                  f"{median / base:.2f} x the first")  # fmt: skip
        print("same URLs and inputs in every run" if len(digests) == 1 else "URLS DIFFER")
        return 0 if len(digests) == 1 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
