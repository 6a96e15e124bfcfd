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
from datetime import date
from urllib.parse import quote, urlsplit

from .document import Article
from .slugs import headline_slug

# The date of a tagging entity derived from the site URL: a fixed one, so that the ids do not
# change with the calendar (RFC 4151 section 2.1 asks for a date the authority held the name).
DEFAULT_TAG_YEAR = "2026"
# RFC 3986 pchar (less "%", which quote() writes itself), "/" and "?": what a tag's specific
# part may hold as it is.
_TAG_SPECIFIC_SAFE = "/?:@!$&'()*+,;=-._~"
# RFC 4151 section 2.1: taggingEntity = authorityName "," date, the authority a domain name or
# an e-mail address, the date (YYYY, YYYY-MM or YYYY-MM-DD) one on which it was held.
_DNS_NAME = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
_TAGGING_ENTITY = re.compile(
    rf"(?P<authority>{_DNS_NAME}|[a-z0-9._-]+@{_DNS_NAME}),"
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
)


def check_tag_authority(text: str) -> str:
    """FEEDSVC_TAG_AUTHORITY, lower-cased; empty stays empty (tag_authority() derives one).

    Raises ValueError unless it is a domain name (with a dot: one a publisher can hold) or an
    e-mail address, a comma, and a real date (RFC 4151 section 2.1).
    """
    value = text.strip().lower()
    if not value:
        return ""
    match = _TAGGING_ENTITY.fullmatch(value)
    problem = None
    if match is None:
        problem = "must be a domain name or e-mail address and a date"
    elif "." not in match["authority"]:
        problem = "must name a domain you hold (with a dot), not a bare name"
    else:
        try:
            date(int(match["year"]), int(match["month"] or 1), int(match["day"] or 1))
        except ValueError:
            problem = "has a date that does not exist"
    if problem:
        raise ValueError(
            f"{problem}: a domain or e-mail address the publisher held on that date, as in "
            "news.example.com,2026 or desk@example.org,2026-03 (RFC 4151 tag URIs)"
        )
    return value


def tag_authority(configured: str, site_url: str) -> str:
    """The tagging entity of every id: FEEDSVC_TAG_AUTHORITY when set, else the site URL's
    host and DEFAULT_TAG_YEAR (``news.example.com,2026``); ``localhost`` for a host that is
    no domain name (an IPv6 address)."""
    if configured:
        return configured
    host = (urlsplit(site_url).hostname or "").lower()
    return f"{host if re.fullmatch(_DNS_NAME, host) else 'localhost'},{DEFAULT_TAG_YEAR}"


# Where every article's addresses start: its page, its short address, its old slugs.
ARTICLES_PREFIX = "/articles/"


def permalink_path(article_id: str, headline: str) -> str:
    return f"{ARTICLES_PREFIX}{article_id}/{headline_slug(headline)}"


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
        """The article's entry id in every format: ``tag:<authority>:articles/<id>``."""
        return self.tag(f"articles/{article.id}")
