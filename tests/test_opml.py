"""The OPML subscription list, and every XML document feedsvc writes, for any title or name.

Names come from documents and settings: an agency "(S&P Global)", a city written with quotes and
angle brackets, a publication called "Smith & Jones". Every document stays well-formed and says
the names as written; real readers (newsboat, the ``reader`` library) import every channel once.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from .conftest import SITE_URL, hex_id, indexed_app, start_server, stop_server, write_document

TITLE = 'Smith & Jones <Wire> "Daily"'
CITY = 'A&B <C> "D"'
AGENCY = "S&P Global"
STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)


def hostile_names(seeds: Path) -> None:
    today = datetime.now(UTC).strftime("%d %b %Y")  # in the news sitemap's two days
    write_document(seeds, 1, hex_id(1), date=today, headline="Markets & <b>bonds</b>",
                   dateline=f"{CITY} ({AGENCY}) -")  # fmt: skip


def expected_channels(site: str) -> list[tuple[str, str, int]]:
    """(title, Atom feed URL, articles) of every channel, in the list's order: the main feed,
    agencies by size, then cities by size."""
    return [
        (TITLE, f"{site}/feed.atom", 2),
        (f"{TITLE}: Reuters", f"{site}/sources/reuters/feed.atom", 1),
        (f"{TITLE}: {AGENCY}", f"{site}/sources/s-p-global/feed.atom", 1),
        (f"{TITLE}: {CITY}", f"{site}/places/a-b-c-d/feed.atom", 1),
        (f"{TITLE}: WASHINGTON", f"{site}/places/washington/feed.atom", 1),
    ]


def test_every_xml_document_is_well_formed_and_says_the_names(tmp_path: Path, seeds: Path):
    hostile_names(seeds)
    app = indexed_app(tmp_path, seeds, TITLE=TITLE)
    client = app.test_client()
    opml = etree.fromstring(client.get("/feeds.opml").data, STRICT)
    assert opml.get("version") == "2.0"
    assert opml.findtext("head/title") == f"{TITLE}: all feeds"
    outlines = opml.findall("body/outline")
    channels = expected_channels(SITE_URL)
    assert [(o.get("text"), o.get("xmlUrl")) for o in outlines] == [c[:2] for c in channels]
    assert all(o.get("title") == o.get("text") and o.get("type") == "rss" for o in outlines)
    for path in ["/sitemap.xml", "/feed.rss", "/feed.atom", "/places/a-b-c-d/feed.atom",
                 "/sources/s-p-global/feed.rss"]:  # fmt: skip
        etree.fromstring(client.get(path).data, STRICT)
    news = etree.fromstring(client.get("/news-sitemap.xml").data, STRICT)
    names = news.xpath("//*[local-name()='name']/text()")
    assert set(names) == {TITLE}


def newsboat(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["newsboat", "-u", str(home / "urls"), "-c", str(home / "cache.db"),
         "-C", str(home / "config"), *args],
        env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=True,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("newsboat") is None, reason="needs Debian's newsboat")
def test_newsboat_imports_every_channel_once(tmp_path: Path, seeds: Path) -> None:
    hostile_names(seeds)
    server = start_server(tmp_path, seeds, own_site_url=True, TITLE=TITLE)
    try:
        home = tmp_path / "newsboat"
        home.mkdir()
        (home / "config").write_text("")
        (home / "list.opml").write_bytes(_get(server.url + "/feeds.opml"))
        newsboat(home, "-i", str(home / "list.opml"))
        channels = expected_channels(server.url)
        assert (home / "urls").read_text().split() == [url for _, url, _ in channels]
        newsboat(home, "-x", "reload")
        with sqlite3.connect(home / "cache.db") as db:
            read = dict(db.execute("SELECT rssurl, title FROM rss_feed"))
            items = db.execute("SELECT count(*), count(DISTINCT guid) FROM rss_item").fetchone()
        assert read == {url: title for title, url, _ in channels}  # every channel read
        assert items == (2, 2)  # newsboat keeps one copy of an article, by its id
    finally:
        stop_server(server)


def test_the_reader_library_imports_every_channel_once(tmp_path: Path, seeds: Path) -> None:
    from reader import make_reader

    hostile_names(seeds)
    server = start_server(tmp_path, seeds, own_site_url=True, TITLE=TITLE)
    try:
        opml = tmp_path / "list.opml"
        opml.write_bytes(_get(server.url + "/feeds.opml"))
        reader = make_reader(str(tmp_path / "reader.sqlite"))
        try:
            with opml.open("rb") as file:
                reader.import_feeds(file)
            reader.update_feeds()
            feeds = sorted(reader.get_feeds(), key=lambda f: f.url)
            expected = sorted(expected_channels(server.url), key=lambda c: c[1])
            assert [(f.url, f.title) for f in feeds] == [(url, t) for t, url, _ in expected]
            assert [f.last_exception for f in feeds] == [None] * len(feeds)
            entries = {f.url: len(list(reader.get_entries(feed=f))) for f in feeds}
            assert entries == {url: count for _, url, count in expected}
        finally:
            reader.close()
    finally:
        stop_server(server)


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()
