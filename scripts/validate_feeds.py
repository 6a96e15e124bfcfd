"""Run the W3C Feed Validation Service over every RSS and Atom feed feedsvc serves for a folder.

    python scripts/validate_feeds.py --validator DIR [SEEDS]

DIR is a checkout of https://github.com/w3c/feedvalidator (it needs ``html5lib``); it is not a
dependency of the project and is not vendored. SEEDS defaults to the bundled ``seeds/``; for
hostile text, generate a corpus first: ``python -m benchmarks.corpus /tmp/hostile 2000 --hostile``.

The script indexes SEEDS into a temporary folder, starts ``feedsvc serve`` on a free loopback
port, and validates, offline and as served (body, Content-Type, the URL it was fetched from):
every feed listed in /feeds.opml, every RFC 5005 archive page reached through ``prev-archive``,
the main feed at the largest ``?limit=``, and a search feed. It prints one line per feed and
exits 1 if any feed has an error or a warning.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parents[1]
SITE_URL = "https://news.example.com"  # what the feeds say; requests go to the loopback port
Fetch = Callable[[str], tuple[bytes, str]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validator", type=Path, required=True, help="w3c/feedvalidator checkout")
    parser.add_argument("seeds", type=Path, nargs="?", default=REPO / "seeds")
    args = parser.parse_args()
    validate = load_validator(args.validator)
    with tempfile.TemporaryDirectory() as scratch, running_server(args.seeds, Path(scratch)) as get:
        paths = feed_paths(get)
        failures = 0
        for path in paths:
            body, content_type = get(path)
            errors, warnings, events = validate(body, SITE_URL + path, content_type)
            print(f"{path}: errors={errors} warnings={warnings}")
            for event in events:
                print(f"    {event}")
            failures += bool(errors or warnings)
    print(f"{len(paths)} feeds, {failures} with errors or warnings")
    return 1 if failures else 0


# -- the server ------------------------------------------------------------------------------


@contextmanager
def running_server(seeds: Path, scratch: Path) -> Iterator[Fetch]:
    """``feedsvc serve`` on a free loopback port over an index in ``scratch``; yields a
    function that GETs a path and returns (body, Content-Type)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(
        FEEDSVC_SEEDS_DIR=str(seeds.resolve()),
        FEEDSVC_INDEX_PATH=str(scratch / "index.sqlite3"),
        FEEDSVC_SITE_URL=SITE_URL,
        FEEDSVC_WATCH="0",
    )
    feedsvc = [sys.executable, "-m", "feedsvc"]
    subprocess.run([*feedsvc, "index"], env=env, check=True, stdout=subprocess.DEVNULL)

    def get(path: str) -> tuple[bytes, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as reply:
            return reply.read(), reply.headers["Content-Type"]

    server = subprocess.Popen(
        [*feedsvc, "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # stopped by process group, workers included
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get("/feed.atom")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("feedsvc serve did not start") from None
                time.sleep(0.2)
        yield get
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def feed_paths(get: Fetch) -> list[str]:
    """Every RSS and Atom feed of the site, as paths."""
    opml = ElementTree.fromstring(get("/feeds.opml")[0])
    paths = [
        outline.get("xmlUrl", "").removeprefix(SITE_URL)
        for outline in opml.iter("outline")
        if outline.get("xmlUrl", "").endswith((".rss", ".atom"))
    ]
    archive = "/feed.atom"
    while found := re.search(rb'<link href="([^"]+)" rel="prev-archive"', get(archive)[0]):
        archive = found.group(1).decode().removeprefix(SITE_URL)
        paths += [archive, archive.replace(".atom", ".rss")]
    paths += ["/feed.atom?limit=200", "/feed.rss?limit=200"]  # FEEDSVC_MAX_LIMIT's default
    paths += ["/search/feed.atom?q=the", "/search/feed.rss?q=the"]
    return list(dict.fromkeys(paths))


# -- the validator ---------------------------------------------------------------------------


def load_validator(checkout: Path):
    """The validator's own steps after its HTTP fetch, on bytes we fetched; no network."""
    sys.path.insert(0, str(checkout / "src"))
    try:
        import feedvalidator
        from feedvalidator import logging as fvlog
        from feedvalidator import mediaTypes, xmlEncoding
        from feedvalidator.formatter.base import BaseFormatter
    except ImportError as exc:
        raise SystemExit(f"cannot import the validator from {checkout}/src: {exc}") from None
    formatter = BaseFormatter([])

    def validate(body: bytes, url: str, content_type: str) -> tuple[int, int, list[str]]:
        events: list = []
        try:
            media_type, charset = mediaTypes.checkValid(content_type, events)
            mediaTypes.contentSniffing(media_type, body, events)
            encoding, text = xmlEncoding.decode(media_type, charset, body, events, "utf-8")
            validator = feedvalidator._validate(
                text.replace("\r\n", "\n"), 1, events, url, encoding, [url], media_type
            )
            mediaTypes.checkAgainstFeedType(media_type, validator.feedType, validator.loggedEvents)
            events = validator.loggedEvents
        except fvlog.ValidationFailure as failure:
            events.append(failure.event)
        errors = [e for e in events if isinstance(e, fvlog.Error)]
        warnings = [e for e in events if isinstance(e, fvlog.Warning)]
        shown = [
            f"{type(e).__name__} line {e.params.get('line', '?')}: {formatter.getMessage(e)}"
            for e in errors + warnings
        ]
        return len(errors), len(warnings), shown

    return validate


if __name__ == "__main__":
    sys.exit(main())
