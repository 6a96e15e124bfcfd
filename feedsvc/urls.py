"""Every URL feedsvc publishes, built in one place from the configured site URL.

Never from the request's Host header: a feed fetched through any host name must carry the same
bytes, and a spoofed Host must not leak into permalinks.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from .document import Article, slugify

FORMATS = ("rss", "atom", "json")
# Ids that survive a change of site URL or headline; the date is when the scheme was minted.
TAG_PREFIX = "tag:feedsvc,2026:"


def permalink_path(article_id: str, headline: str) -> str:
    return f"/articles/{article_id}/{slugify(headline) or 'article'}"


def article_tag(article: Article) -> str:
    return f"{TAG_PREFIX}articles/{article.id}"


@dataclass(frozen=True)
class Channel:
    """A stream of articles with its own page and feeds: the main feed, one agency, one city,
    a saved search, or one archive page of the main feed."""

    kind: str  # "main" | "source" | "place" | "search" | "archive"
    key: str = ""

    def feed_path(self, fmt: str) -> str:
        if self.kind == "main":
            return f"/feed.{fmt}"
        if self.kind in ("source", "place"):
            return f"{self.html_path}/feed.{fmt}"  # a page's feeds live beneath it
        if self.kind == "archive":
            return f"/archives/{self.key}/feed.{fmt}"
        return f"/search/feed.{fmt}?{urlencode({'q': self.key})}"

    @property
    def html_path(self) -> str:
        if self.kind == "source":
            return f"/sources/{quote(self.key)}"
        if self.kind == "place":
            return f"/places/{quote(self.key)}"
        if self.kind == "search":
            return f"/search?{urlencode({'q': self.key})}"
        return "/"

    @property
    def tag(self) -> str:
        return TAG_PREFIX + (self.kind if not self.key else f"{self.kind}/{self.key}")


@dataclass(frozen=True)
class Site:
    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path

    def permalink(self, article: Article) -> str:
        return self.url(permalink_path(article.id, article.headline))
