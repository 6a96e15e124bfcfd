"""Freshness is the response cache's own business: every worker serves what any process
committed from its next request on, so a hub pinged after a commit never fetches stale bytes."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .conftest import (
    SITE_URL,
    LiveServer,
    hex_id,
    raw_get,
    start_server,
    stop_server,
    wait_for,
    write_document,
)

WORKERS = 2


def warm(server: LiveServer, paths: list[str], rounds: int = 8) -> None:
    """Fill every worker's cache: the kernel hands each new connection to one of them."""
    for _ in range(rounds):
        for path in paths:
            assert raw_get(server, path).status == 200


def test_an_index_written_by_another_process_is_served_at_once(tmp_path: Path, seeds: Path) -> None:
    server = start_server(tmp_path, seeds, WATCH="false", workers=WORKERS)
    try:
        warm(server, ["/feed.atom", "/"])
        write_document(seeds, 1, hex_id(1), date="1 Dec 2024", headline="Indexed by cron")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
        env.update(FEEDSVC_SEEDS_DIR=str(seeds), FEEDSVC_SITE_URL=SITE_URL,
                   FEEDSVC_INDEX_PATH=str(tmp_path / "live-index" / "index.sqlite3"))  # fmt: skip
        subprocess.run([sys.executable, "-m", "feedsvc", "index"], env=env, check=True,
                       capture_output=True, timeout=60)  # fmt: skip
        # From the moment `feedsvc index` has committed, every request to every worker.
        for _ in range(20):
            for path in ("/feed.atom", "/"):
                body = raw_get(server, path).body  # type: ignore[attr-defined]
                assert b"Indexed by cron" in body, path
    finally:
        stop_server(server)


@dataclass
class Hub:
    """A WebSub hub that fetches a topic the moment it is told of a change, as a fast hub
    would, and records whether it got the story just written."""

    server_url: str = ""
    expected: str = ""
    fetches: list[tuple[str, str, bool]] = field(default_factory=list)  # (url, story, fresh)
    fetched_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, form: dict[str, list[str]]) -> None:
        topic = form["hub.url"][0]
        with self.lock:
            expected = self.expected
        with urllib.request.urlopen(topic.replace(SITE_URL, self.server_url), timeout=10) as r:
            fresh = expected.encode() in r.read()
        with self.lock:
            self.fetches.append((topic, expected, fresh))
            self.fetched_at.append(time.time())


@pytest.fixture
def hub() -> Iterator[tuple[str, Hub]]:
    state = Hub()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers["Content-Length"])
            state.received(urllib.parse.parse_qs(self.rfile.read(length).decode()))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hub", state
    finally:
        server.shutdown()
        server.server_close()


def test_a_hub_that_fetches_at_once_always_gets_the_change(
    tmp_path: Path, seeds: Path, hub: tuple[str, Hub]
) -> None:
    hub_url, state = hub
    server = start_server(tmp_path, seeds, WEBSUB_HUB=hub_url, workers=WORKERS)
    state.server_url = server.url
    feeds = ["/feed.atom", "/feed.rss", "/feed.json"]
    try:
        stories = 17  # three feeds each: 51 pings
        for n in range(1, stories + 1):
            warm(server, feeds, rounds=3)  # both workers hold the previous bytes
            with state.lock:
                state.expected = f"Story number {n} of the race"
            write_document(seeds, n, hex_id(n), date="1 Dec 2024", dateline="",
                           headline=state.expected)  # fmt: skip
            pings = 3 * n
            wait_for(lambda: len(state.fetches) >= pings, 15.0)  # noqa: B023 - waited for here
        assert len(state.fetches) >= 50
        stale = [(url, story) for url, story, fresh in state.fetches if not fresh]
        assert stale == []
        assert {url for url, _, _ in state.fetches} == {f"{SITE_URL}{f}" for f in feeds}

        # An embargo: the hub hears of the story when it is released, and gets it.
        told = len(state.fetches)
        release = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        with state.lock:
            state.expected = "Released on the dot"
        write_document(seeds, 99, hex_id(99), date=f"{release:%Y-%m-%d %H:%M:%S} UTC",
                       dateline="", headline=state.expected)  # fmt: skip
        wait_for(lambda: len(state.fetches) >= told + 3, 15.0)
        assert min(state.fetched_at[told:]) >= release.timestamp()
        assert [fresh for _, _, fresh in state.fetches[told:]] == [True] * 3
    finally:
        stop_server(server)
