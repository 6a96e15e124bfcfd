"""Admission of uncached work: a few renders at a time per worker, the rest told to come back.

A response served from the cache costs microseconds; one rendered costs milliseconds (a search
over every article, a feed of 200 entries, gzip). Were renders queued like everything else, a
flood of distinct searches would put every cached feed behind it. So a worker renders at most a
few requests at once, in two lanes: requests whose parameters a client can vary without end
(searches, odd limits, later pages: ``params.OPEN_ENDED``) and the site's own URLs (a feed or
page after a change, an article's first view, a static file), so that a search flood never
delays a feed's re-render. A request for a response already being rendered waits for that
render instead of starting another. A request that finds its lane busy waits briefly in a short
line (a browser asks for a page and its style sheet, script and icon at once); beyond the line,
it is answered at once with 503 and ``Retry-After`` (RFC 9110 15.6.4, 10.2.3), without entering
Flask; so is a query string too long to read (414).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


# How long a request waits in line for a render slot before it gives up (503), unless its lane
# says otherwise; and how long for the same response being rendered by another request, before
# it renders it itself.
LINE_WAIT_SECONDS = 1.0
COALESCE_WAIT_SECONDS = 6.0  # a line's longest wait and then some: the render usually comes


@dataclass(frozen=True)
class LaneSize:
    renders: int  # at once
    waiting: int  # in line for one of them, each holding a request thread
    wait_seconds: float = LINE_WAIT_SECONDS  # how long one waits in line


# Per worker process. Renders and waiters each hold a request thread, so the server's request
# threads (serving.py) exceed all of them together, and a cached response always finds one.
OPEN_ENDED_LANE = LaneSize(renders=1, waiting=1)
# The site's own URLs are finite, and they are what readers come for. After a change every one
# of them is rendered again, and a burst of readers of different feeds (every city's, say) must
# wait a moment for its render, not be refused: with a line of 3, 32 of 42 readers fetching the
# 42 feeds of a 2,000-document site right after a change were told 503. The line is long enough
# for such a burst and its wait long enough for a worker to render it; a crawl of every article
# still finds it full and gets 503 beyond it.
SITE_LANE = LaneSize(renders=2, waiting=64, wait_seconds=5.0)
# Requests waiting for a render of the same response by another request (a burst of readers of
# one feed after a change): each holds a thread too, so they are bounded like the lines.
COALESCED_WAITING = 64
THREADS_BUSY_AT_MOST = COALESCED_WAITING + sum(
    lane.renders + lane.waiting for lane in (OPEN_ENDED_LANE, SITE_LANE)
)
RETRY_AFTER_SECONDS = 1

_BUSY_BODY = b"Busy: too many requests are being prepared. Try again in a second.\n"
_BUSY_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(_BUSY_BODY))),
    ("Retry-After", str(RETRY_AFTER_SECONDS)),
    # A shared cache must not keep the refusal in place of the response (RFC 9111 5.2.2.5).
    ("Cache-Control", "no-store"),
]
_TOO_LONG_BODY = b"The query string is too long.\n"
_TOO_LONG_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(_TOO_LONG_BODY))),
]


class _Lane:
    def __init__(self, size: LaneSize):
        self._wait_seconds = size.wait_seconds
        self._slots = threading.BoundedSemaphore(size.renders)
        self._line = threading.BoundedSemaphore(size.waiting) if size.waiting else None

    def enter(self) -> bool:
        """Take a render slot: at once, or after waiting in line if there is room in it."""
        if self._slots.acquire(blocking=False):
            return True
        if self._line is None or not self._line.acquire(blocking=False):
            return False
        try:
            return self._slots.acquire(timeout=self._wait_seconds)
        finally:
            self._line.release()

    def leave(self) -> None:
        self._slots.release()


class RenderSlots:
    """Two bounded lanes of concurrent renders, and the renders under way by cache key."""

    # What wait_for() found.
    NONE_UNDER_WAY, WAITED, NO_ROOM_TO_WAIT = "none under way", "waited", "no room to wait"

    def __init__(
        self,
        open_ended: LaneSize = OPEN_ENDED_LANE,
        site: LaneSize = SITE_LANE,
        coalesced_waiting: int = COALESCED_WAITING,
    ):
        self._lanes = {True: _Lane(open_ended), False: _Lane(site)}
        self._waiting = threading.BoundedSemaphore(coalesced_waiting)
        self._under_way: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def wait_for(self, key: str) -> str:
        """Wait (up to COALESCE_WAIT_SECONDS) for a render of ``key`` already under way, from
        the moment its request got in line: so a burst of readers of one feed after a change
        costs one render and one place in line. NO_ROOM_TO_WAIT when too many already wait."""
        done = self._under_way.get(key)
        if done is None:
            return self.NONE_UNDER_WAY
        if not self._waiting.acquire(blocking=False):
            return self.NO_ROOM_TO_WAIT
        try:
            done.wait(COALESCE_WAIT_SECONDS)
        finally:
            self._waiting.release()
        return self.WAITED

    @contextmanager
    def render(self, key: str | None, open_ended: bool) -> Iterator[bool]:
        """Enter the lane (``open_ended`` or the site's): yields False when it is full. ``key``
        is None for requests that are never cached (other methods)."""
        done = threading.Event()
        owner = False
        if key is not None:
            with self._lock:
                owner = self._under_way.setdefault(key, done) is done
        try:
            lane = self._lanes[open_ended]
            if not lane.enter():
                yield False
                return
            try:
                yield True
            finally:
                lane.leave()
        finally:
            if owner:
                with self._lock:
                    del self._under_way[key]  # type: ignore[arg-type]
            done.set()


def busy(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    start_response("503 Service Unavailable", list(_BUSY_HEADERS))
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [_BUSY_BODY]


def too_long(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    start_response("414 URI Too Long", list(_TOO_LONG_HEADERS))
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [_TOO_LONG_BODY]
