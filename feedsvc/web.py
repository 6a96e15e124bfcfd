"""The blueprint for what programs fetch: feeds and their previews, the OPML list, sitemaps,
robots.txt, static files, and the feed addresses other publishing tools use. Also the helpers
every view shares: the services, the response cache decorator and query-parameter bounds.

Views that serve a representation of the store return a ``Prepared`` response made by
``prepared``, which dates every one of them (lastmod.py); the ``cached`` decorator renders it from
one consistent view of the store and keeps it until the store changes, and the FastPath
middleware replays it. Everything that is not a successful representation (redirects, 4xx) is an
ordinary Flask response.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response

from . import admission, feeds, preview
from .channels import FORMATS, OPML_PATH, Channel, FeedDocument, period_days, preview_path
from .httpcache import Prepared, cache_control
from .indexfile import IndexUnavailable
from .params import MAX_PAGE, MAX_SEARCH_CHARS, PARAMETERS
from .params import whole_number as parse_whole_number
from .services import Services
from .templating import FEED_NOUNS, FORMAT_NAMES
from .urls import permalink_path

bp = Blueprint("web", __name__)

FMT = "<any(" + ", ".join(FORMATS) + "):fmt>"
HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"
OPML = "text/x-opml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
# URLs per sitemap file, oldest first. The sitemaps.org protocol allows 50,000; WordPress's own
# sitemaps list 2,000. Parts that small, counted from the oldest article, keep their bytes as
# articles are added: an edit renders one part of 2,000 rows again and a new article only the
# last part, where one part of 50,000 newest-first rows took 1.2 s to render at 100,000 articles
# and every part changed with each new one (a static rebuild writes them all, a crawler
# fetches them all again).
SITEMAP_LIMIT = 2_000
NEWS_SITEMAP_WINDOW = timedelta(days=2)  # Google News: articles of the last two days
# A file whose URL carries its content hash never changes under that URL.
IMMUTABLE_MAX_AGE_SECONDS = 365 * 24 * 3600
ICON_MAX_AGE_SECONDS = 24 * 3600
REDIRECT_MAX_AGE_SECONDS = 24 * 3600
# Where WordPress, Ghost, Hugo, Jekyll and Blogger publish a site's feeds, and the format each
# one is: subscribers who bring one of these addresses along are sent to ours, permanently.
LEGACY_FEEDS = {
    **{path: "rss" for path in ("/feed", "/feed/rss", "/feed/rss2", "/feed/rdf", "/rss")},
    **{path + "/": "rss" for path in ("/feed", "/feed/rss", "/feed/rss2", "/feed/rdf", "/rss")},
    "/feed/atom": "atom",
    "/feed/atom/": "atom",
    "/feed/json": "json",  # the JSON Feed plugin for WordPress
    "/feed/json/": "json",
    "/rss.xml": "rss",
    "/rss2.xml": "rss",
    "/index.xml": "rss",  # Hugo
    "/index.rss": "rss",
    "/atom.xml": "atom",  # Jekyll (older sites), Hexo, Octopress
    "/feed.xml": "atom",  # Jekyll's jekyll-feed
    "/atom": "atom",
    "/feeds/posts/default": "atom",  # Blogger
}
# WordPress's plain permalinks put the feed in a query: /?feed=rss2.
WORDPRESS_FEED_QUERY = {"rss": "rss", "rss2": "rss", "rdf": "rss", "atom": "atom", "json": "json"}
# Parameters that mean something only with one of these values (see params.CacheKeys).
QUERY_CHOICES = {"feed": tuple(WORDPRESS_FEED_QUERY), "alt": ("rss",)}
SERVER_METHODS = ("GET", "HEAD", "OPTIONS")  # what every route allows


def services() -> Services:
    return current_app.extensions["feedsvc"]


def cached(*params: Any) -> Any:
    """Keep the view's ``Prepared`` response until the store changes, keyed by the path and the
    query ``params`` the view reads (params.py): ``@cached("q", "limit")``. The view sees no
    other parameter. Bare ``@cached`` is ``@cached()``: no parameters."""
    if len(params) == 1 and callable(params[0]):
        return cached()(params[0])
    if unknown := set(params) - PARAMETERS:
        raise ValueError(f"{sorted(unknown)} are not in params.PARAMETERS: add them there")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            svc = services()
            known = [(name, value) for name, value in request.args.items() if name in params]
            request.args = ImmutableMultiDict(known)  # type: ignore[misc]
            key = svc.cache_keys.for_route(request.environ.get("PATH_INFO", ""), known)
            prepared = svc.cache.get(key)
            if prepared is None:
                version = svc.cache.current_version()
                with svc.store.reading() as snapshot:
                    result = view(svc, **kwargs)
                if not isinstance(result, Prepared):
                    return result
                # Kept only if nothing changed while it was made: it shows that version. One
                # made without reading the store (a static file) outlives every change.
                if svc.store.version() == version:
                    svc.cache.put(key, result, version, lasting=not snapshot.used)
                prepared = result
            return prepared

        return wrapper

    return decorate


def prepared(
    svc: Services,
    body: bytes,
    content_type: str,
    *,
    max_age_seconds: int | None = None,
    not_before: datetime | None = None,
    expires_at: float | None = None,
    **options: Any,
) -> Prepared:
    """A representation of the store, dated by the site's content time (lastmod.py), or by
    ``not_before`` when that is later (a window that moved with the clock): the one place
    that says what time a response carries. ``expires_at`` is an epoch time at which it must
    be made again; ``options`` go to Prepared (links, vary). Undated (no Last-Modified) while
    a document is dated in the future (lastmod.py)."""
    last_modified: datetime | None = None
    if svc.store.content_time_determinable():
        last_modified = svc.store.content_time()
        if not_before is not None:
            last_modified = max(last_modified, min(not_before, svc.store.now()))
    deadline = None if expires_at is None else time.monotonic() + (expires_at - time.time())
    # When the store next changes by the clock alone (an embargo lifting), or this response
    # does (``expires_at``: a story leaving the news sitemap's two days): no cache may keep it
    # past that (RFC 9111 4.2.1: Expires, which Prepared sends then instead of a max-age that
    # would outlast it). Kept in the response cache until then at most (the store's version
    # moves at each release; ``deadline`` for the rest).
    change = min(svc.store.next_event(), math.inf if expires_at is None else expires_at)
    return Prepared(
        body,
        content_type,
        last_modified=last_modified,
        max_age_seconds=svc.config.cache_max_age if max_age_seconds is None else max_age_seconds,
        expires_at=deadline,
        fresh_until=change if math.isfinite(change) else None,
        **options,
    )


@bp.app_context_processor
def form_bounds() -> dict[str, Any]:
    return {"max_query_chars": MAX_SEARCH_CHARS, "formats": FORMAT_NAMES, "feed_nouns": FEED_NOUNS}


# -- query parameters ------------------------------------------------------------------------


def whole_number(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    number = parse_whole_number(raw)
    if number is None:
        abort(
            400,
            f"{name} must be a whole number from 1, in digits without a leading zero "
            f"(any above {maximum:,} is read as {maximum:,})",
        )
    return min(number, maximum)


def page_number() -> int:
    return whole_number("page", 1, MAX_PAGE)


def _limit(svc: Services) -> int:
    return whole_number("limit", svc.config.feed_size, svc.config.max_limit)


def search_query(*, required: bool) -> str:
    """The words of ?q=, cleaned of control characters and spaces collapsed (params.py); ""
    when none were given and none are ``required``. Every search asks this first: with
    FEEDSVC_SEARCH off there is none (404)."""
    if not services().config.search:
        abort(404)
    query = request.args.get("q", "")
    if not query and required:
        abort(400, "q is required: the words to search for")
    if len(query) > MAX_SEARCH_CHARS:
        abort(400, f"The search is longer than {MAX_SEARCH_CHARS} characters: use fewer words.")
    return query


def moved_to(url: str, max_age_seconds: int = REDIRECT_MAX_AGE_SECONDS) -> Response:
    """A 301 to ``url``, which callers build with ``Site`` from the configured site URL, never
    from the Host the request named (RFC 9110 15.4.2: permanent, cacheable by default), kept
    by caches for ``max_age_seconds``: a day for an address that always leads to the same one
    (a feed alias), the ordinary max-age for one that follows a document (an article's old
    slug: its headline can change back, and a day-old 301 would then lead to a page that
    301s to it)."""
    response = redirect(url, 301)
    response.headers["Cache-Control"] = cache_control(max_age_seconds)
    return response


def moved_for_now(url: str, max_age_seconds: int, vary: tuple[str, ...] = ()) -> Response:
    """A 302 to ``url`` (built with ``Site``, as for ``moved_to``), for an address whose
    resource may come back to it (RFC 9110 15.4.3: "resides temporarily under a different
    URI"; the client keeps using the address it asked for). Not a 301, which caches keep
    without being told (RFC 9111 4.2.2) and readers take for a new address to store (15.4.2).
    Not a 307, which differs only in keeping a method other than GET or HEAD, and the site
    answers no other (SERVER_METHODS): 302 is the one every feed reader has followed since
    HTTP/1.0. Kept by caches for ``max_age_seconds`` only; ``vary`` names the request
    headers that chose the Location (RFC 9110 12.5.5)."""
    response = redirect(url, 302)
    response.headers["Cache-Control"] = cache_control(max_age_seconds)
    if vary:
        response.headers["Vary"] = ", ".join(vary)
    return response


# -- feeds and their previews ----------------------------------------------------------------


def feed_route(
    *rules: str, params: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a cached view at each of ``rules`` (show_preview=False) and at their previews'
    paths (show_preview=True), so that a feed and its preview always share their URL rule. The
    view reads the query ``params`` (see ``cached``)."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = cached(*params)(view)
        for number, rule in enumerate(rules):
            name = view.__name__ + (f"_{number}" if number else "")
            bp.add_url_rule(rule, name, wrapped, defaults={"show_preview": False})
            bp.add_url_rule(
                preview_path(rule), f"{name}_preview", wrapped, defaults={"show_preview": True}
            )
        return wrapped

    return register


def _feed(svc: Services, channel: Channel, fmt: str, limit: int, show_preview: bool) -> Prepared:
    explicit_limit = "limit" in request.args
    doc = svc.channels.feed(channel, fmt, limit, explicit_limit=explicit_limit)
    if doc is None:
        abort(404)
    return _feed_response(svc, doc, fmt, svc.config.cache_max_age, show_preview)


def _feed_response(
    svc: Services, doc: FeedDocument, fmt: str, max_age: int, show_preview: bool
) -> Prepared:
    links: list[str] = []
    if show_preview:
        body, content_type = preview.render_feed_preview(svc, doc, fmt), HTML
    else:
        body, content_type = feeds.render(doc, fmt, svc.publication), feeds.MEDIA_TYPES[fmt]
        # WebSub 4: discovery by Link header, as in the document itself (feeds.py), and on
        # the same feeds only (Channel.websub_topics); rel=self names the topic on every feed.
        if svc.config.websub_hub:
            hub = [f'<{doc.links["hub"]}>; rel="hub"'] if "hub" in doc.links else []
            links = [*hub, f'<{doc.self_url}>; rel="self"']
    return prepared(
        svc, body, content_type, max_age_seconds=max_age, links=links, vary=preview.VARY
    )


def _archive(
    svc: Services, channel: Channel, period: str, part: int | None, fmt: str, show_preview: bool
) -> Prepared | Response:
    key = period if part is None else f"{period}/{part}"
    if period_days(key) is None:  # no page of any plan: not a date, a part 1, a month's part
        abort(404)
    doc = svc.channels.archive(channel, key, fmt)
    if doc is None:
        return _archive_moved(svc, channel, key, fmt, show_preview)
    assert doc.archive is not None
    # RFC 5005 4: an archive document SHOULD NOT change. Once its period is over only a
    # backfill, an edit or a removal can change it, so caches may keep it longer (RFC 9111
    # 5.2.2.1); never "immutable", since those do happen. The current period is still filling.
    closed = doc.archive.is_closed(svc.store.now().timestamp())
    max_age = svc.config.archive_max_age if closed else svc.config.cache_max_age
    return _feed_response(svc, doc, fmt, max_age, show_preview)


def _archive_moved(
    svc: Services, channel: Channel, key: str, fmt: str, show_preview: bool
) -> Response:
    """The address of a period the plan does not have as a page (any more: a backfill split
    its month into days, a removal made its month one page again), when the channel has
    articles in it: to the page now holding the newest of them (ArchivePlan.newest_page), so
    that cached pages linking here lead on, and a walk down prev-archive goes through the
    whole period. For a while only (moved_for_now): the next backfill or removal can move the
    page back here, so caches keep it as long as a feed, no longer. A preview's address leads
    to the page's preview; a browser's navigation to the feed's address is answered as the
    preview's (preview.NavigationPreviews), so the Location varies with those headers."""
    page = svc.channels.archive_moved(channel, key)
    if page is None:
        abort(404)
    path = channel.archive_path(page.key, fmt)
    url = svc.site.url(preview_path(path) if show_preview else path)
    return moved_for_now(url, svc.config.cache_max_age, preview.VARY)


def _archive_rules(folder: str) -> tuple[str, str]:
    return (
        f"{folder}/archives/<period>/feed.{FMT}",
        f"{folder}/archives/<period>/<int:part>/feed.{FMT}",
    )


@feed_route(f"/feed.{FMT}", params=("limit",))
def main_feed(svc: Services, fmt: str, show_preview: bool) -> Prepared:
    return _feed(svc, Channel("main"), fmt, _limit(svc), show_preview)


@feed_route(*_archive_rules(""))
def archive_feed(
    svc: Services, period: str, fmt: str, show_preview: bool, part: int | None = None
) -> Prepared | Response:
    return _archive(svc, Channel("main"), period, part, fmt, show_preview)


@feed_route(f"/sources/<slug>/feed.{FMT}", params=("limit",))
def source_feed(svc: Services, slug: str, fmt: str, show_preview: bool) -> Prepared:
    return _feed(svc, Channel("source", slug), fmt, _limit(svc), show_preview)


@feed_route(*_archive_rules("/sources/<slug>"))
def source_archive(
    svc: Services, slug: str, period: str, fmt: str, show_preview: bool, part: int | None = None
) -> Prepared | Response:
    return _archive(svc, Channel("source", slug), period, part, fmt, show_preview)


@feed_route(f"/places/<slug>/feed.{FMT}", params=("limit",))
def place_feed(svc: Services, slug: str, fmt: str, show_preview: bool) -> Prepared:
    return _feed(svc, Channel("place", slug), fmt, _limit(svc), show_preview)


@feed_route(*_archive_rules("/places/<slug>"))
def place_archive(
    svc: Services, slug: str, period: str, fmt: str, show_preview: bool, part: int | None = None
) -> Prepared | Response:
    return _archive(svc, Channel("place", slug), period, part, fmt, show_preview)


@feed_route(f"/search/feed.{FMT}", params=("q", "limit"))
def search_feed(svc: Services, fmt: str, show_preview: bool) -> Prepared:
    return _feed(
        svc, Channel("search", search_query(required=True)), fmt, _limit(svc), show_preview
    )


def _legacy_feed(fmt: str) -> Response:
    if request.args.get("alt") == "rss":  # Blogger's RSS: /feeds/posts/default?alt=rss
        fmt = "rss"
    return moved_to(services().site.url(Channel("main").feed_path(fmt)))


def _register_legacy_feeds() -> None:
    # Exact rules, trailing slash or not: Werkzeug's own slash redirect would take the Host.
    for number, (path, fmt) in enumerate(LEGACY_FEEDS.items()):
        bp.add_url_rule(path, f"legacy_feed_{number}", _legacy_feed, defaults={"fmt": fmt})


_register_legacy_feeds()


# -- site-wide documents ---------------------------------------------------------------------


def _xml(svc: Services, template: str, content_type: str = XML, *,
         not_before: datetime | None = None, expires_at: float | None = None,
         **context: Any) -> Prepared:  # fmt: skip
    body = render_template(template, svc=svc, **context).encode()
    return prepared(svc, body, content_type, not_before=not_before, expires_at=expires_at)


@feed_route(OPML_PATH)
def opml(svc: Services, show_preview: bool) -> Prepared:
    if show_preview:
        return prepared(svc, preview.render_opml_preview(svc), HTML, vary=preview.VARY)
    # One subscription per channel (its Atom feed), the site's first, then agencies and cities.
    channels = [Channel("main")]
    channels += [Channel.of_facet("agency", f.slug) for f in svc.store.agencies()]
    channels += [Channel.of_facet("city", f.slug) for f in svc.store.cities()]
    body = render_template(
        "opml.xml",
        svc=svc,
        channels=[(svc.channels.title(c), c) for c in channels],
        updated=svc.store.content_time(),
    ).encode()
    return prepared(svc, body, OPML, vary=preview.VARY)


@bp.get("/sitemap.xml")
@cached
def sitemap(svc: Services) -> Prepared:
    total = svc.store.count()
    if total > SITEMAP_LIMIT:
        parts = range(1, -(-total // SITEMAP_LIMIT) + 1)
        return _xml(svc, "sitemap-index.xml", parts=parts)
    return _sitemap_part(svc, 1)


@bp.get("/sitemaps/<int:part>.xml")
@cached
def sitemap_part(svc: Services, part: int) -> Prepared:
    if not 1 <= part <= -(-svc.store.count() // SITEMAP_LIMIT):
        abort(404)
    return _sitemap_part(svc, part)


def _sitemap_part(svc: Services, part: int) -> Prepared:
    rows = svc.store.link_rows(SITEMAP_LIMIT, (part - 1) * SITEMAP_LIMIT)
    urls = [(svc.site.url(permalink_path(*row[:2])), row[2]) for row in rows]
    return _xml(svc, "sitemap.xml", urls=urls)


@bp.get("/news-sitemap.xml")
@cached
def news_sitemap(svc: Services) -> Prepared:
    since = svc.store.now() - NEWS_SITEMAP_WINDOW
    articles = svc.store.published_since(since, limit=1000)
    # The window moves with the clock: it last changed when its last article left it, and
    # changes again when the next one does.
    last_out, next_out = svc.store.published_bounds(since)
    return _xml(
        svc,
        "news-sitemap.xml",
        not_before=None if last_out is None else last_out + NEWS_SITEMAP_WINDOW,
        expires_at=None if next_out is None else (next_out + NEWS_SITEMAP_WINDOW).timestamp(),
        articles=articles,
    )


@bp.get("/robots.txt")
@cached
def robots(svc: Services) -> Prepared:
    # Search result pages are endless variations of the listings; everything else is welcome.
    # Rules name paths from the host's root (RFC 9309 2.2.2): a site under /news says
    # /news/search, for the operator to merge into the host's own /robots.txt.
    search = urlsplit(svc.site.url("/search")).path
    lines = ["User-agent: *", f"Disallow: {search}", ""]
    lines += [f"Sitemap: {svc.site.url(path)}" for path in ("/sitemap.xml", "/news-sitemap.xml")]
    body = ("\n".join(lines) + "\n").encode()
    return prepared(svc, body, TEXT, max_age_seconds=ICON_MAX_AGE_SECONDS)


@bp.get("/static/<name>")
@cached("v")
def static_file(svc: Services, name: str) -> Prepared:
    asset = svc.assets.get(name)
    if asset is None:
        abort(404)
    current = request.args.get("v") == asset.version
    max_age = IMMUTABLE_MAX_AGE_SECONDS if current else svc.config.cache_max_age
    return Prepared(
        asset.body,
        asset.content_type,
        last_modified=asset.modified,
        max_age_seconds=max_age,
        immutable=current,
    )


@bp.get("/favicon.ico")
@cached
def favicon(svc: Services) -> Prepared:
    # Asked for by browsers at this fixed address, so not content-hashed: kept a day.
    asset = svc.assets.get("favicon.ico")
    assert asset is not None  # ships with the package
    return Prepared(
        asset.body,
        asset.content_type,
        last_modified=asset.modified,
        max_age_seconds=ICON_MAX_AGE_SECONDS,
    )


@bp.app_errorhandler(IndexUnavailable)
def index_unavailable(error: IndexUnavailable) -> Response:
    """The index cannot be read just now (being rebuilt after damage, a failing disk): what is
    cached is still served, the rest is told to come back (RFC 9110 15.6.4 503, 10.2.3
    Retry-After), and no cache keeps the refusal (RFC 9111 5.2.2.5 no-store). The reason is
    in the log, once (store.py), never in the response."""
    body = b"The site is being rebuilt. Try again in a second.\n"
    headers = {
        "Retry-After": str(admission.RETRY_AFTER_SECONDS),
        "Cache-Control": "no-store",
    }
    return Response(body, 503, headers, content_type=TEXT)


# -- what the router answers by itself -------------------------------------------------------


@bp.before_app_request
def redirect_from_the_site_url() -> Response | None:
    """Werkzeug's routing redirects (a rule's trailing slash; merged slashes, were they turned
    back on) build their Location from the request's scheme and Host header; answer them from
    the site URL instead, keeping the 308 (RFC 9110 15.4.9: the method is kept)."""
    routing = request.routing_exception
    if not isinstance(routing, RequestRedirect):
        return None
    target = urlsplit(routing.new_url)
    path = target.path + (f"?{target.query}" if target.query else "")
    return redirect(services().site.url(path), routing.code)


@bp.before_app_request
def leading_slashes_are_not_merged() -> None:
    """Werkzeug's router strips a path's leading slashes, so //feed.atom was the feed, where a
    doubled slash anywhere else is not found (merge_slashes is off), and each spelling was an
    entry of its own in the response cache (an HTTP audit): not found either."""
    if request.environ.get("PATH_INFO", "").startswith("//"):
        abort(404)


@bp.after_app_request
def methods_in_one_order(response: Response) -> Response:
    """Allow (a 405's, an OPTIONS answer's) lists the methods in one order, SERVER_METHODS's
    and then by name: Werkzeug lists a route's from a set, whose order changed from one start
    to the next, so two nodes (or one node after a restart) sent different bytes."""
    allow = response.headers.get("Allow")
    if allow:
        methods = {method.strip() for method in allow.split(",") if method.strip()}
        order = {method: n for n, method in enumerate(SERVER_METHODS)}
        ranked = sorted(methods, key=lambda method: (order.get(method, len(order)), method))
        response.headers["Allow"] = ", ".join(ranked)
    return response


@bp.before_app_request
def options_for_the_whole_server() -> Response | None:
    """``OPTIONS *`` asks what the server supports in general (RFC 9110 9.3.7): the methods
    every route allows."""
    if request.method != "OPTIONS" or request.environ.get("PATH_INFO") != "*":
        return None
    return Response(status=200, headers={"Allow": ", ".join(SERVER_METHODS)})
