"""A new document reaching a watched static build: `feedsvc build OUT --watch`, as a user runs it.

    python -m benchmarks.watchbuild N [--corpus-dir DIR] [--trials T]

Builds the generated corpus of N documents into OUT with `feedsvc build`, starts `feedsvc build
OUT --watch` on it, then, T times, writes a new newest document (atomically, as
benchmarks.visibility does) and times, from the rename: its article in OUT's three subscription
feeds (the issue's "a new document in OUT's feeds within 1 s"), and the watch's line saying the
listing pages it shifted are all written; then deletes it and times the same for its removal.
The pause between trials lets each change settle first. Wall-clock seconds on a shared machine;
`python -m benchmarks.build N --followed-only` gives the same rebuilds as ratios to writing
every file at once.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import corpus
from .visibility import PAUSE_SECONDS, probe_document

FEEDS = ("feed.atom", "feed.rss", "feed.json")
# What the watch logs (buildwatch.py): after each build, when that build put pages off, and
# once they are all written.
BUILT = " URLs listed: "
PUT_OFF = "writes put off follow"
SHIFTED_DONE = "what the last changes put off is written"
TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.01


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="documents in the corpus")
    parser.add_argument("--corpus-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="keep OUT and the index here (default: a "
                        "folder removed at the end); a second run with the same feedsvc and "
                        "corpus then only checks OUT instead of building it")  # fmt: skip
    args = parser.parse_args(argv)
    seeds = corpus.ensure(args.corpus_dir, args.n)
    work = args.work or Path(tempfile.mkdtemp(prefix="feedsvc-watchbuild-"))
    work.mkdir(parents=True, exist_ok=True)
    out, log_path = work / "out", work / "watch.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(
        FEEDSVC_SEEDS_DIR=str(seeds),
        FEEDSVC_INDEX_PATH=str(work / "index.sqlite3"),
        FEEDSVC_SITE_URL="https://news.example",
    )
    command = [sys.executable, "-m", "feedsvc", "build", str(out)]
    watch = None
    try:
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"N = {args.n}: full build {time.perf_counter() - started:.1f} s", flush=True)
        with open(log_path, "wb") as log:
            watch = subprocess.Popen(
                [*command, "--watch"], env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        # Its first build lists every URL again (the manifest is read, nothing is rendered).
        _until(lambda: "Watching" in log_path.read_text(errors="replace"))
        print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
        rng = random.Random(args.seed)
        times: dict[str, list[float]] = {}
        for trial in range(args.trials):
            for step in ("new document", "its deletion"):
                time.sleep(rng.uniform(*PAUSE_SECONDS))
                start = len(log_path.read_text(errors="replace"))
                if step == "new document":
                    name, article_id = probe_document(seeds, args.n, trial, args.seed)
                else:
                    (seeds / name).unlink()
                changed = time.perf_counter()
                needle = f"/articles/{article_id}/".encode()
                present = step == "new document"
                in_feeds = _until(
                    lambda: all((needle in (out / f).read_bytes()) == present for f in FEEDS)  # noqa: B023
                )
                # The build that took the change: the first one said after the line naming it
                # (the watch may build for other reasons, a second on the clock among them).
                line = _value(lambda: _build_after(log_path, start, name))  # noqa: B023
                shifted = in_feeds  # unless that build put the shifted listing pages off
                if PUT_OFF in line:
                    done = start + _text(log_path, start).index(line)
                    shifted = _until(lambda: SHIFTED_DONE in _text(log_path, done))  # noqa: B023
                for label, at in (("in the feeds", in_feeds), ("shifted pages written", shifted)):
                    times.setdefault(f"{step}: {label}", []).append(at - changed)
                print(
                    f"trial {trial + 1}, {step}: in OUT's feeds after {in_feeds - changed:.2f} s, "
                    f"the pages it shifted after {shifted - changed:.2f} s",
                    flush=True,
                )
        for label, seconds in times.items():
            print(
                f"{label}: median {statistics.median(seconds):.2f} s "
                f"[{min(seconds):.2f}-{max(seconds):.2f}] of {len(seconds)}"
            )
    finally:
        if watch is not None:
            os.killpg(watch.pid, signal.SIGINT)
            watch.wait(timeout=60)
        for path in seeds.glob("*.txt"):  # probes, numbered from N on
            if int(path.name.split("_", 1)[0]) >= args.n:
                path.unlink()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _text(log_path: Path, start: int) -> str:
    """The watch's log from character ``start`` on."""
    return log_path.read_text(errors="replace")[start:]


def _build_after(log_path: Path, start: int, name: str) -> str | None:
    """The first build line logged after the line naming ``name`` (added, removed), if any."""
    text = _text(log_path, start)
    at = text.find(name)
    hit = text.find(BUILT, at) if at >= 0 else -1
    end = text.find("\n", hit)
    if hit < 0 or end < 0:
        return None
    return text[text.rfind("\n", 0, hit) + 1 : end]


def _value(get: Callable[[], str | None]) -> str:
    """What ``get`` returns once it returns something; raises after TIMEOUT_SECONDS."""
    deadline = time.perf_counter() + TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        found = get()
        if found is not None:
            return found
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"not said within {TIMEOUT_SECONDS:.0f} s")


def _until(condition: Callable[[], bool]) -> float:
    """The perf_counter() at which ``condition`` first held; raises after TIMEOUT_SECONDS."""
    deadline = time.perf_counter() + TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        try:
            if condition():
                return time.perf_counter()
        except FileNotFoundError:  # a feed between its removal and its rename: not yet
            pass
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"not seen within {TIMEOUT_SECONDS:.0f} s")


if __name__ == "__main__":
    raise SystemExit(main())
