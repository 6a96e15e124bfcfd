"""The part of every static rebuild that grows with N: a snapshot of the index and the list of
every URL with its inputs (inventory.py), as ``Builder.build`` takes them on each rebuild.

    python -m benchmarks.inventory N [--corpus-dir DIR] [--source DIR ...] [--rounds R]

Indexes the generated corpus of N documents (benchmarks.corpus) once, with the installed
feedsvc, then times ``Snapshot`` and ``inventory.targets`` in fresh processes, three times each,
with the permalinks already known (as a running builder knows them). With several ``--source``
folders (``git archive`` snapshots of feedsvc, which must share the index's schema), their
processes alternate, round after round; each source's median CPU is given as a ratio to the
first's, and every source must list the same URLs with the same inputs. Nothing is rendered or
written: this is a floor under any rebuild, whatever changed.
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
from pathlib import Path

from . import corpus
from .harness import REPO
from .service import feedsvc_command, feedsvc_env

TRIALS = 3


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
    args = parser.parse_args(argv)
    sources: list[Path | None] = [s.resolve() for s in args.source] or [None]
    seeds = corpus.ensure(args.corpus_dir, args.n)
    work = Path(tempfile.mkdtemp(prefix="feedsvc-inventory-"))
    try:
        index = work / "index.sqlite3"
        env = feedsvc_env(seeds, index, 8000, None)
        subprocess.run([*feedsvc_command(), "index"], env=env, check=True, capture_output=True)
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
