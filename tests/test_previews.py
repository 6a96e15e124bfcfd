"""Feed previews: browsers navigating to a feed get a page; every program gets the feed's bytes.

The Accept headers below are the ones real readers send, copied from their sources or captured
from the program itself (newsboat 2.21). How the readers parse what they get is
tests/test_clients.py's matter; here, that they get the feed's bytes at all.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import feedparser
import pytest
from lxml import etree, html

from feedsvc.channels import preview_path
from feedsvc.web import LEGACY_FEEDS

from .conftest import SITE_URL, LiveServer, free_port, hex_id, indexed_app, write_document

# A browser's top-level navigation: what Chromium 156 sends when a URL is typed or followed.
NAVIGATION = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-User": "?1",
    "Sec-Fetch-Dest": "document",
}
READER_HEADERS = {
    # feedparser 6 (feedparser/http.py ACCEPT_HEADER)
    "feedparser": {
        "Accept": "application/atom+xml,application/rdf+xml,application/rss+xml,"
        "application/x-netcdf,application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1"
    },
    # newsboat 2.21, captured: curl's default
    "newsboat": {"Accept": "*/*", "User-Agent": "newsboat/2.21.0 (Linux x86_64)"},
    # Miniflux 2 (internal/reader/fetcher/request_builder.go defaultAcceptHeader): has text/html
    "miniflux": {
        "Accept": "application/xml, application/atom+xml, application/rss+xml, "
        "application/rdf+xml, application/feed+json, text/html, */*;q=0.9"
    },
    # NetNewsWire sets no Accept; URLSession sends */*
    "netnewswire": {"Accept": "*/*", "Accept-Language": "en-US,en;q=0.9"},
    # SimplePie (FreshRSS, Tiny Tiny RSS): text/html among the feed types
    "simplepie": {
        "Accept": "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
        "application/xml;q=0.8, text/xml;q=0.8, text/html;q=0.7, unknown/unknown;q=0.1, "
        "application/unknown;q=0.1, */*;q=0.1"
    },
    # A browser's own Accept without Fetch Metadata: an older browser, or any over plain HTTP
    "browser accept alone": {"Accept": NAVIGATION["Accept"]},
    "text/html only": {"Accept": "text/html"},
    # fetch() from a page, and a link with a download attribute: browsers, but not to read
    "fetch() from a page": {"Accept": "*/*", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
    "download link": {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "empty"},
    "an iframe": {**NAVIGATION, "Sec-Fetch-Dest": "iframe"},
    "no headers": {},
}
FEED_PATHS = [
    "/feed.rss",
    "/feed.atom",
    "/feed.json",
    "/sources/reuters/feed.rss",
    "/places/washington/feed.atom",
    "/search/feed.json?q=venezuela",
    "/feeds.opml",
    "/feed.atom?limit=1",
    "/archives/2022-03/feed.rss",
]


@pytest.fixture
def app(tmp_path: Path, seeds: Path):
    for n in range(1, 4):  # enough for one archive page with FEED_SIZE=2
        write_document(seeds, n, hex_id(n), headline=f"Story {n}", date=f"{n} Jan 2024")
    return indexed_app(tmp_path, seeds, FEED_SIZE=2)


@pytest.mark.parametrize("path", FEED_PATHS)
@pytest.mark.parametrize("reader", list(READER_HEADERS))
def test_programs_get_the_feed_bytes_whatever_they_send(client, path: str, reader: str) -> None:
    plain = client.get(path)
    response = client.get(path, headers=READER_HEADERS[reader])
    assert response.status_code == plain.status_code == 200
    assert response.data == plain.data
    assert response.headers["Content-Type"] == plain.headers["Content-Type"]
    assert response.headers["ETag"] == plain.headers["ETag"]
    assert not response.mimetype.startswith("text/html")


@pytest.mark.parametrize("path", FEED_PATHS)
def test_a_navigation_gets_the_preview_which_has_its_own_address(client, path: str) -> None:
    feed = client.get(path)
    page = client.get(path, headers=NAVIGATION)
    own = client.get(preview_path(path))
    assert page.status_code == own.status_code == 200
    assert page.mimetype == own.mimetype == "text/html"
    assert page.data == own.data  # one page, two ways to reach it
    assert page.headers["ETag"] == own.headers["ETag"] != feed.headers["ETag"]
    # A shared cache keeps the two apart by these headers (RFC 9110 12.5.5).
    for response in (feed, page, own):
        vary = [v.strip() for v in response.headers["Vary"].split(",")]
        assert {"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Accept-Encoding"} <= set(vary), path
    # The feed is kept max-age by any cache; the page, as every page, is revalidated by a
    # browser at each visit and kept max-age by shared caches (s-maxage).
    max_age = feed.headers["Cache-Control"].removeprefix("public, max-age=")
    assert max_age.isdigit()
    for response in (page, own):
        assert response.headers["Cache-Control"] == f"public, max-age=0, s-maxage={max_age}"
    revalidated = client.get(path, headers={**NAVIGATION, "If-None-Match": page.headers["ETag"]})
    assert revalidated.status_code == 304
    assert client.get(path, headers={"If-None-Match": page.headers["ETag"]}).status_code == 200


def test_navigation_to_a_missing_feed_is_a_404_page(client) -> None:
    response = client.get("/sources/nobody/feed.rss", headers=NAVIGATION)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert client.get("/search/feed.rss", headers=NAVIGATION).status_code == 400


def test_a_browser_following_an_old_feed_address_is_redirected_like_a_reader(client) -> None:
    # /index.rss ends like a feed but only redirects to one: it has no preview of its own.
    for path in LEGACY_FEEDS:
        program, browser = client.get(path), client.get(path, headers=NAVIGATION)
        assert program.status_code == browser.status_code == 301, path
        assert browser.headers["Location"] == program.headers["Location"], path


def test_feeds_parse_and_carry_no_stylesheet(client) -> None:
    for fmt in ("rss", "atom"):
        body = client.get(f"/feed.{fmt}", headers=READER_HEADERS["miniflux"]).data
        assert b"<?xml-stylesheet" not in body
        etree.fromstring(body)
        parsed = feedparser.parse(body)
        assert not parsed.bozo and len(parsed.entries) == 2


def test_feed_preview_says_what_a_feed_is_and_how_to_follow_it(client) -> None:
    doc = html.fromstring(client.get("/places/washington/feed.atom", headers=NAVIGATION).data)
    assert doc.get("lang") == "en"
    assert doc.xpath("string(//h1)") == "Washington: Atom feed"
    about = " ".join(doc.xpath("string(//section[@class='about'])").split())
    assert "This is a news feed" in about and "feed reader" in about
    assert doc.xpath("//input[@id='feed-address']/@value") == [
        f"{SITE_URL}/places/washington/feed.atom"
    ]
    assert doc.xpath("//input[@id='feed-address']/@readonly") == ["readonly"]
    [button] = doc.xpath("//button[@data-copy-from='feed-address']")
    assert button.text == "Copy address"
    assert doc.xpath("//script/@src")[0].startswith(f"{SITE_URL}/static/copy.js?v=")
    readers = dict(
        zip(
            doc.xpath("//ul[@class='readers']//a/text()"),
            doc.xpath("//ul[@class='readers']//a/@href"),
            strict=True,
        )
    )
    encoded = "https%3A%2F%2Fnews.example.test%2Fplaces%2Fwashington%2Ffeed.atom"
    assert readers["Feedly"] == f"https://feedly.com/i/subscription/feed%2F{encoded}"
    assert readers["Inoreader"] == f"https://www.inoreader.com/?add_feed={encoded}"
    assert readers["An app on this device"] == f"feed:{SITE_URL}/places/washington/feed.atom"
    assert doc.xpath("//a[@download]/@href") == [f"{SITE_URL}/places/washington/feed.atom"]
    # Its entries with human dates, and the way back to the site.
    entries = doc.xpath("//main//li[@class='summary']")
    assert [e.xpath("string(h3)") for e in entries] == [
        "U.S. officials travel to Venezuela, a Russian ally, for talks."
    ]
    assert entries[0].xpath("string(.//time)") == "6 March 2022"
    assert doc.xpath("//main//a[@href='https://news.example.test/places/washington']")
    assert doc.xpath("//header//a[@href='https://news.example.test/']")
    assert doc.xpath("//meta[@name='robots']/@content") == ["noindex, follow"]
    assert doc.xpath("//main") and doc.xpath("//nav") and doc.xpath("//footer")


def test_preview_shows_the_latest_entries_and_counts_the_rest(tmp_path: Path, seeds: Path) -> None:
    for n in range(1, 15):
        write_document(seeds, n, hex_id(n), headline=f"Story {n}", date=f"{n} Feb 2024")
    client = indexed_app(tmp_path, seeds).test_client()
    doc = html.fromstring(client.get("/feed.json.html").data)
    shown = doc.xpath("//main//li[@class='summary']/h3/a/text()")
    assert shown == [f"Story {n}" for n in range(14, 4, -1)]  # the ten newest
    assert "15 articles in this feed" in doc.text_content()


def test_opml_preview_lists_every_feed(client) -> None:
    doc = html.fromstring(client.get("/feeds.opml", headers=NAVIGATION).data)
    assert "This is an OPML file" in doc.text_content()
    assert doc.xpath("//input[@id='feed-address']/@value") == [f"{SITE_URL}/feeds.opml"]
    hrefs = doc.xpath("//main//li/a/@href")
    for path in ("/feed.atom", "/sources/reuters/feed.atom", "/places/washington/feed.atom"):
        assert SITE_URL + path in hrefs
    assert "Washington" in doc.xpath("//main//li/a//text()")
    # What it says matches what the file holds: one Atom outline per feed (not three copies in
    # three formats), and that a story is in more than one of them.
    opml = etree.fromstring(client.get("/feeds.opml").data)
    assert {o.get("xmlUrl").rsplit(".", 1)[1] for o in opml.iter("outline")} == {"atom"}
    said = " ".join(doc.xpath("string(//main)").split())
    assert "One Atom feed for the whole site, for each source and for each place." in said
    assert "A story is in the site's feed and in its source's and its place's" in said


@pytest.mark.parametrize(
    ("fmt", "noun"), [("rss", "RSS feed"), ("atom", "Atom feed"), ("json", "JSON Feed")]
)
def test_preview_names_the_format_in_plain_words(client, fmt: str, noun: str) -> None:
    doc = html.fromstring(client.get(f"/feed.{fmt}", headers=NAVIGATION).data)
    assert doc.xpath("string(//h1)") == f"Latest news: {noun}"
    assert doc.findtext(".//title").startswith(f"Latest news ({noun}) · ")


def test_preview_escapes_document_text(tmp_path: Path, seeds: Path) -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    write_document(seeds, 1, hex_id(1), headline=f"Evil {evil}", paragraphs=(f"Body {evil}", "x"))
    client = indexed_app(tmp_path, seeds).test_client()
    for path in ("/feed.rss.html", "/search/feed.atom.html?q=" + evil, "/feeds.opml.html"):
        doc = html.fromstring(client.get(path).data)
        assert not doc.xpath("//img | //script[not(@src)]"), path
    assert evil in html.fromstring(client.get("/feed.rss.html").data).text_content()


def test_nginx_map_serves_static_previews_like_the_app(tmp_path: Path, client) -> None:
    """The README's nginx recipe for a static copy of the site: same choice, same headers."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("needs nginx (Debian's nginx-light)")
    root = tmp_path / "site"
    for path in ("/feed.rss", "/feeds.opml", "/sources/reuters/feed.atom"):
        for served in (path, preview_path(path)):
            (root / served.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (root / served.lstrip("/")).write_bytes(client.get(served).data)
    port = free_port()
    conf = tmp_path / "nginx.conf"
    # As root, nginx's workers would run as "nobody", who may not enter pytest's private tmp.
    user = "user root;" if os.geteuid() == 0 else ""
    recipe = readme_nginx_recipe(root, port)
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, user=user, recipe=recipe))
    log = tmp_path / "nginx.out"
    with open(log, "wb") as out:
        process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path)], stderr=out)
    try:
        _wait_for(f"http://127.0.0.1:{port}/feed.rss", process, log)
        for path in ("/feed.rss", "/feeds.opml", "/sources/reuters/feed.atom"):
            for headers in (NAVIGATION, READER_HEADERS["miniflux"], READER_HEADERS["no headers"]):
                request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
                with urllib.request.urlopen(request, timeout=10) as response:
                    static_body = response.read()
                    vary = response.headers["Vary"]
                assert static_body == client.get(path, headers=headers).data, (path, headers)
                assert "Sec-Fetch-Dest" in vary and "Sec-Fetch-Mode" in vary
    finally:
        process.terminate()
        process.wait(timeout=10)


NGINX_CONF = """
{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{
        application/rss+xml rss;
        application/atom+xml atom;
        application/feed+json json;
        text/x-opml opml;
        text/html html;
    }}
{recipe}
}}
"""


def readme_nginx_recipe(root: Path, port: int) -> str:
    """The README's nginx snippet, with its "# ..." filled in: the one the README shows runs."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    recipe = readme.split("```nginx\n", 1)[1].split("```", 1)[0]
    assert "    # ...\n" in recipe
    return recipe.replace("    # ...\n", f"    listen 127.0.0.1:{port};\n    root {root};\n")


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not answer: {log.read_text()}")


# -- real readers against a real server ------------------------------------------------------


@pytest.mark.skipif(not shutil.which("newsboat"), reason="needs Debian's newsboat")
def test_newsboat_reads_the_feed_a_browser_sees_as_a_page(
    live_server: LiveServer, tmp_path: Path
) -> None:
    urls = tmp_path / "urls"
    urls.write_text(f"{live_server.url}/feed.atom\n{live_server.url}/feed.rss\n")
    cache = tmp_path / "cache.db"
    subprocess.run(
        ["newsboat", "-u", str(urls), "-c", str(cache), "-x", "reload"],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        timeout=60,
    )
    with sqlite3.connect(cache) as db:
        feeds = dict(db.execute("SELECT rssurl, title FROM rss_feed"))
        titles = [row[0] for row in db.execute("SELECT title FROM rss_item")]
    assert feeds == {f"{live_server.url}/feed.{fmt}": "feedsvc news" for fmt in ("atom", "rss")}
    assert "U.S. officials travel to Venezuela, a Russian ally, for talks." in titles
    request = urllib.request.Request(f"{live_server.url}/feed.atom", headers=NAVIGATION)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers.get_content_type() == "text/html"
