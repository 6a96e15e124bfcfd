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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feedsvc.channels import ArchivePlan, republished_max

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
    newer: str | None = None  # next-archive (Atom and RSS; JSON Feed has no such link)


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
        newer = next((link.href for link in feed.feed.links if link.rel == "next-archive"), None)
        return Page(url, headers["ETag"], headers["Cache-Control"], entries, newer), older
    return Page(url, headers["ETag"], headers["Cache-Control"], entries), older


def _updated(entry: feedparser.FeedParserDict, fmt: str) -> datetime | None:
    return datetime(*entry.updated_parsed[:6], tzinfo=UTC) if fmt == "atom" else None


def walk(
    client, channel_path: str, fmt: str
) -> tuple[Page, list[Page], dict[str, datetime | None], Page | None]:
    """The subscription feed, its archive pages newest first, what a consumer keeps, and the
    page still filling when it is off the walk (None then in JSON Feed, which cannot say)."""
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
    # RFC 5005 4: every archive page but the newest names the next newer one (next-archive),
    # so a walk can go forward too: each walked page names the one met just before it.
    on_pages = [entry_id for page in pages for entry_id in page.entries]
    filling = None
    if pages and fmt != "json":
        for older_page, newer_page in zip(pages[1:], pages, strict=False):
            assert older_page.newer == newer_page.url, f"next-archive of {older_page.url}"
        if pages[0].newer is None:
            # The walk began at the newest page of all: the feed names it only while it does
            # not hold all of it (ArchivePlan.newest_archived).
            assert not set(pages[0].entries) <= set(subscription.entries), "a walk to re-read"
        else:
            # The page still filling is off the walk while the subscription feed holds all of
            # it: the newest walked page's next-archive, holding nothing but articles of the
            # feed, and the newest page (it names no newer one).
            filling, older = read_page(client, pages[0].newer, fmt)
            assert older == pages[0].url
            assert filling.newer is None, f"{filling.url} is not the newest page"
            assert set(filling.entries) <= set(subscription.entries), "off the walk and the feed"
            on_pages += filling.entries
    # Pages are disjoint: each article is on one archive page at most.
    assert len(on_pages) == len(set(on_pages)), "an article on two archive pages"
    return subscription, pages, kept, filling


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
# The walk starts at 10 March's second part: its third, still filling, holds 14 and 15, both in
# the subscription feed of 3.
PAGES_NEWEST_FIRST = ["2023-03-10/2", "2023-03-10", "2023-02-03", "2023-02-02", "2023-02-01",
                      "2023-01", "2022-03"]  # fmt: skip


def corpus_app(tmp_path: Path, seeds: Path, **settings: str):
    """The app over CORPUS (odd numbers AFP in Paris, even Reuters in Geneva), feeds of 3."""
    for number, date in CORPUS:
        dateline = "PARIS (AFP) —" if number % 2 else "GENEVA (Reuters) -"
        path = write_document(seeds, number, hex_id(number), date=date, dateline=dateline,
                              headline=f"Story {number}")  # fmt: skip
        set_mtime(path, WRITTEN)
    set_mtime(seeds, WRITTEN)
    return indexed_app(tmp_path, seeds, FEED_SIZE=3, **settings)


@pytest.fixture
def archive_app(tmp_path: Path, seeds: Path):
    return corpus_app(tmp_path, seeds)


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

    subscription, pages, kept, filling = walk(client, "/", fmt)
    assert set(kept) == everyone
    assert page_keys(pages, fmt) == PAGES_NEWEST_FIRST
    if fmt != "json":  # reached forward from the walk's newest page (RFC 5005 4: next-archive)
        assert filling is not None and page_keys([filling], fmt) == ["2023-03-10/3"]
    assert list(subscription.entries) == [tag(15), tag(14), tag(13)]
    before = {p.url: p.etag for p in pages}

    def changed_pages() -> tuple[list[str], list[Page], dict[str, datetime | None], Page]:
        nonlocal before
        subscription, pages, kept, _ = walk(client, "/", fmt)
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

    # In a day cut in parts, a removal moves the later parts of that day, and nothing else
    # (the third, off the walk, too).
    change(archive_app, seeds, datetime(2023, 10, 1, tzinfo=UTC),
           lambda: (seeds / f"009_{hex_id(9)}.txt").unlink())  # fmt: skip
    moved, pages, kept, _ = changed_pages()
    assert moved == ["2023-03-10", "2023-03-10/2"]
    assert set(kept) == (everyone | {tag(50)}) - {tag(1), tag(9)}


def test_every_channel_has_archives_linked_from_its_feeds(archive_app) -> None:
    client = archive_app.test_client()
    for channel, number in (("/sources/afp/", 1), ("/places/geneva/", 2)):
        for fmt in FORMATS:
            _, pages, kept, filling = walk(client, channel, fmt)
            assert pages and all(p.url.startswith(f"{SITE_URL}{channel}archives/") for p in pages)
            if fmt != "json":
                # 10 March holds 4 of each (3 + 1): the feed of 3 holds all of the second part,
                # so the walk starts at the first, whose next-archive is the second (RFC 5005 4).
                assert filling is not None
                assert filling.url == f"{SITE_URL}{channel}archives/2023-03-10/2/feed.{fmt}"
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
    # Entries newest first, as in the subscription feed (and every listing), though a day's
    # parts are counted from its oldest: 20 January before 10 January; on one date, the later
    # document first, as the feed's 15, 14, 13.
    for fmt in FORMATS:
        for key, numbers in (("2023-01", [2, 1]), ("2023-03-10/2", [13, 12, 11])):
            page, _ = read_page(client, f"{SITE_URL}/archives/{key}/feed.{fmt}", fmt)
            assert list(page.entries) == [tag(n) for n in numbers], (key, fmt)
    oldest = etree.fromstring(client.get("/archives/2022-03/feed.rss").data)
    rels = [link.get("rel") for link in oldest.iterfind("channel/{*}link")]
    assert "prev-archive" not in rels and "next-archive" in rels  # the first page
    assert oldest.find(f"channel/{{{HISTORY}}}archive") is not None


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_feed_skips_the_page_still_filling_only_while_it_holds_all_of_it(
    tmp_path: Path, seeds: Path, fmt: str
) -> None:
    """The boundary of ArchivePlan.newest_archived: the page still filling holds exactly as many
    articles as the feed. The feed holds all of them, so its prev-archive (JSON Feed: next_url)
    names the page before: a consumer that stops at a page it has read (RFC 5005 4.2) would
    otherwise read the filling page now and miss what lands there later. A feed of one fewer
    does not hold all of it, and names it."""
    for number in range(1, 7):  # one day of 6: parts of 3 and 3
        path = write_document(seeds, number, hex_id(number), headline=f"Story {number}",
                              date=f"5 Mar 2023 {number:02d}:00 UTC")  # fmt: skip
        set_mtime(path, WRITTEN)
    set_mtime(seeds, WRITTEN)
    client = indexed_app(tmp_path, seeds, FEED_SIZE=3).test_client()
    day = f"{SITE_URL}/archives/2023-03-05"
    subscription, older = read_page(client, f"{SITE_URL}/feed.{fmt}", fmt)
    assert list(subscription.entries) == [tag(6), tag(5), tag(4)]  # all of the second part
    assert older == f"{day}/feed.{fmt}"
    _, older = read_page(client, f"{SITE_URL}/feed.{fmt}?limit=2", fmt)
    assert older == f"{day}/2/feed.{fmt}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_search_feed_carries_no_edited_older_story(tmp_path: Path, seeds: Path, fmt: str) -> None:
    """Edited older articles come back into subscription feeds (RFC 5005 4.1), not into a
    search's feed: the store's changed articles are the whole site's, and a saved search for
    "pipeline" must not show the football result edited since. It holds the newest matches."""
    for number in range(1, 4):
        path = write_document(seeds, number, hex_id(number), headline=f"Pipeline {number}",
                              date=f"1 Dec 2023 0{number}:00 UTC")  # fmt: skip
        set_mtime(path, WRITTEN)
    football = write_document(seeds, 4, hex_id(4), headline="Football final", date="1 Nov 2023",
                              paragraphs=("The home side won on Sunday.",))  # fmt: skip
    set_mtime(football, WRITTEN)
    set_mtime(seeds, WRITTEN)
    app = indexed_app(tmp_path, seeds)
    client = app.test_client()
    url = f"{SITE_URL}/search/feed.{fmt}?q=pipeline&limit=2"
    before, _ = read_page(client, url, fmt)
    assert list(before.entries) == [tag(3), tag(2)]
    # Both edited after the newest matches were last changed: the football story and an older
    # match.
    for number, name, word in ((4, football.name, "Sunday"), (1, f"001_{hex_id(1)}.txt", "Monday")):
        edited = seeds / name
        change(app, seeds, datetime(2024, 1, number, tzinfo=UTC),
               lambda e=edited, w=word: e.write_text(e.read_text().replace(w, "Tuesday")),
               edited)  # fmt: skip
    after, _ = read_page(client, url, fmt)
    assert list(after.entries) == [tag(3), tag(2)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_edited_older_stories_come_back_newest_published_first(
    tmp_path: Path, seeds: Path, fmt: str
) -> None:
    """RFC 5005 4.1: older articles edited since the newest were last changed come back into the
    subscription feed, a tenth of its size at most (README: at least three), the most recently
    changed of them; after the newest, in the order of every feed and page: newest published
    first, whatever order they were edited in. At 50, a tenth (5) is not a twentieth (3)."""
    first = datetime(2023, 1, 1, tzinfo=UTC)
    for number in range(1, 57):
        published = first + timedelta(days=number)
        path = write_document(seeds, number, hex_id(number), headline=f"Story {number}",
                              date=f"{published:%d %b %Y}")  # fmt: skip
        set_mtime(path, WRITTEN)
    set_mtime(seeds, WRITTEN)
    app = indexed_app(tmp_path, seeds, FEED_SIZE=50)
    # The six older than the newest 50, edited one hour apart in this order: 3 the earliest.
    for hours, number in enumerate((3, 1, 6, 2, 5, 4), start=1):
        set_mtime(seeds / f"{number:03d}_{hex_id(number)}.txt", WRITTEN + timedelta(hours=hours))
    set_mtime(seeds, WRITTEN + timedelta(hours=6))
    app.extensions["feedsvc"].store.refresh()
    subscription, _ = read_page(app.test_client(), f"{SITE_URL}/feed.{fmt}", fmt)
    newest = [tag(n) for n in range(56, 6, -1)]
    assert list(subscription.entries) == newest + [tag(n) for n in (6, 5, 4, 2, 1)]


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
    # newest FEED_SIZE, and bring back a tenth of that at most, not half the archive (RFC 5005
    # 4.1 is about edits).
    for number in range(1, 41):
        path = write_document(seeds, number, hex_id(number), date=f"{number % 28 + 1} Jan 2023",
                              headline=f"Story {number}")  # fmt: skip
        set_mtime(path, WRITTEN.replace(second=(number * 7919) % 5))
    client = indexed_app(tmp_path, seeds, FEED_SIZE=10).test_client()
    subscription, _ = read_page(client, f"{SITE_URL}/feed.{fmt}", fmt)
    newest = sorted(range(1, 41), key=lambda n: (n % 28, n), reverse=True)[:10]
    assert {tag(n) for n in newest} <= set(subscription.entries)
    assert len(subscription.entries) <= 10 + republished_max(10)


@pytest.mark.parametrize("fmt", FORMATS)
def test_late_stories_and_corrections_past_the_cap_still_reach_the_feed(
    tmp_path: Path, seeds: Path, fmt: str
) -> None:
    """More older stories filed or corrected at once than the feed carries again: the latest
    of them are in it (before, none were, and a correction it had shown was withdrawn)."""
    for number in range(20, 30):
        path = write_document(seeds, number, hex_id(number), headline=f"Story {number}",
                              date=f"1 Dec 2023 {number - 10:02d}:00 UTC")  # fmt: skip
        set_mtime(path, WRITTEN)
    set_mtime(seeds, WRITTEN)
    app = indexed_app(tmp_path, seeds, FEED_SIZE=10)
    client = app.test_client()
    most = republished_max(10)  # 3
    # Four stories filed late, dated before everything in the feed, one second apart.
    for number in range(1, most + 2):
        path = write_document(seeds, number, hex_id(number), headline=f"Late {number}",
                              date=f"1 Dec 2023 0{number}:00 UTC")  # fmt: skip
        change(app, seeds, datetime(2023, 12, 2, 0, 0, number, tzinfo=UTC), lambda p=path: p)
    subscription, _ = read_page(client, f"{SITE_URL}/feed.{fmt}", fmt)
    late = {tag(n) for n in range(1, most + 2)} & set(subscription.entries)
    assert late == {tag(n) for n in range(2, most + 2)}  # the latest filed


# -- pages that move: a month crossing FEED_SIZE (or back), a day's parts -------------------------

# FEED_SIZE=3: September is a page; October holds exactly 3, so it is one page until a backfill
# splits it into days; 1 November holds 4, so it is cut in two parts, and November goes by day.
FULL_MONTH = [
    (1, "13 Sep 2023"), (2, "20 Sep 2023"),
    (3, "1 Oct 2023"), (4, "1 Oct 2023"), (5, "15 Oct 2023"),
    (6, "1 Nov 2023"), (7, "1 Nov 2023"), (8, "1 Nov 2023"), (9, "1 Nov 2023"), (10, "2 Nov 2023"),
]  # fmt: skip
# Every channel that holds them: every document is from AFP in Paris.
CHANNELS = ("", "/sources/afp", "/places/paris")
NAVIGATE = {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}


@pytest.fixture
def full_month_app(tmp_path: Path, seeds: Path):
    for number, date in FULL_MONTH:
        path = write_document(seeds, number, hex_id(number), date=date,
                              dateline="PARIS (AFP) —", headline=f"Story {number}")  # fmt: skip
        set_mtime(path, WRITTEN)
    set_mtime(seeds, WRITTEN)
    return indexed_app(tmp_path, seeds, FEED_SIZE=3)


def moved(client, path: str, **headers: str) -> str:
    """Where ``path`` redirects to, for a while: checked to be a 302 a cache keeps no longer
    than a feed (FEEDSVC_CACHE_MAX_AGE), that names the headers choosing a preview."""
    response = client.get(path, headers={"Host": "evil.example", **headers})
    assert response.status_code == 302, (path, response.status_code)
    assert response.headers["Cache-Control"] == "public, max-age=300", path
    vary = {v.strip() for v in response.headers["Vary"].split(",")}
    assert {"Sec-Fetch-Dest", "Sec-Fetch-Mode"} <= vary, path
    location = response.headers["Location"]
    assert location.startswith(SITE_URL + "/"), location  # never from Host
    return location.removeprefix(SITE_URL)


def backfill_october(app, seeds: Path) -> Path:
    path = write_document(seeds, 50, hex_id(50), date="20 Oct 2023", dateline="PARIS (AFP) —",
                          headline="Backfilled")  # fmt: skip
    change(app, seeds, datetime(2023, 12, 1, tzinfo=UTC), lambda: path)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_month_split_by_a_backfill_leads_to_its_newest_day(
    full_month_app, seeds: Path, fmt: str
) -> None:
    client = full_month_app.test_client()
    assert client.get(f"/archives/2023-10/feed.{fmt}").status_code == 200
    backfill_october(full_month_app, seeds)
    for channel in CHANNELS:
        month = f"{channel}/archives/2023-10/feed.{fmt}"
        newest = f"{channel}/archives/2023-10-20/feed.{fmt}"
        assert moved(client, month) == newest
        # A browser gets the newest day's preview, at the preview's own address.
        assert moved(client, month, **NAVIGATE) == newest + ".html"
        assert moved(client, month + ".html") == newest + ".html"
        # Walked from there, as RFC 5005 4.2 walks: every article of the month and older.
        pages = []
        url: str | None = SITE_URL + newest
        while url:
            page, url = read_page(client, url, fmt)
            pages.append(page)
        walked = {entry for page in pages for entry in page.entries}
        october = {tag(n) for n in (3, 4, 5, 50)}
        older = {tag(n) for n, date in FULL_MONTH if date.endswith("Sep 2023")}
        assert october | older <= walked, channel
        assert not {tag(n) for n, date in FULL_MONTH if "Nov" in date} & walked


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_month_whole_again_after_a_removal_answers_for_its_days(
    full_month_app, seeds: Path, fmt: str
) -> None:
    client = full_month_app.test_client()
    backfilled = backfill_october(full_month_app, seeds)
    assert client.get(f"/archives/2023-10-15/feed.{fmt}").status_code == 200
    change(full_month_app, seeds, datetime(2023, 12, 2, tzinfo=UTC), backfilled.unlink)
    for channel in CHANNELS:
        month = f"{channel}/archives/2023-10/feed.{fmt}"
        assert client.get(month).status_code == 200
        for day in ("2023-10-15", "2023-10-01", "2023-10-01/2"):
            assert moved(client, f"{channel}/archives/{day}/feed.{fmt}") == month, day
            assert moved(client, f"{channel}/archives/{day}/feed.{fmt}.html") == month + ".html"
        # The removed article's day holds none of the channel's articles any more.
        assert client.get(f"{channel}/archives/2023-10-20/feed.{fmt}").status_code == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_split_month_and_a_part_past_the_last_lead_to_the_newest_part(
    full_month_app, fmt: str
) -> None:
    client = full_month_app.test_client()
    for channel in CHANNELS:
        last = f"{channel}/archives/2023-11-02/feed.{fmt}"
        assert client.get(last).status_code == 200
        assert moved(client, f"{channel}/archives/2023-11/feed.{fmt}") == last
        second = f"{channel}/archives/2023-11-01/2/feed.{fmt}"
        assert client.get(second).status_code == 200
        assert moved(client, f"{channel}/archives/2023-11-01/3/feed.{fmt}") == second
        assert moved(client, f"{channel}/archives/2023-11-01/99/feed.{fmt}") == second


@pytest.mark.parametrize(
    "period",
    # No article of the channel; not a date; a part of a month; a part 1 (the day's own URL);
    # the calendar's last periods, whose end is past what a date can hold (a 500 once).
    ["2023-08", "2023-10-02", "2023-11-03", "2023-11-03/2", "2023-02-30", "2023-13",
     "2023-10/2", "2023-11-01/1", "2023-10-15/0", "9999-12", "9999-12-31", "9999-12-31/2"],
)  # fmt: skip
def test_a_period_with_no_article_of_the_channel_is_not_found(full_month_app, period: str) -> None:
    client = full_month_app.test_client()
    # Only those: the month around them, split into days, leads on.
    assert moved(client, "/archives/2023-11/feed.atom") == "/archives/2023-11-02/feed.atom"
    for channel in CHANNELS:
        for fmt in FORMATS:
            path = f"{channel}/archives/{period}/feed.{fmt}"
            assert client.get(path).status_code == 404, path
            assert client.get(path + ".html").status_code == 404, path
            assert client.get(path, headers=NAVIGATE).status_code == 404, path
    # Nor for a channel with no article in it at all.
    assert client.get("/sources/nobody/archives/2023-10/feed.atom").status_code == 404


@pytest.mark.parametrize(
    ("key", "newest"),
    [
        ("1970-01", "1970-01-02/2"),  # split into days: its last day's last part
        ("1970-01-01/2", "1970-01-01"),  # a part past the day's last
        ("1970-01-02/3", "1970-01-02/2"),
        ("1970-02-10", "1970-02"),  # a day of a month that is one page
        ("1970-02-10/2", "1970-02"),
        ("1970-02-11", None),  # no article that day
        ("1970-03", None),  # nor that month
        ("1970-02-30", None),  # no such day
        ("1970-02/2", None),  # a month has no parts
    ],
)
def test_the_newest_page_of_a_period(key: str, newest: str | None) -> None:
    # 1 and 2 January: 3 and 4 articles (7 > 3: by day; the 2nd in two parts); 10 February: 1.
    plan = ArchivePlan.from_days([(0, 3), (1, 4), (40, 1)], page_size=3)
    page = plan.newest_page(key)
    assert (page and page.key) == newest
    assert {month: page.key for month, page in plan.split_months().items()} == {
        "1970-01": "1970-01-02/2"
    }


def walk_until_read(client, fmt: str, read: set[str]) -> set[str]:
    """What a consumer that stops at an archive page it has already read (RFC 5005 4.2)
    collects: the subscription feed, then prev-archive until a page in ``read`` (updated)."""
    subscription, url = read_page(client, f"{SITE_URL}/feed.{fmt}", fmt)
    found = set(subscription.entries)
    while url and url not in read:
        page, url = read_page(client, url, fmt)
        read.add(page.url)
        found |= set(page.entries)
    return found


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_consumer_that_stops_at_pages_it_has_read_misses_nothing(
    tmp_path: Path, seeds: Path, fmt: str
) -> None:
    """More new stories between two polls than the feed holds: those that the feed no longer
    shows are on pages the consumer has not read, never added to one it has. (Before, the
    newest page, still filling, was the feed's prev-archive: a consumer read it, and the stories
    landing there after were lost to it.)"""
    for number in range(1, 6):  # one day: parts of 3 and 2
        path = write_document(seeds, number, hex_id(number), headline=f"Story {number}",
                              date=f"5 Mar 2023 {number:02d}:00 UTC")  # fmt: skip
        set_mtime(path, WRITTEN)
    set_mtime(seeds, WRITTEN)
    app = indexed_app(tmp_path, seeds, FEED_SIZE=3)
    client = app.test_client()
    read: set[str] = set()
    known = walk_until_read(client, fmt, read)
    assert {tag(n) for n in range(1, 6)} <= known
    burst = [
        write_document(
            seeds,
            number,
            hex_id(number),
            headline=f"Story {number}",
            date=f"5 Mar 2023 {number:02d}:00 UTC",
        )  # fmt: skip
        for number in range(6, 14)
    ]
    change(app, seeds, datetime(2023, 7, 1, tzinfo=UTC), lambda: None)
    for path in burst:
        set_mtime(path, datetime(2023, 7, 1, tzinfo=UTC))
    app.extensions["feedsvc"].store.refresh()
    known |= walk_until_read(client, fmt, read)
    assert {tag(n) for n in range(1, 14)} <= known
