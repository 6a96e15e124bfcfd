"""Every URL the site answers, and what decides each one's bytes: the static build's work list.

Each GET rule of the app's ``url_map`` is declared here exactly once:

- in ``ENUMERATORS``, with a function that yields every URL the rule answers for the current
  index, each with its *inputs*: a short string that changes whenever anything the response
  shows or sends may change (the articles it lists and their versions, page counts, facet names).
  Equal inputs promise equal bytes and headers, so a rebuild renders only the URLs whose inputs
  moved. What every URL depends on (the code, templates and settings) is not repeated here: the
  build adds it once (build.renderer_stamp).
- in ``PATTERN_REDIRECTS``, for rules that only redirect and whose URLs cannot be listed (any old
  slug of an article): the generated server configuration answers them (staticconf.py).
- in ``EXCLUDED``, with the reason the static site does without them (search needs the service).

``check_routes`` fails when a rule is in none of them, so a new route cannot silently go missing
from static builds (tests/test_build.py runs it on every app).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import math
import operator
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from . import web
from .channels import FACETS, FORMATS, ArchivePage, ArchivePlan, Channel, preview_path
from .store import SECONDS_PER_DAY, Version
from .urls import permalink_path

if TYPE_CHECKING:
    from flask import Flask

    from .services import Services

# Mirrors of the service's own limits (web.py): the news window.
NEWS_WINDOW = timedelta(days=2)
NEWS_MAX_ARTICLES = 1000
# The URL the app answers with its "not found" page, written as the static site's 404 page.
NOT_FOUND_URL = "/404.html"


class Target(NamedTuple):
    """One URL to write: ``url`` is a path with an optional query, as a client requests it."""

    url: str
    inputs: str
    status: int = 200  # what the app must answer; anything else fails the build
    # A listing page between the first and the last: a new or deleted article shifts every one
    # of them by one place, and a watching build writes them after the rest (build.Builder).
    deferrable: bool = False


class Scope(NamedTuple):
    """The part of the site a change can touch (see ``follow``): the channels whose feeds,
    archive pages, previews and listing pages are listed, and the articles (by id) whose pages
    are. What depends on every article (sitemaps, OPML, facet indexes) and what depends on none
    (static files, redirects) is listed whatever the scope."""

    channels: frozenset[Channel]
    articles: frozenset[str]
    # The archive pages listed, by key, of each channel above (ArchivePage.key).
    archive_pages: Mapping[Channel, frozenset[str]]
    # The listing pages listed, by number, of each channel above; None: all of them.
    listing_pages: Mapping[Channel, range | None]


class Snapshot:
    """What the enumerators read, taken once per build: every article's version, newest first,
    grouped by channel, and the facet names. Cheap enough to take on every change.

    Given the ``previous`` snapshot of the same store, it reads only the articles changed
    since (Store.versions_changed_since) and edits the previous list, when the store can tell
    which changed and the clock changed nothing in between; else it reads every version. Either
    way it holds the same (tests/test_follow.py compares them).

    ``scope`` is None for the whole site; ``within(scope)`` gives a view of the same snapshot
    whose enumerators list only that part."""

    scope: Scope | None = None

    def __init__(
        self,
        svc: Services,
        now: datetime,
        permalinks: Mapping[str, str] | None = None,
        previous: Snapshot | None = None,
    ):
        self.svc = svc
        self.config = svc.config
        self.now = now
        store = svc.store
        with store.reading():  # one consistent view of the index and of the clock
            self.state = store.visible_state()
            changes = None
            if (
                previous is not None
                and previous.svc is svc
                and store.now().timestamp() < previous.next_event
            ):
                changes = store.versions_changed_since(previous.state)
            if changes is None:
                self.versions: list[Version] = store.versions()
            self.content_time = store.content_time()
            self.facets = {f.field: store.facets(f.field) for f in FACETS.values()}
        # Whether this snapshot was made from ``previous`` and the changes since.
        self.derived = changes is not None
        # Each facet channel's members (positions in ``versions``), and each channel's
        # articles per UTC day (what its archive plan is made of), filled on first use.
        self._members: dict[Channel, list[int]] = {}
        self._days: dict[Channel, Counter[int]] = {}
        self._plans: dict[Channel, ArchivePlan] = {}
        if changes is not None:
            assert previous is not None
            self._edit(previous, *changes)
        else:
            # One string per article: its id and version; slices are hashed into inputs.
            self.keys = [_key(v) for v in self.versions]
            for kind, facet in FACETS.items():
                column = operator.itemgetter(Version._fields.index(f"{facet.field}_slug"))
                members: dict[str, list[int]] = {}
                for position, slug in enumerate(map(column, self.versions)):
                    if slug:
                        members.setdefault(slug, []).append(position)
                self._members.update((Channel(kind, s), found) for s, found in members.items())
        # Permalinks already known by key (slugifying 100,000 headlines takes a second).
        self.permalinks = permalinks or {}
        # Times at which inputs change with the clock alone: the news sitemap's window, an
        # archive period ending, an embargo lifting (the store's next event).
        self.expiries: list[datetime] = []
        self.next_event: float = store.next_event()  # epoch seconds, inf: never
        if math.isfinite(self.next_event):
            self.expiries.append(datetime.fromtimestamp(self.next_event, UTC))
        self._listed: dict[Callable[[Snapshot], Iterable[Target]], list[Target]] = {}
        self._where: dict[str, int] = {}  # article id -> position, filled on first use
        # Inputs that read a whole channel, once worked out: a rebuild lists the part a change
        # touches in the snapshot before it too, which was the one after the last change.
        self._inputs: dict[tuple[object, ...], str] = {}

    def _edit(self, previous: Snapshot, changed: set[str], fresh: list[Version]) -> None:
        """Make this snapshot from ``previous``'s: the ``changed`` articles taken out, and
        ``fresh`` (their versions now, those still shown) put in at their places in the store's
        order. Each channel's members move by what was taken out and put in before them (a
        few slices for a few changes); the day counts and archive plans of the channels no
        changed article was or is in stay as they were."""
        versions, keys = list(previous.versions), list(previous.keys)
        found = (previous.position(article_id) for article_id in changed)
        removed = sorted(p for p in found if p is not None)
        old = [previous.versions[p] for p in removed]
        for position in reversed(removed):  # from the last place up: earlier ones stay put
            del versions[position], keys[position]
        for version in fresh:
            at = _place(versions, version.order())
            versions.insert(at, version)
            keys.insert(at, _key(version))
        self.versions, self.keys = versions, keys
        added = sorted(_place(versions, version.order()) for version in fresh)
        moved = _Moves(removed, added)
        joined: dict[Channel, list[int]] = {}
        for position in added:
            for channel in self._facet_channels_of(versions[position]):
                joined.setdefault(channel, []).append(position)
        for channel, members in previous._members.items():
            if now_members := moved.apply(members, joined.pop(channel, [])):
                self._members[channel] = now_members
        self._members.update(joined)
        # Day counts: untouched channels share the previous ones; touched ones are copied
        # and counted again for the changed articles alone.
        touched: set[Channel] = {Channel("main")}
        for version in old:
            touched.update(self._facet_channels_of(version))
        touched.update(joined.keys())
        for version in fresh:
            touched.update(self._facet_channels_of(version))
        for channel, days in previous._days.items():
            if channel not in touched:
                self._days[channel] = days
                if channel in previous._plans:
                    self._plans[channel] = previous._plans[channel]
                continue
            days = days.copy()
            for version in old:
                if channel.kind == "main" or channel in self._facet_channels_of(version):
                    days[_day(version)] -= 1
            for version in fresh:
                if channel.kind == "main" or channel in self._facet_channels_of(version):
                    days[_day(version)] += 1
            self._days[channel] = +days  # days left with no article drop out

    @staticmethod
    def _facet_channels_of(version: Version) -> list[Channel]:
        return [
            Channel(kind, slug)
            for kind, facet in FACETS.items()
            if (slug := getattr(version, f"{facet.field}_slug"))
        ]

    def within(self, scope: Scope) -> Snapshot:
        """A view of this snapshot whose enumerators list only ``scope``'s part of the site
        (it shares the versions, plans and expiries; it has its own listings)."""
        view = copy.copy(self)
        view.scope = scope
        view._listed = {}
        return view

    def in_scope(self, channel: Channel) -> bool:
        return self.scope is None or channel in self.scope.channels

    def position(self, article_id: str) -> int | None:
        """Where the article stands in ``versions`` (None: not shown)."""
        if not self._where and self.versions:
            self._where.update(zip(map(operator.itemgetter(0), self.versions), itertools.count()))
        return self._where.get(article_id)

    def facet_channels(self, position: int) -> list[Channel]:
        """The facet channels that list the article at ``position``, in ``channels()`` order."""
        version = self.versions[position]
        found = []
        for kind, facet in FACETS.items():
            slug = version[Version._fields.index(f"{facet.field}_slug")]
            if slug and any(value.slug == slug for value in self.facets[facet.field]):
                found.append(Channel(kind, str(slug)))
        return found

    def listed(self, enumerate_rule: Callable[[Snapshot], Iterable[Target]]) -> list[Target]:
        """What ``enumerate_rule`` lists, worked out once per snapshot: previews list their
        feeds' URLs and inputs again (at 100,000 documents, a third of the inventory's time)."""
        found = self._listed.get(enumerate_rule)
        if found is None:
            found = self._listed[enumerate_rule] = list(enumerate_rule(self))
        return found

    def channels(self) -> list[Channel]:
        """The main channel and every facet channel that has articles."""
        facet_channels = [
            Channel(kind, value.slug)
            for kind, facet in FACETS.items()
            for value in self.facets[facet.field]
        ]
        return [Channel("main"), *facet_channels]

    def positions(self, channel: Channel) -> Sequence[int]:
        """Indexes into ``versions`` of the channel's articles, newest first."""
        if channel.kind == "main":
            return range(len(self.versions))
        return self._members.get(channel, [])

    def plan(self, channel: Channel) -> ArchivePlan:
        """The channel's archive pages, by the service's own rule (ArchivePlan.from_days)."""
        plan = self._plans.get(channel)
        if plan is None:
            days = self._days.get(channel)
            if days is None:
                versions = self.versions
                days = self._days[channel] = Counter(
                    _day(versions[p]) for p in self.positions(channel)
                )
            plan = ArchivePlan.from_days(sorted(days.items()), self.config.feed_size)
            self._plans[channel] = plan
        return plan

    def facet_name(self, channel: Channel) -> str:
        assert channel.facet is not None
        return next(f.name for f in self.facets[channel.facet.field] if f.slug == channel.key)

    def digest(self, positions: Iterable[int], *extra: object) -> str:
        """The inputs of a response showing these articles, plus ``extra`` values."""
        keys = self.keys
        text = "".join([keys[p] for p in positions]) + repr(extra)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _key(version: Version) -> str:
    return f"{version.id}{version.content_hash}{version.updated_ts!r}"


def _day(version: Version) -> int:
    return int(version.published_ts // SECONDS_PER_DAY)


class _Moves:
    """Where the positions of the articles that stay go when the articles at ``removed`` (old
    positions) are taken out and others put in at ``added`` (new positions), both sorted."""

    def __init__(self, removed: list[int], added: list[int]):
        self.removed = removed
        # The k-th article put in lands after the articles that stay up to this many.
        self.stays_before = [position - rank for rank, position in enumerate(added)]
        self.shift = len(added) - len(removed)  # past every change
        marks = [*removed, *(self._old(s) for s in self.stays_before)]
        self.first, self.last = (min(marks), max(marks)) if marks else (0, -1)

    def _old(self, stays: int) -> int:
        """The old position of the article that stays that has ``stays`` staying before it."""
        position = stays
        while position - bisect_right(self.removed, position) < stays:
            position += 1
        while position in self.removed:
            position += 1
        return position

    def new(self, old: int) -> int:
        stays = old - bisect_left(self.removed, old)
        return stays + bisect_right(self.stays_before, stays)

    def apply(self, members: list[int], joined: list[int]) -> list[int]:
        """A channel's sorted old member positions as new ones, less the removed, with the
        ``joined`` new positions (sorted) of the articles put in that belong to it."""
        low, high = bisect_left(members, self.first), bisect_right(members, self.last)
        removed = set(self.removed)
        middle = [self.new(p) for p in members[low:high] if p not in removed]
        tail = members[high:]
        if self.shift:
            tail = [p + self.shift for p in tail]
        found = members[:low] + middle + tail
        for position in joined:
            insort(found, position)
        return found


def _place(versions: Sequence[Version], order: tuple[float, float, str]) -> int:
    """Where a version with this ``Version.order()`` goes in ``versions`` (newest first)."""
    low, high = 0, len(versions)
    while low < high:
        middle = (low + high) // 2
        if versions[middle].order() > order:
            low = middle + 1
        else:
            high = middle
    return low


# -- enumerators, one per rule -----------------------------------------------------------------


def _subscription(snap: Snapshot, channel: Channel) -> str:
    """The inputs of a channel's subscription feed (channels.Channels.feed): its newest
    ``feed_size`` articles, older ones changed since the least recently changed of those (RFC
    5005 4.1; all of them here, where the service shows at most ``feed_size``: a superset), and
    the archive page it links (ArchivePlan.newest_archived: the newest, or the one before)."""
    found = snap._inputs.get(("subscription", channel))
    if found is not None:  # a rebuild lists the snapshot before the change again
        return found
    versions, size = snap.versions, snap.config.feed_size
    positions = snap.positions(channel)
    head = positions[:size]
    again: list[int] = []
    if len(head) == size:
        since = min(versions[p].updated_ts for p in head)
        again = [p for p in positions[size:] if versions[p].updated_ts > since]
    pages = snap.plan(channel).pages
    name = snap.facet_name(channel) if channel.facet else None
    # An empty feed is dated by the site's content time.
    updated = None if head else snap.content_time
    older = snap.plan(channel).newest_archived(size).key if pages else None
    found = snap.digest([*head, *again], older, name, updated)
    snap._inputs["subscription", channel] = found
    return found


@functools.cache  # one enumerator per kind, which its previews share (Snapshot.listed)
def subscription_feeds(kind: str) -> Callable[[Snapshot], Iterator[Target]]:
    def enumerate_feeds(snap: Snapshot) -> Iterator[Target]:
        for channel in snap.channels():
            if channel.kind == kind and snap.in_scope(channel):
                inputs = _subscription(snap, channel)
                for fmt in FORMATS:
                    yield Target(channel.feed_path(fmt), inputs)

    return enumerate_feeds


def archive_feeds(kind: str, parts: bool) -> Callable[[Snapshot], Iterator[Target]]:
    """The RFC 5005 archive pages of every channel of ``kind`` (channels.ArchivePlan): those of
    a whole month or day with the address of each month split into days (a redirect), or
    (``parts``) the second and later parts of a crowded day."""

    def enumerate_archives(snap: Snapshot) -> Iterator[Target]:
        for channel in snap.channels():
            if channel.kind != kind or not snap.in_scope(channel):
                continue
            for page, inputs in _archive_pages(snap, channel):
                if ("/" in page.key) == parts:
                    for fmt in FORMATS:
                        yield Target(channel.archive_path(page.key, fmt), inputs)
            if not parts:
                yield from _split_months(snap, channel)

    return enumerate_archives


def _split_months(snap: Snapshot, channel: Channel) -> Iterator[Target]:
    """The address of each month split into days: a 302 to the page holding its newest
    article (web._archive_moved), which is all it depends on. It changes only with the keys
    of the month's pages, each of which a followed change lists (_archive_pages_touched)."""
    wanted = snap.scope.archive_pages.get(channel, frozenset()) if snap.scope else None
    for month, page in snap.plan(channel).split_months().items():
        if wanted is not None and not any(key.startswith(month) for key in wanted):
            continue
        for fmt in FORMATS:
            yield Target(channel.archive_path(month, fmt), f"moved to {page.key}", status=302)


def _archive_pages(snap: Snapshot, channel: Channel) -> Iterator[tuple[ArchivePage, str]]:
    """Each archive page with its inputs: its articles (published in its period, oldest first,
    from its offset), its neighbours' keys (prev-archive, next-archive links) and whether its
    period is over (a longer max-age: that changes with the clock)."""
    versions, now = snap.versions, snap.now.timestamp()
    positions = snap.positions(channel)  # newest first

    def back(position: int) -> float:  # ascending along ``positions``
        return -versions[position].published_ts

    pages = snap.plan(channel).pages
    name = snap.facet_name(channel) if channel.facet else None
    wanted = snap.scope.archive_pages.get(channel, frozenset()) if snap.scope else None
    for number, page in enumerate(pages):
        if wanted is not None and page.key not in wanted:
            continue
        inputs = snap._inputs.get(("archive", channel, page.key))
        if inputs is None:
            # The channel's articles published in [start, end), oldest first.
            newest = bisect_right(positions, -page.end, key=back)
            oldest = bisect_right(positions, -page.start, key=back)
            period = positions[newest:oldest][::-1]
            shown = period[page.offset : page.offset + page.count]
            older = pages[number - 1].key if number else None
            newer = pages[number + 1].key if number + 1 < len(pages) else None
            closed = page.is_closed(now)
            if not closed:
                snap.expiries.append(datetime.fromtimestamp(page.end, UTC))
            inputs = snap.digest(shown, page.key, older, newer, closed, name)
            snap._inputs["archive", channel, page.key] = inputs
        yield page, inputs


def _listing(snap: Snapshot, channel: Channel, heading: object) -> Iterator[Target]:
    """Every page of a channel's HTML listing: the plain URL and ``?page=N`` for each page."""
    size = snap.config.feed_size
    positions = snap.positions(channel)
    pages = max(1, math.ceil(len(positions) / size))
    wanted = snap.scope.listing_pages.get(channel) if snap.scope else None
    for page in range(1, pages + 1) if wanted is None else wanted:
        if page > pages:
            break
        shown = positions[(page - 1) * size : page * size]
        inputs = snap.digest(shown, page, pages, len(positions), heading)
        if page == 1:
            yield Target(channel.html_path, inputs)
        separator = "&" if "?" in channel.html_path else "?"
        url = f"{channel.html_path}{separator}page={page}"
        yield Target(url, inputs, deferrable=1 < page < pages)


def front_pages(snap: Snapshot) -> Iterator[Target]:
    if snap.in_scope(Channel("main")):
        yield from _listing(snap, Channel("main"), None)


def facet_pages(kind: str) -> Callable[[Snapshot], Iterator[Target]]:
    def enumerate_pages(snap: Snapshot) -> Iterator[Target]:
        for channel in snap.channels():
            if channel.kind == kind and snap.in_scope(channel):
                yield from _listing(snap, channel, snap.facet_name(channel))

    return enumerate_pages


def permalink_key(inputs: str) -> str:
    """The article key at the head of an article page's inputs: what its permalink follows from
    (see Snapshot.permalinks)."""
    return inputs.partition("|")[0]


def article_pages(snap: Snapshot) -> Iterator[Target]:
    """An article page shows the article, the next newer and older stories, and for its agency
    and its city the RELATED_SHOWN stories just before it there (pages.article_page)."""
    from .pages import RELATED_SHOWN

    if snap.scope is not None:
        found = (snap.position(article_id) for article_id in snap.scope.articles)
        for position in sorted(p for p in found if p is not None):
            groups = []
            for channel in snap.facet_channels(position):
                members = snap.positions(channel)
                index = bisect_left(members, position)  # members are in ascending positions
                groups.append(members[index + 1 : index + 1 + RELATED_SHOWN])
            yield _article_page(snap, position, groups)
        return
    # Where each article stands in each of its facet channels, newest first.
    standing: dict[int, list[Sequence[int]]] = {}
    for channel in snap.channels()[1:]:
        members = snap.positions(channel)
        for index, position in enumerate(members):
            standing.setdefault(position, []).append(members[index + 1 : index + 1 + RELATED_SHOWN])
    for position in range(len(snap.versions)):
        yield _article_page(snap, position, standing.get(position, []))


def _article_page(snap: Snapshot, position: int, groups: list[Sequence[int]]) -> Target:
    """One article page: its key, its neighbours' keys and each related group's digest."""
    keys, version = snap.keys, snap.versions[position]
    key = keys[position]
    # The key holds the content hash, which covers the headline and so the slug.
    url = snap.permalinks.get(key) or permalink_path(version.id, version.headline)
    newer = keys[position - 1] if position else ""
    older = keys[position + 1] if position + 1 < len(keys) else ""
    digests = [snap.digest(group) for group in groups]
    return Target(url, "|".join((key, newer, older, *digests)))


def opml(snap: Snapshot) -> Iterator[Target]:
    # The list's dateModified is the store's last change.
    yield Target("/feeds.opml", repr((snap.facets, snap.content_time)))


def facet_index(kind: str) -> Callable[[Snapshot], Iterator[Target]]:
    """/sources or /places: every agency or city with its count."""

    def enumerate_index(snap: Snapshot) -> Iterator[Target]:
        facet = FACETS[kind]
        yield Target(f"/{facet.folder}", repr(snap.facets[facet.field]))

    return enumerate_index


def previews(
    enumerate_feeds: Callable[[Snapshot], Iterable[Target]],
) -> Callable[[Snapshot], Iterator[Target]]:
    """The preview page of each feed (channels.preview_path): it shows what the feed holds."""

    def enumerate_previews(snap: Snapshot) -> Iterator[Target]:
        for target in snap.listed(enumerate_feeds):
            # A feed's redirect has the preview's redirect (web._archive_moved).
            yield target._replace(url=preview_path(target.url))

    return enumerate_previews


def redirects(*urls: str) -> Callable[[Snapshot], Iterator[Target]]:
    """URLs the app answers with a redirect that depends on nothing but the settings."""

    def enumerate_redirects(snap: Snapshot) -> Iterator[Target]:
        for url in urls:
            yield Target(url, "", status=301)

    return enumerate_redirects


def front_pages_and_feed_queries(snap: Snapshot) -> Iterator[Target]:
    from .web import WORDPRESS_FEED_QUERY

    yield from front_pages(snap)
    # WordPress's plain permalinks name the feed in a query: /?feed=rss2 moves to the feed.
    yield from redirects(*(f"/?feed={name}" for name in WORDPRESS_FEED_QUERY))(snap)


def legacy_feeds() -> dict[str, Callable[[Snapshot], Iterator[Target]]]:
    """The common feed addresses of other publishing tools (web.LEGACY_FEEDS), each a 301 to a
    feed; Blogger's asks for RSS with ?alt=rss."""
    from .web import LEGACY_FEEDS

    return {
        path: redirects(path, *([f"{path}?alt=rss"] if fmt != "rss" else []))
        for path, fmt in LEGACY_FEEDS.items()
    }


def static_files(snap: Snapshot) -> Iterator[Target]:
    """Each static file at its versioned URL, the one pages link (assets.Assets.path)."""
    assets = snap.svc.assets
    for name in assets.names():
        yield Target(assets.path(name), "")


def _sitemap_parts(snap: Snapshot) -> int:
    return math.ceil(len(snap.versions) / web.SITEMAP_LIMIT)


def sitemap(snap: Snapshot) -> Iterator[Target]:
    parts = _sitemap_parts(snap)
    if parts > 1:
        yield Target("/sitemap.xml", repr(("index", parts)))
    else:
        yield Target("/sitemap.xml", snap.digest(range(len(snap.versions))))


def sitemap_parts(snap: Snapshot) -> Iterator[Target]:
    size, total = web.SITEMAP_LIMIT, len(snap.versions)  # newest first; parts from the oldest
    for part in range(1, _sitemap_parts(snap) + 1):
        shown = range(max(total - part * size, 0), total - (part - 1) * size)
        yield Target(f"/sitemaps/{part}.xml", snap.digest(shown))


def news_sitemap(snap: Snapshot) -> Iterator[Target]:
    since = (snap.now - NEWS_WINDOW).timestamp()
    versions = snap.versions  # newest first: those in the window are the first ones
    within = bisect_right(versions, -since, key=lambda v: -v.published_ts)
    shown = list(range(min(within, NEWS_MAX_ARTICLES)))
    if shown:
        # The oldest article leaves the window then, and the sitemap changes with the clock.
        oldest = snap.versions[shown[-1]].published_ts
        snap.expiries.append(datetime.fromtimestamp(oldest, snap.now.tzinfo) + NEWS_WINDOW)
    yield Target("/news-sitemap.xml", snap.digest(shown))


def constant(url: str) -> Callable[[Snapshot], Iterator[Target]]:
    """A URL whose bytes depend only on the code and the settings."""

    def enumerate_one(snap: Snapshot) -> Iterator[Target]:
        yield Target(url, "")

    return enumerate_one


def _fmt_rule(prefix: str) -> str:
    return prefix + "feed.<any(" + ", ".join(FORMATS) + "):fmt>"


def _archive_rules(folder: str) -> dict[str, Callable[[Snapshot], Iterable[Target]]]:
    kind = next((k for k, f in FACETS.items() if f"/{f.folder}/<slug>" == folder), "main")
    period, part = f"{folder}/archives/<period>/", f"{folder}/archives/<period>/<int:part>/"
    rules = {
        _fmt_rule(period): archive_feeds(kind, False),
        _fmt_rule(part): archive_feeds(kind, True),
    }
    return {**rules, **{preview_path(rule): previews(each) for rule, each in rules.items()}}


ENUMERATORS: dict[str, Callable[[Snapshot], Iterable[Target]]] = {
    _fmt_rule("/"): subscription_feeds("main"),
    _fmt_rule("/sources/<slug>/"): subscription_feeds("source"),
    _fmt_rule("/places/<slug>/"): subscription_feeds("place"),
    preview_path(_fmt_rule("/")): previews(subscription_feeds("main")),
    preview_path(_fmt_rule("/sources/<slug>/")): previews(subscription_feeds("source")),
    preview_path(_fmt_rule("/places/<slug>/")): previews(subscription_feeds("place")),
    **_archive_rules(""),
    **_archive_rules("/sources/<slug>"),
    **_archive_rules("/places/<slug>"),
    "/": front_pages_and_feed_queries,
    "/sources": facet_index("source"),
    "/places": facet_index("place"),
    "/sources/<slug>": facet_pages("source"),
    "/places/<slug>": facet_pages("place"),
    "/articles/<article_id>/<path:slug>": article_pages,
    "/feeds.opml": opml,
    preview_path("/feeds.opml"): previews(opml),
    "/sitemap.xml": sitemap,
    "/sitemaps/<int:part>.xml": sitemap_parts,
    "/news-sitemap.xml": news_sitemap,
    "/robots.txt": constant("/robots.txt"),
    "/favicon.ico": constant("/favicon.ico"),
    "/static/<name>": static_files,
    **legacy_feeds(),
}

# Rules answered by a redirect for URLs nobody can list; staticconf.py writes the equivalent.
PATTERN_REDIRECTS = {
    "/articles/<article_id>": "an article's id without its slug: 301 to the permalink",
}
# The same redirect answers any slug but the current one under /articles/<id>/ (old slugs).

EXCLUDED = {
    _fmt_rule("/search/"): "search results are computed per query by the service",
    preview_path(_fmt_rule("/search/")): "search results are computed per query by the service",
    "/search": "search results are computed per query by the service",
}


def undeclared_rules(app: Flask) -> list[str]:
    """GET rules of the app that this module does not account for."""
    declared = set(ENUMERATORS) | set(PATTERN_REDIRECTS) | set(EXCLUDED)
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and rule.rule not in declared
    )


class UndeclaredRoute(RuntimeError):
    """A route of the app that static builds do not know how to list (see module docstring)."""


def check_routes(app: Flask) -> None:
    missing = undeclared_rules(app)
    if missing:
        raise UndeclaredRoute(
            "routes with no URL enumeration for static builds: "
            + ", ".join(missing)
            + " (declare each in feedsvc/inventory.py: ENUMERATORS, PATTERN_REDIRECTS or EXCLUDED)"
        )


def targets(app: Flask, snap: Snapshot) -> list[Target]:
    """Every URL a static build writes, the 404 page included; fails on undeclared routes."""
    check_routes(app)
    found = [target for each in ENUMERATORS.values() for target in snap.listed(each)]
    # Reused within one listing only: a builder keeps its last snapshot to follow the next
    # change from, and need not keep 200,000 targets with it.
    snap._listed.clear()
    found.append(Target(NOT_FOUND_URL, "", status=404))
    return found


# -- following a change --------------------------------------------------------------------------

# Past this many changed articles a followed rebuild lists nearly as much as the whole inventory
# (each one brings its channels and neighbours), twice (before and after): list everything.
FOLLOW_MAX_ARTICLES = 100


def follow(before: Snapshot, after: Snapshot) -> Scope | None:
    """The part of the site whose URLs or inputs may differ from ``before`` to ``after`` (two
    snapshots of one index with the same settings), or None when more than FOLLOW_MAX_ARTICLES
    articles changed. An article changed when its key (id, content hash, update time) is in one
    snapshot and not the other: added, edited, deleted, released from embargo.

    Why the scope holds every URL that can differ, rule by rule (the enumerators above):

    - an article page's inputs are its key, its neighbours' keys, and the keys of the
      RELATED_SHOWN articles after it in each of its facet channels: a changed article touches its
      own page, its neighbours' and the RELATED_SHOWN pages before it in each facet channel, in
      ``before`` (where it was) and in ``after`` (where it is);
    - a channel's feeds, previews, archive pages and listing pages read only its members' keys and
      publication days (the key's content hash covers the date) and its facet name, the most
      common spelling among its members (store.facets): the channels a changed article was or is
      in, and the main channel;
    - sitemaps, the news sitemap, OPML and facet indexes read every article: always listed;
      static files, redirects and constants read none: always listed (their inputs are equal).

    What changes with the clock alone (an archive period ending, the news window moving, the
    store's next event) is not followed: the builder lists everything once the earliest expiry
    has passed (build.Builder)."""
    gone = set(before.keys).difference(after.keys)
    came = set(after.keys).difference(before.keys)
    if len(gone) + len(came) > 2 * FOLLOW_MAX_ARTICLES:  # an edit is one key gone, one come
        return None
    # The rules above read the articles in the index's order: the articles that stay must keep
    # theirs (a document renamed to another sequence number moves without a new key).
    if [k for k in before.keys if k not in gone] != [k for k in after.keys if k not in came]:
        return None
    from .pages import RELATED_SHOWN

    moved = [
        (snap, [p for p, key in enumerate(snap.keys) if key in changed])
        for snap, changed in ((before, gone), (after, came))
        if changed
    ]
    if len({snap.versions[p].id for snap, found in moved for p in found}) > FOLLOW_MAX_ARTICLES:
        return None
    # Each channel touched, with the publication times of its changed articles and where they
    # stand among its members (newest first).
    channels: dict[Channel, list[float]] = {Channel("main"): []}
    places: dict[Channel, list[int]] = {Channel("main"): []}
    articles: set[str] = set()
    for snap, found in moved:
        for position in found:
            published = snap.versions[position].published_ts
            around = range(max(0, position - 1), min(len(snap.keys), position + 2))
            touched = list(around)
            channels[Channel("main")].append(published)
            places[Channel("main")].append(position)
            for channel in snap.facet_channels(position):
                channels.setdefault(channel, []).append(published)
                members = snap.positions(channel)
                index = bisect_left(members, position)
                places.setdefault(channel, []).append(index)
                touched += members[max(0, index - RELATED_SHOWN) : index]
            articles.update(snap.versions[p].id for p in touched)
    archive_pages = {
        channel: _archive_pages_touched(before, after, channel, times)
        for channel, times in channels.items()
    }
    listing_pages = {
        channel: _listing_pages_touched(before, after, channel, found)
        for channel, found in places.items()
    }
    return Scope(frozenset(channels), frozenset(articles), archive_pages, listing_pages)


def _listing_pages_touched(
    before: Snapshot, after: Snapshot, channel: Channel, places: list[int]
) -> range | None:
    """The numbers of the channel's listing pages whose inputs may differ (_listing), or None for
    all: a page shows its members' keys from its offset, the number of pages and of members, and
    the channel's name. With as many members and the same name, the articles that stay keep
    their order (``follow``), so only the pages from the first place a changed article left or
    took to the last one differ (an edit: its own page; a new date: the pages it crossed)."""
    count = len(before.positions(channel))
    if count != len(after.positions(channel)) or (
        channel.facet is not None and _name(before, channel) != _name(after, channel)
    ):
        return None
    if not places:  # nothing changed
        return range(0)
    size = before.config.feed_size
    return range(min(places) // size + 1, max(places) // size + 2)


def _archive_pages_touched(
    before: Snapshot, after: Snapshot, channel: Channel, times: list[float]
) -> frozenset[str]:
    """The keys of the channel's archive pages whose inputs may differ (_archive_pages): a page
    shows the channel's articles of its period from its offset, its neighbours' keys, whether
    its period is over (the clock: not followed) and the channel's name. So a page whose period
    holds a changed article, or whose place in the plan moved, and every page when the name
    changed (the articles that stay keep their keys and order: ``follow``)."""

    def shapes(snap: Snapshot) -> dict[str, tuple]:
        pages = snap.plan(channel).pages
        keys = [None, *(page.key for page in pages), None]
        return {
            page.key: (page.start, page.end, page.offset, page.count, keys[n], keys[n + 2])
            for n, page in enumerate(pages)
        }

    old, new = shapes(before), shapes(after)
    if channel.facet is not None and _name(before, channel) != _name(after, channel):
        return frozenset(old.keys() | new.keys())
    return frozenset(
        key
        for key in old.keys() | new.keys()
        if old.get(key) != new.get(key)
        or any(shape[0] <= t < shape[1] for shape in (old.get(key) or new[key],) for t in times)
    )


def _name(snap: Snapshot, channel: Channel) -> str | None:
    assert channel.facet is not None
    found = (f.name for f in snap.facets[channel.facet.field] if f.slug == channel.key)
    return next(found, None)


def followed(
    app: Flask, before: Snapshot, after: Snapshot, scope: Scope
) -> tuple[list[Target], list[str]]:
    """``scope``'s targets in ``after``, and the URLs it held in ``before`` that ``after`` no
    longer lists. With ``scope = follow(before, after)``, the whole inventory of ``before`` with
    these applied (gone URLs removed, targets set) is exactly ``targets(app, after)``:
    tests/test_follow.py checks it over random changes."""
    listed = targets(app, after.within(scope))
    wanted = {target.url for target in listed}
    gone = [t.url for t in targets(app, before.within(scope)) if t.url not in wanted]
    return listed, gone
