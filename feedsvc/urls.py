"""Absolute URLs from the configured site URL, article permalinks and tag ids.

Never from the request's Host header: a feed fetched through any host name must carry the same
bytes, and a spoofed Host must not leak into permalinks. (A channel's paths are the Channel's
own, in channels.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

from .document import Article
from .slugs import headline_slug

# Ids that survive a change of site URL or headline; the date is when the scheme was minted.
TAG_PREFIX = "tag:feedsvc,2026:"


def permalink_path(article_id: str, headline: str) -> str:
    return f"/articles/{article_id}/{headline_slug(headline)}"


def article_tag(article: Article) -> str:
    return f"{TAG_PREFIX}articles/{article.id}"


@dataclass(frozen=True)
class Site:
    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path

    def permalink(self, article: Article) -> str:
        return self.url(permalink_path(article.id, article.headline))
