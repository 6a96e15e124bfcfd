"""WebSub publishing: tell the hub which feeds changed, in the background, with retries.

Only the process that indexes calls ``publish`` (from the watcher thread), so each change is
announced once, and only after it is committed: every worker serves a committed change from its
next request on (httpcache.py), so a hub that fetches the feed the moment it is told gets the new
bytes. (WebSub 6: the publisher MUST inform its hubs when a topic is updated, by a mechanism left
open; the common hubs take a POST of hub.mode=publish and hub.url, then fetch the topic to
distribute it, 7.) An embargoed article is announced when it is released. A failing hub is
retried with exponential back-off and logged; nothing here ever runs on a request's path.

Behind a cache (docs/deploy.md), the hub fetches the feed through it, and would get the copy
the cache holds from before the change: with FEEDSVC_WEBSUB_REFRESH_URL, each changed feed is
first asked of the cache anew, in each encoding it keeps apart, with ``X-Feedsvc-Refresh: 1``,
which the tier's configuration honours from its nodes' addresses only (``proxy_cache_bypass``:
the answer, from whichever node, replaces the stored one). Every node does so after its own
commit, so the last node to see a change refreshes the cache from nodes that all hold it, then
tells the hub.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from urllib.parse import urlencode, urlsplit

from .channels import Channel
from .store import Report
from .urls import Site

log = logging.getLogger(__name__)

ATTEMPTS = 6
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
TIMEOUT_SECONDS = 10.0
# The request header the cache tier's configuration bypasses its stored copy for.
REFRESH_HEADER = "X-Feedsvc-Refresh"
# The encodings the tier keys apart (docs/nginx-front.conf, $feedsvc_encoding); a hub's fetch
# is no browser navigation, so previews need no refresh.
REFRESHED_ENCODINGS = ("identity", "gzip")


def changed_channels(touched: Iterable[tuple[str | None, str | None]]) -> list[Channel]:
    """The channels whose feeds a change alters, from the (agency slug, city slug) of the old
    and new versions of the articles it touched (none: nothing a reader sees changed)."""
    touched = list(touched)
    channels = {Channel("main")} if touched else set()
    for agency_slug, city_slug in touched:
        if agency_slug:
            channels.add(Channel.of_facet("agency", agency_slug))
        if city_slug:
            channels.add(Channel.of_facet("city", city_slug))
    return sorted(channels, key=lambda c: (c.kind != "main", c.kind, c.key))


class Notifier:
    """Publishes feed URLs to a WebSub hub from a background thread, started by ``start()``."""

    def __init__(self, hub_url: str, site: Site, refresh_url: str = ""):
        self.hub_url = hub_url
        self.site = site
        self.refresh_url = refresh_url  # the cache tier's origin, or "" without one
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="feedsvc-websub", daemon=True)

    def start(self) -> Notifier:
        self._thread.start()
        return self

    def publish(self, report: Report) -> None:
        for channel in changed_channels(report.touched):
            for path in channel.websub_topics():
                self._queue.put(self.site.url(path))

    def _run(self) -> None:
        while True:
            self._deliver(self._queue.get())

    def _deliver(self, feed_url: str) -> None:
        if self.refresh_url:
            self._refresh(feed_url)
        data = urlencode({"hub.mode": "publish", "hub.url": feed_url}).encode()
        delay = FIRST_DELAY_SECONDS
        for attempt in range(1, ATTEMPTS + 1):
            try:
                request = urllib.request.Request(self.hub_url, data=data, method="POST")
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                    log.info("hub %s accepted %s (%s)", self.hub_url, feed_url, response.status)
                    return
            except (urllib.error.URLError, OSError) as exc:
                log.warning(
                    "hub %s refused %s (attempt %d of %d): %s",
                    self.hub_url, feed_url, attempt, ATTEMPTS, exc,
                )  # fmt: skip
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
        log.error("gave up notifying hub %s of %s", self.hub_url, feed_url)

    def _refresh(self, feed_url: str) -> None:
        """Ask the cache tier for ``feed_url`` anew, in every encoding it stores apart, so that
        it holds this node's copy when the hub fetches it. A failure is logged, and the hub is
        told all the same (it may then get the previous copy, as without a refresh)."""
        target = self.refresh_url + urlsplit(feed_url).path
        for encoding in REFRESHED_ENCODINGS:
            headers = {REFRESH_HEADER: "1", "Accept-Encoding": encoding}
            try:
                request = urllib.request.Request(target, headers=headers)
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                    response.read()
            except (urllib.error.URLError, OSError) as exc:
                log.warning("cache tier %s did not refresh %s: %s", self.refresh_url, target, exc)
