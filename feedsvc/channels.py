"""Which articles each channel holds, and what its feed says about itself.

A channel (the main feed, an agency, a dateline city, a saved search) has a subscription feed with
its newest ``limit`` articles (RFC 5005 4: the subscription document). Main and facet channels also
have RFC 5005 archives: pages of *all* their articles, by UTC calendar period of publication, so a
page's set of entries and its URL do not move when other articles come and go (4: an archive
document SHOULD NOT change):

- a month is one page (``/archives/2022-03/feed.atom``) while it holds at most ``feed_size``
  articles of the channel; a month holding more is split into days (``/archives/2022-03-06/...``);
- a day holding more than ``feed_size`` is split into parts of ``feed_size`` counted from its
  oldest article (``/archives/2022-03-06/feed.atom``, then ``/archives/2022-03-06/2/...``);
- a channel whose articles all fit on one page (so all are in its subscription feed) has none.

A new article therefore lands in the current period's page; a backfilled, edited or removed one
changes only the page of its own period (and, in a day of more than ``feed_size``, the later parts
of that day). A month crossing ``feed_size`` turns into day pages, or back: the addresses of the
period that are no page any more lead, for a while, to the page holding its newest article
(``ArchivePlan.newest_page``; web.py answers them), so that a page kept by a cache or a reader,
whose prev-archive or next-archive names one, still leads on. Pages are disjoint, and with the
subscription feed they hold every article. The subscription feed's prev-archive names the newest
page that a new article can no longer reach (ArchivePlan.newest_archived): the one still filling
is reached only through its next-archive, while the feed holds all of it. Pages may repeat the
subscription feed's entries (4.2: consumers keep one per id). Articles edited (or backfilled)
after leaving the subscription window come back into the subscription feed until it moves past
them (4.1), so a consumer that stops at the archive pages it has already read still sees them.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import date as date_type
from typing import NamedTuple
from urllib.parse import quote, urlencode

from .config import Config
from .document import Article
from .store import SECONDS_PER_DAY, Store
from .urls import Site

FORMATS = ("rss", "atom", "json")
OPML_PATH = "/feeds.opml"
# Feeds and the OPML list have a preview page for people (preview.py), at this suffix.
PREVIEW_SUFFIX = ".html"
PREVIEWED_SUFFIXES = (*(f".{fmt}" for fmt in FORMATS), ".opml")


def preview_path(feed_path: str) -> str:
    """The path of the page a person sees for a feed: the feed's path + ".html", query kept.

    ``/feed.rss`` -> ``/feed.rss.html``, ``/feeds.opml`` -> ``/feeds.opml.html``,
    ``/search/feed.atom?q=oil`` -> ``/search/feed.atom.html?q=oil``. The one rule for where a
    preview lives: the app serves it there and at the feed's own URL (to browser navigations),
    and a static host serves the file of that name the same way (nginx: a ``map`` of
    ``$http_sec_fetch_dest`` to the suffix, then ``try_files $uri$suffix $uri``; see README).
    """
    path, mark, query = feed_path.partition("?")
    return f"{path}{PREVIEW_SUFFIX}{mark}{query}"


def has_preview(path: str) -> bool:
    """Whether a request path (no query) names a feed or the OPML list, which have previews."""
    return path.endswith(PREVIEWED_SUFFIXES)


@dataclass(frozen=True)
class FacetKind:
    """One kind of facet, named the three ways the code meets it: the channel kind, the
    Article field and store column, and the URL folder (``source`` / ``agency`` / ``sources``)."""

    channel_kind: str
    field: str
    folder: str


# The one table that maps the vocabularies onto each other.
FACETS = {
    "source": FacetKind("source", "agency", "sources"),
    "place": FacetKind("place", "city", "places"),
}


@dataclass(frozen=True)
class Channel:
    """A stream of articles with its own page and feeds: the main feed, one agency, one city,
    or a saved search."""

    kind: str  # "main" | "source" | "place" | "search"
    key: str = ""

    @classmethod
    def of_facet(cls, field: str, slug: str) -> Channel:
        """The channel of an article field's value: ``of_facet("agency", "reuters")``."""
        kind = next(kind for kind, facet in FACETS.items() if facet.field == field)
        return cls(kind, slug)

    @property
    def facet(self) -> FacetKind | None:
        return FACETS.get(self.kind)

    @property
    def has_archives(self) -> bool:
        return self.kind != "search"

    def feed_path(self, fmt: str) -> str:
        if self.kind == "search":
            return f"/search/feed.{fmt}?{urlencode({'q': self.key})}"
        return f"{self._folder}/feed.{fmt}"  # a page's feeds live beneath it

    def archive_path(self, page: str, fmt: str) -> str:
        """The path of archive page ``page`` (an ArchivePage key) in format ``fmt``."""
        return f"{self._folder}/archives/{page}/feed.{fmt}"

    # Worked out once per channel: a static build asks a channel for hundreds of archive paths.
    @functools.cached_property
    def _folder(self) -> str:
        return self.html_path.rstrip("/")

    def preview_path(self, fmt: str) -> str:
        return preview_path(self.feed_path(fmt))

    def websub_topics(self) -> tuple[str, ...]:
        """The paths whose changes the hub is told of (websub.Notifier), and so the only feeds
        that name the hub: WebSub 4 and 6, a publisher MUST tell its hubs of every change to a
        topic it advertises them for. Those are a channel's subscription feeds at their own
        URLs. A search's feed or a ?limit= variant is one of unboundedly many URLs, which no
        change can be announced to; an archive page changes only by a backfill, an edit or a
        removal, which are not announced for it either (RFC 5005 4: it SHOULD NOT change)."""
        if self.kind == "search":
            return ()
        return tuple(self.feed_path(fmt) for fmt in FORMATS)

    @functools.cached_property
    def html_path(self) -> str:
        if self.facet is not None:
            return f"/{self.facet.folder}/{quote(self.key)}"
        if self.kind == "search":
            return f"/search?{urlencode({'q': self.key})}"
        return "/"

    @property
    def tag_name(self) -> str:
        """What names the channel in its feed's id, under the site's tag authority."""
        return self.kind if not self.key else f"{self.kind}/{self.key}"


def article_channels(article: Article) -> list[Channel]:
    """The facet channels an article belongs to (its agency's, its city's), besides the main."""
    found = []
    for facet in FACETS.values():
        slug = getattr(article, f"{facet.field}_slug")
        if slug:
            found.append(Channel(facet.channel_kind, slug))
    return found


@dataclass(frozen=True)
class ArchivePage:
    """One RFC 5005 archive page: the articles published in [start, end) (epoch seconds, a UTC
    month or day), oldest first from ``offset``, ``count`` of them."""

    key: str  # "2022-03" (a month), "2022-03-06" (a day), "2022-03-06/2" (a day's second part)
    start: float
    end: float
    offset: int
    count: int

    def is_closed(self, now: float) -> bool:
        """Whether its period is over: only a backfill, an edit or a removal can change it."""
        return self.end <= now


# What an archive page's key names: a month, a day, or a day's second or later part (a day's
# first part is the day's own page, so "/1" names none).
_ARCHIVE_KEY = re.compile(r"([0-9]{4})-([0-9]{2})(?:-([0-9]{2})(?:/([2-9]|[1-9][0-9]+))?)?")


def period_days(key: str) -> tuple[int, int] | None:
    """The UTC days [first, end) of the period an archive page key names, whatever the plan
    makes of it (``2022-03`` its month, ``2022-03-06`` and ``2022-03-06/2`` that day), or None
    for a key no plan could have: no such date, a month's part, a part 1."""
    match = _ARCHIVE_KEY.fullmatch(key)
    if match is None or (match[3] is None and match[4] is not None):
        return None
    year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
    try:
        first = date_type(year, month, day)
        if match[3] is not None:
            end = first + timedelta(days=1)
        else:
            end = date_type(year + month // 12, month % 12 + 1, 1)
    except (ValueError, OverflowError):  # no such date; or the period ends after 9999
        return None
    return (first - EPOCH_DATE).days, (end - EPOCH_DATE).days


@dataclass(frozen=True)
class ArchivePlan:
    """A channel's archive pages, oldest first, and the UTC days (day numbers, ascending)
    holding its articles."""

    pages: tuple[ArchivePage, ...]
    days: tuple[int, ...] = ()

    @classmethod
    def from_days(cls, day_counts: Sequence[tuple[int, int]], page_size: int) -> ArchivePlan:
        """The pages for (UTC day number, articles that day) counts, by the module's rule."""
        months: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for day, count in day_counts:
            date = EPOCH_DATE + timedelta(days=day)
            months.setdefault((date.year, date.month), []).append((day, count))
        pages = []
        for (year, month), days in months.items():
            total = sum(count for _, count in days)
            if total <= page_size:
                start = (date_type(year, month, 1) - EPOCH_DATE).days
                end = (date_type(year + month // 12, month % 12 + 1, 1) - EPOCH_DATE).days
                key = f"{year:04d}-{month:02d}"
                pages.append(ArchivePage(key, _seconds(start), _seconds(end), 0, total))
                continue
            for day, count in days:
                name = (EPOCH_DATE + timedelta(days=day)).isoformat()
                day_start, day_end = _seconds(day), _seconds(day + 1)
                for part in range(math.ceil(count / page_size)):
                    key = f"{name}/{part + 1}" if part else name
                    size = min(page_size, count - part * page_size)
                    pages.append(ArchivePage(key, day_start, day_end, part * page_size, size))
        # One page would hold no more than the subscription feed already does: no archive then
        # (and no archive page with neither a prev-archive nor a next-archive link). Such a
        # subscription feed is complete in RFC 5005 2's sense, but is not marked fh:complete:
        # it stops being complete as the channel grows, and a consumer takes an entry missing
        # from a complete feed for a deleted one.
        if len(pages) <= 1:
            return cls(())
        return cls(tuple(pages), tuple(day for day, count in day_counts if count))

    def newest_archived(self, shown: int) -> ArchivePage:
        """The page a subscription feed of the ``shown`` newest articles names prev-archive:
        the newest page, unless the feed holds all of its articles; then the one before.

        The newest page is the one that still fills: a new article lands there. A consumer
        that stops at an archive page it has read (RFC 5005 4.2) would miss what lands there
        after its read (and before its next, should more than a feed's worth arrive between).
        So while the feed holds all of it, the feed is the newest page's only way in (4:
        archive documents hold the entries before the subscription document's, and SHOULD
        NOT change): the page a walk meets first is one that a new article cannot reach."""
        newest = self.pages[-1]
        return self.pages[-2] if newest.count <= shown else newest

    def find(self, key: str) -> int | None:
        """The position of the page named ``key``, or None."""
        return next((i for i, page in enumerate(self.pages) if page.key == key), None)

    def newest_page(self, key: str) -> ArchivePage | None:
        """The page holding the newest article of the period page ``key`` would show (a month
        split into days: its last day's last part; a day of a month that is one page: the
        month; a part past a day's last: its last), or None when no article is published in
        that period. RFC 5005 4.2 walks prev-archive from newer pages to older: from this
        page a walk goes through every page of the period, then on to older periods."""
        period = period_days(key)
        if period is None:
            return None
        first, end = period
        found = bisect_left(self.days, first)
        if found == len(self.days) or self.days[found] >= end:
            return None
        # The last page starting before the period ends: pages are disjoint and in order, and
        # the period holds an article, so this one holds its newest.
        last = bisect_left(self.pages, _seconds(end), key=lambda page: page.start) - 1
        return self.pages[last]

    def split_months(self) -> dict[str, ArchivePage]:
        """Each month split into days (by its key, ``2022-03``), with the page holding its
        newest article (``newest_page``): the few period addresses, one per split month,
        that a static build answers as the service does. (Those of days whose month is one
        page are one per day with articles: the service alone answers them.)"""
        found = {}
        for page in self.pages:
            month = page.key[: len("YYYY-MM")]
            if page.key != month:
                found[month] = page  # pages are in order: the last one of the month stays
        return found


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DATE = date_type(1970, 1, 1)


def _seconds(day: int) -> float:
    """The epoch time at which UTC day number ``day`` starts (epoch time has no leap seconds)."""
    return float(day * SECONDS_PER_DAY)


@dataclass(frozen=True)
class FeedDocument:
    """Everything one feed says, whatever its format."""

    channel: Channel
    title: str
    subtitle: str
    entries: Sequence[Article]
    updated: datetime
    self_url: str  # the URL this feed is served at, query included
    # rel -> absolute URL, for rels other than alternate/self: hub, current, prev-archive, ...
    links: Mapping[str, str] = field(default_factory=dict)
    archive: ArchivePage | None = None  # set on an RFC 5005 archive page

    @property
    def is_archive(self) -> bool:
        return self.archive is not None

    @property
    def tag_name(self) -> str:
        """What names this document in its feed id, under the site's tag authority."""
        suffix = f"/archives/{self.archive.key}" if self.archive else ""
        return self.channel.tag_name + suffix


# Archive plans kept per channel (each is a few hundred small objects at most).
MAX_CACHED_PLANS = 256
# Archive pages kept with their articles: every page is served as three feeds and three
# previews, each of which read the same articles from the index (6 % of a full build's time);
# a static build asks for the three feeds in a row, then for the three previews in a row. A
# few only: each holds a feed's worth of full texts (FEEDSVC_FEED_SIZE, up to 1,000).
MAX_CACHED_ARCHIVE_PAGES = 4


def republished_max(feed_size: int) -> int:
    """How many older, edited articles a subscription feed of ``feed_size`` carries again at
    most (Channels.subscription_entries): a tenth of it, at least three."""
    return max(3, feed_size // 10)


class Channels:
    """Which articles each channel holds, and the FeedDocument that says so."""

    def __init__(self, config: Config, store: Store, site: Site):
        self.config = config
        self.store = store
        self.site = site
        self._plans: OrderedDict[Channel, tuple[Hashable, ArchivePlan]] = OrderedDict()
        self._plans_lock = threading.Lock()
        self._pages: OrderedDict[tuple[Channel, str], tuple[Hashable, _ArchiveRead]] = OrderedDict()
        self._pages_lock = threading.Lock()

    def title(self, channel: Channel) -> str | None:
        """The channel's title, or None when it does not exist (an unknown agency or city)."""
        site_title = self.config.title
        if channel.kind == "main":
            return site_title
        if channel.kind == "search":
            return f"{site_title}: search for “{channel.key}”"
        assert channel.facet is not None
        facet = self.store.facet(channel.facet.field, channel.key)
        if facet is None:
            return None
        return f"{site_title}: {facet.name}"

    def feed(
        self, channel: Channel, fmt: str, limit: int, *, explicit_limit: bool = False
    ) -> FeedDocument | None:
        """The subscription feed of ``channel``; ``explicit_limit`` when the client chose the
        limit, which then belongs in the feed's self URL.

        Its updated time is its newest entry's last change, as an archive page's is: a change
        elsewhere on the site leaves its bytes, and so its ETag, alone (with the site's content
        time here, every new document would change every feed of the site, and every reader of
        every feed would fetch it whole again). A removal is the one change this cannot date
        (nothing of the removed document is left); the feed's Last-Modified, the site's content
        time (lastmod.py), still moves, and its ETag changes with its bytes."""
        title = self.title(channel)
        if title is None:
            return None
        entries = self.subscription_entries(channel, limit)
        self_url = self.self_url(channel, fmt, limit if explicit_limit else None)
        links = self._hub_links(channel, self_url)
        if channel.has_archives:
            plan = self.plan(channel)
            if plan.pages:
                links.update(self._older(channel, plan.newest_archived(limit), fmt))
        return FeedDocument(
            channel,
            title,
            self.config.subtitle,
            entries,
            max((a.last_change for a in entries), default=self.store.content_time()),
            self_url,
            links,
        )

    def subscription_entries(self, channel: Channel, limit: int) -> list[Article]:
        """The newest ``limit`` articles, then the older ones edited since (RFC 5005 4.1): last
        changed after the least recently changed of the newest, at most ``republished_max()``.

        More than that many: the most recently changed of them. The cap is for a copy of the
        folder (a plain ``cp``, a git checkout): an article's last change is its file's
        modification time (lastmod.py), so a copy makes every document look edited at once, and
        half the archive would come back into the feed. Several late or corrected stories at
        once (a wire filing a batch dated before the newest) are not such a copy: the latest
        of them are shown, never none, and a correction shown stays until newer changes or
        newer news move past it."""
        newest = self.articles(channel, limit)
        if channel.kind == "search" or len(newest) < limit:
            return newest
        since = min(a.last_change for a in newest).timestamp()
        shown = {a.id for a in newest}
        most = republished_max(limit)
        # Most recently changed first: of more than ``most``, the latest stay.
        changed = self.store.changed_after(since, limit + most, facet=self._facet(channel))
        again = [a for a in changed if a.id not in shown][:most]
        return newest + sorted(again, key=_newest_first)

    def archive(self, channel: Channel, key: str, fmt: str) -> FeedDocument | None:
        """Archive page ``key`` of ``channel``, or None when there is no such page."""
        read = self._archive_read(channel, key)
        if read is None:
            return None
        title, plan, position, articles = read
        page = plan.pages[position]
        entries = list(articles)
        # RFC 5005 4: current, prev-archive (MUST unless the first) and next-archive.
        links = {"current": self.site.url(channel.feed_path(fmt))}  # no hub: websub_topics
        if position > 0:
            links.update(self._older(channel, plan.pages[position - 1], fmt))
        if position + 1 < len(plan.pages):
            newer = plan.pages[position + 1]
            links["next-archive"] = self.site.url(channel.archive_path(newer.key, fmt))
        return FeedDocument(
            channel,
            title,
            self.config.subtitle,
            entries,
            # The page's own time, so that a change elsewhere leaves its bytes alone. A removal
            # from it is the one change this cannot show (nothing of the removed document is
            # left to date it); the page's Last-Modified, the site's content time, still moves.
            max((a.last_change for a in entries), default=EPOCH),
            self.site.url(channel.archive_path(page.key, fmt)),
            links,
            page,
        )

    def archive_moved(self, channel: Channel, key: str) -> ArchivePage | None:
        """For an archive page key that ``channel``'s plan has not (or no longer) as a page,
        the page holding the newest of its articles in that period (ArchivePlan.newest_page),
        or None: no such channel, or none of its articles there."""
        if not channel.has_archives or self.title(channel) is None:
            return None
        return self.plan(channel).newest_page(key)

    def _archive_read(self, channel: Channel, key: str) -> _ArchiveRead | None:
        """What archive page ``key`` of ``channel`` reads from the store, whatever the format:
        kept until what the store shows changes, as plans are (``plan``). Not kept while a
        document file is dated after now: an article's update time then depends on the moment
        of reading (lastmod.entry_updated_at), which the store's visible state does not say."""
        state = self.store.visible_state()
        lasting = self.store.content_time_determinable()
        if lasting:
            with self._pages_lock:
                cached = self._pages.get((channel, key))
                if cached is not None and cached[0] == state:
                    self._pages.move_to_end((channel, key))
                    return cached[1]
        title = self.title(channel) if channel.has_archives else None
        if title is None:
            return None
        plan = self.plan(channel)
        position = plan.find(key)
        if position is None:
            return None
        page = plan.pages[position]
        articles = self.store.published_between(
            page.start, page.end, page.count, page.offset, facet=self._facet(channel)
        )
        read = _ArchiveRead(title, plan, position, tuple(reversed(articles)))
        if lasting:
            with self._pages_lock:
                self._pages[(channel, key)] = (state, read)
                self._pages.move_to_end((channel, key))
                while len(self._pages) > MAX_CACHED_ARCHIVE_PAGES:
                    self._pages.popitem(last=False)
        return read

    def plan(self, channel: Channel) -> ArchivePlan:
        """``channel``'s archive pages as the store is now (kept until what it shows changes)."""
        version = self.store.visible_state()
        with self._plans_lock:
            cached = self._plans.get(channel)
            if cached is not None and cached[0] == version:
                self._plans.move_to_end(channel)
                return cached[1]
        plan = ArchivePlan.from_days(
            self.store.day_counts(facet=self._facet(channel)), self.config.feed_size
        )
        with self._plans_lock:
            self._plans[channel] = (version, plan)
            self._plans.move_to_end(channel)
            while len(self._plans) > MAX_CACHED_PLANS:
                self._plans.popitem(last=False)
        return plan

    def articles(self, channel: Channel, limit: int, offset: int = 0) -> list[Article]:
        """The articles ``channel`` holds, newest first: the one answer for listings."""
        if channel.kind == "search":
            return self.store.search(channel.key, limit, offset)
        return self.store.latest(limit, offset, facet=self._facet(channel))

    def count(self, channel: Channel) -> int:
        """How many articles a main, facet or search channel holds (for paging its listing)."""
        if channel.kind == "search":
            return self.store.search_count(channel.key)
        return self.store.count(facet=self._facet(channel))

    def self_url(self, channel: Channel, fmt: str, limit: int | None) -> str:
        path = channel.feed_path(fmt)
        if limit is not None:
            path += f"{'&' if '?' in path else '?'}limit={limit}"
        return self.site.url(path)

    @staticmethod
    def _facet(channel: Channel) -> tuple[str, str] | None:
        return (channel.facet.field, channel.key) if channel.facet else None

    def _hub_links(self, channel: Channel, self_url: str) -> dict[str, str]:
        """The hub, for a feed served at one of the URLs the hub hears of (websub_topics)."""
        if not self.config.websub_hub:
            return {}
        if self_url not in [self.site.url(path) for path in channel.websub_topics()]:
            return {}
        return {"hub": self.config.websub_hub}

    def _older(self, channel: Channel, page: ArchivePage, fmt: str) -> dict[str, str]:
        # prev-archive for Atom and RSS readers (RFC 5005); next for JSON Feed's next_url.
        url = self.site.url(channel.archive_path(page.key, fmt))
        return {"prev-archive": url, "next": url}


class _ArchiveRead(NamedTuple):
    title: str
    plan: ArchivePlan
    position: int  # of the page in the plan
    articles: tuple[Article, ...]  # newest first, as every feed lists them


def _newest_first(article: Article) -> tuple[float, int, str]:
    return (-article.published.timestamp(), -(article.seq or 0), article.id)
