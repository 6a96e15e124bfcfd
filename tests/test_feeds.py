"""What feed readers get: every field right, valid XML, feedgen's traps pinned."""

from __future__ import annotations

import gzip
import html
import json
import os
import re
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feedsvc import create_app

from .conftest import SITE_URL, hex_id, settings_for, write_document

SEED_ID = "5e300edb8a850530"
SEED_TAG = f"tag:news.example.test,2026:articles/{SEED_ID}"  # the site URL's host: conftest
SEED_PERMALINK = (
    f"{SITE_URL}/articles/{SEED_ID}/u-s-officials-travel-to-venezuela-a-russian-ally-for-talks"
)
XML_FORMATS = ("rss", "atom")


def fetch(client, path: str, **headers: str):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.data[:500]
    return response


def read_feed(response) -> feedparser.FeedParserDict:
    """feedparser as a reader would run it. (feedparser 6.0 reads RSS and Atom, not JSON Feed.)"""
    return feedparser.parse(response.data, response_headers={"content-type": response.content_type})


def displayed_text(detail) -> str:
    """What a reader shows for a text construct: HTML is rendered, plain text shown as is."""
    if detail.type == "text/html":
        return html.unescape(re.sub(r"<[^>]+>", "", detail.value))
    return detail.value


def entry_ids(response) -> list[str]:
    if response.mimetype == "application/feed+json":
        ids = [item["id"] for item in json.loads(response.data)["items"]]
    else:
        ids = [entry.id for entry in read_feed(response).entries]
    return [i.rsplit("/", 1)[-1] for i in ids]


def strict_xml(body: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, recover=False, no_network=True)
    return etree.fromstring(body, parser)


@pytest.fixture
def more_news(seeds: Path, app):
    write_document(seeds, 1, hex_id(1), date="April 12, 2021", dateline="PARIS (AFP) —",
                   headline="Paris museums reopen")  # fmt: skip
    write_document(seeds, 2, hex_id(2), date="Apr 12, 2021 3:45 PM ET",
                   dateline="NEW YORK (AP) --", headline="Markets rally in New York")  # fmt: skip
    app.extensions["feedsvc"].store.refresh()
    return app


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_feed_carries_every_field_a_reader_needs(client, fmt: str) -> None:
    feed = read_feed(fetch(client, f"/feed.{fmt}"))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "feedsvc news"
    assert feed.feed.link == f"{SITE_URL}/"
    [entry] = feed.entries
    assert entry.title == "U.S. officials travel to Venezuela, a Russian ally, for talks."
    assert entry.link == SEED_PERMALINK
    assert entry.id == SEED_TAG
    assert entry.published_parsed[:6] == (2022, 3, 6, 0, 0, 0)  # the date, no made-up time
    assert entry.summary.startswith("Senior U.S. officials traveled to Venezuela")
    content = entry.content[0].value
    assert content.count("<p>") == 15
    # The story as printed: the dateline leads the first paragraph, as on the page.
    assert content.startswith("<p>WASHINGTON (Reuters) — Senior U.S. officials traveled")
    assert "IC Markets" not in content and "Recent Article" not in content
    # No byline: the agency is the author, in RSS too (dc:creator), and stays a category.
    assert entry.author == "Reuters"
    assert "WASHINGTON" in {t.label or t.term for t in entry.tags}


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_feed_metadata(client, fmt: str) -> None:
    body = fetch(client, f"/feed.{fmt}").data
    feed = feedparser.parse(body)
    self_links = [link for link in feed.feed.links if link.rel == "self"]
    assert [link.href for link in self_links] == [f"{SITE_URL}/feed.{fmt}"]
    assert feed.feed.language == "en"
    assert feed.feed.generator == "feedsvc"
    root = strict_xml(body)
    if fmt == "rss":
        assert root.findtext("channel/ttl") == "5"
        assert root.findtext("channel/link") == f"{SITE_URL}/"  # last-link-wins trap
        build = parsedate_to_datetime(root.findtext("channel/lastBuildDate"))
        assert build.isoformat() == "2022-03-06T12:00:00+00:00"  # the content time, not now
        assert root.find("channel/item/guid").get("isPermaLink") == "false"
    else:
        ns = {"a": "http://www.w3.org/2005/Atom"}
        assert root.findtext("a:updated", namespaces=ns) == "2022-03-06T12:00:00+00:00"
        assert root.findtext("a:author/a:name", namespaces=ns) == "feedsvc news"


def test_entries_are_newest_first_in_every_format(more_news) -> None:
    client = more_news.test_client()
    for fmt in ("rss", "atom", "json"):
        # 2022-03-06, then 2021-04-12 15:45 ET, then 2021-04-12 (feedgen prepends by default)
        assert entry_ids(fetch(client, f"/feed.{fmt}")) == [SEED_ID, hex_id(2), hex_id(1)], fmt


def test_dates_keep_their_time_zone(more_news) -> None:
    client = more_news.test_client()
    root = strict_xml(fetch(client, "/feed.atom").data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    published = [e.findtext("a:published", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert published[1] == "2021-04-12T15:45:00-04:00"  # 3:45 PM ET, daylight saving
    assert all(datetime.fromisoformat(p).tzinfo is not None for p in published)


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_same_bytes_on_every_render(app, tmp_path: Path, seeds: Path, fmt: str) -> None:
    first = fetch(app.test_client(), f"/feed.{fmt}").data
    # A second app (another worker, or after a restart) renders the same bytes.
    other = create_app(settings_for(tmp_path, seeds))
    assert fetch(other.test_client(), f"/feed.{fmt}").data == first


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_a_feed_the_change_does_not_touch_keeps_its_bytes(more_news, seeds: Path, fmt: str) -> None:
    # Readers revalidate every feed they follow by ETag: a new Reuters story must not make the
    # AFP feed (or its ETag) new, or every reader of every feed fetches it whole again.
    day_ago = time.time() - 86_400
    for path in [seeds, *seeds.iterdir()]:  # written a day ago, so that now is a later time
        os.utime(path, (day_ago, day_ago))
    more_news.extensions["feedsvc"].store.refresh()
    client = more_news.test_client()
    before = fetch(client, f"/sources/afp/feed.{fmt}")
    main_before = fetch(client, f"/feed.{fmt}").data
    write_document(seeds, 3, hex_id(3), date="April 13, 2021", headline="Talks go on")
    more_news.extensions["feedsvc"].store.refresh()
    after = fetch(client, f"/sources/afp/feed.{fmt}")
    assert after.data == before.data and after.headers["ETag"] == before.headers["ETag"]
    assert fetch(client, f"/feed.{fmt}").data != main_before  # the site's feed did change


def test_json_feed_follows_version_1_1(client) -> None:
    response = fetch(client, "/feed.json")
    assert response.content_type == "application/feed+json; charset=utf-8"
    feed = json.loads(response.data)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == f"{SITE_URL}/feed.json"
    assert feed["home_page_url"] == f"{SITE_URL}/"
    [item] = feed["items"]
    assert set(item) >= {"id", "url", "title", "content_html", "summary", "date_published"}
    assert item["id"] == SEED_TAG
    assert item["url"] == SEED_PERMALINK
    assert item["content_html"].count("<p>") == 15
    assert item["content_html"].startswith("<p>WASHINGTON (Reuters) — Senior U.S.")
    assert "IC Markets" not in item["content_html"]
    assert item["authors"] == [{"name": "Reuters"}]
    assert item["tags"] == ["Reuters", "WASHINGTON"]
    assert datetime.fromisoformat(item["date_published"]).tzinfo is not None


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/feed.rss", "application/rss+xml"),
        ("/feed.atom", "application/atom+xml"),
        ("/feed.json", "application/feed+json"),
    ],
)
def test_each_format_has_its_media_type(client, path: str, media_type: str) -> None:
    assert fetch(client, path).mimetype == media_type


HOSTILE = [
    "<script>alert('x')</script> & <b>bold</b> ]]> \"quotes\" 'apostrophes'",
    "Control \x01\x02\x0b\x1f characters \x7f\x85 and \ufffe non-characters",
    "Unicode: 東京 — Zürich — São Paulo — emoji 🗞️ — RTL \u202eevil",
    "</description></item><item><title>injected</title>",
    "]]><injected/>" * 20,
]


@pytest.fixture
def hostile_app(tmp_path: Path, seeds: Path):
    for n, text in enumerate(HOSTILE, 1):
        write_document(seeds, n, hex_id(n), headline=f"{text} {n}", dateline="",
                       paragraphs=(text, f"Second paragraph {n}: {text}"))  # fmt: skip
    write_document(seeds, 9, hex_id(9), headline="Long " * 3000)
    app = create_app(settings_for(tmp_path, seeds))
    report = app.extensions["feedsvc"].store.refresh()
    assert not report.skipped, report.skipped
    return app


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_hostile_text_stays_text(hostile_app, fmt: str) -> None:
    response = fetch(hostile_app.test_client(), f"/feed.{fmt}")
    body = response.data
    if fmt == "json":
        titles = [item["title"] for item in json.loads(body)["items"]]
    else:
        strict_xml(body)
        feed = read_feed(response)
        assert not feed.bozo, feed.get("bozo_exception")
        titles = [displayed_text(e.title_detail) for e in feed.entries]
    assert len(titles) == 7  # the seed, five hostile documents, one absurd headline
    assert f"{HOSTILE[0]} 1" in titles  # markup is shown as text, not interpreted
    assert "injected" not in titles
    assert "\x01" not in body.decode() and "\ufffe" not in body.decode()


def test_feed_responses_compress(client) -> None:
    response = fetch(client, "/feed.atom", **{"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert feedparser.parse(gzip.decompress(response.data)).entries


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_self_link_is_the_url_served_including_the_limit(client, fmt: str) -> None:
    feed = read_feed(fetch(client, f"/feed.{fmt}?limit=7"))
    assert [lk.href for lk in feed.feed.links if lk.rel == "self"] == [
        f"{SITE_URL}/feed.{fmt}?limit=7"
    ]
    search = read_feed(fetch(client, f"/search/feed.{fmt}?q=oil+sanctions&limit=3"))
    assert [lk.href for lk in search.feed.links if lk.rel == "self"] == [
        f"{SITE_URL}/search/feed.{fmt}?q=oil+sanctions&limit=3"
    ]


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_titles_are_the_headline_exactly(hostile_app, fmt: str) -> None:
    """No inserted characters, no HTML: an Atom title is type="text" whatever it holds, an RSS
    title plain XML text, and a headline with markup in it is that markup, as characters."""
    body = fetch(hostile_app.test_client(), f"/feed.{fmt}").data
    if fmt == "json":
        titles = [item["title"] for item in json.loads(body)["items"]]
    else:
        root = strict_xml(body)
        ns = {"a": "http://www.w3.org/2005/Atom"}
        elements = root.findall("a:entry/a:title", ns) if fmt == "atom" else root.iter("title")
        elements = list(elements)
        assert all(e.get("type") in (None, "text") for e in elements)
        titles = [e.text for e in elements]
    assert f"{HOSTILE[0]} 1" in titles
    assert f"{HOSTILE[3]} 4" in titles
    assert "\u2060" not in body.decode()
    if fmt == "rss":
        assert b"&amp;" not in body and b"&lt;" not in body  # RSS Profile: &#x26; and &#x3C;


@pytest.fixture
def bylined_app(tmp_path: Path, seeds: Path):
    write_document(seeds, 1, hex_id(1), headline="Talks resume", date="12 Apr 2021",
                   dateline="By Jane Doe and JOHN ROE, Reuters\n\nGENEVA (Reuters) -",
                   paragraphs=("Negotiators returned to the table on Monday.",
                               "Reporting by Ann Poe in Geneva; Editing by Bob Loe"))  # fmt: skip
    write_document(seeds, 2, hex_id(2), headline="No agency, no byline", date="13 Apr 2021",
                   dateline="", paragraphs=("Officials said little on Tuesday.",))  # fmt: skip
    app = create_app(settings_for(tmp_path, seeds))
    app.extensions["feedsvc"].store.refresh()
    return app


def test_writers_are_the_authors_in_every_format(bylined_app) -> None:
    client = bylined_app.test_client()
    writers = ["Jane Doe", "John Roe", "Ann Poe"]
    ns = {"a": "http://www.w3.org/2005/Atom", "dc": "http://purl.org/dc/elements/1.1/"}
    atom = strict_xml(fetch(client, "/feed.atom").data)
    entries = {e.findtext("a:title", namespaces=ns): e for e in atom.findall("a:entry", ns)}
    talks = entries["Talks resume"]
    assert [a.findtext("a:name", namespaces=ns) for a in talks.findall("a:author", ns)] == writers
    assert talks.find("dc:creator", ns) is None  # Dublin Core is for RSS only
    # Without a byline or an agency an entry names no author: Atom's feed author covers it.
    assert entries["No agency, no byline"].find("a:author", ns) is None
    rss = strict_xml(fetch(client, "/feed.rss").data)
    items = {i.findtext("title"): i for i in rss.iter("item")}
    # One creator naming every writer, as the byline does: readers keep one per item.
    assert [c.text for c in items["Talks resume"].findall("dc:creator", ns)] == [
        "Jane Doe, John Roe and Ann Poe"
    ]
    assert all(i.find("author") is None for i in items.values())  # RSS <author> is an e-mail
    assert (
        items[next(t for t in items if t.startswith("U.S."))].findtext("dc:creator", namespaces=ns)
        == "Reuters"
    )  # no byline: the agency
    feed = json.loads(fetch(client, "/feed.json").data)
    by_title = {item["title"]: item for item in feed["items"]}
    assert by_title["Talks resume"]["authors"] == [{"name": n} for n in writers]
    assert "authors" not in by_title["No agency, no byline"]
    assert by_title["Talks resume"]["tags"] == ["Reuters", "GENEVA"]  # the agency stays


def test_the_byline_is_not_a_paragraph_and_the_credit_line_is(bylined_app) -> None:
    item = next(
        i
        for i in json.loads(fetch(bylined_app.test_client(), "/feed.json").data)["items"]
        if i["title"] == "Talks resume"
    )
    assert item["content_html"] == (
        "<p>GENEVA (Reuters) — Negotiators returned to the table on Monday.</p>\n"
        "<p>Reporting by Ann Poe in Geneva; Editing by Bob Loe</p>"
    )


def test_ids_are_minted_under_the_publishers_authority(tmp_path: Path, seeds: Path) -> None:
    moved = create_app(
        settings_for(
            tmp_path,
            seeds,
            SITE_URL="https://moved.example.org",
            TAG_AUTHORITY="news.example.test,2026",
        )  # fmt: skip
    )
    moved.extensions["feedsvc"].store.refresh()
    client = moved.test_client()
    assert json.loads(fetch(client, "/feed.json").data)["items"][0]["id"] == SEED_TAG
    atom = strict_xml(fetch(client, "/feed.atom").data)
    assert atom.findtext("{http://www.w3.org/2005/Atom}id") == "tag:news.example.test,2026:main"
    search = strict_xml(fetch(client, "/search/feed.atom?q=oil%20sanctions").data)
    assert search.findtext("{http://www.w3.org/2005/Atom}id") == (
        "tag:news.example.test,2026:search/oil%20sanctions"
    )
    # Nothing of the software's name in any id, by default either.
    default = fetch(create_app(settings_for(tmp_path / "d", seeds)).test_client(), "/feed.atom")
    assert b"tag:feedsvc" not in default.data and b"tag:news.example.test,2026:" in default.data


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_a_search_feed_is_titled_by_its_query(client, fmt: str) -> None:
    """A reader lists subscriptions by feed title: two saved searches must not both be called
    "feedsvc news: search"."""
    for query in ("oil sanctions", "venezuela"):
        response = client.get(f"/search/feed.{fmt}", query_string={"q": query})
        assert response.status_code == 200
        body = response.data
        if fmt == "json":
            title = json.loads(body)["title"]
        else:
            title = strict_xml(body).findtext("channel/title" if fmt == "rss" else "{*}title")
        assert title == f"feedsvc news: search for “{query}”"


@pytest.mark.parametrize(("max_age", "ttl"), [(90, "2"), (60, "1"), (61, "2"), (1, "1")])
def test_rss_ttl_is_the_max_age_in_minutes_rounded_up(
    tmp_path: Path, seeds: Path, max_age: int, ttl: str
) -> None:
    """RSS 2.0 <ttl> is in minutes; rounded down, a reader would poll before max-age is over
    and get the cached copy again (README: rounded up)."""
    app = create_app(settings_for(tmp_path, seeds, CACHE_MAX_AGE=str(max_age)))
    app.extensions["feedsvc"].store.refresh()
    assert strict_xml(fetch(app.test_client(), "/feed.rss").data).findtext("channel/ttl") == ttl


def test_atom_summaries_are_shown_as_the_document_wrote_them(hostile_app) -> None:
    """RFC 4287 3.1.1: a text construct of type "text" is shown as is, of type "html" as HTML.
    A summary that looks like markup is sent escaped as HTML, so it must say type="html", or
    readers show "&lt;b&gt;" for "<b>". feedparser gives both the same string, so this reads
    the raw XML; the JSON Feed's plain-text summary is what each entry must show."""
    client = hostile_app.test_client()
    expected = {
        i["id"]: i["summary"] for i in json.loads(fetch(client, "/feed.json").data)["items"]
    }
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = strict_xml(fetch(client, "/feed.atom").data)
    shown = {}
    for entry in root.iterfind("a:entry", ns):
        summary = entry.find("a:summary", ns)
        assert summary is not None
        kind = summary.get("type", "text")
        assert kind in ("text", "html")
        text = summary.text or ""
        shown[entry.findtext("a:id", namespaces=ns)] = (
            html.unescape(re.sub(r"<[^>]+>", "", text)) if kind == "html" else text
        )
    assert shown == expected
    assert any("<b>bold</b>" in summary for summary in shown.values())  # the case that matters
