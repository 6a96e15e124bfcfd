"""Which articles each channel holds, and what its feed says about itself.

The main feed holds the newest ``feed_size`` articles. Older ones live on RFC 5005 archive pages
counted from the oldest: page 1 holds the oldest ``feed_size`` articles, page 2 the next, and the
newest page holds whatever is older than the main feed. Pages are disjoint and together with the
main feed hold every article exactly once. A full page changes only when an article older than
its newest is added, edited or removed (a backfill shifts every later page by as many).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from .config import Config
from .document import Article
from .store import Store
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
    a saved search, or one archive page of the main feed."""

    kind: str  # "main" | "source" | "place" | "search" | "archive"
    key: str = ""

    @classmethod
    def of_facet(cls, field: str, slug: str) -> Channel:
        """The channel of an article field's value: ``of_facet("agency", "reuters")``."""
        kind = next(kind for kind, facet in FACETS.items() if facet.field == field)
        return cls(kind, slug)

    @property
    def facet(self) -> FacetKind | None:
        return FACETS.get(self.kind)

    def feed_path(self, fmt: str) -> str:
        if self.kind == "main":
            return f"/feed.{fmt}"
        if self.facet is not None:
            return f"{self.html_path}/feed.{fmt}"  # a page's feeds live beneath it
        if self.kind == "archive":
            return f"/archives/{self.key}/feed.{fmt}"
        return f"/search/feed.{fmt}?{urlencode({'q': self.key})}"

    def preview_path(self, fmt: str) -> str:
        return preview_path(self.feed_path(fmt))

    @property
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

    @property
    def is_archive(self) -> bool:
        return self.channel.kind == "archive"


def newest_change(entries: Sequence[Article], fallback: datetime) -> datetime:
    """The feed's updated time: its newest entry change, never the time of rendering."""
    if not entries:
        return fallback
    return max(a.last_change for a in entries).astimezone(UTC)


@dataclass(frozen=True)
class ArchivePlan:
    total: int
    feed_size: int

    @property
    def archived(self) -> int:
        return max(0, self.total - self.feed_size)

    @property
    def pages(self) -> int:
        return math.ceil(self.archived / self.feed_size)

    def bounds(self, page: int) -> tuple[int, int]:
        """(offset from the oldest, count) of an archive page."""
        offset = (page - 1) * self.feed_size
        return offset, min(self.feed_size, self.archived - offset)

    def is_full(self, page: int) -> bool:
        return self.bounds(page)[1] == self.feed_size


class Channels:
    """Which articles each channel holds, and the FeedDocument that says so."""

    def __init__(self, config: Config, store: Store, site: Site):
        self.config = config
        self.store = store
        self.site = site

    def plan(self) -> ArchivePlan:
        return ArchivePlan(self.store.count(), self.config.feed_size)

    def title(self, channel: Channel) -> str | None:
        """The channel's title, or None when it does not exist (an unknown agency or city)."""
        site_title = self.config.title
        if channel.kind in ("main", "archive"):
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
        """The feed of ``channel``; ``explicit_limit`` when the client chose the limit, which
        then belongs in the feed's self URL."""
        title = self.title(channel)
        if title is None:
            return None
        links = self._hub_links()
        if channel.kind == "main":
            links.update(self._main_archive_links(fmt))
        elif channel.kind == "archive":
            plan, page = self.plan(), int(channel.key)
            if not 1 <= page <= plan.pages:
                return None
            links.update(self._archive_links(plan, page, fmt))
        entries = self.articles(channel, limit)
        updated = newest_change(entries, fallback=self.store.changed_at())
        return FeedDocument(
            channel,
            title,
            self.config.subtitle,
            entries,
            updated,
            self.self_url(channel, fmt, limit if explicit_limit else None),
            links,
        )

    def articles(self, channel: Channel, limit: int, offset: int = 0) -> list[Article]:
        """The articles ``channel`` holds, newest first: the one answer for feeds and pages.

        An archive page holds a fixed slice (see ArchivePlan) and ignores limit and offset.
        """
        if channel.kind == "archive":
            plan = self.plan()
            start, count = plan.bounds(int(channel.key))
            return list(reversed(self.store.oldest(count, start)))
        if channel.kind == "search":
            return self.store.search(channel.key, limit, offset)
        facet = (channel.facet.field, channel.key) if channel.facet else None
        return self.store.latest(limit, offset, facet=facet)

    def count(self, channel: Channel) -> int:
        """How many articles a main, facet or search channel holds (for paging its listing)."""
        if channel.kind == "search":
            return self.store.search_count(channel.key)
        facet = (channel.facet.field, channel.key) if channel.facet else None
        return self.store.count(facet=facet)

    def self_url(self, channel: Channel, fmt: str, limit: int | None) -> str:
        path = channel.feed_path(fmt)
        if limit is not None:
            path += f"{'&' if '?' in path else '?'}limit={limit}"
        return self.site.url(path)

    def _hub_links(self) -> dict[str, str]:
        return {"hub": self.config.websub_hub} if self.config.websub_hub else {}

    def _main_archive_links(self, fmt: str) -> dict[str, str]:
        plan = self.plan()
        if not plan.pages:
            return {}
        return self._older(plan.pages, fmt)

    def _archive_links(self, plan: ArchivePlan, page: int, fmt: str) -> dict[str, str]:
        links = {"current": self.site.url(Channel("main").feed_path(fmt))}
        if page > 1:
            links.update(self._older(page - 1, fmt))
        if page < plan.pages:
            links["next-archive"] = self.site.url(Channel("archive", str(page + 1)).feed_path(fmt))
        return links

    def _older(self, page: int, fmt: str) -> dict[str, str]:
        # prev-archive for Atom and RSS readers (RFC 5005); next for JSON Feed's next_url.
        url = self.site.url(Channel("archive", str(page)).feed_path(fmt))
        return {"prev-archive": url, "next": url}
