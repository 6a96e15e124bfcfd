"""Run the W3C Feed Validation Service over every RSS and Atom feed feedsvc serves for a folder.

    python scripts/validate_feeds.py --validator DIR [SEEDS]

DIR is a copy of https://github.com/w3c/feedvalidator (a checkout, with the package under
``src/``, or the package's parent folder, such as ``../shared/tools/feedvalidator``); it needs
``html5lib`` and is not a dependency of the project. SEEDS defaults to the bundled ``seeds/``;
for hostile text, generate a corpus first:
``python -m benchmarks.corpus /tmp/hostile 2000 --hostile``.

The script indexes SEEDS into a temporary folder, starts ``feedsvc serve`` on a free loopback
port, and validates, offline and as served (body, Content-Type, the URL it was fetched from):
every feed listed in /feeds.opml, every RFC 5005 archive page reached through ``prev-archive``,
the main feed at the largest ``?limit=``, and a search feed. It prints one line per feed and
exits 1 if any feed has an error or a warning, but for three accepted classes, listed as accepted
and never silenced by changing what a document says:

- the "looks like HTML" warning (ContainsHTML, ContainsUndeclaredHTML) on the title of an entry
  whose headline literally contains that markup: the title is the headline as written,
  correctly sent as text;
- DuplicateUpdated: an entry's updated time is the later of its date line and its file's
  modification time, to the second, so two documents of one day that give no time, or two
  files written in the same second, share it; any other time would be made up;
- ImplausibleDate on a date before 1990, the validator's cut-off: feedsvc publishes documents
  dated from 1970 (an archive of older stories), as their date lines say.
"""

from __future__ import annotations

import argparse
import email.utils
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

# The validator's "this text looks like HTML" warnings, accepted on headlines that hold markup.
ACCEPTED_WARNINGS = ("ContainsHTML", "ContainsUndeclaredHTML")
# Two Atom entries with one atom:updated: documents of one day that give no time, or files
# written in the same second.
SAME_TIME_WARNING = "DuplicateUpdated"
# The validator's "implausible" dates: before 1990 (or in the future, which feedsvc never
# publishes: an entry dated ahead is held until then).
OLD_DATE_WARNING = "ImplausibleDate"
PLAUSIBLE_FROM = datetime(1990, 1, 1, tzinfo=UTC)
# Where a headline is a title: an RSS item's or an Atom entry's.
HEADLINE_PARENTS = ("item", "entry")
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
        failures = accepted = 0
        for path in paths:
            body, content_type = get(path)
            result = validate(body, SITE_URL + path, content_type)
            print(
                f"{path}: errors={len(result.errors)} warnings={len(result.warnings)} "
                f"accepted={len(result.accepted)}"
            )
            for line in result.errors + result.warnings:
                print(f"    {line}")
            for line in result.accepted:
                print(f"    accepted: {line}")
            failures += bool(result.errors or result.warnings)
            accepted += len(result.accepted)
    print(f"{len(paths)} feeds, {failures} with errors or warnings, {accepted} accepted warnings")
    return 1 if failures else 0


def is_accepted(rule: str, params: dict, headlines: list[str]) -> bool:
    """Whether a validator event is one of the accepted warnings: "looks like HTML" on a
    headline that literally contains the markup it names (an end tag such as ``</b>``, or
    ``&amp;``), or two entries updated at the same time (a real date and time)."""
    if rule == SAME_TIME_WARNING:
        return _is_a_time(str(params.get("value", "")))
    if rule == OLD_DATE_WARNING:
        return _before_1990(str(params.get("value", "")))
    if rule not in ACCEPTED_WARNINGS or params.get("element") != "title":
        return False
    if params.get("parent") not in HEADLINE_PARENTS:
        return False
    value = str(params.get("value", ""))
    if not value:
        return False
    markup = value if value.startswith("&") else f"</{value}>"
    return any(markup.lower() in headline.lower() for headline in headlines)


def _is_a_time(value: str) -> bool:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None


def _before_1990(value: str) -> bool:
    """Whether ``value``, an RFC 3339 or RFC 822 date with a zone, is before 1990."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return False
    return moment.tzinfo is not None and moment < PLAUSIBLE_FROM


def headlines(body: bytes) -> list[str]:
    """The title of every item and entry in a feed."""
    root = ElementTree.fromstring(body)
    return [
        child.text or ""
        for element in root.iter()
        if element.tag.rsplit("}", 1)[-1] in HEADLINE_PARENTS
        for child in element
        if child.tag.rsplit("}", 1)[-1] == "title"
    ]


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
    paths = []
    for outline in opml.iter("outline"):  # one per channel, its Atom feed
        atom = outline.get("xmlUrl", "").removeprefix(SITE_URL)
        if atom.endswith("/feed.atom"):
            paths += [atom, atom.removesuffix(".atom") + ".rss"]
    archive = "/feed.atom"
    while found := re.search(rb'<link href="([^"]+)" rel="prev-archive"', get(archive)[0]):
        archive = found.group(1).decode().removeprefix(SITE_URL)
        paths += [archive, archive.replace(".atom", ".rss")]
    paths += ["/feed.atom?limit=200", "/feed.rss?limit=200"]  # FEEDSVC_MAX_LIMIT's default
    paths += ["/search/feed.atom?q=the", "/search/feed.rss?q=the"]
    return list(dict.fromkeys(paths))


# -- the validator ---------------------------------------------------------------------------


@dataclass
class Result:
    errors: list[str]
    warnings: list[str]  # not accepted
    accepted: list[str]


def load_validator(checkout: Path) -> Callable[[bytes, str, str], Result]:
    """The validator's own steps after its HTTP fetch, on bytes we fetched; no network."""
    # A git checkout keeps the package under src/; a copy of the package's folder has it at top.
    sys.path.insert(0, str(checkout / "src" if (checkout / "src").is_dir() else checkout))
    try:
        import feedvalidator
        from feedvalidator import logging as fvlog
        from feedvalidator import mediaTypes, xmlEncoding
        from feedvalidator.formatter.base import BaseFormatter
    except ImportError as exc:
        raise SystemExit(f"cannot import the validator from {checkout}: {exc}") from None
    formatter = BaseFormatter([])

    def validate(body: bytes, url: str, content_type: str) -> Result:
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
        titles = headlines(body)

        def shown(event) -> str:
            line = event.params.get("line", "?")
            return f"{type(event).__name__} line {line}: {formatter.getMessage(event)}"

        result = Result([], [], [])
        for event in events:
            if isinstance(event, fvlog.Error):
                result.errors.append(shown(event))
            elif isinstance(event, fvlog.Warning):
                if is_accepted(type(event).__name__, event.params, titles):
                    result.accepted.append(shown(event))
                else:
                    result.warnings.append(shown(event))
        return result

    return validate


if __name__ == "__main__":
    sys.exit(main())
