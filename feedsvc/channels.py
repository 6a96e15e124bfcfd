"""Which articles each channel holds, and what its feed says about itself.

The main feed holds the newest ``feed_size`` articles. Older ones live on RFC 5005 archive pages
counted from the oldest: page 1 holds the oldest ``feed_size`` articles, page 2 the next, and the
newest page holds whatever is older than the main feed. Pages are disjoint and together with the
main feed hold every article exactly once. A full page changes only when an article older than
its newest is added, edited or removed (a backfill shifts every later page by as many).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import Config
from .feeds import FeedDocument, newest_change
from .store import Store
from .urls import Channel, Site


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
        facet = self.store.facet("agency" if channel.kind == "source" else "city", channel.key)
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
        is_archive = channel.kind == "archive"
        if channel.kind == "main":
            entries = self.store.latest(limit)
            links.update(self._main_archive_links(fmt))
        elif channel.kind == "archive":
            plan, page = self.plan(), int(channel.key)
            if not 1 <= page <= plan.pages:
                return None
            offset, count = plan.bounds(page)
            entries = list(reversed(self.store.oldest(count, offset)))
            links.update(self._archive_links(plan, page, fmt))
        elif channel.kind == "search":
            entries = self.store.search(channel.key, limit)
        elif channel.kind == "source":
            entries = self.store.latest(limit, agency=channel.key)
        else:
            entries = self.store.latest(limit, city=channel.key)
        updated = newest_change(entries, fallback=self.store.changed_at())
        return FeedDocument(
            channel,
            title,
            self.config.subtitle,
            entries,
            updated,
            self.self_url(channel, fmt, limit if explicit_limit else None),
            links,
            is_archive,
        )

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
