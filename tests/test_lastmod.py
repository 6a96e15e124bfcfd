"""The time rules (lastmod.py) and how a response carries them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from werkzeug.http import http_date
from werkzeug.test import EnvironBuilder, run_wsgi_app

from feedsvc import lastmod
from feedsvc.httpcache import Prepared

from .conftest import BUNDLED_MTIME, SEED_FILE, hex_id, indexed_app, set_mtime, write_document


def call(prepared: Prepared, **headers: str) -> tuple[str, dict[str, str]]:
    environ = EnvironBuilder(path="/", headers=headers).get_environ()
    _, status, response_headers = run_wsgi_app(prepared, environ)
    return status, dict(response_headers)


def test_a_time_is_sent_only_once_it_has_settled() -> None:
    now = datetime.now(UTC)
    fresh = Prepared(b"body", "text/plain", last_modified=now, max_age_seconds=60)
    status, headers = call(fresh)
    assert "Last-Modified" not in headers and headers["ETag"]
    # A client holding a time from before (or even this very one) is not told "not modified":
    # a second change in the same second would carry the same time.
    assert call(fresh, **{"If-Modified-Since": http_date(now)})[0] == "200 OK"
    assert call(fresh, **{"If-None-Match": headers["ETag"]})[0] == "304 Not Modified"

    # Nor If-Unmodified-Since: without a settled time there is nothing to compare (RFC 9110
    # 13.1.4), so an earlier date does not fail the request.
    before = http_date(now - timedelta(seconds=30))
    assert call(fresh, **{"If-Unmodified-Since": before})[0] == "200 OK"
    # Settled: two seconds after its whole second ended, not at once (a second edit within
    # the watcher's latency would carry the same time). Two seconds ago is not yet.
    two_ago = Prepared(b"body", "text/plain", last_modified=now - timedelta(seconds=2),
                       max_age_seconds=60)  # fmt: skip
    assert "Last-Modified" not in call(two_ago)[1]

    old = now - timedelta(seconds=1 + lastmod.SETTLE_SECONDS + 1)
    settled = Prepared(b"body", "text/plain", last_modified=old, max_age_seconds=60)
    assert call(settled)[1]["Last-Modified"] == http_date(old.replace(microsecond=0))
    assert call(settled, **{"If-Modified-Since": http_date(old)})[0] == "304 Not Modified"
    earlier = http_date(old - timedelta(seconds=1))
    assert call(settled, **{"If-Modified-Since": earlier})[0] == "200 OK"


def test_the_content_time_is_whole_seconds_and_never_after_now() -> None:
    times = lastmod.SiteTimes(newest_file_ns=1_700_000_000_900_000_000, folder_ns=0,
                              latest_release_ts=1_600_000_000.0)  # fmt: skip
    assert times.content_time(2e9).timestamp() == 1_700_000_000
    assert times.content_time(1_650_000_000.5).timestamp() == 1_650_000_000  # clamped to now
    assert lastmod.entry_updated_ts(1_600_000_000.0, 1_500_000_000_000_000_000) == 1_600_000_000
    assert lastmod.entry_updated_ts(1_600_000_000.0, 1_700_000_000_500_000_000) == 1_700_000_000


def test_a_time_in_the_future_counts_from_its_time() -> None:
    # A file or the folder dated ahead of this host's clock (a skewed writer): the content time
    # and the entry are made of the other facts until then, and Last-Modified is withheld.
    now = 1_700_000_000.0
    ahead = lastmod.SiteTimes(1_600_000_000_000_000_000, 1_700_000_100_000_000_000, None)
    assert ahead.content_time(now).timestamp() == 1_600_000_000
    assert not ahead.determinable(now) and ahead.determinable(now + 100)
    assert ahead.content_time(now + 100).timestamp() == 1_700_000_100
    file_ahead = lastmod.SiteTimes(1_600_000_000_000_000_000, 0, None, dated_ahead=True)
    assert not file_ahead.determinable(now)
    assert lastmod.entry_updated_at(now + 60, 1_500_000_000.7, now) == 1_500_000_000
    assert lastmod.entry_updated_at(now - 60, 1_500_000_000.7, now) == now - 60


def test_every_kind_of_change_moves_the_content_time(tmp_path: Path, seeds: Path) -> None:
    app = indexed_app(tmp_path, seeds)
    store = app.extensions["feedsvc"].store
    assert store.content_time() == BUNDLED_MTIME

    def at(moment: datetime, *paths: Path) -> datetime:
        for path in (*paths, seeds):
            set_mtime(path, moment)
        store.refresh()
        return store.content_time()

    added = write_document(seeds, 1, hex_id(1), date="1 Jan 2021")  # a backfill
    assert at(datetime(2024, 1, 1, tzinfo=UTC), added) == datetime(2024, 1, 1, tzinfo=UTC)
    added.write_text(added.read_text().replace("Monday", "Friday"))  # an edit
    assert at(datetime(2024, 2, 1, tzinfo=UTC), added) == datetime(2024, 2, 1, tzinfo=UTC)
    added.unlink()  # a removal: only the folder's own time can say it
    assert at(datetime(2024, 3, 1, tzinfo=UTC)) == datetime(2024, 3, 1, tzinfo=UTC)
    # An embargo lifting: the release itself, though every file is older.
    release = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    held = write_document(seeds, 2, hex_id(2), date=f"{release:%Y-%m-%d %H:%M:%S} UTC")
    assert at(datetime(2024, 4, 1, tzinfo=UTC), held) == datetime(2024, 4, 1, tzinfo=UTC)
    while datetime.now(UTC) < release:
        time.sleep(0.05)
    assert store.content_time() == release
    assert (seeds / SEED_FILE).exists()


def test_every_url_sends_the_same_time_after_a_file_that_is_no_article_changes(
    tmp_path: Path, seeds: Path
) -> None:
    # A trial: touching notes.md in the folder moved Last-Modified for the URLs rendered after,
    # not for those cached, so URLs (and the workers and nodes that had them cached or not)
    # disagreed about one state of the site.
    notes = seeds / "notes.md"
    notes.write_text("not a document\n")
    set_mtime(notes, datetime(2023, 1, 1, tzinfo=UTC))
    set_mtime(seeds, datetime(2023, 1, 1, tzinfo=UTC))
    app = indexed_app(tmp_path, seeds)
    client = app.test_client()
    store = app.extensions["feedsvc"].store
    assert client.get("/feed.atom").headers["Last-Modified"] == http_date(datetime(2023, 1, 1))
    set_mtime(notes, datetime(2024, 6, 1, tzinfo=UTC))  # edited in place: the folder's time stays
    store.refresh()
    times = {url: client.get(url).headers["Last-Modified"] for url in ("/feed.atom", "/feed.json")}
    assert set(times.values()) == {http_date(datetime(2024, 6, 1))}, times
