"""End to end: the real `feedsvc serve`, real HTTP, feedparser as the client."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import sqlite3
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from benchmarks import corpus
from feedsvc import indexfile
from feedsvc.store import renewal_path

from .conftest import (
    SITE_URL,
    LiveServer,
    hex_id,
    raw_get,
    start_server,
    stop_server,
    wait_for,
    write_document,
)

SEED_ID = "5e300edb8a850530"


def entry_ids(server: LiveServer, path: str = "/feed.atom") -> list[str]:
    feed = feedparser.parse(server.url + path)
    assert not feed.bozo, feed.get("bozo_exception")
    return [entry.id.rsplit("/", 1)[-1] for entry in feed.entries]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_reader_fetches_and_revalidates(live_server: LiveServer, fmt: str) -> None:
    url = f"{live_server.url}/feed.{fmt}"
    first = feedparser.parse(url)  # sends Accept-Encoding: gzip like real readers
    assert first.status == 200 and not first.bozo
    assert first.headers["content-encoding"] == "gzip"
    assert [e.link for e in first.entries] == [
        f"{SITE_URL}/articles/{SEED_ID}/u-s-officials-travel-to-venezuela-a-russian-ally-for-talks"
    ]
    assert first.entries[0].content[0].value.count("<p>") == 15
    again = feedparser.parse(url, etag=first.etag, modified=first.modified)
    assert again.status == 304
    only_modified = feedparser.parse(url, modified=first.modified)
    assert only_modified.status == 304


def test_touching_the_seeds_folder_moves_last_modified(live_server: LiveServer) -> None:
    # The README's step after an upgrade (or a setting) that changed bytes but no document:
    # the folder's time is every node's content time, and an If-Modified-Since client holding
    # the time from before gets the new bytes.
    url = f"{live_server.url}/feed.atom"
    before = feedparser.parse(url).modified
    os.utime(live_server.seeds)
    wait_for(lambda: feedparser.parse(url).get("modified") not in (None, before), 10.0)
    assert feedparser.parse(url, modified=before).status == 200


def test_same_bytes_whatever_the_host_header(live_server: LiveServer) -> None:
    bodies = {
        raw_get(live_server, "/feed.atom", Host=host).body  # type: ignore[attr-defined]
        for host in ("127.0.0.1", "evil.example", "news.example.test:8443")
    }
    assert len(bodies) == 1
    assert b"evil.example" not in bodies.pop()


def test_new_changed_and_deleted_documents_show_up_without_restart(
    live_server: LiveServer,
) -> None:
    path = write_document(live_server.seeds, 1, hex_id(1), date="1 Jan 2025", headline="Breaking")
    took = wait_for(lambda: hex_id(1) in entry_ids(live_server), 2.0)
    assert took < 2.0
    path.write_text(path.read_text().replace("Breaking", "Breaking, updated"))
    wait_for(lambda: "Breaking, updated" in raw_get(live_server, "/feed.rss").body.decode(), 2.0)  # type: ignore[attr-defined]
    path.unlink()
    wait_for(lambda: hex_id(1) not in entry_ids(live_server), 2.0)


def test_a_broken_document_never_takes_the_service_down(live_server: LiveServer) -> None:
    (live_server.seeds / "001_0000000000000001.txt").write_bytes(b"\x00\x01binary" * 100)
    (live_server.seeds / "002_0000000000000002.txt").write_bytes(b"")
    write_document(live_server.seeds, 3, hex_id(3), date="2 Jan 2025", headline="Still here")
    wait_for(lambda: hex_id(3) in entry_ids(live_server), 2.0)
    assert SEED_ID in entry_ids(live_server)
    log = live_server.log()
    assert "001_0000000000000001.txt: binary file" in log
    assert "002_0000000000000002.txt: empty document" in log


def test_archive_walk_collects_every_article_once(tmp_path: Path, seeds: Path) -> None:
    for n in range(1, 24):
        write_document(seeds, n, hex_id(n), date=f"{n} Feb 2023", headline=f"Story {n}")
    server = start_server(tmp_path, seeds, FEED_SIZE="5")
    try:
        for fmt in ("rss", "atom", "json"):
            subscription, archived = walk_archives(server, fmt)
            # Archive pages hold an article once at most, and with the subscription feed every
            # article; the newest page, still filling, is off the walk while the feed holds it
            # (ArchivePlan.newest_archived).
            assert len(archived) == len(set(archived)), fmt
            assert len(set(archived) | set(subscription)) == 24, fmt
    finally:
        stop_server(server)


def walk_archives(server: LiveServer, fmt: str) -> tuple[list[str], list[str]]:
    """(ids in the subscription feed, ids on the archive pages), following prev-archive."""
    subscription: list[str] = []
    archived: list[str] = []
    url: str | None = f"{server.url}/feed.{fmt}"
    while url:
        if fmt == "json":
            with urllib.request.urlopen(url) as response:
                data = json.load(response)
            ids = [item["id"] for item in data["items"]]
            older = [data["next_url"]] if "next_url" in data else []
        else:
            feed = feedparser.parse(url)
            assert not feed.bozo
            ids = [e.id for e in feed.entries]
            older = [link.href for link in feed.feed.links if link.rel == "prev-archive"]
        (archived if url != f"{server.url}/feed.{fmt}" else subscription).extend(ids)
        url = older[0].replace(SITE_URL, server.url) if older else None
    return subscription, archived


class _Hub(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, list[str]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        self.received.append(urllib.parse.parse_qs(self.rfile.read(length).decode()))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    _Hub.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hub", _Hub.received
    finally:
        server.shutdown()
        server.server_close()


def test_websub_hub_is_advertised_and_notified(tmp_path: Path, seeds: Path, hub) -> None:
    hub_url, received = hub
    server = start_server(tmp_path, seeds, WEBSUB_HUB=hub_url)
    try:
        response = raw_get(server, "/feed.atom")
        links = response.headers.get_all("Link")
        assert f'<{hub_url}>; rel="hub"' in links
        assert f'<{SITE_URL}/feed.atom>; rel="self"' in links
        feed = feedparser.parse(response.body)  # type: ignore[attr-defined]
        assert hub_url in [link.href for link in feed.feed.links if link.rel == "hub"]

        write_document(seeds, 1, hex_id(1), dateline="PARIS (AFP) —", date="3 Jan 2025")
        published = lambda: {u for r in received for u in r.get("hub.url", [])}  # noqa: E731
        wait_for(lambda: f"{SITE_URL}/feed.atom" in published(), 5.0)
        assert {r["hub.mode"][0] for r in received} == {"publish"}
        wait_for(lambda: f"{SITE_URL}/sources/afp/feed.rss" in published(), 5.0)
        assert f"{SITE_URL}/places/paris/feed.json" in published()
    finally:
        stop_server(server)


def test_a_failing_hub_never_slows_requests(tmp_path: Path, seeds: Path) -> None:
    server = start_server(tmp_path, seeds, WEBSUB_HUB="http://127.0.0.1:9/nothing-listens")
    try:
        write_document(seeds, 1, hex_id(1), date="3 Jan 2025")
        wait_for(lambda: hex_id(1) in entry_ids(server), 2.0)
        start = time.monotonic()
        for _ in range(20):
            assert raw_get(server, "/feed.atom").status == 200
        assert time.monotonic() - start < 5
        wait_for(lambda: "refused" in server.log(), 5.0)
    finally:
        stop_server(server)


def test_a_restart_serves_at_once_and_catches_up(tmp_path: Path, seeds: Path) -> None:
    stop_server(start_server(tmp_path, seeds))
    write_document(seeds, 1, hex_id(1), date="4 Jan 2025", headline="Written while down")
    (seeds / "000_5e300edb8a850530.txt").unlink()
    server = start_server(tmp_path, seeds)  # the same index: served before any rescan
    try:
        assert "checking" in server.log()
        wait_for(lambda: entry_ids(server) == [hex_id(1)], 3.0)
    finally:
        stop_server(server)


def test_an_index_of_an_earlier_parser_is_served_at_once_and_built_again_beside(
    tmp_path: Path, seeds: Path
) -> None:
    """An upgrade of feedsvc that reads documents better reaches the documents indexed before
    it (document.PARSER_VERSION), without keeping the restart from serving or changes from
    being indexed: the old index is served and kept in step, and built again by a process of
    its own beside it (renewal.py, Store.renew)."""
    corpus.write(seeds, 2000)
    server = start_server(tmp_path, seeds)
    try:
        newest = feedparser.parse(server.url + "/feed.atom").entries[0]
    finally:
        stop_server(server)
    index = tmp_path / "live-index" / "index.sqlite3"
    with sqlite3.connect(index) as db:
        # As an earlier parser left it: its record, and one headline it read otherwise.
        db.execute("UPDATE meta SET value = '0' WHERE key = 'parser'")
        db.execute("UPDATE articles SET headline = 'As Read Before' WHERE id = ?",
                   (newest.id.rsplit("/", 1)[-1],))  # fmt: skip

    def titles() -> list[str]:
        return [str(e.title) for e in feedparser.parse(server.url + "/feed.atom").entries]

    # The renewal's own index is held (as a renewal of a million documents takes minutes).
    with indexfile.locked(Path(f"{renewal_path(index)}.lock")):
        server = start_server(tmp_path, seeds)
        try:
            assert titles()[0] == "As Read Before"  # the old index, served at once
            write_document(seeds, 9999, hex_id(9999), date="1 Jan 2026", headline="Filed now")
            wait_for(lambda: titles()[0] == "Filed now", 5.0)  # indexed meanwhile
        except BaseException:
            stop_server(server)
            raise
    try:
        wait_for(lambda: titles()[1] == newest.title, 60.0)
        assert titles()[0] == "Filed now"  # caught up with
        log = server.log()
        assert "serving 2,001 indexed articles from the index (made by an earlier" in log
        renewed = [line for line in log.splitlines() if "is built again: 2,002 articles" in line]
        assert len(renewed) == 1 and f"[{server.process.pid}]" not in renewed[0]
    finally:
        stop_server(server)
    assert sorted(p.name for p in index.parent.glob("*renewal*")) == []  # nothing left beside
    server = start_server(tmp_path, seeds)  # built once: the next start serves it as it is
    try:
        time.sleep(1.0)
        assert "earlier version of the document parser" not in server.log()
    finally:
        stop_server(server)


def test_an_index_from_an_older_version_is_rebuilt_before_serving(
    tmp_path: Path, seeds: Path
) -> None:
    stop_server(start_server(tmp_path, seeds))
    with sqlite3.connect(tmp_path / "live-index" / "index.sqlite3") as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    server = start_server(tmp_path, seeds)
    try:
        # Indexed before serving (a race with the watcher would hide an empty first answer).
        assert "indexed 1 article from" in server.log()
        assert entry_ids(server) == [SEED_ID]
    finally:
        stop_server(server)
