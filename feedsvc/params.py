"""Query parameters: the one vocabulary routes read, its bounds, and the response-cache key.

Views see only the parameters named in ``PARAMETERS``, already cleaned (``FeedRequest.args``),
and of those only the ones their route declares (``web.cached``); the response cache keys a
request by the very same cleaned parameters (``CacheKeys``). So two requests that share a key
are, to every view, the same request: an unknown parameter, a reordered query, a repeated name,
an out-of-range ``limit`` or a meaningless ``?feed=`` cannot make a second cache entry, and a
new parameter cannot be read without entering this table (it would read as absent).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

from flask import Request, current_app
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter
from werkzeug.utils import cached_property

# Every query parameter any route reads. Anything else in a query string is ignored.
# q: search words. feed, alt: the WordPress and Blogger feed addresses (/?feed=rss2,
# ?alt=rss). v: a static file's content hash. limit, page: whole numbers.
TEXT_PARAMETERS = frozenset({"q", "feed", "alt", "v"})
NUMBER_PARAMETERS = frozenset({"limit", "page"})
PARAMETERS = TEXT_PARAMETERS | NUMBER_PARAMETERS
# Those whose values a client can vary without end (each value a new render): admission.py
# keeps their renders in a lane of their own.
OPEN_ENDED = frozenset({"q", "limit", "page"})

# The longest query string read at all (RFC 9110 15.5.15: 414 beyond). A search of
# MAX_SEARCH_CHARS characters, each percent-encoded UTF-8, stays well under it.
MAX_QUERY_STRING_BYTES = 4096
MAX_SEARCH_CHARS = 200
MAX_PAGE = 100_000
# A whole number as every address of ours writes one: ASCII digits, no leading zero (no sign,
# exponent, other digits, or 0). "02" is refused rather than read as 2: read, it made a second
# address for every page (/?page=02, /sitemaps/01.xml), which no link of ours holds.
WHOLE_NUMBER = re.compile(r"[1-9][0-9]*")
# Digits read of a number at most: every maximum a number is clamped to (MAX_PAGE,
# FEEDSVC_MAX_LIMIT) is below 10 ** NUMBER_DIGITS, so a longer one is read as that, and
# clamped the same, without converting its digits (a 4 KB query string holds 4,000).
NUMBER_DIGITS = 7
NUMBER_CEILING = 10**NUMBER_DIGITS
# A number in a path segment (a sitemap's or an archive day's part): written the same way;
# none is that large, so a longer one is no address.
PATH_NUMBER = f"[1-9][0-9]{{0,{NUMBER_DIGITS - 1}}}"

# Not text: C0 and C1 controls (XML 1.0 2.2 forbids most; the rest are layout or garbage in a
# search), surrogates (only invalid input yields them) and Unicode noncharacters (Unicode 15.0
# 23.7: U+FDD0..U+FDEF and the last two code points of every plane, e.g. U+FFFE).
_PLANES = range(0, 0x110000, 0x10000)
_PLANE_ENDS = "".join(chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in _PLANES)
_NOT_TEXT = re.compile(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef{_PLANE_ENDS}]")


def clean_text(raw: str) -> str:
    """``raw`` with every character that is not text replaced by a space, then runs of
    whitespace collapsed to one space and the ends trimmed. Never raises; may return ''."""
    return " ".join(_NOT_TEXT.sub(" ", raw).split())


def whole_number(raw: str) -> int | None:
    """The value of a whole-number parameter, at most NUMBER_CEILING (any larger one reads as
    that), or None when it is not a whole number from 1 written as WHOLE_NUMBER says."""
    if not WHOLE_NUMBER.fullmatch(raw):
        return None
    return NUMBER_CEILING if len(raw) > NUMBER_DIGITS else int(raw)


class PathNumberConverter(IntegerConverter):
    """Werkzeug's ``int`` converter, but for numbers written as PATH_NUMBER says: its own
    (``\\d+``) took ``01`` and other scripts' digits for 1, each another address of the page."""

    regex = PATH_NUMBER


class CacheKeys:
    """How a query is read (``parameters``) and keyed (``for_environ``, ``for_route``).

    ``choices`` names parameters that mean something only with one of a few values (``feed``:
    ``rss2``, ``atom``...; ``v``: the current content hashes): with any other value they read
    as absent. Numbers are clamped to the largest value a route serves before keying (``limit``
    to ``max_limit``: a larger one is answered as that one).

    ``for_environ`` is the fast path's key, from every known parameter (before routing);
    ``for_route`` the key under which a view's response is kept, from the parameters that
    route declares. They agree whenever a request carries no known parameter its route ignores;
    when it does, the fast path misses and the route still finds its entry.
    """

    def __init__(self, max_limit: int, choices: Mapping[str, Collection[str]]):
        self._maximum = {"limit": max_limit, "page": MAX_PAGE}
        assert max(self._maximum.values()) < NUMBER_CEILING, self._maximum
        self._choices = {name: frozenset(values) for name, values in choices.items()}
        assert set(self._choices) <= TEXT_PARAMETERS, self._choices

    def parameters(self, query_string: bytes) -> list[tuple[str, str]]:
        """The known parameters of a raw query string, each name once (its first value, as
        ``MultiDict.get`` would give), text cleaned and numbers in canonical form, by name.

        Invalid UTF-8 becomes U+FFFD, so no value ever holds a surrogate. A value that is not a
        valid number is kept as sent, so that the route can say what is wrong with it (400).
        """
        if not query_string:
            return []
        text = query_string.decode("utf-8", "replace")
        found: dict[str, str] = {}
        for name, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
            if name in PARAMETERS and name not in found:
                found[name] = self._clean(name, value)
        return sorted((n, v) for n, v in found.items() if v in self._choices.get(n, (v,)))

    def _clean(self, name: str, value: str) -> str:
        if name in TEXT_PARAMETERS:
            return clean_text(value)
        number = whole_number(value)
        return str(number) if number is not None else value

    def for_environ(self, environ: dict) -> str | None:
        """None when the query string is too long to read (refused, never cached)."""
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if not query:
            return path
        if len(query) > MAX_QUERY_STRING_BYTES:
            return None
        return self.for_route(path, self.parameters(query.encode("latin-1")))

    @staticmethod
    def open_ended(key: str) -> bool:
        """Whether a key holds a parameter in ``OPEN_ENDED``."""
        _, _, query = key.partition("?")
        return bool(query) and any(name in OPEN_ENDED for name, _ in parse_qsl(query))

    def for_route(self, path: str, known: Iterable[tuple[str, str]]) -> str:
        clamped = []
        for name, value in known:
            maximum = self._maximum.get(name)
            number = whole_number(value) if maximum is not None else None
            if maximum is not None and number is not None and number > maximum:
                value = str(maximum)
            clamped.append((name, value))
        return f"{path}?{urlencode(clamped)}" if clamped else path


class FeedRequest(Request):
    """Flask's request, but ``args`` holds only the known parameters, read by the app's
    ``CacheKeys`` (see the module)."""

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:  # type: ignore[override]
        if len(self.query_string) > MAX_QUERY_STRING_BYTES:
            return ImmutableMultiDict()  # refused with 414 before any view runs
        keys: CacheKeys = current_app.extensions["feedsvc"].cache_keys
        return ImmutableMultiDict(keys.parameters(self.query_string))
