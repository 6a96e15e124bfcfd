"""The cache tier of docs/deploy.md: docs/nginx-front.conf with its "#cache " lines switched on,
Debian's nginx caching in front of two ``feedsvc serve`` nodes that share one seeds folder, each
with its own index, all on loopback.

A client gets what a node would have sent it (compressed or not, a feed or its preview), 304s
come from the cache, a new document reaches readers through the cache within max-age and a
second, and under load the nodes see about one request per URL and variant per max-age, and
none of the edge's clients notices when a node is killed.
"""

from __future__ import annotations

import gzip
import html
import http.client
import http.server
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.http import http_date, parse_date

from benchmarks import corpus
from feedsvc import create_app, inventory, lastmod
from feedsvc.channels import has_preview, preview_path
from feedsvc.web import LEGACY_FEEDS

from .conftest import (
    SITE_URL,
    LiveServer,
    free_port,
    hex_id,
    start_server,
    stop_server,
    wait_for,
    write_document,
)
from .test_nginx_front import FRONT_CONF, NGINX, start_nginx, stop_nginx, with_ports

MAX_AGE_SECONDS = 2  # FEEDSVC_CACHE_MAX_AGE of both nodes: short, so the test is short
ATOM = "{http://www.w3.org/2005/Atom}"
WRK_SECONDS = 10

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(not Path(NGINX).exists(), reason="needs nginx-light (apt-get)"),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)"),
]


def cache_tier_conf(port: int, nodes: list[int], cache_dir: Path) -> str:
    """docs/nginx-front.conf made into the cache tier exactly as docs/deploy.md says (the sed
    line that uncomments "#cache "), with loopback ports and a temporary cache folder."""
    conf = re.sub(r"^(\s*)#cache ", r"\1", FRONT_CONF.read_text(), flags=re.MULTILINE)
    conf, paths = re.subn(r"/var/cache/nginx/feedsvc\b", str(cache_dir), conf)
    assert paths == 1
    return with_ports(conf, port, nodes)


@dataclass
class Tier:
    port: int
    nodes: list[LiveServer]
    access_logs: list[Path]

    def origin_requests(self) -> int:
        """Requests the nodes have answered so far (their access logs' lines)."""
        return sum(
            len(path.read_bytes().splitlines()) for path in self.access_logs if path.exists()
        )


@pytest.fixture(scope="module")
def tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tier]:
    tmp_path = tmp_path_factory.mktemp("cache-tier")
    seeds = tmp_path / "seeds"  # the shared folder
    corpus.write(seeds, 30)
    nodes: list[LiveServer] = []
    logs = [tmp_path / f"node{n}" / "access.log" for n in (1, 2)]
    nginx = None
    try:
        for log in logs:
            node = start_server(log.parent, seeds, workers=1, CACHE_MAX_AGE=str(MAX_AGE_SECONDS),
                                ACCESS_LOG=str(log))  # fmt: skip
            nodes.append(node)
        port = free_port()
        ports = [urllib.parse.urlsplit(node.url).port or 0 for node in nodes]
        conf = cache_tier_conf(port, ports, tmp_path / "cache")
        nginx = start_nginx(tmp_path, conf, port)
        yield Tier(port, nodes, logs)
    finally:
        if nginx is not None:
            stop_nginx(nginx)
        for node in nodes:
            stop_server(node)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def get(port: int, path: str, **headers: str) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()}
        )
        response = connection.getresponse()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


def node_port(node: LiveServer) -> int:
    return urllib.parse.urlsplit(node.url).port or 0


# Where a crawl of the site starts: what links to everything else, and the addresses nothing
# links to (the old feed addresses, a search, an article's old slug).
CRAWL_FROM = ["/", "/feeds.opml", "/sitemap.xml", "/news-sitemap.xml", "/robots.txt",
              "/favicon.ico", "/sources", "/places", "/search?q=officials",
              "/search/feed.atom?q=oil", "/?feed=rss2", *LEGACY_FEEDS]  # fmt: skip
SITE_LINK = re.compile(re.escape(SITE_URL) + r"(/[^\s\"'<>]*)")
PAGE_LINK = re.compile(r"(?:href|src|action)=\"(/[^\"]*)\"")


def site_links(body: bytes) -> set[str]:
    """Every URL of the site that ``body`` links to, as a path with its query."""
    # A category's scheme (Atom, RFC 4287 4.2.2.2) or domain (RSS 2.0) names its vocabulary;
    # it is not a link.
    text = re.sub(r'(?:scheme|domain)="[^"]*"', "", body.decode("utf-8", "replace"))
    found = {html.unescape(link) for link in SITE_LINK.findall(text) + PAGE_LINK.findall(text)}
    return {link.split("#")[0] for link in found if not link.startswith("//")}


def crawl(port: int) -> dict[str, Reply]:
    """Every URL reachable from CRAWL_FROM by the links in what ``port`` answers, with the
    answer; article pages also under a slug they never had (a redirect)."""
    seen: dict[str, Reply] = {}
    todo = list(CRAWL_FROM)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = reply = get(port, path)
        links = site_links(reply.body) | site_links(reply.headers.get("location", "").encode())
        if path.startswith("/articles/"):
            links.add(path.rsplit("/", 1)[0] + "/an-old-slug")
        if reply.status == 200 and has_preview(path.split("?")[0]):  # browsers are sent it
            links.add(preview_path(path))
        todo.extend(links - set(seen))
    return seen


def inventory_urls(seeds: Path, index: Path) -> set[str]:
    """Every URL the service answers for ``seeds``, as the static build lists them."""
    app = create_app({"SEEDS_DIR": str(seeds), "INDEX_PATH": str(index), "SITE_URL": SITE_URL,
                      "WATCH": "false", "CACHE_MAX_AGE": str(MAX_AGE_SECONDS)})  # fmt: skip
    svc = app.extensions["feedsvc"]
    svc.store.refresh()
    try:
        return {
            target.url
            for target in inventory.targets(app, inventory.Snapshot(svc, svc.store.now()))
        }
    finally:
        svc.store.close()


def test_every_node_sends_the_same_bytes_and_validators_for_every_url(
    tier: Tier, tmp_path: Path
) -> None:
    first, second = (node_port(node) for node in tier.nodes)
    # Times are sent once settled (lastmod.py): wait for that, so that both nodes send them.
    wait_for(lambda: all("last-modified" in get(p, "/feed.atom").headers for p in (first, second)),
             1 + lastmod.SETTLE_SECONDS + 10)  # fmt: skip
    # Every URL: those the static build writes, and those a crawl of the site's links finds
    # (old slugs and feed addresses, which the build leaves to redirects).
    pages = crawl(first)
    folders = {path.split("/")[1].split("?")[0] for path in pages}
    assert {"articles", "archives", "sources", "places", "static"} <= folders, folders
    assert any(path.endswith(".rss.html") for path in pages)  # previews, by their own address
    listed = inventory_urls(tier.nodes[0].seeds, tmp_path / "index.sqlite3")
    differences = []
    for path in sorted(set(pages) | listed):
        for encoding in ("identity", "gzip"):
            a, b = (get(port, path, Accept_Encoding=encoding) for port in (first, second))
            if a.status != b.status or a.body != b.body:
                differences.append((path, encoding, "status or body"))
            differences += [(path, encoding, name) for name in AGREED_HEADERS
                            if a.headers.get(name) != b.headers.get(name)]  # fmt: skip
    assert differences == []
    missing = sorted(path for path, reply in pages.items() if reply.status >= 400)
    assert missing == [], missing  # every link of the site leads somewhere


# What a client or cache keeps and compares: these must be the same from every node.
AGREED_HEADERS = ("etag", "last-modified", "content-type", "content-encoding", "content-length",
                  "cache-control", "vary", "link", "location")  # fmt: skip


NAVIGATION = {"Sec_Fetch_Dest": "document", "Sec_Fetch_Mode": "navigate"}
# What clients send, and the representation each must get: identity or gzip, feed or preview.
CLIENTS = {
    "reader": {},
    "gzip": {"Accept_Encoding": "gzip, deflate, br"},
    "gzip refused": {"Accept_Encoding": "gzip;q=0, identity"},
    "anything": {"Accept_Encoding": "*"},  # gzip, from a node (the cache sent identity)
    "anything but gzip": {"Accept_Encoding": "gzip;q=0, *"},
    "nothing at all": {"Accept_Encoding": "*;Q=0, identity"},  # parameter names: any case
    "browser": {**NAVIGATION, "Accept_Encoding": "gzip"},
    "browser, no gzip": NAVIGATION,
    "download link": {"Sec_Fetch_Dest": "empty", "Sec_Fetch_Mode": "navigate"},
}


@pytest.mark.parametrize("order", [list(CLIENTS), list(reversed(CLIENTS))], ids=["in", "reversed"])
def test_every_client_gets_what_a_node_sends_it(tier: Tier, order: list[str]) -> None:
    # Each order fills the cache from a different first client; every later one must still get
    # its own representation, from the cache (the second round).
    path = "/feed.atom" if order[0] == "reader" else "/feed.rss"
    direct = node_port(tier.nodes[0])
    for round_ in (1, 2):
        for name in order:
            ours, node = get(tier.port, path, **CLIENTS[name]), get(direct, path, **CLIENTS[name])
            assert ours.status == node.status == 200, name
            assert ours.body == node.body, f"{name}, round {round_}"
            for header in ("content-type", "content-encoding", "etag", "vary", "cache-control",
                           "content-security-policy"):  # fmt: skip
                assert ours.headers.get(header) == node.headers.get(header), (name, header)
            if round_ == 2:
                served_from = ours.headers["x-cache-status"]
                assert served_from in ("HIT", "STALE", "UPDATING", "REVALIDATED"), name
    assert (
        get(tier.port, path, **CLIENTS["browser"]).headers["content-type"].startswith("text/html")
    )
    assert get(tier.port, path, **CLIENTS["gzip refused"]).headers.get("content-encoding") is None


def test_304s_are_answered_by_the_cache(tier: Tier) -> None:
    fresh = get(tier.port, "/feed.json", Accept_Encoding="gzip")
    assert fresh.status == 200
    before = tier.origin_requests()
    started = time.monotonic()
    statuses = [
        get(tier.port, "/feed.json", Accept_Encoding="gzip", If_None_Match=fresh.headers["etag"])
        for _ in range(40)
    ]
    took = time.monotonic() - started
    assert {reply.status for reply in statuses} == {304}
    assert all(reply.headers.get("etag") == fresh.headers["etag"] for reply in statuses)
    # At most one revalidation per max-age that passed meanwhile reaches a node.
    assert tier.origin_requests() - before <= took // MAX_AGE_SECONDS + 1


def test_pages_are_kept_by_the_cache_while_browsers_revalidate_them(tier: Tier) -> None:
    """A page says max-age=0 to browsers and s-maxage to shared caches: nginx keeps it (its
    s-maxage), and a browser's revalidations are answered by the cache, not a node."""
    first = get(tier.port, "/places")
    assert first.headers["cache-control"] == f"public, max-age=0, s-maxage={MAX_AGE_SECONDS}"
    before = tier.origin_requests()
    started = time.monotonic()
    replies = [get(tier.port, "/places", If_None_Match=first.headers["etag"]) for _ in range(40)]
    took = time.monotonic() - started
    assert {reply.status for reply in replies} == {304}
    assert tier.origin_requests() - before <= took // MAX_AGE_SECONDS + 1


def entry_titles(atom: bytes) -> list[str]:
    return [e.findtext(f"{ATOM}title", "") for e in ET.fromstring(atom).iter(f"{ATOM}entry")]


def seconds_until_listed(port: int, headline: str, since: float, **headers: str) -> float | None:
    """Seconds from ``since`` (monotonic) until /feed.atom from ``port`` lists ``headline``,
    polled as a busy reader would; None if not within max-age and five seconds."""
    while time.monotonic() - since < MAX_AGE_SECONDS + 5:
        reply = get(port, "/feed.atom", **headers)
        body = gzip.decompress(reply.body) if "content-encoding" in reply.headers else reply.body
        if headline in entry_titles(body):
            return time.monotonic() - since
        time.sleep(0.05)
    return None


def test_a_new_document_reaches_readers_through_the_cache_within_max_age(tier: Tier) -> None:
    for encoding in ("identity", "gzip"):
        assert get(tier.port, "/feed.atom", Accept_Encoding=encoding).status == 200  # cached
    headline = "Harbour reopens after the storm"
    written = time.monotonic()
    write_document(tier.nodes[0].seeds, 990, hex_id(990), headline=headline, date="1 Jan 2026")
    # Each node indexes the shared folder itself (well under a second, more on a loaded
    # machine: tests/test_freshness.py); the cache adds at most max-age and a second to that.
    published = [seconds_until_listed(node_port(node), headline, written) for node in tier.nodes]
    assert None not in published, published
    indexed = max(t for t in published if t is not None)
    for encoding in ("identity", "gzip"):
        took = seconds_until_listed(tier.port, headline, written, Accept_Encoding=encoding)
        assert took is not None and took <= indexed + MAX_AGE_SECONDS + 1, (took, indexed)


def test_last_modified_reaches_the_cache_once_its_time_is_settled(tier: Tier) -> None:
    # The cache takes a feed while its time is not yet settled (lastmod.py), so without
    # Last-Modified; once it is settled, the cache must get the dated response, although the
    # bytes stay the same.
    headline = "Ferries resume their winter timetable"
    write_document(tier.nodes[0].seeds, 991, hex_id(991), headline=headline, date="2 Jan 2026")
    for node in tier.nodes:
        assert seconds_until_listed(node_port(node), headline, time.monotonic()) is not None
    path = "/feed.atom?limit=7"  # never asked for before: the cache has to fetch it now
    undated = get(tier.port, path)
    assert undated.headers["x-cache-status"] == "MISS"
    assert headline in entry_titles(undated.body) and "last-modified" not in undated.headers
    time.sleep(1 + lastmod.SETTLE_SECONDS + MAX_AGE_SECONDS)
    assert get(tier.port, path).headers["x-cache-status"] == "STALE"  # revalidates meanwhile
    time.sleep(0.3)
    ours, node = get(tier.port, path), get(node_port(tier.nodes[0]), path)
    assert ours.body == undated.body
    assert ours.headers["etag"] == node.headers["etag"] == undated.headers["etag"]
    assert ours.headers.get("last-modified") == node.headers["last-modified"]
    since = ours.headers["last-modified"]
    assert get(tier.port, path, If_Modified_Since=since).status == 304
    # Not modified since a later date either (RFC 9110 13.1.3), as a node answers it; nginx's
    # default compares the dates for equality (if_modified_since exact).
    later = http_date(parse_date(since) + timedelta(days=1))
    assert get(node_port(tier.nodes[0]), path, If_Modified_Since=later).status == 304
    assert get(tier.port, path, If_Modified_Since=later).status == 304
    earlier = http_date(parse_date(since) - timedelta(days=1))
    assert get(tier.port, path, If_Modified_Since=earlier).status == 200


# Cycled through by every wrk connection: feeds with and without gzip, a 304, pages.
LOAD = [
    ("/feed.atom", {}),
    ("/feed.atom", {"Accept-Encoding": "gzip"}),
    ("/feed.rss", {"Accept-Encoding": "gzip", "If-None-Match": "ETAG"}),
    ("/feed.json", {}),
    ("/", {"Accept-Encoding": "gzip"}),
    ("/sitemap.xml", {}),
]
WRK_SCRIPT = """
local requests = {}
local i = 0
function init(args)
%s
end
function request()
  i = i %% #requests + 1
  return requests[i]
end
"""


def test_a_client_asking_for_one_url_at_a_time_is_never_refused(tier: Tier) -> None:
    """An answer from a stale entry stays in progress in nginx until its background update has
    ended, and counts against the client's limit_conn. While the nodes are slow to answer (they
    render everything again after a touch of the folder or an upgrade; here they are stopped
    for a moment), a client asking for one URL at a time is answered from the stale entries,
    not refused (an upgrade trial got 503 for 50 to 141 of 200)."""
    paths = [f"/feed.atom?limit={n}" for n in range(1, 81)]
    for path in paths:
        assert get(tier.port, path).status == 200  # cached
    time.sleep(MAX_AGE_SECONDS + 1)  # every entry stale
    for node in tier.nodes:
        os.killpg(node.process.pid, signal.SIGSTOP)
    try:
        statuses = [get(tier.port, path).status for path in paths]
    finally:
        for node in tier.nodes:
            os.killpg(node.process.pid, signal.SIGCONT)
    assert statuses.count(503) == 0, statuses
    assert statuses == [200] * len(paths)


def test_under_load_the_nodes_see_a_handful_and_losing_one_costs_nothing(
    tier: Tier, tmp_path: Path
) -> None:
    etag = get(tier.port, "/feed.rss", Accept_Encoding="gzip").headers["etag"]
    lines = []
    for path, headers in LOAD:
        fields = ", ".join(f'["{k}"] = {lua_string(v.replace("ETAG", etag))}'
                           for k, v in headers.items())  # fmt: skip
        lines.append(f'  requests[#requests + 1] = wrk.format("GET", "{path}", {{{fields}}})')
        assert get(tier.port, path, **{k.replace("-", "_"): v for k, v in headers.items()}).status
    script = tmp_path / "load.lua"
    script.write_text(WRK_SCRIPT % "\n".join(lines))
    before = tier.origin_requests()
    url = f"http://127.0.0.1:{tier.port}"
    wrk = subprocess.Popen(
        ["wrk", "-t2", "-c16", f"-d{WRK_SECONDS}s", "--timeout", "5s", "-s", str(script), url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        time.sleep(WRK_SECONDS / 3)
        victim = tier.nodes[1]
        os.killpg(victim.process.pid, signal.SIGKILL)  # the node and its workers, at once
        victim.process.wait(timeout=10)
        out, _ = wrk.communicate(timeout=WRK_SECONDS + 60)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.communicate()
    origin = tier.origin_requests() - before
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    print(f"\n{total} requests at the edge in {WRK_SECONDS} s, {origin} reached the nodes")
    assert "Non-2xx or 3xx responses" not in out and "Socket errors" not in out, out
    # About one request per URL and variant per max-age (a revalidation, or the first fetch
    # after the kill from the node that is left), however many clients asked.
    assert origin <= len(LOAD) * (WRK_SECONDS // MAX_AGE_SECONDS + 2), out
    assert total >= 50 * origin, out
    assert get(tier.port, "/feed.atom").status == 200


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class HubStandIn(http.server.ThreadingHTTPServer):
    """A WebSub hub as the common ones behave: told ``hub.url``, it fetches that feed at once,
    by its public address (here the tier), and keeps (topic path, whether the story is in it)."""

    def __init__(self, tier_port: int, story: bytes):
        self.tier_port, self.story = tier_port, story
        self.fetched: list[tuple[str, bool]] = []
        super().__init__(("127.0.0.1", 0), _HubHandler)


class _HubHandler(http.server.BaseHTTPRequestHandler):
    server: HubStandIn

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        path = urllib.parse.urlsplit(form["hub.url"][0]).path
        body = get(self.server.tier_port, path).body
        self.server.fetched.append((path, self.server.story in body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_hub_told_of_a_change_fetches_the_new_copy_through_the_tier(tmp_path: Path) -> None:
    """A review: each node told the hub at once, the hub fetched the feed through the tier and
    got the cached copy (0 of 6 fetches of the main feeds had the story). With
    FEEDSVC_WEBSUB_REFRESH_URL the node refreshes the tier's copy first; the tier honours that
    from its nodes' addresses only."""
    seeds = tmp_path / "seeds"
    corpus.write(seeds, 10)
    story = b"Hub probe headline 7c1"
    port = free_port()
    hub = HubStandIn(port, story)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    nodes: list[LiveServer] = []
    nginx = None
    try:
        for n in (1, 2):
            nodes.append(start_server(tmp_path / f"node{n}", seeds, workers=1,
                                      CACHE_MAX_AGE="600", WEBSUB_HUB=f"http://127.0.0.1:{hub.server_port}/",
                                      WEBSUB_REFRESH_URL=f"http://127.0.0.1:{port}"))  # fmt: skip
        conf = cache_tier_conf(port, [node_port(node) for node in nodes], tmp_path / "cache")
        nginx = start_nginx(tmp_path, conf, port)
        get(port, "/feed.atom")
        assert get(port, "/feed.atom").headers["x-cache-status"] == "HIT"
        # Only a node's address may refresh: another client's header is ignored.
        stranger = http.client.HTTPConnection("127.0.0.1", port, source_address=("127.0.0.2", 0))
        stranger.request("GET", "/feed.atom", headers={"X-Feedsvc-Refresh": "1"})
        assert stranger.getresponse().getheader("X-Cache-Status") == "HIT"
        stranger.close()
        assert get(port, "/feed.atom", X_Feedsvc_Refresh="1").headers["x-cache-status"] == "BYPASS"

        write_document(seeds, 900, hex_id(900), headline=story.decode())
        wait_for(lambda: len([f for f in hub.fetched if f[0] == "/feed.atom"]) >= 2, 30)
        time.sleep(1)  # both nodes' notifications of the three formats
        main = [f for f in hub.fetched if f[0] in ("/feed.atom", "/feed.rss", "/feed.json")]
        # Each node notifies after its own refresh; the last one refreshed from nodes that both
        # hold the story, so the hub's last fetch of each format has it.
        for topic in ("/feed.atom", "/feed.rss", "/feed.json"):
            assert [found for path, found in main if path == topic][-1], main
    finally:
        hub.shutdown()
        hub.server_close()
        if nginx is not None:
            stop_nginx(nginx)
        for node in nodes:
            stop_server(node)
