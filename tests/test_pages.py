"""Pages for people: listings, permalinks, discovery, OPML and sitemaps."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree, html

from .conftest import SITE_URL, hex_id, indexed_app, write_document

SEED_ID = "5e300edb8a850530"
SEED_PATH = f"/articles/{SEED_ID}/u-s-officials-travel-to-venezuela-a-russian-ally-for-talks"


def page(client, path: str) -> html.HtmlElement:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == "text/html"
    return html.fromstring(response.data)


def discovery(doc: html.HtmlElement) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for link in doc.xpath("//head/link[@rel='alternate']"):
        found.setdefault(link.get("type"), []).append(link.get("href"))
    return found


@pytest.mark.parametrize(
    ("path", "feed_base"),
    [
        ("/", f"{SITE_URL}/feed"),
        ("/sources/reuters", f"{SITE_URL}/sources/reuters/feed"),
        ("/places/washington", f"{SITE_URL}/places/washington/feed"),
        ("/search?q=oil", f"{SITE_URL}/search/feed"),
        (SEED_PATH, f"{SITE_URL}/feed"),
    ],
)
def test_every_page_offers_its_feeds(client, path: str, feed_base: str) -> None:
    links = discovery(page(client, path))
    for media_type, ext in [("application/rss+xml", "rss"), ("application/atom+xml", "atom"),
                            ("application/feed+json", "json")]:  # fmt: skip
        assert any(href.startswith(f"{feed_base}.{ext}") for href in links[media_type]), links


def test_front_page_lists_the_news(client) -> None:
    doc = page(client, "/")
    text = doc.text_content()
    assert "U.S. officials travel to Venezuela, a Russian ally, for talks." in text
    assert "6 March 2022" in text and "WASHINGTON" in text and "Reuters" in text
    assert doc.xpath(f"//a[@href='{SITE_URL}{SEED_PATH}']")


def test_permalink_page(client) -> None:
    doc = page(client, SEED_PATH)
    assert doc.findtext(".//h1") == "U.S. officials travel to Venezuela, a Russian ally, for talks."
    body = doc.text_content()
    assert "IC Markets" not in body and "Recent Article" not in body
    assert len(doc.xpath("//article/p[not(@class)]")) == 15
    assert doc.xpath("//link[@rel='canonical']/@href") == [f"{SITE_URL}{SEED_PATH}"]
    assert doc.xpath("//meta[@property='og:url']/@content") == [f"{SITE_URL}{SEED_PATH}"]
    assert doc.xpath("//meta[@property='og:type']/@content") == ["article"]
    [ld] = doc.xpath("//script[@type='application/ld+json']/text()")
    data = json.loads(ld)
    assert data["@type"] == "NewsArticle"
    assert data["datePublished"].startswith("2022-03-06")
    assert data["author"] == {"@type": "Organization", "name": "Reuters"}
    assert doc.xpath(f"//a[@href='{SITE_URL}/sources/reuters']")
    assert doc.xpath(f"//a[@href='{SITE_URL}/places/washington']")


@pytest.mark.parametrize("path", [f"/articles/{SEED_ID}", f"/articles/{SEED_ID}/old-headline"])
def test_outdated_slugs_redirect_permanently(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 301
    assert response.headers["Location"] == f"{SITE_URL}{SEED_PATH}"


def test_unknown_article_gets_a_helpful_404(client) -> None:
    response = client.get("/articles/ffffffffffffffff/gone")
    assert response.status_code == 404
    doc = html.fromstring(response.data)
    assert "no page at this address" in doc.text_content()
    assert doc.xpath(f"//a[@href='{SITE_URL}/']")


def test_document_text_is_escaped_everywhere(tmp_path: Path, seeds: Path) -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    paragraphs = (f"Body {evil}", "</p><iframe src='javascript:alert(3)'>")
    headline = f"Evil {evil}"
    write_document(
        seeds, 1, hex_id(1), headline=headline, dateline="PARIS (AFP) —", paragraphs=paragraphs
    )
    app = indexed_app(tmp_path, seeds)
    client = app.test_client()
    permalink = f"/articles/{hex_id(1)}/{app.extensions['feedsvc'].store.get(hex_id(1)).slug}"
    for path in ["/", "/sources/afp", "/search?q=evil", permalink]:
        doc = page(client, path)
        assert not doc.xpath("//img | //iframe"), path
        assert not doc.xpath("//script[not(@type='application/ld+json')]"), path
        for data in doc.xpath("//script/text()"):  # JSON-LD keeps the text as inert data
            assert json.loads(data)["headline"] == f"Evil {evil}"
        assert evil in doc.text_content(), path


def test_listing_pages(tmp_path: Path, seeds: Path) -> None:
    for n in range(1, 6):
        write_document(seeds, n, hex_id(n), headline=f"Story {n}", date=f"{n} Jan 2024")
    app = indexed_app(tmp_path, seeds, FEED_SIZE=2)
    client = app.test_client()
    first, third = page(client, "/"), page(client, "/?page=3")
    assert [a.text for a in first.xpath("//article/h2/a")] == ["Story 5", "Story 4"]
    assert [a.text for a in third.xpath("//article/h2/a")] == [
        "Story 1",
        "U.S. officials travel to Venezuela, a Russian ally, for talks.",
    ]
    assert first.xpath("//a[@rel='next']/@href") == [f"{SITE_URL}/?page=2"]
    assert client.get("/?page=4").status_code == 404


def test_opml_lists_every_feed(client) -> None:
    response = client.get("/feeds.opml")
    root = etree.fromstring(response.data)
    urls = set(root.xpath("//outline/@xmlUrl"))
    for path in ("/feed", "/sources/reuters/feed", "/places/washington/feed"):
        for fmt in ("rss", "atom", "json"):
            assert f"{SITE_URL}{path}.{fmt}" in urls


def test_sitemap_lists_every_permalink(client) -> None:
    root = etree.fromstring(client.get("/sitemap.xml").data)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    assert root.xpath("//s:url/s:loc/text()", namespaces=ns) == [f"{SITE_URL}{SEED_PATH}"]
    assert root.xpath("//s:url/s:lastmod/text()", namespaces=ns) == ["2022-03-06T00:00:00+00:00"]


def test_news_sitemap_has_the_last_two_days(tmp_path: Path, seeds: Path) -> None:
    today = datetime.now(UTC)
    write_document(seeds, 1, hex_id(1), headline="Today", date=today.strftime("%Y-%m-%d"))
    old = today - timedelta(days=5)
    write_document(seeds, 2, hex_id(2), headline="Last week", date=old.strftime("%Y-%m-%d"))
    app = indexed_app(tmp_path, seeds)
    root = etree.fromstring(app.test_client().get("/news-sitemap.xml").data)
    titles = root.xpath("//*[local-name()='title']/text()")
    assert titles == ["Today"]


def test_feed_stylesheet_is_linked_from_xml_feeds(client) -> None:
    for fmt in ("rss", "atom"):
        body = client.get(f"/feed.{fmt}").data
        assert re.search(rb'<\?xml-stylesheet type="text/xsl" href="/feed.xsl"\?>', body)
    xsl = client.get("/feed.xsl")
    assert xsl.mimetype == "text/xsl"
    etree.XSLT(etree.fromstring(xsl.data))  # a valid stylesheet
