"""Prepared responses: bytes rendered once per store change, served many times.

A ``Prepared`` response is a tiny WSGI application holding a body, its gzip copy, a strong ETag
and every header precomputed. Flask views return one (Flask runs it as a WSGI app), and the
``FastPath`` middleware serves the very same object for repeat requests without entering Flask.
There is therefore one code path for the bytes, headers and status a client gets: the fast path
only skips the routing that would have found the same object.

Freshness is the cache's own business: every lookup compares the store's version (one ``stat()``
of the file the index writer replaces on each commit, and a clock reading for embargo releases),
so a change committed by any process, a worker's watcher or a ``feedsvc index`` run by cron, is
served by every worker from its next request on.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime
from typing import Any, cast

from werkzeug.datastructures import Accept
from werkzeug.http import http_date, parse_date

from . import admission, lastmod
from .admission import RenderSlots
from .params import CacheKeys
from .security import REPRESENTATION_TYPE


def _accept_parser() -> Callable[[str], Accept]:
    """Werkzeug's Accept-header parser: ``Accept.from_header`` since 3.2, which deprecates
    ``parse_accept_header`` (removed in 3.3); the declared range starts at 3.0."""
    parser = getattr(Accept, "from_header", None)
    if parser is None:
        from werkzeug.http import parse_accept_header as parser
    return cast(Callable[[str], Accept], parser)


_parse_accept = _accept_parser()


StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]

# Compressing tiny bodies costs more than it saves.
MIN_GZIP_BYTES = 512
# zlib's default. Level 9 took 9.9 ms for a 197 KB Atom feed here against 7.9 ms at level 6,
# for 0.2 % fewer bytes (55,744 against 55,873); a render compresses every body it caches, and
# a static build every file it writes.
GZIP_LEVEL = 6
# What a cache entry costs beyond its bodies and key: its header lists, ETags and objects
# (measured with tracemalloc: about 4.2 KB for a feed with four variants).
ENTRY_OVERHEAD_BYTES = 4096


def gzipped(body: bytes) -> bytes | None:
    """The gzip body sent for ``body``, or None for a body too short to be worth compressing.
    mtime=0 keeps the compressed bytes, and so the ETag, the same in every worker."""
    if len(body) < MIN_GZIP_BYTES:
        return None
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def cache_control(max_age_seconds: int, *, immutable: bool = False, page: bool = False) -> str:
    """The Cache-Control of every representation feedsvc serves: any cache may keep it for
    ``max_age_seconds`` (RFC 9111 5.2.2.1 max-age, 5.2.2.9 public), then revalidate it, or
    never revalidate it while fresh when ``immutable`` (RFC 8246: a URL naming its content).
    A ``page`` (HTML, what a reader navigates to) is revalidated by a browser at every visit
    (max-age=0; a 304 when nothing changed), and kept ``max_age_seconds`` by shared caches
    (5.2.2.10 s-maxage: the cache tier, a CDN): a reader clicking "Latest" was shown the front
    page of up to five minutes before."""
    if page and not immutable:
        return f"public, max-age=0, s-maxage={max_age_seconds}"
    return f"public, max-age={max_age_seconds}" + (", immutable" if immutable else "")


@functools.lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value accepts gzip, with a quality above 0 (RFC 9110 12.5.3):
    named in any case, or as x-gzip (8.4.1.3); else through ``*``, which stands only for the
    codings not named, so ``gzip;q=0, *`` refuses it. Of names that disagree, a refusal wins.
    Read by Werkzeug; a client's value is one of few, so the answers are kept (this runs for
    every cached response)."""
    named: list[float] = []
    anything = 0.0
    for coding, quality in _parse_accept(accept_encoding):
        coding = coding.lower()
        if coding in ("gzip", "x-gzip"):
            named.append(quality)
        elif coding == "*":
            anything = quality
    return min(named) > 0 if named else anything > 0


# RFC 9110 5.6.7: an HTTP-date is an IMF-fixdate, or one of the obsolete RFC 850 and asctime
# forms, always in GMT. Werkzeug reads other zones and several dates in one value, which a
# recipient of If-Modified-Since or If-Unmodified-Since MUST ignore (13.1.3, 13.1.4).
_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"\d\d:\d\d:\d\d"
_HTTP_DATE = re.compile(
    rf"{_DAY}, \d\d {_MONTH} \d{{4}} {_TIME} GMT"  # IMF-fixdate
    rf"|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \d\d-{_MONTH}-\d\d {_TIME} GMT"  # RFC 850
    rf"|{_DAY} {_MONTH} [ \d]\d {_TIME} \d{{4}}"  # asctime
)


def http_date_value(value: str) -> datetime | None:
    """The time an HTTP-date field value names (UTC), or None for anything else."""
    value = value.strip()
    return parse_date(value) if _HTTP_DATE.fullmatch(value) else None


# A WSGI environ key: the request is the static build's (build.request), whose files keep
# their headers as they are written.
STATIC_COPY = "feedsvc.static_copy"


class _Variant:
    __slots__ = ("body", "etag", "headers", "undated_headers", "not_modified_headers")

    def __init__(self, body: bytes, etag: str, headers: list[tuple[str, str]],
                 not_modified_headers: list[tuple[str, str]]):  # fmt: skip
        self.body = body
        self.etag = etag
        self.headers = headers
        # Before its time is settled (lastmod.py), a response goes out without Last-Modified.
        self.undated_headers = [h for h in headers if h[0] != "Last-Modified"]
        self.not_modified_headers = not_modified_headers


class Prepared:
    """A complete, reusable response: 200 with or without gzip, 304, and HEAD.

    ``vary`` names request headers, besides Accept-Encoding, that chose this response over
    another one at the same URL (a feed and its preview page, see preview.py). ``immutable``
    for a body whose URL changes with it (a content-hashed static file).
    """

    def __init__(
        self,
        body: bytes,
        content_type: str,
        *,
        last_modified: datetime | None,
        max_age_seconds: int,
        links: Iterable[str] = (),
        expires_at: float | None = None,
        fresh_until: float | None = None,
        vary: Iterable[str] = (),
        immutable: bool = False,
    ):
        # None: a time that cannot be consistently determined (RFC 9110 8.8.2.1), never sent.
        self.last_modified = last_modified and last_modified.astimezone(UTC).replace(microsecond=0)
        # Last-Modified is sent, and If-Modified-Since honoured, only from this moment (epoch
        # seconds): see lastmod.py for why a time must settle before a client may rely on it.
        self.dated_from = (
            math.inf if self.last_modified is None else lastmod.settled_at(self.last_modified)
        )
        self.expires_at = expires_at  # monotonic deadline for time-dependent pages
        # Epoch seconds: the store changes by the clock alone then (an embargo lifts), and no
        # cache may keep this response past it (``_until``).
        self.fresh_until = fresh_until
        self.max_age_seconds = max_age_seconds
        tag = hashlib.blake2b(body, digest_size=12).hexdigest()
        # RFC 9110 12.5.5: Vary lists every request header that selected this representation.
        page = content_type.startswith("text/html")
        common = [
            ("Cache-Control", cache_control(max_age_seconds, immutable=immutable, page=page)),
            ("Vary", ", ".join(("Accept-Encoding", *vary))),
        ]
        common += [("Link", link) for link in links]
        packed = gzipped(body)
        # Security headers (X-Content-Type-Options, the CSP...) are security.py's, on every
        # response alike.
        entity = [("Content-Type", content_type)]
        if self.last_modified is not None:
            entity.append(("Last-Modified", http_date(self.last_modified)))
        self._variants: dict[bool, _Variant] = {
            False: self._variant(body, f'"{tag}"', common, entity)
        }
        if packed is not None:
            # A strong tag stands for the exact bytes (RFC 9110 8.8.1): the gzip body's own
            # digest, so that two nodes (or releases) whose zlib compresses otherwise never send
            # different bytes under one tag.
            packed_tag = hashlib.blake2b(packed, digest_size=12).hexdigest()
            self._variants[True] = self._variant(
                packed, f'"{packed_tag}-gzip"', common, [*entity, ("Content-Encoding", "gzip")]
            )
        bodies = {id(variant.body): variant.body for variant in self._variants.values()}
        self.size = sum(map(len, bodies.values()))  # variants share their bodies
        self.recently_used = False
        self._compresses = packed is not None

    @staticmethod
    def _variant(body: bytes, etag: str, common: list, entity: list) -> _Variant:
        headers = [*entity, ("Content-Length", str(len(body))), ("ETag", etag), *common]
        # The 304 has no Content-Type (RFC 9110 15.4.5); security.py needs the type for its policy.
        representation = (REPRESENTATION_TYPE, dict(entity)["Content-Type"])
        return _Variant(body, etag, headers, [("ETag", etag), *common, representation])

    @property
    def body(self) -> bytes:
        return self._variants[False].body

    @property
    def etag(self) -> str:
        return self._variants[False].etag

    def is_fresh(self) -> bool:
        return self.expires_at is None or time.monotonic() < self.expires_at

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        """Answer a GET or HEAD: 200, or as its preconditions say (RFC 9110 13.2.2)."""
        compressed = self._compresses and accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        variant = self._variants[compressed]
        dated = time.time() >= self.dated_from
        until = self._until(environ)
        etag = variant.etag if until is None else _until_tag(variant.etag, until)
        if not self._unchanged(environ, etag, dated):
            start_response("412 Precondition Failed", [("Content-Length", "0")])
            return []
        if self._not_modified(environ, etag, dated):
            start_response(
                "304 Not Modified", _until_headers(variant.not_modified_headers, until, etag)
            )
            return []
        headers = variant.headers if dated else variant.undated_headers
        start_response("200 OK", _until_headers(headers, until, etag))
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [variant.body]

    def _until(self, environ: dict) -> int | None:
        """The epoch second this response is fresh until when that comes before max-age ends
        (``fresh_until``): a feed read 54 s before an embargo lifts is kept 54 s, not
        FEEDSVC_CACHE_MAX_AGE, by a reader, a proxy or the cache tier. None otherwise, and
        for a static copy (STATIC_COPY), whose file cannot say it (its build runs again then)."""
        if self.fresh_until is None or environ.get(STATIC_COPY):
            return None
        if self.fresh_until - time.time() >= self.max_age_seconds:
            return None
        return math.ceil(self.fresh_until)

    def _unchanged(self, environ: dict, etag: str, dated: bool) -> bool:
        """Steps 1 and 2 of RFC 9110 13.2.2, which an origin server MUST evaluate: If-Match
        holds when it names the representation to be sent, compared strongly (13.1.1: ``*``, or
        its tag without W/); else If-Unmodified-Since when the representation was last changed
        no later than its date (13.1.4), ignored without a Last-Modified to compare."""
        if_match = environ.get("HTTP_IF_MATCH")
        if if_match is not None:
            return if_match.strip() == "*" or etag.strip('"') in _strong_tags(if_match)
        since = environ.get("HTTP_IF_UNMODIFIED_SINCE")
        if since and dated and self.last_modified:
            when = http_date_value(since)
            return when is None or self.last_modified <= when
        return True

    def _not_modified(self, environ: dict, etag: str, dated: bool) -> bool:
        # If-None-Match wins: a recipient MUST ignore If-Modified-Since when it is present
        # (RFC 9110 13.1.3, 13.2.2). It is compared with the tag of the representation this
        # response would carry (13.1.2), weakly: the gzip body's tag does not stand for the
        # identity body, nor the other way round (a cache told 304 with a tag it does not hold
        # cannot use it: RFC 9111 4.3.4).
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match is not None:
            return if_none_match == etag or matches_any(if_none_match, (etag,))
        # 13.1.3: not modified when the representation's last modification is no later than
        # the date given; only once that time has settled, else a change in the same second
        # could hide behind it.
        since = environ.get("HTTP_IF_MODIFIED_SINCE")
        if since and dated and self.last_modified:
            when = http_date_value(since)
            return when is not None and self.last_modified <= when
        return False


def _until_tag(etag: str, until: int) -> str:
    """The entity tag of a representation sent fresh ``until`` (Prepared._until): another than
    the same bytes' sent with max-age, so that no 304 carries a cache across from one set of
    headers to the other. A cache told 304 keeps the headers it stored (nginx's does): with one
    tag for both, the tier went on sending the Expires of an embargo past its release, for
    every page the release left as it was."""
    return f'{etag[:-1]}-until{until}"'


def _until_headers(
    headers: list[tuple[str, str]], until: int | None, etag: str
) -> list[tuple[str, str]]:
    """``headers`` fresh until the epoch second ``until`` (None: as they are): Expires, that
    date, and no max-age (RFC 9111 5.3: a max-age would override it; counted down here, it was
    replayed unchanged by a cache that sends no Age, nginx's), with ``etag``."""
    if until is None:
        return headers
    changed = {"Cache-Control": "public", "ETag": etag}
    return [*((k, changed.get(k, v)) for k, v in headers), ("Expires", http_date(until))]


# RFC 9110 section 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE. Unquoted tags, which some
# clients send, are taken as they are, as Werkzeug's parser did.
_ENTITY_TAGS = re.compile(r'\s*(W/)?("[^"]*"|[^,\s]+)\s*(?:,|$)')


def _strong_tags(field_value: str) -> set[str]:
    """The strong entity tags of an If-Match value, unquoted (RFC 9110 8.8.3.2: a weak tag
    never matches strongly)."""
    return {tag.strip('"') for weak, tag in _ENTITY_TAGS.findall(field_value) if not weak}


def matches_any(if_none_match: str, etags: Iterable[str]) -> bool:
    """Whether an If-None-Match value matches one of ``etags`` (quoted strong tags).

    RFC 9110 section 13.1.2: "*" matches any current representation, and the comparison is the
    weak one (section 8.8.3.2), so a W/ prefix on either side does not matter.
    """
    if if_none_match.strip() == "*":
        return True
    ours = {tag.removeprefix("W/").strip('"') for tag in etags}
    return any(tag.strip('"') in ours for _, tag in _ENTITY_TAGS.findall(if_none_match))


class ResponseCache:
    """Prepared responses by request path and query, dropped whenever the store changes.

    ``version`` is asked on every lookup (Store.version: one stat() and a clock reading) and the
    cache is dropped when it differs from the last one seen, but for ``lasting`` entries, made
    without reading the store (static files), which no change of it can touch. Bounded by
    entries and by bytes (bodies, keys and each entry's own overhead), whatever URLs clients
    invent. Eviction is a CLOCK sweep: entries served since the last sweep survive it, so a
    flood of one-off URLs cannot push the popular feeds out.
    """

    def __init__(
        self,
        version: Callable[[], Hashable],
        max_entries: int = 4096,
        max_bytes: int = 48 * 1024 * 1024,
    ):
        self._version = version
        self._seen_version = version()
        self._entries: dict[str, Prepared] = {}
        self._lasting: set[str] = set()  # keys of entries that outlive a change of the store
        self._bytes = 0  # what entries cost (_cost): a key can be as long as its query string
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._bytes

    def current_version(self) -> Hashable:
        """The store's version, the cache dropped first if it moved on."""
        version = self._version()
        if version != self._seen_version:
            self.clear(version)
        return version

    def get(self, key: str) -> Prepared | None:
        version = self._version()
        if version != self._seen_version:
            self.clear(version)
        prepared = self._entries.get(key)
        if prepared is None or not prepared.is_fresh():
            return None
        prepared.recently_used = True
        return prepared

    def put(
        self, key: str, prepared: Prepared, version: Hashable, *, lasting: bool = False
    ) -> None:
        with self._lock:
            if version != self._seen_version or prepared.size > self._max_bytes // 4:
                return  # rendered from an older state, or too big to keep
            if (old := self._entries.pop(key, None)) is not None:
                self._bytes -= _cost(key, old)
            self._entries[key] = prepared
            self._bytes += _cost(key, prepared)
            if lasting:
                self._lasting.add(key)
            if len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
                self._evict()

    def _evict(self) -> None:
        # Sweep down to three quarters of the budget, so that sweeps stay rare.
        def over() -> bool:
            return (
                len(self._entries) > self._max_entries * 3 // 4
                or self._bytes > self._max_bytes * 3 // 4
            )

        for sweep in (1, 2):  # the second sweep drops what the first only marked
            for key, prepared in list(self._entries.items()):
                if not over():
                    return
                if prepared.recently_used and sweep == 1:
                    prepared.recently_used = False
                    continue
                del self._entries[key]
                self._lasting.discard(key)
                self._bytes -= _cost(key, prepared)

    def clear(self, version: Hashable | None = None) -> None:
        """Drop every entry that depends on the store (all of them if ``version`` is None)."""
        with self._lock:
            kept = {} if version is None else {
                key: self._entries[key] for key in self._lasting if key in self._entries
            }  # fmt: skip
            self._entries, self._lasting = kept, set(kept)
            self._bytes = sum(_cost(key, prepared) for key, prepared in kept.items())
            self._seen_version = self._version() if version is None else version


def _cost(key: str, prepared: Prepared) -> int:
    return prepared.size + len(key) + ENTRY_OVERHEAD_BYTES


class FastPath:
    """WSGI middleware: answer GET/HEAD from the response cache; else, if the same response is
    being rendered, wait for it; else render it through Flask if admission.py lets it in, or
    answer 503 at once."""

    def __init__(self, app: WSGIApp, cache: ResponseCache, keys: CacheKeys, slots: RenderSlots):
        self.app = app
        self.cache = cache
        self.keys = keys
        self.slots = slots

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        key, open_ended = None, False
        if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            key = self.keys.for_environ(environ)
            if key is None:
                return admission.too_long(environ, start_response)
            prepared = self.cache.get(key)
            if prepared is None:
                waited = self.slots.wait_for(key)
                if waited == RenderSlots.NO_ROOM_TO_WAIT:
                    return admission.busy(environ, start_response)
                if waited == RenderSlots.WAITED:
                    prepared = self.cache.get(key)  # rendered meanwhile by the one waited for
            if prepared is not None:
                return prepared(environ, start_response)
            open_ended = self.keys.open_ended(key)
        with self.slots.render(key, open_ended) as admitted:
            if not admitted:
                return admission.busy(environ, start_response)
            # Flask builds the whole body before returning (no view streams), so the slot is
            # held exactly as long as the render.
            return self.app(environ, start_response)
