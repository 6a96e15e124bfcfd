"""Absolute URLs from the configured site URL, article permalinks and tag ids.

Never from the request's Host header: a feed fetched through any host name must carry the same
bytes, and a spoofed Host must not leak into permalinks. (A channel's paths are the Channel's
own, in channels.py.)

Entry and feed ids are RFC 4151 tag URIs minted under the publisher's own authority
(``tag:news.example.com,2026:articles/5e300edb8a850530``): two sites never share one, and they
survive a change of site URL (once FEEDSVC_TAG_AUTHORITY is set), of headline, or of the index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from .document import Article
from .slugs import headline_slug

# The date of a tagging entity derived from the site URL: a fixed one, so that the ids do not
# change with the calendar (RFC 4151 section 2.1 asks for a date the authority held the name).
DEFAULT_TAG_YEAR = "2026"
# RFC 3986 pchar (less "%", which quote() writes itself), "/" and "?": what a tag's specific
# part may hold as it is.
_TAG_SPECIFIC_SAFE = "/?:@!$&'()*+,;=-._~"
_DNS_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def tag_authority(configured: str, site_url: str) -> str:
    """The tagging entity of every id: FEEDSVC_TAG_AUTHORITY when set, else the site URL's
    host and DEFAULT_TAG_YEAR (``news.example.com,2026``); ``localhost`` for a host that is
    no domain name (an IPv6 address)."""
    if configured:
        return configured
    host = (urlsplit(site_url).hostname or "").lower()
    return f"{host if _DNS_NAME.fullmatch(host) else 'localhost'},{DEFAULT_TAG_YEAR}"


def permalink_path(article_id: str, headline: str) -> str:
    return f"/articles/{article_id}/{headline_slug(headline)}"


@dataclass(frozen=True)
class Site:
    base_url: str
    # RFC 4151 taggingEntity, "news.example.com,2026": see tag_authority().
    tag_authority: str

    def url(self, path: str) -> str:
        return self.base_url + path

    def permalink(self, article: Article) -> str:
        return self.url(permalink_path(article.id, article.headline))

    def tag(self, specific: str) -> str:
        """``tag:<authority>:<specific>``; characters a tag's specific part may not hold
        (RFC 4151 section 2.1: pchar, "/" and "?") are percent-encoded."""
        return f"tag:{self.tag_authority}:{quote(specific, safe=_TAG_SPECIFIC_SAFE)}"

    def article_tag(self, article: Article) -> str:
        return self.tag(f"articles/{article.id}")
