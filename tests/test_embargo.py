"""A document dated in the future is an embargo: held out of everything until its time, then
published within a second or two, with no restart, no watcher and no refresh."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from werkzeug.http import parse_date

from feedsvc.build import request
from feedsvc.cli import main

from .conftest import SITE_URL, hex_id, indexed_app, write_document

# Every URL that could show the held article, or that its agency or city would add.
URLS = ["/feed.rss", "/feed.atom", "/feed.json", "/", "/search?q=embargoed",
        "/search/feed.atom?q=embargoed", "/sitemap.xml", "/news-sitemap.xml", "/feeds.opml",
        "/sources/afp", "/sources/afp/feed.atom", "/places/lyon",
        "/places/lyon/feed.json"]  # fmt: skip
HEADLINE = "Embargoed results are out"
# What shows the article, or its agency or city, in one of those.
TRACES = (HEADLINE, "embargoed-results-are-out", "LYON", "/sources/afp")


def traces(text: str) -> list[str]:
    return [trace for trace in TRACES if trace in text]


def stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def held_article(seeds: Path, release: datetime) -> str:
    write_document(seeds, 1, hex_id(1), date=stamp(release), headline=HEADLINE,
                   dateline="LYON (AFP) —",
                   paragraphs=("Embargoed figures show growth.",))  # fmt: skip
    return f"/articles/{hex_id(1)}/embargoed-results-are-out"


def test_held_out_of_everything_then_published_on_time(tmp_path: Path, seeds: Path) -> None:
    release = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    permalink = held_article(seeds, release)
    app = indexed_app(tmp_path, seeds)  # no watcher: FEEDSVC_WATCH=false
    client = app.test_client()
    assert client.get(permalink).status_code == 404
    for url in URLS:
        response = client.get(url)  # now cached, each of them
        assert response.status_code in (200, 404), url
        assert traces(response.get_data(as_text=True)) == [], url  # not even a facet count
    assert client.get("/sources/afp").status_code == 404

    while datetime.now(UTC) < release:
        time.sleep(0.05)
    time.sleep(0.1)
    for url in URLS:
        response = client.get(url)
        assert response.status_code == 200, url
        assert traces(response.get_data(as_text=True)), url
    assert f"{SITE_URL}/places/lyon/feed.atom" in client.get("/feeds.opml").get_data(as_text=True)
    assert client.get(permalink).status_code == 200
    # It went out when its time came, and is dated so.
    entry = client.get("/feed.json").json["items"][0]
    assert entry["date_published"] == entry["date_modified"] == release.isoformat()


def test_no_cache_keeps_a_response_past_the_release(tmp_path: Path, seeds: Path) -> None:
    """A feed read a minute before an embargo lifts said max-age=300 (FEEDSVC_CACHE_MAX_AGE):
    a reader, a proxy or the cache tier kept it, without the story, five minutes past its
    release (a cache-tier trial). Until the release, a response is fresh until then and no
    later: Expires, that date, and no max-age (which a cache that sends no Age replays), also
    from the response cache and on a 304, under a tag of its own. The static build's files,
    which cannot say it, keep the setting's max-age (their build runs again at the release)."""
    release = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=60)
    held_article(seeds, release)
    app = indexed_app(tmp_path, seeds)
    client = app.test_client()
    full = f"public, max-age={app.config['FEEDSVC'].cache_max_age}"
    for url in ("/feed.atom", "/", "/sitemap.xml", "/feed.atom"):  # the last from the cache
        response = client.get(url)
        assert response.headers["Cache-Control"] == "public", url
        assert parse_date(response.headers["Expires"]) == release, url
    etag = client.get("/feed.atom").headers["ETag"]
    revalidated = client.get("/feed.atom", headers={"If-None-Match": etag})
    assert revalidated.status_code == 304 and revalidated.headers["ETag"] == etag
    assert revalidated.headers["Cache-Control"] == "public"
    assert parse_date(revalidated.headers["Expires"]) == release
    _, headers, _ = request(app, "/feed.atom", SITE_URL)
    assert dict(headers)["Cache-Control"] == full and "Expires" not in dict(headers)
    # The same bytes with max-age have another tag: a cache holding them, told 304, would keep
    # their headers (nginx's does) and go on sending them past the release; or, holding these,
    # their Expires for ever, on every page the release leaves as it is (a review).
    outside = dict(headers)["ETag"]
    assert outside != etag
    assert client.get("/feed.atom", headers={"If-None-Match": outside}).status_code == 200


def test_check_says_when_each_held_document_will_appear(tmp_path: Path, seeds: Path) -> None:
    release = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3, minutes=20, seconds=30)
    held_article(seeds, release)
    env = {"FEEDSVC_INDEX_PATH": str(tmp_path / "unused.sqlite3")}
    result = CliRunner().invoke(main, ["check", str(seeds)], env=env)
    assert result.exit_code == 0, result.output
    when = release.isoformat()
    assert f"HELD:      dated in the future, it appears in every feed and page at {when}" in (
        result.output
    )
    assert f"{when} (in 3 h 20 min)" in result.output
    assert "2 documents read (1 held until their time), 0 skipped" in result.output
