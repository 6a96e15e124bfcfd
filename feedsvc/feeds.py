"""Articles -> feed bytes: RSS 2.0 and Atom 1.0 with feedgen, JSON Feed 1.1 by hand.

The only module that imports feedgen. Each of feedgen's traps is handled here on purpose:
entries are added with ``order="append"`` (it prepends by default); the alternate link is added
last because RSS takes the *last* link; ``updated``/``lastBuildDate`` are set from the articles
(they default to now, which would change the bytes on every render); datetimes are always
timezone-aware; ``rel="self"`` is added explicitly.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

# isort: split
# After lxml.etree: feedgen.util, which this imports, uses lxml.etree without importing it.
from feedgen.ext.dc import DcEntryExtension, DcExtension

from .channels import FACETS, FeedDocument
from .dates import rfc3339
from .document import Article
from .urls import Site
from .version import __version__

MEDIA_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
GENERATOR = "feedsvc"
GENERATOR_URI = "https://pypi.org/project/feedsvc/"
ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
_RSS_PROFILE_REFERENCES = ((b"&amp;", b"&#x26;"), (b"&lt;", b"&#x3C;"), (b"&gt;", b"&#x3E;"))
# Channel links besides alternate and self (which feedgen writes itself), in document order.
FEED_LINK_RELS = ("hub", "current", "prev-archive", "next-archive")


@dataclass(frozen=True)
class Publication:
    """Settings shared by every feed of the site."""

    site: Site
    title: str
    language: str
    ttl_minutes: int


def article_html(article: Article) -> str:
    """The story as printed (the dateline leading the first paragraph), as escaped HTML
    paragraphs."""
    return "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in article.story)


def authors(article: Article) -> tuple[str, ...]:
    """Who an entry is by: the writers the document names, else its agency, else nobody (an
    Atom entry then falls back on the feed's own author, the publication)."""
    if article.authors:
        return article.authors
    return (article.agency,) if article.agency else ()


def ttl_minutes(max_age_seconds: int) -> int:
    return max(1, math.ceil(max_age_seconds / 60))


def render(doc: FeedDocument, fmt: str, pub: Publication) -> bytes:
    if fmt == "json":
        return _render_json(doc, pub)
    generator = _generator(doc, fmt, pub)
    if fmt == "rss":
        xml = generator.rss_str(pretty=False, encoding="UTF-8", xml_declaration=False)
        # The RSS Profile's encoding of "&", "<" and ">" in text: the same characters to any XML
        # parser, and the form the widest range of RSS readers shows as intended.
        for entity, reference in _RSS_PROFILE_REFERENCES:
            xml = xml.replace(entity, reference)
    else:
        xml = generator.atom_str(pretty=False, encoding="UTF-8", xml_declaration=False)
    # No xml-stylesheet: browsers are dropping XSLT; people get a preview page (preview.py).
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml


# Document text that a reader could take for markup: "</b>", "&amp;". An Atom summary holding
# it goes out as escaped HTML (type="html"), which every reader shows as the original
# characters. Titles never do: they are text (type="text"), escaped as XML and nothing else,
# so every reader gets the headline's own characters, and a headline that literally holds
# markup draws the validator's "looks like HTML" warning, which is accepted for it (README).
_MARKUP_LIKE = re.compile(r"<[/!?a-zA-Z]|&#?\w+;")


def _as_html(element: etree._Element | None, *, always: bool = False) -> bool:
    if element is None or not element.text:
        return False
    if always or _MARKUP_LIKE.search(element.text):
        element.text = html.escape(element.text, quote=False)
        return True
    return False


class _FeedsvcExtension(BaseExtension):
    """What feedgen can't do for a channel: extra atom:link elements in RSS (hub, RFC 5005
    archive links) and RFC 5005's fh:archive marker."""

    links: Mapping[str, str] = {}
    is_archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS} if self.is_archive else {}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed[0]
        for rel in FEED_LINK_RELS:
            if rel in self.links:
                etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=self.links[rel], rel=rel)
        if self.is_archive:
            etree.SubElement(channel, f"{{{HISTORY_NS}}}archive")
        return feed

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.is_archive:
            etree.SubElement(feed, f"{{{HISTORY_NS}}}archive")
        return feed


class _FeedsvcEntryExtension(BaseEntryExtension):
    """Summaries sent as escaped HTML where plain text would be read as markup."""

    def extend_rss(self, item: etree._Element) -> etree._Element:
        # Descriptions are HTML in RSS; titles and categories are text, escaped as XML only.
        _as_html(item.find("description"), always=True)
        return item

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        # feedgen builds Atom elements without a namespace (it sets xmlns as an attribute).
        # Titles keep Atom's default type="text" (RFC 4287 section 3.1.1), whatever they hold.
        summary = entry.find("summary")
        if _as_html(summary):
            summary.set("type", "html")  # type: ignore[union-attr]
        return entry


def _generator(doc: FeedDocument, fmt: str, pub: Publication) -> FeedGenerator:
    site = pub.site
    fg = FeedGenerator()
    fg.register_extension("feedsvc", _FeedsvcExtension, _FeedsvcEntryExtension)
    fg.feedsvc.links = doc.links
    fg.feedsvc.is_archive = doc.is_archive
    # RSS's own <author> must be an e-mail address; writers go out as Dublin Core creators.
    # Registered as load_extension("dc") would, without its __import__ of a feedgen.ext.dc_entry
    # that does not exist: a failed search of sys.path on every feed rendered (0.8 % of a build).
    fg.register_extension("dc", DcExtension, DcEntryExtension, atom=False, rss=True)
    fg.id(site.tag(doc.tag_name))
    fg.title(doc.title)
    fg.subtitle(doc.subtitle)
    fg.description(doc.subtitle)
    fg.author({"name": pub.title})
    fg.language(pub.language)
    fg.generator(GENERATOR, __version__, GENERATOR_URI)
    fg.ttl(pub.ttl_minutes)
    fg.updated(doc.updated)
    fg.lastBuildDate(doc.updated)
    type_ = MEDIA_TYPES[fmt].split(";")[0]
    fg.link(href=doc.self_url, rel="self", type=type_)
    if fmt == "atom":
        for rel in FEED_LINK_RELS:
            if rel in doc.links:
                fg.link(href=doc.links[rel], rel=rel)
    # Last: RSS's <link> is the last link added, and it must be the HTML page.
    fg.link(href=site.url(doc.channel.html_path), rel="alternate", type="text/html")
    for article in doc.entries:
        _add_entry(fg, article, site)
    return fg


def _add_entry(fg: FeedGenerator, article: Article, site: Site) -> None:
    entry = fg.add_entry(order="append")
    entry.id(site.article_tag(article))
    entry.guid(site.article_tag(article), permalink=False)
    entry.title(article.headline)
    entry.link(href=site.permalink(article), rel="alternate", type="text/html")
    entry.published(article.published)
    entry.updated(article.last_change)
    for name in authors(article):
        entry.author({"name": name})  # Atom: one <author> per writer (RFC 4287 section 4.2.1)
    # RSS: one <dc:creator> naming them all as the byline does. Readers keep one creator per
    # item (newsboat the last, sfeed and rss-parser the first): repeated elements would show
    # a single writer of several.
    if article.byline or article.agency:
        entry.dc.dc_creator(article.byline or article.agency)
    for scheme, slug, label in _categories(article, site):
        entry.category(term=slug, scheme=scheme, label=label)
    entry.summary(article.summary)
    entry.description(article.summary)
    entry.content(article_html(article), type="html")


def _categories(article: Article, site: Site) -> list[tuple[str, str, str]]:
    """(scheme, term, label) of each facet the article has: the scheme is the facet's folder."""
    found = []
    for facet in FACETS.values():
        name, slug = getattr(article, facet.field), getattr(article, f"{facet.field}_slug")
        if name and slug:
            found.append((site.url(f"/{facet.folder}/"), slug, name))
    return found


def _render_json(doc: FeedDocument, pub: Publication) -> bytes:
    site = pub.site
    feed: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": doc.title,
        "home_page_url": site.url(doc.channel.html_path),
        "feed_url": doc.self_url,
        "description": doc.subtitle,
        "language": pub.language,
        "authors": [{"name": pub.title}],
    }
    if "hub" in doc.links:
        feed["hubs"] = [{"type": "WebSub", "url": doc.links["hub"]}]
    if "next" in doc.links:
        feed["next_url"] = doc.links["next"]
    feed["items"] = [_json_item(article, site) for article in doc.entries]
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode()


def _json_item(article: Article, site: Site) -> dict[str, object]:
    item: dict[str, object] = {
        "id": site.article_tag(article),
        "url": site.permalink(article),
        "title": article.headline,
        "summary": article.summary,
        "content_html": article_html(article),
        "date_published": rfc3339(article.published),
        "date_modified": rfc3339(article.last_change),
    }
    if names := authors(article):
        item["authors"] = [{"name": name} for name in names]
    tags = [t for t in (article.agency, article.city) if t]
    if tags:
        item["tags"] = tags
    return item
