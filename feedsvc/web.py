"""The blueprint: routes, query-parameter bounds, and prepared (cached) responses.

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
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request

from . import feeds
from .channels import FORMATS, Channel, newest_change
from .httpcache import Prepared, cache_key
from .services import Services
from .urls import permalink_path

bp = Blueprint("web", __name__)

FMT = "<any(" + ", ".join(FORMATS) + "):fmt>"
HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"
OPML = "text/x-opml; charset=utf-8"
MAX_QUERY_CHARS = 200
MAX_PAGE = 100_000
ARTICLE_ID = re.compile(r"[0-9a-f]{16}")
SITEMAP_LIMIT = 50_000  # URLs per sitemap file, by the sitemaps.org protocol
NEWS_SITEMAP_SECONDS = 60  # the "last two days" window moves with the clock
STYLESHEET_MAX_AGE_SECONDS = 86_400


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


# -- query parameters ------------------------------------------------------------------------


def _whole_number(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,7}", raw) or int(raw) < 1:
        abort(400, f"{name} must be a whole number from 1 to {maximum}")
    return min(int(raw), maximum)


def _limit(svc: Services) -> int:
    return _whole_number("limit", svc.config.feed_size, svc.config.max_limit)


def _search_query() -> str:
    query = " ".join(request.args.get("q", "").split())
    if not query:
        abort(400, "q is required: the words to search for")
    if len(query) > MAX_QUERY_CHARS:
        abort(400, f"q is longer than {MAX_QUERY_CHARS} characters")
    return query


# -- feeds -----------------------------------------------------------------------------------


def _feed(svc: Services, channel: Channel, fmt: str, limit: int) -> Prepared:
    explicit_limit = "limit" in request.args and channel.kind != "archive"
    doc = svc.channels.feed(channel, fmt, limit, explicit_limit=explicit_limit)
    if doc is None:
        abort(404)
    body = feeds.render(doc, fmt, svc.publication)
    max_age = svc.config.cache_max_age
    if channel.kind == "archive" and svc.channels.plan().is_full(int(channel.key)):
        # Kept longer, but never marked immutable: a document added, edited or removed among
        # the older ones (a backfill of old articles) changes a full page too.
        max_age = svc.config.archive_max_age
    links = []
    if svc.config.websub_hub:
        links = [f'<{svc.config.websub_hub}>; rel="hub"', f'<{doc.self_url}>; rel="self"']
    return Prepared(
        body,
        feeds.MEDIA_TYPES[fmt],
        last_modified=doc.updated,
        max_age_seconds=max_age,
        links=links,
        browser_content_type=None if fmt == "json" else XML,
    )


@bp.get(f"/feed.{FMT}")
@cached
def main_feed(svc: Services, fmt: str) -> Prepared:
    return _feed(svc, Channel("main"), fmt, _limit(svc))


@bp.get(f"/archives/<int:page>/feed.{FMT}")
@cached
def archive_feed(svc: Services, page: int, fmt: str) -> Prepared:
    return _feed(svc, Channel("archive", str(page)), fmt, svc.config.feed_size)


@bp.get(f"/sources/<slug>/feed.{FMT}")
@cached
def source_feed(svc: Services, slug: str, fmt: str) -> Prepared:
    return _feed(svc, Channel("source", slug), fmt, _limit(svc))


@bp.get(f"/places/<slug>/feed.{FMT}")
@cached
def place_feed(svc: Services, slug: str, fmt: str) -> Prepared:
    return _feed(svc, Channel("place", slug), fmt, _limit(svc))


@bp.get(f"/search/feed.{FMT}")
@cached
def search_feed(svc: Services, fmt: str) -> Prepared:
    return _feed(svc, Channel("search", _search_query()), fmt, _limit(svc))


# -- pages -----------------------------------------------------------------------------------


def _page(svc: Services, template: str, *, last_modified: datetime, **context: Any) -> Prepared:
    body = render_template(template, svc=svc, **context).encode()
    return Prepared(
        body,
        HTML,
        last_modified=last_modified,
        max_age_seconds=svc.config.cache_max_age,
    )


def _listing(svc: Services, channel: Channel, heading: str) -> Prepared:
    size = svc.config.feed_size
    total = svc.channels.count(channel)
    pages = max(1, -(-total // size))
    page = _whole_number("page", 1, MAX_PAGE)
    if page > pages:
        abort(404)
    articles = svc.channels.articles(channel, size, (page - 1) * size)
    return _page(
        svc,
        "listing.html",
        last_modified=newest_change(articles, svc.store.changed_at()),
        channel=channel,
        heading=heading,
        articles=articles,
        page=page,
        pages=pages,
        total=total,
    )


@bp.get("/")
@cached
def front_page(svc: Services) -> Prepared:
    return _listing(svc, Channel("main"), "Latest news")


@bp.get("/sources/<slug>")
@cached
def source_page(svc: Services, slug: str) -> Prepared:
    facet = svc.store.facet("agency", slug) or abort(404)
    return _listing(svc, Channel("source", slug), f"From {facet.name}")


@bp.get("/places/<slug>")
@cached
def place_page(svc: Services, slug: str) -> Prepared:
    facet = svc.store.facet("city", slug) or abort(404)
    return _listing(svc, Channel("place", slug), f"Datelined {facet.name}")


@bp.get("/search")
@cached
def search_page(svc: Services) -> Prepared:
    query = _search_query()
    articles = svc.store.search(query, svc.config.max_limit)
    return _page(
        svc,
        "listing.html",
        last_modified=newest_change(articles, svc.store.changed_at()),
        channel=Channel("search", query),
        heading=f"Search: {query}",
        articles=articles,
        page=1,
        pages=1,
        total=len(articles),
    )


@bp.get("/articles/<article_id>")
@bp.get("/articles/<article_id>/<path:slug>")
@cached
def article_page(svc: Services, article_id: str, slug: str | None = None) -> Any:
    article = svc.store.get(article_id) if ARTICLE_ID.fullmatch(article_id) else None
    if article is None:
        abort(404)
    if slug != article.slug:
        return redirect(svc.site.permalink(article), 301)
    return _page(svc, "article.html", last_modified=article.last_change, article=article)


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


@bp.get("/feeds.opml")
@cached
def opml(svc: Services) -> Prepared:
    return _xml(
        svc,
        "feeds.opml",
        svc.store.changed_at(),
        content_type=OPML,
        agencies=svc.store.agencies(),
        cities=svc.store.cities(),
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


@bp.get("/feed.xsl")
@cached
def feed_stylesheet(svc: Services) -> Prepared:
    path = Path(current_app.root_path, "templates", "feed.xsl")
    return Prepared(
        path.read_bytes(),
        "text/xsl; charset=utf-8",
        last_modified=datetime.fromtimestamp(path.stat().st_mtime, UTC),
        max_age_seconds=STYLESHEET_MAX_AGE_SECONDS,
    )


# -- errors ----------------------------------------------------------------------------------


@bp.app_errorhandler(400)
@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def error_page(error: Any) -> tuple[str, int]:
    return render_template("error.html", svc=services(), error=error), error.code
