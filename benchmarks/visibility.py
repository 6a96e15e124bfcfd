"""A new document reaching every feed: how long after it is written every worker serves it."""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import corpus
from .harness import fetch, log
from .settings import Settings

# Given up after this long (reported as "timeout").
VISIBLE_TIMEOUT_SECONDS = 20.0
# Visible means shown by this many polls in a row, over at least this long.
STEADY_POLLS = 30
STEADY_SECONDS = 1.0
# The pause before each trial, drawn from this range, lands it at a different point of the
# workers' poll cycle.
PAUSE_SECONDS = (0.2, 1.2)


def probe_document(seeds: Path, n: int, trial: int, seed: int) -> tuple[str, str]:
    """Write a new document, newest of all, atomically; returns (file name, article id)."""
    name = corpus.file_name(n + trial, seed)
    _, text = next(corpus.generate(1, seed=-1 - trial - 1000 * seed))
    when = datetime.now(UTC) - timedelta(minutes=5)
    lines = text.split("\n")
    lines[0] = f"Benchmark probe {trial} reaches every feed of the service."
    lines[1] = when.strftime("%b %d, %Y %I:%M %p UTC")
    scratch = seeds / f".{name}.tmp"  # hidden names are not documents
    scratch.write_text("\n".join(lines), encoding="utf-8")
    os.replace(scratch, seeds / name)
    return name, name.split("_", 1)[1].removesuffix(".txt")


def time_to_visible(
    port: int, article_id: str, started: float, timeout: float = VISIBLE_TIMEOUT_SECONDS
) -> float:
    """Seconds from ``started`` until every feed, from every worker, shows ``article_id``.

    Each poll opens a new connection, so the workers take turns; the document counts as visible
    from the first poll after the last one that did not show it, once it has been shown
    continuously for a second and at least 30 polls.
    """
    needle = f"/articles/{article_id}/".encode()
    paths = ("/feed.atom", "/feed.rss", "/feed.json")
    first_hit_after, hits = None, 0
    while time.perf_counter() - started < timeout:
        for path in paths:
            reply = fetch(port, path)
            now = time.perf_counter()
            if reply.status == 200 and needle in reply.body:
                first_hit_after = first_hit_after or now
                hits += 1
            else:
                first_hit_after, hits = None, 0
        if (
            first_hit_after
            and hits >= STEADY_POLLS
            and (time.perf_counter() - first_hit_after > STEADY_SECONDS)
        ):
            return first_hit_after - started
    return float("inf")


def measure_visibility(settings: Settings, seeds: Path, port: int, n: int) -> list[float]:
    rng = random.Random(settings.seed)
    seconds = []
    written = []
    try:
        for trial in range(settings.visibility_trials):
            time.sleep(rng.uniform(*PAUSE_SECONDS))  # land at a different point of the poll cycle
            name, article_id = probe_document(seeds, n, trial, settings.seed)
            written.append(name)
            seconds.append(time_to_visible(port, article_id, time.perf_counter()))
        shown = ", ".join(f"{s:.2f}" for s in seconds)
        log(f"  new document visible in every feed after: {shown} s")
    finally:
        for name in written:
            (seeds / name).unlink(missing_ok=True)
    return seconds
