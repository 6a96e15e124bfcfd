"""The story as printed, the same on the article page and in every feed: the byline, the
dateline leading the first paragraph, every place with a page whatever its script, a day's
articles in sequence-number order, and the agency kept as the source."""

from __future__ import annotations

import html as html_text
import json
import re
from pathlib import Path

import feedparser
import pytest
from lxml import html

from .conftest import SITE_URL, hex_id, indexed_app, write_document


def page(client, path: str) -> html.HtmlElement:
    response = client.get(path)
    assert response.status_code == 200, path
    return html.fromstring(response.data)


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def story_app(tmp_path: Path, seeds: Path):
    write_document(seeds, 1, hex_id(1), headline="Talks resume", date="Apr 12, 2021 3:45 PM ET",
                   dateline="By Jane Doe and JOHN ROE, Reuters\n\nTOKYO, June 3 (Reuters) -",
                   paragraphs=("Officials said on Thursday that talks would resume.",
                               "(Reporting by Ann Poe in Tokyo; Editing by Bob Loe)"))  # fmt: skip
    return indexed_app(tmp_path, seeds)


def test_the_page_prints_the_byline_and_the_dateline_as_the_feeds_do(story_app) -> None:
    client = story_app.test_client()
    item = next(
        i
        for i in json.loads(client.get("/feed.json").data)["items"]
        if i["title"] == "Talks resume"
    )
    doc = page(client, item["url"].removeprefix(SITE_URL))
    assert _words(doc.xpath("//p[@class='byline']")[0].text_content()) == (
        "By Jane Doe, John Roe and Ann Poe"
    )
    printed = [_words(p.text_content()) for p in doc.xpath("//article/p[not(@class)]")]
    in_feed = [
        _words(html_text.unescape(p))
        for p in re.findall(r"<p>(.*?)</p>", item["content_html"], re.DOTALL)
    ]
    assert printed == in_feed
    assert (
        printed[0]
        == "TOKYO, June 3 (Reuters) — Officials said on Thursday that talks would resume."
    )
    assert not [p for p in printed if "JOHN ROE" in p]  # the byline is no paragraph


def test_json_ld_names_the_writers_as_people_and_the_agency_as_the_source(story_app) -> None:
    client = story_app.test_client()
    url = next(
        i["url"]
        for i in json.loads(client.get("/feed.json").data)["items"]
        if i["title"] == "Talks resume"
    )
    doc = page(client, url.removeprefix(SITE_URL))
    data = json.loads(doc.xpath("//script[@type='application/ld+json']")[0].text)
    assert data["author"] == [
        {"@type": "Person", "name": name} for name in ("Jane Doe", "John Roe", "Ann Poe")
    ]
    assert data["sourceOrganization"] == {"@type": "Organization", "name": "Reuters"}
    assert data["articleBody"].startswith("TOKYO, June 3 (Reuters) — Officials said")


def test_without_a_byline_the_page_has_none_and_the_agency_is_the_author(client) -> None:
    path = "/articles/5e300edb8a850530/u-s-officials-travel-to-venezuela-a-russian-ally-for-talks"
    doc = page(client, path)
    assert not doc.xpath("//p[@class='byline']")
    data = json.loads(doc.xpath("//script[@type='application/ld+json']")[0].text)
    assert data["author"] == {"@type": "Organization", "name": "Reuters"}


@pytest.mark.parametrize(
    ("city", "slug"),
    [("МОСКВА", "moskva"), ("東京", "dong-jing"), ("ΑΘΗΝΑ", "athena"), ("القاهرة", "lqhr")],
)
def test_every_place_gets_a_page_and_feeds_whatever_its_script(
    tmp_path: Path, seeds: Path, city: str, slug: str
) -> None:
    write_document(seeds, 1, hex_id(1), headline="Story from afar", dateline=f"{city} (Reuters) -")
    client = indexed_app(tmp_path, seeds).test_client()
    doc = page(client, f"/places/{slug}")
    assert "Story from afar" in doc.text_content()
    for fmt in ("rss", "atom", "json"):
        assert client.get(f"/places/{slug}/feed.{fmt}").status_code == 200
    opml = client.get("/feeds.opml").data.decode()
    assert f"{SITE_URL}/places/{slug}/feed.atom" in opml and city in opml
    atom = feedparser.parse(client.get("/feed.atom").data)
    entry = next(e for e in atom.entries if e.title == "Story from afar")
    assert {(t.term, t.label) for t in entry.tags} >= {(slug, city)}
    article = page(client, entry.link.removeprefix(SITE_URL))
    assert article.xpath(f"//a[@href='{SITE_URL}/places/{slug}']")


def test_a_days_articles_keep_their_sequence_order_without_made_up_times(
    tmp_path: Path, seeds: Path
) -> None:
    for seq in (3, 17, 1968):
        write_document(seeds, seq, hex_id(seq), headline=f"Story {seq}", date="29 Dec 2025")
    client = indexed_app(tmp_path, seeds).test_client()
    newest_first = ["Story 1968", "Story 17", "Story 3"]
    for fmt in ("rss", "atom"):
        feed = feedparser.parse(client.get(f"/feed.{fmt}").data)
        entries = [e for e in feed.entries if e.title.startswith("Story")]
        assert [e.title for e in entries] == newest_first, fmt
        assert {e.published_parsed[:6] for e in entries} == {(2025, 12, 29, 0, 0, 0)}, fmt
    items = json.loads(client.get("/feed.json").data)["items"]
    assert [i["title"] for i in items if i["title"].startswith("Story")] == newest_first
    assert {i["date_published"] for i in items if i["title"].startswith("Story")} == {
        "2025-12-29T00:00:00+00:00"
    }
    listing = page(client, "/").text_content()
    assert listing.index("Story 1968") < listing.index("Story 17") < listing.index("Story 3")
