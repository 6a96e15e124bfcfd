"""Validators a cache or a reader can trust, against a running ``feedsvc serve``.

Every kind of change (a backfill, a same-day story with a lower sequence number, an edit, a
removal, an embargo lifting) must move Last-Modified forward, so that a client polling with only
If-Modified-Since and the Last-Modified it was given gets the change, and one polling with
If-None-Match too; Last-Modified is never later than Date; and the bytes, ETags and times depend
on the documents alone: a rebuilt index and a second node on the same folder send the same.
"""

from __future__ import annotations

import email.utils
import json
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from .conftest import (
    SITE_URL,
    LiveServer,
    hex_id,
    raw_get,
    set_mtime,
    start_server,
    stop_server,
    wait_for,
    write_document,
)

# What a poller watches: the main feed in each format, a facet feed, the front page.
WATCHED = ["/feed.atom", "/feed.rss", "/feed.json", "/sources/reuters/feed.atom", "/"]


def get(server: LiveServer, path: str, **headers: str):
    response = raw_get(server, path, **headers)
    date = email.utils.parsedate_to_datetime(response.getheader("Date"))
    last_modified = response.getheader("Last-Modified")
    if last_modified is not None:  # RFC 9110 8.8.2.1: never later than the message's Date
        assert email.utils.parsedate_to_datetime(last_modified) <= date, path
    return response


def validators(server: LiveServer, path: str, shows: str) -> tuple[str, str]:
    """(Last-Modified, ETag) of ``path`` once it shows ``shows`` (or no longer shows it, with a
    leading "!") and its time has settled enough to be sent (lastmod.py)."""
    found: list[tuple[str, str]] = []

    def ready() -> bool:
        response = get(server, path)
        body = response.body.decode()  # type: ignore[attr-defined]
        visible = shows[1:] not in body if shows.startswith("!") else shows in body
        if visible and response.getheader("Last-Modified"):
            found.append((response.getheader("Last-Modified"), response.getheader("ETag")))
            return True
        return False

    wait_for(ready, 15.0)
    return found[-1]


def stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def test_every_change_reaches_if_modified_since_and_if_none_match_pollers(
    tmp_path: Path, seeds: Path
) -> None:
    for n in (5, 6):
        write_document(seeds, n, hex_id(n), date="10 Nov 2024", headline=f"Story {n}")
    server = start_server(tmp_path, seeds)
    try:
        seen = {path: validators(server, path, "Story 6") for path in WATCHED}

        def after(change: str, path_shows: str, *, everywhere: bool = True) -> None:
            """Each poller, holding the validators of its last response, gets the change."""
            for path in WATCHED if everywhere else WATCHED[:3]:
                last_modified, etag = seen[path]
                wait_for(lambda p=path: _shows(get(server, p), path_shows), 15.0)
                polled = get(server, path, **{"If-Modified-Since": last_modified})
                assert polled.status == 200, (change, path, "If-Modified-Since")
                assert _shows(polled, path_shows), (change, path)
                if path == "/feed.atom":  # feedparser, given only the time it was last sent
                    feed = feedparser.parse(server.url + path, modified=last_modified)
                    assert feed.status == 200 and not feed.bozo, change
                    titles = " ".join(entry.title for entry in feed.entries)
                    assert (path_shows[1:] not in titles) == path_shows.startswith("!"), change
                assert get(server, path, **{"If-None-Match": etag}).status == 200, (change, path)
                seen[path] = validators(server, path, path_shows)
                assert _http_date(seen[path][0]) > _http_date(last_modified), (change, path)
                # And once there, the new validators say "not modified".
                assert get(server, path, **{"If-Modified-Since": seen[path][0]}).status == 304
                assert get(server, path, **{"If-None-Match": seen[path][1]}).status == 304

        write_document(seeds, 40, hex_id(40), date="3 Jan 2019", headline="Backfilled story")
        after("backfill", "Backfilled story")
        write_document(seeds, 4, hex_id(4), date="10 Nov 2024", headline="Lower sequence")
        after("same day, lower sequence", "Lower sequence")
        edited = seeds / f"005_{hex_id(5)}.txt"
        edited.write_text(edited.read_text().replace("Story 5", "Story 5, corrected"))
        after("edit", "Story 5, corrected")
        (seeds / f"006_{hex_id(6)}.txt").unlink()
        after("removal", "!Story 6")

        # Held: the feeds do not show it, and pollers hold the validators of that state.
        release = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=12)
        write_document(seeds, 7, hex_id(7), date=stamp(release), headline="Embargoed story",
                       dateline="")  # fmt: skip
        for path in WATCHED[:3]:
            seen[path] = validators(server, path, "!Embargoed story")
        assert datetime.now(UTC) < release, "too slow to see the held state"
        after("embargo lifting", "Embargoed story", everywhere=False)
        assert datetime.now(UTC) >= release
    finally:
        stop_server(server)


def _shows(response, text: str) -> bool:
    body = response.body.decode()
    return text[1:] not in body if text.startswith("!") else text in body


def _http_date(text: str) -> datetime:
    return email.utils.parsedate_to_datetime(text)


def every_url(server: LiveServer) -> list[str]:
    """Every feed in every format, every archive page, the listings and site documents."""
    opml = get(server, "/feeds.opml").body.decode()  # type: ignore[attr-defined]
    channels = [url.removeprefix(SITE_URL).removesuffix("feed.atom")
                for url in re.findall(r'xmlUrl="([^"]+)"', opml)]  # fmt: skip
    urls = ["/feeds.opml", "/sitemap.xml", "/news-sitemap.xml"]
    for channel in channels:
        urls += [channel.rstrip("/") or "/"]
        urls += [f"{channel}feed.{fmt}" for fmt in ("rss", "atom", "json")]
        older: str | None = f"{channel}feed.json"
        while older:
            data = json.loads(get(server, older).body)  # type: ignore[attr-defined]
            older = data.get("next_url", "").removeprefix(SITE_URL) or None
            if older:
                page = older.removesuffix("feed.json")
                urls += [f"{page}feed.{fmt}" for fmt in ("rss", "atom", "json")]
    return urls


def snapshot(server: LiveServer, urls: list[str]) -> dict[str, tuple[bytes, str, str | None]]:
    found = {}
    for url in urls:
        response = get(server, url)
        assert response.status == 200, url
        body = response.body  # type: ignore[attr-defined]
        found[url] = (body, response.getheader("ETag"), response.getheader("Last-Modified"))
    return found


@pytest.mark.parametrize("other", ["rebuilt index", "second node"])
def test_same_bytes_etags_and_times_from_a_rebuilt_index_or_another_node(
    tmp_path: Path, seeds: Path, other: str
) -> None:
    for n in range(1, 9):
        dateline = "PARIS (AFP) —" if n % 2 else ""
        write_document(seeds, n, hex_id(n), date=f"{n} Oct 2024", dateline=dateline,
                       headline=f"Story {n}")  # fmt: skip
    first = start_server(tmp_path / "node-1", seeds, FEED_SIZE="3")
    try:
        # Changes while it runs: what an index remembers of them is not what is in the folder.
        path = seeds / f"003_{hex_id(3)}.txt"
        path.write_text(path.read_text().replace("Story 3", "Story 3, corrected"))
        (seeds / f"004_{hex_id(4)}.txt").unlink()
        wait_for(lambda: b"Story 3, corrected" in get(first, "/feed.json?limit=10").body, 10.0)  # type: ignore[attr-defined]
        time.sleep(3.5)  # every time settled, so that Last-Modified is sent
        urls = every_url(first)
        assert len(urls) > 20 and any("/archives/" in url for url in urls)
        before = snapshot(first, urls)
        assert all(last_modified for _, _, last_modified in before.values())
        if other == "rebuilt index":
            stop_server(first)
            shutil.rmtree(tmp_path / "node-1" / "live-index")  # the README: safe to delete
            first = start_server(tmp_path / "node-1", seeds, FEED_SIZE="3")
            second = first
        else:
            second = start_server(tmp_path / "node-2", seeds, FEED_SIZE="3")
        try:
            after = snapshot(second, urls)
        finally:
            if second is not first:
                stop_server(second)
        assert [url for url in urls if after[url] != before[url]] == []
    finally:
        stop_server(first)


def test_a_file_dated_in_the_future_leaves_every_node_the_same_bytes_and_no_wrong_time(
    tmp_path: Path, seeds: Path
) -> None:
    # A writer whose clock is ahead of ours (or an rsync from one) dates a file in the future.
    # Before, the content time followed our clock until then: each worker and node put its own
    # render time into the OPML and its Last-Modified, so validators flapped between them.
    for n in range(1, 5):
        write_document(seeds, n, hex_id(n), date=f"{n} Oct 2024", headline=f"Story {n}")
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=25)
    set_mtime(seeds / f"004_{hex_id(4)}.txt", ahead)
    first = start_server(tmp_path / "node-1", seeds, FEED_SIZE="3")
    try:
        time.sleep(1.5)  # a second node renders a second or more later
        second = start_server(tmp_path / "node-2", seeds, FEED_SIZE="3")
        try:
            urls = every_url(first)
            skewed = [snapshot(first, urls), snapshot(second, urls), snapshot(first, urls)]
            assert datetime.now(UTC) < ahead, "too slow a machine: the file's time came first"
            assert [url for url in urls if len({s[url] for s in skewed}) > 1] == []
            # Not consistently determinable (RFC 9110 8.8.2.1): no Last-Modified at all.
            assert [url for url in urls if skewed[0][url][2] is not None] == []

            def modified(found: dict) -> str:
                items = json.loads(found["/feed.json"][0])["items"]
                return next(i["date_modified"] for i in items if i["title"] == "Story 4")

            # The file's time counts from when it comes: until then the entry is dated by its
            # publication (a reader is never shown a time in the future), then by the file.
            assert modified(skewed[0]).startswith("2024-10-04T")
            # Once the file's time has passed and settled, both nodes date every response by it.
            while datetime.now(UTC) < ahead + timedelta(seconds=4):
                time.sleep(0.2)
            dated = [snapshot(first, urls), snapshot(second, urls)]
            assert [url for url in urls if dated[0][url] != dated[1][url]] == []
            assert {last_modified for _, _, last_modified in dated[0].values()} == {
                email.utils.format_datetime(ahead, usegmt=True)
            }
            assert datetime.fromisoformat(modified(dated[0])) == ahead
        finally:
            stop_server(second)
    finally:
        stop_server(first)
