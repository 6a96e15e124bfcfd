"""The blueprint for people: listings, the source and place indexes, search, article pages and
error pages. Every page is a prepared (cached) response, like the feeds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .channels import Channel, article_channels
from .document import Article
from .httpcache import Prepared
from .services import Services
from .slugs import slugify
from .store import MAX_SEARCH_TERMS, Facet, search_words
from .templating import channel_heading, channel_name, count_text, place_name
from .urls import ARTICLES_PREFIX
from .web import (
    HTML,
    WORDPRESS_FEED_QUERY,
    cached,
    moved_to,
    page_number,
    prepared,
    search_query,
    services,
)

bp = Blueprint("pages", __name__)

ARTICLE_ID = re.compile(r"[0-9a-f]{16}")
# Characters a query keeps as they are when it is repeated in a Location (RFC 3986 3.4).
QUERY_SAFE = "=&+;,/?:@!$'()*~%"
# The longest agency or city name an address may give for a redirect to its page.
MAX_TYPED_NAME_CHARS = 120
RELATED_SHOWN = 5  # "More from Reuters": this many earlier articles


@dataclass(frozen=True)
class Related:
    """Other articles of the same agency or city, for an article page."""

    channel: Channel
    name: str
    articles: list[Article]


def _page(svc: Services, template: str, **context: Any) -> Prepared:
    # Dated like every representation of the store, by web.prepared (lastmod.py).
    return prepared(svc, render_template(template, svc=svc, **context).encode(), HTML)


def _crumbs(svc: Services, *trail: tuple[str, str]) -> list[tuple[str, str]]:
    """(label, absolute URL) from the front page down to the page itself."""
    return [("Home", svc.site.url("/")), *((label, svc.site.url(path)) for label, path in trail)]


def _pages(total: int, size: int) -> tuple[int, int]:
    """(page asked for, number of pages); 404 for a page past the last."""
    pages = max(1, -(-total // size))
    page = page_number()
    if page > pages:
        abort(404)
    return page, pages


def _listing(
    svc: Services, channel: Channel, heading: str, description: str,
    breadcrumbs: list[tuple[str, str]],
) -> Prepared:  # fmt: skip
    size = svc.config.feed_size
    total = svc.channels.count(channel)
    page, pages = _pages(total, size)
    articles = svc.channels.articles(channel, size, (page - 1) * size)
    return _page(
        svc,
        "listing.html",
        channel=channel,
        heading=heading,
        description=description,
        breadcrumbs=breadcrumbs,
        articles=articles,
        page=page,
        pages=pages,
        total=total,
    )


@bp.get("/")
@cached("page", "feed")
def front_page(svc: Services) -> Any:
    wordpress_feed = request.args.get("feed")
    if wordpress_feed in WORDPRESS_FEED_QUERY:
        fmt = WORDPRESS_FEED_QUERY[wordpress_feed]
        return moved_to(svc.site.url(Channel("main").feed_path(fmt)))
    return _listing(svc, Channel("main"), "Latest news", svc.config.subtitle, [])


@bp.get("/sources")
@cached
def sources_index(svc: Services) -> Prepared:
    agencies = svc.store.agencies()
    return _facet_index(
        svc, "source", "Sources", "/sources", agencies,
        f"The {count_text(len(agencies), 'news agency', 'news agencies')} that "
        f"{svc.config.title} publishes, each with its own page and feeds.",
    )  # fmt: skip


@bp.get("/places")
@cached
def places_index(svc: Services) -> Prepared:
    cities = svc.store.cities()
    return _facet_index(
        svc, "place", "Places", "/places", cities,
        f"The {count_text(len(cities), 'place')} that articles are datelined from, "
        "each with its own page and feeds.",
    )  # fmt: skip


def _facet_index(svc: Services, kind: str, heading: str, path: str, facets: list[Facet],
                 description: str) -> Prepared:  # fmt: skip
    # Alphabetical as a reader looks a name up, whatever its case and accents: by the slug,
    # the name transliterated (Ålesund with the A's, México City before Munich; a name in
    # another script by its transliteration), then the name itself.
    shown = place_name if kind == "place" else str
    ordered = sorted(facets, key=lambda f: (f.slug, shown(f.name).casefold()))
    return _page(
        svc,
        "facets.html",
        kind=kind,
        heading=heading,
        column="Source" if kind == "source" else "Place",
        path=path,
        facets=ordered,
        description=description,
        breadcrumbs=_crumbs(svc, (heading, path)),
    )


def _facet(svc: Services, channel: Channel) -> Facet | Response:
    """The agency or city a facet page is about; a 301 when the address holds its name rather
    than its slug (``/sources/Reuters``, ``/places/МОСКВА``: typed, or from an old link);
    404 otherwise."""
    assert channel.facet is not None
    facet = svc.store.facet(channel.facet.field, channel.key)
    if facet is not None:
        return facet
    # (Bounded: slugify() keeps what it was asked in a cache, and the address is the client's.)
    slug = slugify(channel.key) if len(channel.key) <= MAX_TYPED_NAME_CHARS else ""
    if slug and slug != channel.key and svc.store.facet(channel.facet.field, slug) is not None:
        target = Channel(channel.kind, slug).html_path
        # The page asked for goes along, written as the listing reads it (a ?page= that is no
        # page number is refused here as it would be there, 400); nothing else of the query
        # is copied into the Location.
        if "page" in request.args:
            target += f"?page={page_number()}"
        return moved_to(svc.site.url(target), svc.config.cache_max_age)
    abort(404)


@bp.get("/sources/<slug>")
@cached("page")
def source_page(svc: Services, slug: str) -> Prepared | Response:
    facet = _facet(svc, Channel("source", slug))
    if isinstance(facet, Response):
        return facet
    channel = Channel("source", slug)
    heading = channel_heading(channel, facet.name)
    return _listing(
        svc, channel, heading, f"The latest news from {facet.name}, newest first.",
        _crumbs(svc, ("Sources", "/sources"), (facet.name, channel.html_path)),
    )  # fmt: skip


@bp.get("/places/<slug>")
@cached("page")
def place_page(svc: Services, slug: str) -> Prepared | Response:
    facet = _facet(svc, Channel("place", slug))
    if isinstance(facet, Response):
        return facet
    channel = Channel("place", slug)
    heading = channel_heading(channel, facet.name)
    return _listing(
        svc, channel, heading, f"The latest news datelined {heading}, newest first.",
        _crumbs(svc, ("Places", "/places"), (heading, channel.html_path)),
    )  # fmt: skip


@bp.get("/search")
@cached("q", "page")
def search_page(svc: Services) -> Prepared:
    query = search_query(required=False)
    channel = Channel("search", query)
    size = svc.config.feed_size
    total = svc.channels.count(channel) if query else 0
    page, pages = _pages(total, size)
    articles = svc.channels.articles(channel, size, (page - 1) * size) if total else []
    # Words past the bound are not looked for: said, rather than counted as if they were.
    beyond = search_words(query)[MAX_SEARCH_TERMS:]
    return _page(
        svc,
        "search.html",
        query=query,
        unsearched=" ".join(("-" if minus else "") + word for minus, word in beyond),
        max_terms=MAX_SEARCH_TERMS,
        channel=channel,
        heading=channel_heading(channel) if query else "Search",
        articles=articles,
        page=page,
        pages=pages,
        total=total,
    )


@bp.get("/articles/<article_id>")
@bp.get("/articles/<article_id>/<path:slug>")
@cached
def article_page(svc: Services, article_id: str, slug: str | None = None) -> Any:
    article = svc.store.get(article_id) if ARTICLE_ID.fullmatch(article_id) else None
    if article is None:
        abort(404)
    if slug != article.slug:
        return moved_to(svc.site.permalink(article), svc.config.cache_max_age)
    newer, older = svc.store.neighbours(article)
    related = _related(svc, article)
    if article.agency and article.agency_slug:
        trail = (article.agency, Channel("source", article.agency_slug).html_path)
    elif article.city and article.city_slug:
        trail = (place_name(article.city), Channel("place", article.city_slug).html_path)
    else:
        trail = ("Latest news", "/")
    return _page(
        svc,
        "article.html",
        article=article,
        newer=newer,
        older=older,
        related=related,
        breadcrumbs=[*_crumbs(svc, trail), (article.headline, svc.site.permalink(article))],
    )


def _related(svc: Services, article: Article) -> list[Related]:
    """For its agency and its city, the stories that came just before this one there. Not the
    newest ones, nor how many there are: then every page of Reuters would change with each new
    Reuters story (for readers' caches, a CDN, and a static build alike)."""
    groups = []
    for channel in article_channels(article):
        assert channel.facet is not None
        others = svc.store.older(article, RELATED_SHOWN, facet=(channel.facet.field, channel.key))
        if others:
            name = channel_name(channel, getattr(article, channel.facet.field))
            groups.append(Related(channel, name, others))
    return groups


# -- errors ----------------------------------------------------------------------------------


@bp.app_errorhandler(400)
@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def error_page(error: HTTPException) -> Any:
    if error.code == 404 and (moved := _without_trailing_slash()) is not None:
        return moved
    body = render_template("error.html", svc=services(), error=error)
    # The exception's own headers: 405 lists the target's methods in Allow (RFC 9110 15.5.6).
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return body, error.code or 500, headers


def _without_trailing_slash() -> Response | None:
    """A 301 from ``/sources/`` or ``/articles/<id>/`` to the address without the slash, when
    that one is a route: what people type and what other publishing tools link to (their
    directories end in a slash). The query goes along; the site URL, not Host, gives the
    origin (RFC 9110 15.4.2)."""
    path = request.path
    if request.method not in ("GET", "HEAD") or len(path) < 2 or not path.endswith("/"):
        return None
    stripped = path.rstrip("/")
    try:
        current_app.url_map.bind("localhost").match(stripped, method="GET")
    except HTTPException:  # NotFound, or a redirect of Werkzeug's own: leave it a 404
        return None
    query = request.query_string  # bytes as sent: quoted once, never decoded and re-encoded
    svc = services()
    target = svc.site.url(quote(stripped) + (f"?{quote(query, safe=QUERY_SAFE)}" if query else ""))
    # An address under /articles/ follows an article, whose redirects are kept as long as its
    # page (article_page), as the static build's nginx answers them all there.
    if stripped.startswith(ARTICLES_PREFIX):
        return moved_to(target, svc.config.cache_max_age)
    return moved_to(target)
