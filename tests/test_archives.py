"""RFC 5005 archives that do not move: pages by calendar period, walked in every format.

A walker starts at a subscription feed and follows prev-archive (JSON Feed: next_url) to the
oldest page, as an archive consumer does (RFC 5005 4.2), keeping of each entry the copy in the
newest document it met (the subscription feed first). It must collect every article exactly
once, before and after a backfill, an edit and a removal, and each of those may change only the
pages of the article's own period.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feedsvc.channels import ArchivePlan

from .conftest import SEED_FILE, SITE_URL, hex_id, indexed_app, set_mtime, write_document

FORMATS = ("rss", "atom", "json")
WRITTEN = datetime(2023, 6, 1, 8, 0, tzinfo=UTC)  # when the corpus below was written
HISTORY = "http://purl.org/syndication/history/1.0"


@dataclass
class Page:
    url: str
    etag: str
    cache_control: str
    entries: dict[str, datetime | None]  # id -> updated (RSS 2.0 has no such date)


def read_page(client, url: str, fmt: str) -> tuple[Page, str | None]:
    """One feed document and the URL of the next older one."""
    response = client.get(url.removeprefix(SITE_URL))
    assert response.status_code == 200, url
    headers = response.headers
    if fmt == "json":
        feed = json.loads(response.data)
        entries = {i["id"]: datetime.fromisoformat(i["date_modified"]) for i in feed["items"]}
        older = feed.get("next_url")
    else:
        feed = feedparser.parse(response.data)
        assert not feed.bozo, feed.get("bozo_exception")
        entries = {e.id: _updated(e, fmt) for e in feed.entries}
        older = next((link.href for link in feed.feed.links if link.rel == "prev-archive"), None)
    return Page(url, headers["ETag"], headers["Cache-Control"], entries), older


def _updated(entry: feedparser.FeedParserDict, fmt: str) -> datetime | None:
    return datetime(*entry.updated_parsed[:6], tzinfo=UTC) if fmt == "atom" else None


def walk(
    client, channel_path: str, fmt: str
) -> tuple[Page, list[Page], dict[str, datetime | None]]:
    """The subscription feed, its archive pages newest first, and what a consumer keeps."""
    subscription, url = read_page(client, f"{SITE_URL}{channel_path}feed.{fmt}", fmt)
    pages = []
    while url:
        assert url not in [p.url for p in pages], f"a loop at {url}"
        page, url = read_page(client, url, fmt)
        pages.append(page)
    kept: dict[str, datetime | None] = {}
    for document in [subscription, *pages]:
        for entry_id, updated in document.entries.items():
            kept.setdefault(entry_id, updated)
    # Pages are disjoint: each article is on exactly one archive page.
    on_pages = [entry_id for page in pages for entry_id in page.entries]
    assert len(on_pages) == len(set(on_pages)), "an article on two archive pages"
    assert set(on_pages) == set(kept), "an article only in the subscription feed"
    return subscription, pages, kept


TAG = "tag:news.example.test,2026:"  # the site URL's host, the default tag authority


def tag(number: int) -> str:
    return f"{TAG}articles/{hex_id(number)}"


def page_keys(pages: list[Page], fmt: str) -> list[str]:
    return [p.url.removeprefix(f"{SITE_URL}/archives/").removesuffix(f"/feed.{fmt}") for p in pages]


# (number, date line): Jan 2023 fits one page; Feb has more than 3, so it goes by day; 10 March
# has 8, so that day is cut in three parts counted from its oldest.
CORPUS = [
    (1, "10 Jan 2023"), (2, "20 Jan 2023"),
    (3, "1 Feb 2023"), (4, "1 Feb 2023"), (5, "2 Feb 2023"), (6, "3 Feb 2023"), (7, "3 Feb 2023"),
    *[(n, "10 Mar 2023") for n in range(8, 16)],
]  # fmt: skip
PAGES_NEWEST_FIRST = ["2023-03-10/3", "2023-03-10/2", "2023-03-10", "2023-02-03", "2023-02-02",
                      "2023-02-01", "2023-01", "2022-03"]  # fmt: skip


@pytest.fixture
def archive_app(tmp_path: Path, seeds: Path):
    for number, date in CORPUS:
        dateline = "PARIS (AFP) —" if number % 2 else "GENEVA (Reuters) -"
        path = write_document(seeds, number, hex_id(number), date=date, dateline=dateline,
                              headline=f"Story {number}")  # fmt: skip
        set_mtime(path, WRITTEN)
    set_mtime(seeds, WRITTEN)
    return indexed_app(tmp_path, seeds, FEED_SIZE=3)


def change(app, seeds: Path, when: datetime, action, path: Path | None = None) -> None:
    """Change the folder at ``when`` (as a copy keeping times would), and index it."""
    result = action()
    path = result if isinstance(result, Path) else path
    if path is not None and path.exists():
        set_mtime(path, when)
    set_mtime(seeds, when)
    app.extensions["feedsvc"].store.refresh()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_article_once_and_only_its_own_pages_change(archive_app, seeds: Path, fmt) -> None:
    client = archive_app.test_client()
    everyone = {tag(n) for n, _ in CORPUS} | {f"{TAG}articles/{SEED_FILE[4:20]}"}

    subscription, pages, kept = walk(client, "/", fmt)
    assert set(kept) == everyone
    assert page_keys(pages, fmt) == PAGES_NEWEST_FIRST
    assert list(subscription.entries) == [tag(15), tag(14), tag(13)]
    before = {p.url: p.etag for p in pages}

    def changed_pages() -> tuple[list[str], list[Page], dict[str, datetime | None], Page]:
        nonlocal before
        subscription, pages, kept = walk(client, "/", fmt)
        now = {p.url: p.etag for p in pages}
        moved = sorted(page_keys([p for p in pages if before.get(p.url) != p.etag], fmt))
        gone = set(before) - set(now)
        assert not gone, f"pages went away: {gone}"
        before = now
        return moved, pages, kept, subscription

    # A backfill into January changes the January page only, and comes back in the
    # subscription feed (4.1), where a consumer that stops at pages it has read sees it.
    change(archive_app, seeds, datetime(2023, 7, 1, tzinfo=UTC),
           lambda: write_document(seeds, 50, hex_id(50), date="15 Jan 2023",
                                  headline="Backfilled"))  # fmt: skip
    moved, pages, kept, subscription = changed_pages()
    assert moved == ["2023-01"]
    assert set(kept) == everyone | {tag(50)}
    assert tag(50) in subscription.entries

    # An edit of an archived article, in place: its own page, and the subscription feed again.
    edited = seeds / f"005_{hex_id(5)}.txt"
    change(archive_app, seeds, datetime(2023, 8, 1, tzinfo=UTC),
           lambda: edited.write_text(edited.read_text().replace("Monday", "Tuesday")),
           edited)  # fmt: skip
    moved, pages, kept, subscription = changed_pages()
    assert moved == ["2023-02-02"]
    assert tag(5) in subscription.entries  # so the edited copy is the one kept
    if fmt != "rss":
        assert kept[tag(5)] == datetime(2023, 8, 1, tzinfo=UTC)

    # A removal: its own page only.
    change(archive_app, seeds, datetime(2023, 9, 1, tzinfo=UTC),
           lambda: (seeds / f"001_{hex_id(1)}.txt").unlink())  # fmt: skip
    moved, pages, kept, _ = changed_pages()
    assert moved == ["2023-01"]
    assert set(kept) == (everyone | {tag(50)}) - {tag(1)}

    # In a day cut in parts, a removal moves the later parts of that day, and nothing else.
    change(archive_app, seeds, datetime(2023, 10, 1, tzinfo=UTC),
           lambda: (seeds / f"009_{hex_id(9)}.txt").unlink())  # fmt: skip
    moved, pages, kept, _ = changed_pages()
    assert moved == ["2023-03-10", "2023-03-10/2", "2023-03-10/3"]
    assert set(kept) == (everyone | {tag(50)}) - {tag(1), tag(9)}


def test_every_channel_has_archives_linked_from_its_feeds(archive_app) -> None:
    client = archive_app.test_client()
    for channel, number in (("/sources/afp/", 1), ("/places/geneva/", 2)):
        for fmt in FORMATS:
            _, pages, kept = walk(client, channel, fmt)
            assert pages and all(p.url.startswith(f"{SITE_URL}{channel}archives/") for p in pages)
            assert tag(number) in kept
            odd = {tag(n) for n, _ in CORPUS if n % 2 == number % 2}
            assert set(kept) == odd


def test_archive_pages_say_what_they_are(archive_app) -> None:
    client = archive_app.test_client()
    ns = {"a": "http://www.w3.org/2005/Atom", "fh": HISTORY}
    root = etree.fromstring(client.get("/archives/2023-02-02/feed.atom").data)
    links = {link.get("rel"): link.get("href") for link in root.iterfind("a:link", ns)}
    assert links["current"] == f"{SITE_URL}/feed.atom"
    assert links["prev-archive"] == f"{SITE_URL}/archives/2023-02-01/feed.atom"
    assert links["next-archive"] == f"{SITE_URL}/archives/2023-02-03/feed.atom"
    assert links["self"] == f"{SITE_URL}/archives/2023-02-02/feed.atom"
    assert root.find("fh:archive", ns) is not None
    assert root.findtext("a:id", namespaces=ns) == f"{TAG}main/archives/2023-02-02"
    # The page's updated time is its own entries' newest, so other pages' changes leave its
    # bytes alone.
    assert root.findtext("a:updated", namespaces=ns) == "2023-06-01T08:00:00+00:00"
    oldest = etree.fromstring(client.get("/archives/2022-03/feed.rss").data)
    rels = [link.get("rel") for link in oldest.iterfind("channel/{*}link")]
    assert "prev-archive" not in rels and "next-archive" in rels  # the first page
    assert oldest.find(f"channel/{{{HISTORY}}}archive") is not None


def test_a_period_that_is_over_is_cached_longer(archive_app, seeds: Path) -> None:
    client = archive_app.test_client()
    assert client.get("/archives/2023-01/feed.atom").headers["Cache-Control"] == (
        "public, max-age=86400"
    )
    today = datetime.now(UTC)
    write_document(seeds, 60, hex_id(60), date=today.strftime("%d %b %Y"))
    archive_app.extensions["feedsvc"].store.refresh()
    current = client.get(f"/archives/{today:%Y-%m}/feed.atom")
    assert current.status_code == 200
    assert current.headers["Cache-Control"] == "public, max-age=300"  # still filling


def test_an_archive_page_follows_a_file_dated_ahead_of_the_clock(archive_app, seeds: Path) -> None:
    """A file dated after now dates its entry by its publication until the clock reaches the
    file's time (lastmod.entry_updated_at); from then on the page shows the file's time, with
    nothing indexed in between: what a read of the page in any format saw before is not
    reused (Channels._archive_read)."""
    client = archive_app.test_client()
    url = "/archives/2023-02-01/feed.atom"
    ahead = datetime.fromtimestamp(math.ceil(time.time()) + 2, UTC)
    story = seeds / f"003_{hex_id(3)}.txt"
    change(archive_app, seeds, ahead, lambda: story)

    def updated() -> datetime:
        feed = feedparser.parse(client.get(url).data)
        entry = next(e for e in feed.entries if e.title == "Story 3")
        return datetime(*entry.updated_parsed[:6], tzinfo=UTC)

    assert updated() < ahead
    for fmt in ("rss", "json"):
        assert client.get(url.replace(".atom", f".{fmt}")).status_code == 200
    time.sleep(max(0.0, ahead.timestamp() - time.time()) + 0.2)
    assert updated() == ahead


@pytest.mark.parametrize(
    ("days", "keys"),
    [
        ([], []),
        ([(0, 3)], []),  # one page: all of it is in the subscription feed, no archive
        ([(0, 1), (40, 1)], ["1970-01", "1970-02"]),
        ([(0, 2), (31, 1)], ["1970-01", "1970-02"]),
        ([(0, 2), (1, 2)], ["1970-01-01", "1970-01-02"]),  # 4 > 3: by day
        ([(0, 7)], ["1970-01-01", "1970-01-01/2", "1970-01-01/3"]),
    ],
)
def test_page_boundaries(days: list[tuple[int, int]], keys: list[str]) -> None:
    plan = ArchivePlan.from_days(days, page_size=3)
    assert [p.key for p in plan.pages] == keys
    if keys:  # every article on exactly one page
        assert sum(p.count for p in plan.pages) == sum(count for _, count in days)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_copied_folder_is_not_taken_for_edits(tmp_path: Path, seeds: Path, fmt: str) -> None:
    # A plain copy (cp, a git checkout) writes every file within seconds, in no order: each
    # older article then looks edited after some of the newest. The feed must still hold the
    # newest FEED_SIZE, not bring half the archive back (RFC 5005 4.1 is about edits).
    for number in range(1, 41):
        path = write_document(seeds, number, hex_id(number), date=f"{number % 28 + 1} Jan 2023",
                              headline=f"Story {number}")  # fmt: skip
        set_mtime(path, WRITTEN.replace(second=(number * 7919) % 5))
    client = indexed_app(tmp_path, seeds, FEED_SIZE=10).test_client()
    subscription, _ = read_page(client, f"{SITE_URL}/feed.{fmt}", fmt)
    assert len(subscription.entries) == 10
