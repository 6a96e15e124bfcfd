"""The benchmark's knobs: the command line of ``python -m benchmarks.run`` and what it decides.

``--quick`` is for trying the benchmark out (sizes 1,000 and 10,000, one-second wrk runs, three
rounds): a few minutes. Without it: sizes up to 100,000, five-second runs, five rounds.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...]
    rounds: int
    seconds: int
    warmup_seconds: int
    index_rounds: int
    visibility_trials: int
    connections: int
    threads: int
    seed: int
    out: Path
    corpus_dir: Path
    quick: bool
    ceiling: bool
    tier: bool
    tier_ceiling: bool
    static: bool
    serve_workers: int | None
    serve_threads: int | None
    source: Path | None


def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Measure feedsvc against nginx and a read-and-parse floor (issue 5): "
        "serving, indexing, growth. Prints the targets with PASS/FAIL; writes results.json "
        "and performance.png into --out.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="sizes 1000,10000, short wrk runs: a few minutes"
    )
    parser.add_argument(
        "--sizes", help="corpus sizes (default 1000,10000,100000; quick: 1000,10000)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results"),
        help="folder for results.json, performance.png and server logs",
    )
    parser.add_argument(
        "--rounds", type=int, help="wrk rounds per case and server (default 5; quick: 3)"
    )
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (default 5; quick: 1)")
    parser.add_argument("--index-rounds", type=int, help="first-index rounds (default 3; quick: 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "feedsvc-bench-corpus",
        help="where corpora are generated once and reused (default: %(default)s)",
    )
    parser.add_argument(
        "--ceiling",
        action=argparse.BooleanOptionalAction,
        help="also measure a bare WSGI callable under granian replaying feedsvc's responses "
        "(default: on; quick: off)",
    )
    parser.add_argument(
        "--tier",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the cache tier of docs/deploy.md in front of feedsvc (default: on)",
    )
    parser.add_argument(
        "--tier-ceiling",
        action=argparse.BooleanOptionalAction,
        help="also measure the cache tier in front of the nginx baseline's plain files, no "
        "feedsvc: what nginx's proxy_cache allows any origin (default: on with --tier; "
        "quick: off)",
    )
    parser.add_argument(
        "--static",
        action=argparse.BooleanOptionalAction,
        help="also measure `feedsvc build` served by nginx with its generated configuration "
        "(default: on; quick: off)",
    )
    parser.add_argument(
        "--serve-workers", type=int, help="feedsvc serve --workers (default: its own)"
    )
    parser.add_argument(
        "--serve-threads", type=int, help="feedsvc serve --threads (default: its own)"
    )
    parser.add_argument(
        "--source",
        type=Path,
        help="measure the feedsvc package in this folder (e.g. a `git archive` snapshot) "
        "instead of the installed one",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = args.sizes or ("1000,10000" if quick else "1000,10000,100000")
    try:
        parsed_sizes = tuple(sorted({int(s) for s in sizes.split(",") if s.strip()}))
    except ValueError:
        parser.error(f"--sizes {sizes!r} must be whole numbers separated by commas")
    if not parsed_sizes or min(parsed_sizes) < 60:
        parser.error("every size must be at least 60 (the feed holds 50 articles)")
    return Settings(
        sizes=parsed_sizes,
        rounds=args.rounds or (3 if quick else 5),
        seconds=args.seconds or (1 if quick else 5),
        warmup_seconds=1,
        index_rounds=args.index_rounds or (2 if quick else 3),
        visibility_trials=3 if quick else 7,
        connections=args.connections,
        threads=args.threads,
        seed=args.seed,
        out=args.out,
        corpus_dir=args.corpus_dir,
        quick=quick,
        ceiling=not quick if args.ceiling is None else args.ceiling,
        tier=args.tier,
        tier_ceiling=args.tier and (not quick if args.tier_ceiling is None else args.tier_ceiling),
        static=not quick if args.static is None else args.static,
        serve_workers=args.serve_workers,
        serve_threads=args.serve_threads,
        source=args.source.resolve() if args.source else None,
    )
