"""The blueprint for what programs fetch: feeds and their previews, the OPML list, sitemaps,
robots.txt, static files, and the feed addresses other publishing tools use. Also the helpers
every view shares: the services, the response cache decorator and query-parameter bounds.

Views that serve a representation of the store return a ``Prepared`` response; the ``cached``
decorator keeps it until the store changes, and the FastPath middleware replays it. Everything
that is not a successful representation (redirects, 4xx) is an ordinary Flask response.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request
from werkzeug.wrappers import Response

from . import feeds, preview
from .channels import FORMATS, OPML_PATH, Channel, newest_change, preview_path
from .httpcache import Prepared, cache_control, cache_key
from .services import Services
from .templating import FORMAT_NAMES
from .urls import permalink_path

bp = Blueprint("web", __name__)

FMT = "<any(" + ", ".join(FORMATS) + "):fmt>"
HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"
OPML = "text/x-opml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
MAX_QUERY_CHARS = 200
MAX_PAGE = 100_000
SITEMAP_LIMIT = 50_000  # URLs per sitemap file, by the sitemaps.org protocol
NEWS_SITEMAP_SECONDS = 60  # the "last two days" window moves with the clock
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


def services() -> Services:
    return current_app.extensions["feedsvc"]


def cached(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(**kwargs: Any) -> Any:
        svc = services()
        key = cache_key(request.environ)
        prepared = svc.cache.get(key)
        if prepared is None:
            generation = svc.store.generation
            result = view(svc, **kwargs)
            if not isinstance(result, Prepared):
                return result
            svc.cache.put(key, result, generation)
            prepared = result
        return prepared

    return wrapper


@bp.app_context_processor
def form_bounds() -> dict[str, Any]:
    return {"max_query_chars": MAX_QUERY_CHARS, "formats": FORMAT_NAMES}


# -- query parameters ------------------------------------------------------------------------


def whole_number(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,7}", raw) or int(raw) < 1:
        abort(400, f"{name} must be a whole number from 1 to {maximum}")
    return min(int(raw), maximum)


def page_number() -> int:
    return whole_number("page", 1, MAX_PAGE)


def _limit(svc: Services) -> int:
    return whole_number("limit", svc.config.feed_size, svc.config.max_limit)


def search_query(*, required: bool) -> str:
    """The words of ?q=, spaces collapsed; "" when none were given and none are ``required``."""
    query = " ".join(request.args.get("q", "").split())
    if not query and required:
        abort(400, "q is required: the words to search for")
    if len(query) > MAX_QUERY_CHARS:
        abort(400, f"The search is longer than {MAX_QUERY_CHARS} characters: use fewer words.")
    return query


def moved_to(url: str) -> Response:
    """A 301 to ``url``, which callers build with ``Site`` from the configured site URL, never
    from the Host the request named (RFC 9110 15.4.2: permanent, cacheable by default)."""
    response = redirect(url, 301)
    response.headers["Cache-Control"] = cache_control(REDIRECT_MAX_AGE_SECONDS)
    return response


# -- feeds and their previews ----------------------------------------------------------------


def feed_route(rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a cached view at ``rule`` (show_preview=False) and at its preview's path
    (show_preview=True), so that a feed and its preview always share their URL rule."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = cached(view)
        bp.add_url_rule(rule, view.__name__, wrapped, defaults={"show_preview": False})
        bp.add_url_rule(
            preview_path(rule),
            f"{view.__name__}_preview",
            wrapped,
            defaults={"show_preview": True},
        )
        return wrapped

    return register


def _feed(svc: Services, channel: Channel, fmt: str, limit: int, show_preview: bool) -> Prepared:
    explicit_limit = "limit" in request.args and channel.kind != "archive"
    doc = svc.channels.feed(channel, fmt, limit, explicit_limit=explicit_limit)
    if doc is None:
        abort(404)
    max_age = svc.config.cache_max_age
    if channel.kind == "archive" and svc.channels.plan().is_full(int(channel.key)):
        # Kept longer, but never marked immutable: a document added, edited or removed among
        # the older ones (a backfill of old articles) changes a full page too.
        max_age = svc.config.archive_max_age
    links: list[str] = []
    if show_preview:
        body, content_type = preview.render_feed_preview(svc, doc, fmt), HTML
    else:
        body, content_type = feeds.render(doc, fmt, svc.publication), feeds.MEDIA_TYPES[fmt]
        if svc.config.websub_hub:
            links = [f'<{svc.config.websub_hub}>; rel="hub"', f'<{doc.self_url}>; rel="self"']
    return Prepared(
        body,
        content_type,
        last_modified=doc.updated,
        max_age_seconds=max_age,
        links=links,
        vary=preview.VARY,
    )


@feed_route(f"/feed.{FMT}")
def main_feed(svc: Services, fmt: str, show_preview: bool) -> Prepared:
    return _feed(svc, Channel("main"), fmt, _limit(svc), show_preview)


@feed_route(f"/archives/<int:page>/feed.{FMT}")
def archive_feed(svc: Services, page: int, fmt: str, show_preview: bool) -> Prepared:
    return _feed(svc, Channel("archive", str(page)), fmt, svc.config.feed_size, show_preview)


@feed_route(f"/sources/<slug>/feed.{FMT}")
def source_feed(svc: Services, slug: str, fmt: str, show_preview: bool) -> Prepared:
    return _feed(svc, Channel("source", slug), fmt, _limit(svc), show_preview)


@feed_route(f"/places/<slug>/feed.{FMT}")
def place_feed(svc: Services, slug: str, fmt: str, show_preview: bool) -> Prepared:
    return _feed(svc, Channel("place", slug), fmt, _limit(svc), show_preview)


@feed_route(f"/search/feed.{FMT}")
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


def _xml(svc: Services, template: str, last_modified: datetime, max_age: int | None = None,
         content_type: str = XML, **context: Any) -> Prepared:  # fmt: skip
    body = render_template(template, svc=svc, **context).encode()
    expires_at = None if max_age is None else time.monotonic() + max_age
    return Prepared(
        body,
        content_type,
        last_modified=last_modified,
        max_age_seconds=max_age or svc.config.cache_max_age,
        expires_at=expires_at,
    )


@feed_route(OPML_PATH)
def opml(svc: Services, show_preview: bool) -> Prepared:
    if show_preview:
        body, content_type = preview.render_opml_preview(svc), HTML
    else:
        body = render_template(
            "opml.xml", svc=svc, agencies=svc.store.agencies(), cities=svc.store.cities()
        ).encode()
        content_type = OPML
    return Prepared(
        body,
        content_type,
        last_modified=svc.store.changed_at(),
        max_age_seconds=svc.config.cache_max_age,
        vary=preview.VARY,
    )


@bp.get("/sitemap.xml")
@cached
def sitemap(svc: Services) -> Prepared:
    total = svc.store.count()
    if total > SITEMAP_LIMIT:
        parts = range(1, -(-total // SITEMAP_LIMIT) + 1)
        return _xml(svc, "sitemap-index.xml", svc.store.changed_at(), parts=parts)
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
    return _xml(svc, "sitemap.xml", svc.store.changed_at(), urls=urls)


@bp.get("/news-sitemap.xml")
@cached
def news_sitemap(svc: Services) -> Prepared:
    since = datetime.now(UTC) - timedelta(days=2)
    articles = svc.store.published_since(since, limit=1000)
    return _xml(
        svc,
        "news-sitemap.xml",
        newest_change(articles, svc.store.changed_at()),
        max_age=NEWS_SITEMAP_SECONDS,
        articles=articles,
    )


@bp.get("/robots.txt")
@cached
def robots(svc: Services) -> Prepared:
    # Search result pages are endless variations of the listings; everything else is welcome.
    lines = ["User-agent: *", "Disallow: /search", ""]
    lines += [f"Sitemap: {svc.site.url(path)}" for path in ("/sitemap.xml", "/news-sitemap.xml")]
    return Prepared(
        ("\n".join(lines) + "\n").encode(),
        TEXT,
        last_modified=svc.store.changed_at(),
        max_age_seconds=ICON_MAX_AGE_SECONDS,
    )


@bp.get("/static/<name>")
@cached
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
