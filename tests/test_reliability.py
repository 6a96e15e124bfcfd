"""Reliability under abuse, against a real ``feedsvc serve`` on 2,000 generated documents.

A flood of distinct searches must not slow cached feeds, nor leave a backlog behind it;
distinct query strings must not grow the workers' memory; idle and half-sent connections must
not lock a new client out. wrk (Debian's ``wrk``) is the attacker, plain sockets the victim.

Run apart with ``pytest -m reliability``; CI runs it with the rest (about a minute). The
figures each test reaches are printed (``pytest -s``) and written to tests/artifacts/.
"""

from __future__ import annotations

import collections
import concurrent.futures
import http.client
import json
import re
import resource
import shutil
import socket
import statistics
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks import corpus
from benchmarks.harness import child_pids, rss_mib
from feedsvc.serving import HEADER_READ_TIMEOUT_SECONDS

from .conftest import LiveServer, hex_id, start_server, stop_server, write_document

DOCUMENTS = 2_000
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FIGURES: dict[str, float] = {}

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)"),
]

# Distinct searches that each match many articles, with a limit of 51-200: every request is a
# full render (full-text search, up to 200 entries, gzip), the costliest thing a client can ask.
SEARCH_FLOOD = """
local words = {"the","said","and","for","was","with","that","has","have","are","its","will",
  "but","not","were","which","this","had","they","been","their","after","who","would","more",
  "also","about","year","government","officials","than","percent","market","minister",
  "president","people","some","week","first","state"}
local counter = 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
function init(args) n = 0 end
function request()
  n = n + 1
  local a = words[(n % #words) + 1]
  local b = words[(math.floor(n / #words) % #words) + 1]
  local limit = 51 + (id * 7919 + math.floor(n / 1600)) % 150
  return wrk.format("GET", "/search/feed.atom?q=" .. a .. "+" .. b .. "&limit=" .. limit)
end
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp_path = tmp_path_factory.mktemp("reliability")
    seeds = tmp_path / "seeds"
    corpus.write(seeds, DOCUMENTS)
    live = start_server(tmp_path, seeds)
    try:
        yield live
    finally:
        stop_server(live)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "reliability.json").write_text(json.dumps(FIGURES, indent=2) + "\n")


def record(name: str, value: float) -> None:
    FIGURES[name] = round(value, 3)
    print(f"{name}: {value:.3f}")


def address(server: LiveServer) -> tuple[str, int]:
    host, port = urllib.parse.urlsplit(server.url).netloc.split(":")
    return host, int(port)


def timed_get(server: LiveServer, path: str) -> tuple[int, float]:
    """(status, seconds) of one GET on a fresh connection, as a feed reader polls."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection(*address(server), timeout=30)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - start
    finally:
        connection.close()


def probe(server: LiveServer, seconds: float) -> tuple[list[int], list[float]]:
    statuses, latencies = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, took = timed_get(server, "/feed.json")
        statuses.append(status)
        latencies.append(took)
        time.sleep(0.01)
    return statuses, latencies


def start_wrk(tmp_path: Path, server: LiveServer, script: str, *args: str) -> subprocess.Popen:
    lua = tmp_path / "script.lua"
    lua.write_text(script)
    return subprocess.Popen(
        ["wrk", *args, "--timeout", "10s", "-s", str(lua), server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(wrk: subprocess.Popen, timeout: float) -> tuple[int, int]:
    """(requests, responses other than 2xx/3xx) of a wrk run, once it has ended."""
    try:
        out, _ = wrk.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        wrk.kill()
        wrk.communicate()
        raise
    assert wrk.returncode == 0, out
    total = re.search(r"(\d+) requests in", out)
    assert total, out
    refused = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return int(total.group(1)), int(refused.group(1)) if refused else 0


def warm(server: LiveServer) -> None:
    for _ in range(20):  # fresh connections reach both workers
        assert timed_get(server, "/feed.json")[0] == 200


def test_cached_feed_stays_fast_under_a_search_flood(server: LiveServer, tmp_path: Path) -> None:
    warm(server)
    quiet = [timed_get(server, "/feed.json")[1] for _ in range(200)]
    record("quiet_cached_feed_p50_ms", statistics.median(quiet) * 1000)

    wrk = start_wrk(tmp_path, server, SEARCH_FLOOD, "-t2", "-c64", "-d10s")
    try:
        time.sleep(1.5)  # let the flood fill every queue
        statuses, latencies = probe(server, 7.0)
    finally:
        requests, refused = finish(wrk, timeout=60)
    p50_ms = statistics.median(latencies) * 1000
    record("flood_cached_feed_p50_ms", p50_ms)
    record("flood_cached_feed_p90_ms", statistics.quantiles(latencies, n=10)[-1] * 1000)
    record("flood_searches_rendered_per_second", (requests - refused) / 10)
    record("flood_searches_refused_503_per_second", refused / 10)
    status, after = timed_get(server, "/feed.json")
    record("after_flood_first_request_ms", after * 1000)

    assert set(statuses) == {200}  # the cached feed is never refused
    assert p50_ms < 50, f"cached feed p50 {p50_ms:.1f} ms under the flood"
    assert statistics.median(quiet) * 1000 < 5
    assert requests > refused > 0  # searches were served, and the excess refused
    assert status == 200 and after < 1.0


def test_no_backlog_of_abandoned_work_after_a_wide_flood(
    server: LiveServer, tmp_path: Path
) -> None:
    warm(server)
    wrk = start_wrk(tmp_path, server, SEARCH_FLOOD, "-t2", "-c512", "-d4s")
    finish(wrk, timeout=60)  # every flooding client has gone
    status, after = timed_get(server, "/feed.json")
    record("after_512_connection_flood_first_request_ms", after * 1000)
    # A search may still find its lane taken by a flood request granian had already queued (a
    # WSGI server cannot see that a queued request's client has gone): it is told to retry in
    # a second, and then served.
    start = time.monotonic()
    for _ in range(4):
        status_search, _ = timed_get(server, "/search/feed.atom?q=oil+market")
        if status_search != 503:
            break
        time.sleep(1)  # Retry-After
    record("after_512_connection_flood_search_served_s", time.monotonic() - start)
    assert status == 200 and after < 1.0
    assert status_search == 200 and time.monotonic() - start < 4.0


def workers_rss_mib(server: LiveServer) -> list[float]:
    return [rss_mib(pid) for pid in child_pids(server.process.pid)]


# Distinct query strings of about 65 KB on a search that finds nothing (a small, cacheable
# answer): the keys, not the bodies, are what would fill a cache that did not count them.
LONG_QUERIES = """
local counter = 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
function init(args) n = 0; pad = string.rep("a", 65000) end
function request()
  n = n + 1
  return wrk.format("GET", "/search/feed.json?q=qqqqqq&x=RUN-" .. id .. "-" .. n .. pad)
end
"""


def test_distinct_long_query_strings_do_not_grow_the_workers(
    server: LiveServer, tmp_path: Path
) -> None:
    warm(server)
    before = workers_rss_mib(server)
    sent, runs, give_up = 0, 0, time.monotonic() + 60
    while sent < 12_000 and time.monotonic() < give_up:
        runs += 1
        script = LONG_QUERIES.replace("RUN", str(runs))
        requests, _ = finish(start_wrk(tmp_path, server, script, "-t2", "-c8", "-d3s"), 60)
        sent += requests
    after = workers_rss_mib(server)
    growth = max(b - a for a, b in zip(before, after, strict=True))
    record("long_query_strings_sent", sent)
    record("long_query_strings_worker_rss_growth_mib", growth)
    assert sent >= 12_000
    assert len(before) >= 2 and growth < 50, (before, after)
    assert timed_get(server, "/feed.json")[0] == 200


def raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_idle_and_half_sent_connections_never_lock_a_client_out(server: LiveServer) -> None:
    idle_count, half_count = 2_100, 100
    raise_file_limit(idle_count + half_count + 256)
    sockets = []
    try:
        for n in range(idle_count + half_count):
            sock = socket.create_connection(address(server), timeout=10)
            if n >= idle_count:  # a request head that never ends (slowloris)
                sock.sendall(b"GET /feed.json HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sockets.append(sock)
        opened = time.monotonic()
        time.sleep(0.5)
        status, took = timed_get(server, "/feed.json")
        record("probe_with_2200_idle_sockets_ms", took * 1000)
        assert status == 200 and took < 1.0

        # Every one of them is closed by the server once its head is overdue.
        open_sockets = set(sockets)
        deadline = opened + HEADER_READ_TIMEOUT_SECONDS + 10
        while open_sockets and time.monotonic() < deadline:
            for sock in list(open_sockets):
                sock.setblocking(False)
                try:
                    if sock.recv(65536) == b"":
                        open_sockets.discard(sock)
                except BlockingIOError:
                    pass
                except OSError:
                    open_sockets.discard(sock)
            time.sleep(0.2)
        record("idle_sockets_closed_after_s", time.monotonic() - opened)
        assert not open_sockets, f"{len(open_sockets)} idle connections still open"
    finally:
        for sock in sockets:
            sock.close()


def test_readers_of_every_feed_right_after_a_change_are_served_not_refused(
    server: LiveServer,
) -> None:
    # A change drops every cached response; the readers who come next each want a different
    # feed (every city's, every agency's), several of them the same one. They must wait a
    # moment for the renders, not be told 503: readers poll again only half an hour later.
    opml = urllib.request.urlopen(f"{server.url}/feeds.opml", timeout=30).read().decode()
    paths = [urllib.parse.urlsplit(u).path for u in re.findall(r'xmlUrl="([^"]+)"', opml)]
    assert len(paths) > 40
    # Dated today: the newest article. (One dated in 2021, as write_document's default, only
    # reaches the subscription feed as an older article edited since, and against a corpus
    # just written, whose files' times are in no order, that is taken for a copied folder and
    # republished in no feed: channels.Channels.subscription_entries.)
    today = datetime.now(UTC).strftime("%d %b %Y")
    write_document(server.seeds, 9_999, hex_id(9_999), headline="After the flood, news", date=today)
    deadline = time.monotonic() + 10
    while b"After the flood, news" not in urllib.request.urlopen(f"{server.url}/feed.atom").read():
        assert time.monotonic() < deadline, "the new document never reached the feed"
        time.sleep(0.1)
    write_document(server.seeds, 10_000, hex_id(10_000), headline="And one more")  # all dropped
    time.sleep(1.0)
    burst = [path for path in paths for _ in range(3)]
    with concurrent.futures.ThreadPoolExecutor(len(burst)) as pool:
        results = list(pool.map(lambda path: timed_get(server, path), burst))
    statuses = [status for status, _ in results]
    record("burst_after_change_slowest_s", max(took for _, took in results))
    assert statuses.count(200) == len(burst), collections.Counter(statuses)
    # The request threads that waited and rendered leave no weight behind (an index connection
    # each, malloc arenas of their own): after every test of this module, each worker's cache
    # full to its 48 MiB budget, a worker measured 140 MiB; 254 MiB when they did.
    sizes = workers_rss_mib(server)
    record("worker_rss_after_burst_mib", max(sizes))
    assert max(sizes) < 180, sizes
