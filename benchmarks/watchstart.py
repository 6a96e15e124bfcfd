"""How long starting to watch the seeds folder holds the interpreter lock:
``python -m benchmarks.watchstart FOLDER [--rounds N]``.

The leading worker watches the folder (watch.py, through watchfiles) in a thread beside the
requests it serves. Starting the watch runs in watchfiles' Rust code with the interpreter lock
held, so every request of that worker waits as long as it takes. A recursive watch walks every
entry of the folder to find subfolders to watch; the folder's documents are its own files
(seedfiles.py), so feedsvc's watch is not recursive (``watch.RECURSIVE``). This measures both:
a thread of the same process wakes every 5 ms, and the longest gap between two wakes is the
longest time the lock was held; rounds alternate between the two kinds of watch. Give it a large
folder (``python -m benchmarks.corpus`` makes one): the walk is linear in the number of files.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

import watchfiles

from feedsvc import watch

TICK_SECONDS = 0.005


def longest_hold(folder: Path, recursive: bool) -> tuple[float, float]:
    """(seconds to the watch's first report, longest gap between a ticking thread's wakes)
    while a watch of ``folder`` starts."""
    stop = threading.Event()
    gaps: list[float] = []

    def tick() -> None:
        last = time.monotonic()
        while not stop.is_set():
            time.sleep(TICK_SECONDS)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.1)
    started = time.monotonic()
    first = float("nan")
    for _ in watchfiles.watch(folder, watch_filter=None, rust_timeout=100, yield_on_timeout=True,
                              recursive=recursive, stop_event=stop):  # fmt: skip
        first = time.monotonic() - started
        break
    stop.set()
    ticker.join()
    return first, max(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    found: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for k in range(args.rounds):
        for recursive in (True, False) if k % 2 == 0 else (False, True):
            found[recursive].append(longest_hold(args.folder, recursive))
    for recursive, rounds in found.items():
        name = "recursive" if recursive else "not recursive"
        name += " (feedsvc's)" if recursive == watch.RECURSIVE else ""
        holds = [hold for _, hold in rounds]
        firsts = [first for first, _ in rounds]
        print(f"{name}: lock held up to {statistics.median(holds):.3f} s "
              f"[{min(holds):.3f}-{max(holds):.3f}], first report after "
              f"{statistics.median(firsts):.3f} s ({len(rounds)} rounds)")  # fmt: skip


if __name__ == "__main__":
    main()
