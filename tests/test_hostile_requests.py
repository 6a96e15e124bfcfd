"""Hostile requests against a real ``feedsvc serve``: spoofed Host headers and redirects, control
characters in every query parameter, every method on every route, security headers on every kind
of response, and cache keys that cannot be multiplied.

Every route is taken from the app's own URL map, so a route added later is attacked too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.routing import Rule

from feedsvc.admission import LaneSize, RenderSlots
from feedsvc.params import MAX_QUERY_STRING_BYTES

from .conftest import BUNDLED_SEEDS, SITE_URL, LiveServer, indexed_app, start_server, stop_server

SEED_ID = "5e300edb8a850530"
SEED_SLUG = "u-s-officials-travel-to-venezuela-a-russian-ally-for-talks"
PERMALINK = f"/articles/{SEED_ID}/{SEED_SLUG}"
ATTACKER = "attacker.example"
# A sample value for each route argument, so that every rule of the URL map can be requested.
SAMPLE_VALUES = {"slug": "reuters", "article_id": SEED_ID, "page": 1, "part": 1, "fmt": "atom"}
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


def request(server: LiveServer, method: str, target: str, headers: dict[str, str] | None = None,
            *, version: str = "HTTP/1.1") -> Reply:  # fmt: skip
    """One request over a fresh socket, written byte for byte as given (no Host unless given)."""
    host, port = urllib.parse.urlsplit(server.url).netloc.split(":")
    lines = [f"{method} {target} {version}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append("Connection: close")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: dict[str, list[str]] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed.setdefault(name.strip().lower(), []).append(value.strip())
    return Reply(int(status_line.split()[1]), parsed, body)


def get(server: LiveServer, target: str, **headers: str) -> Reply:
    return request(server, "GET", target, {"Host": "news.example.test", **headers})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp_path = tmp_path_factory.mktemp("hostile")
    seeds = tmp_path / "seeds"
    shutil.copytree(BUNDLED_SEEDS, seeds)
    live = start_server(tmp_path, seeds)
    try:
        yield live
    finally:
        stop_server(live)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> list[Rule]:
    tmp_path = tmp_path_factory.mktemp("rules")
    seeds = tmp_path / "seeds"
    shutil.copytree(BUNDLED_SEEDS, seeds)
    return list(indexed_app(tmp_path, seeds).url_map.iter_rules())


def sample_path(rule: Rule) -> str:
    """A concrete path that ``rule`` matches, from SAMPLE_VALUES (or a converter's own choice)."""
    values = {}
    for name, converter in rule._converters.items():
        items = getattr(converter, "items", None)
        values[name] = sorted(items)[0] if items else SAMPLE_VALUES.get(name, "sample")
    if rule.endpoint == "web.article_page" and "slug" in values:
        values["slug"] = SEED_SLUG
    return rule.map.bind("localhost").build(rule.endpoint, values, force_external=False)


def test_sample_paths_cover_every_rule(rules: list[Rule]) -> None:
    assert len({sample_path(rule) for rule in rules}) == len(rules)


# -- 1. redirects: every Location comes from the site URL -------------------------------------

SPOOFS = [
    ({"Host": ATTACKER}, "HTTP/1.1"),
    ({"Host": ATTACKER, "X-Forwarded-Host": ATTACKER, "X-Forwarded-Proto": "http",
      "Forwarded": f"host={ATTACKER};proto=http"}, "HTTP/1.1"),
    ({}, "HTTP/1.0"),  # no Host at all: Werkzeug used to answer "http:///..."
]  # fmt: skip


def doubled_slashes(path: str, slashes: str = "//") -> str:
    """``/a/b`` -> ``/a//b``: a path Werkzeug redirects by merging slashes. (``//a``, with no
    earlier slash to double, reaches the app as ``/a`` and is simply served.)"""
    head, _, tail = path.rpartition("/")
    return f"{head}{slashes}{tail}"


def assert_off_site_never(reply: Reply) -> None:
    location = reply.header("location")
    if location is not None:
        assert location.startswith(SITE_URL + "/"), location
        assert ATTACKER not in location


@pytest.mark.parametrize(("headers", "version"), SPOOFS)
def test_doubled_slashes_never_redirect_off_site(
    server: LiveServer, rules: list[Rule], headers: dict[str, str], version: str
) -> None:
    for rule in rules:
        path = sample_path(rule)
        query = "?q=oil&limit=3" if "search" in path else ""
        for slashes in ("//", "///"):
            target = doubled_slashes(path, slashes) + query
            reply = request(server, "GET", target, headers, version=version)
            assert_off_site_never(reply)
            # Slashes are not merged (no redirect at all), but an article's path takes any
            # slug: the permalink's 301 comes from the site URL.
            assert reply.status in (200, 301, 404), (target, reply.status)


def test_routing_redirects_come_from_the_site_url(tmp_path: Path, seeds: Path) -> None:
    """Werkzeug's own redirects, for a rule's trailing slash and for merged slashes (off in
    feedsvc, but a rule may turn them on), would build Location from the Host header; they come
    from the site URL."""
    app = indexed_app(tmp_path, seeds)
    app.add_url_rule("/probe/", "probe", lambda: "probe")  # a rule ending in a slash
    app.url_map.merge_slashes = True  # for rules added from now on
    app.add_url_rule("/merged/<name>", "merged", lambda name: name)
    client = app.test_client()
    spoof = {"Host": ATTACKER, "X-Forwarded-Host": ATTACKER, "X-Forwarded-Proto": "http"}
    for path, target in [("/probe?x=1", "/probe/?x=1"), ("/merged//x", "/merged/x")]:
        response = client.get(path, headers=spoof)
        assert response.status_code == 308  # RFC 9110 15.4.9: the method is kept
        assert response.headers["Location"] == SITE_URL + target
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    # HTTP/1.0 without any Host: Werkzeug made that "http:///probe/".
    response = client.get("/probe", environ_base={"HTTP_HOST": "", "SERVER_PROTOCOL": "HTTP/1.0"})
    assert response.headers["Location"] == SITE_URL + "/probe/"


@pytest.mark.parametrize(("headers", "version"), SPOOFS)
def test_trailing_slash_never_redirects_off_site(
    server: LiveServer, rules: list[Rule], headers: dict[str, str], version: str
) -> None:
    for rule in rules:
        path = sample_path(rule)
        other = path[:-1] if path.endswith("/") and path != "/" else path + "/"
        reply = request(server, "GET", other, headers, version=version)
        assert_off_site_never(reply)
        if rule.rule.endswith("/") and rule.rule != "/":
            # Werkzeug's slash redirect, or a rule of its own (the legacy feed addresses).
            assert reply.status in (301, 308), (other, reply.status)
            if reply.status == 308:
                assert reply.header("location") == SITE_URL + path


@pytest.mark.parametrize(
    "path",
    [f"/articles/{SEED_ID}", f"/articles/{SEED_ID}/old-slug", f"/articles/{SEED_ID}/old//slug",
     f"/articles/{SEED_ID}/{SEED_SLUG}/more"],
)  # fmt: skip
@pytest.mark.parametrize(("headers", "version"), SPOOFS)
def test_old_slugs_redirect_to_the_permalink_on_the_site_url(
    server: LiveServer, path: str, headers: dict[str, str], version: str
) -> None:
    reply = request(server, "GET", path, headers, version=version)
    assert reply.status in (301, 308)
    assert_off_site_never(reply)
    # Followed (a merged-slash 308 first, then the slug's 301): ends at the permalink.
    location = reply.header("location") or ""
    for _ in range(3):
        if location == SITE_URL + PERMALINK:
            break
        reply = request(server, "GET", location.removeprefix(SITE_URL), headers, version=version)
        assert_off_site_never(reply)
        location = reply.header("location") or ""
    assert location == SITE_URL + PERMALINK


# -- 2. control characters and non-characters in every query parameter ------------------------

HOSTILE_VALUES = [
    "%01", "%1B", "%00", "%7F", "%C2%85", "%EF%BF%BE", "%EF%BF%BF", "%EF%B7%90", "%F4%8F%BF%BF",
    "%ED%A0%80", "%ED%BF%BF", "%C0%AF", "%FF", "oil%01gas", "oil%00", "%1B%5B31m", "oil%0D%0Agas",
    "%E2%80%AE", "%EF%BB%BF",
]  # fmt: skip
PARAMETER_TARGETS = [
    ("/search/feed.rss", "q"), ("/search/feed.atom", "q"), ("/search/feed.json", "q"),
    ("/search", "q"), ("/feed.atom", "limit"), ("/sources/reuters/feed.json", "limit"),
    ("/", "page"), ("/places/washington", "page"), ("/feed.rss", "x"), ("/", "q"),
    ("/", "feed"), ("/static/site.css", "v"), ("/feeds/posts/default", "alt"),
    ("/search", "page"),
]  # fmt: skip


def assert_well_formed(reply: Reply) -> None:
    content_type = reply.header("content-type") or ""
    if content_type.startswith("text/html"):
        assert not CONTROL_BYTES.search(reply.body), reply.body[:200]
    elif "json" in content_type:
        assert not CONTROL_BYTES.search(reply.body)
        json.loads(reply.body)
    elif "xml" in content_type:
        ElementTree.fromstring(reply.body)  # a strict XML parser: no illegal characters


@pytest.mark.parametrize(("path", "name"), PARAMETER_TARGETS)
def test_control_characters_in_parameters_never_break_a_response(
    server: LiveServer, path: str, name: str
) -> None:
    for value in HOSTILE_VALUES:
        for target in (f"{path}?{name}={value}", f"{path}?{name}=oil+{value}+gas&{name}={value}"):
            reply = get(server, target)
            assert reply.status in (200, 301, 400, 404), (target, reply.status)
            assert_off_site_never(reply)
            assert_well_formed(reply)
    log = server.log()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]


def test_a_search_with_control_characters_finds_what_the_words_find(server: LiveServer) -> None:
    plain = get(server, "/search/feed.json?q=venezuela+officials")
    dirty = get(server, "/search/feed.json?q=venezuela%01%1B%EF%BF%BEofficials%00")
    assert plain.status == dirty.status == 200
    assert json.loads(dirty.body)["items"] == json.loads(plain.body)["items"] != []
    assert dirty.header("etag") == plain.header("etag")  # one cache entry, one representation


def test_search_page_never_echoes_a_raw_control_byte(server: LiveServer) -> None:
    reply = get(server, "/search?q=maduro%01%1B%5B2J%C2%9B%EF%BF%BE")
    assert reply.status == 200
    assert not CONTROL_BYTES.search(reply.body)
    assert b"\xef\xbf\xbe" not in reply.body
    assert b"maduro [2J" in reply.body  # the printable rest is shown, escaped as text


def test_a_query_string_too_long_to_read_is_refused(server: LiveServer) -> None:
    reply = get(server, "/feed.atom?q=" + "a" * MAX_QUERY_STRING_BYTES)
    assert reply.status == 414
    assert get(server, "/feed.atom?" + "x" * (MAX_QUERY_STRING_BYTES - 10)).status == 200


# -- 3. every method on every route: 405 with Allow, OPTIONS ----------------------------------

OTHER_METHODS = ["POST", "PUT", "DELETE", "PATCH", "TRACE", "BREW", "PROPFIND"]


def allowed(reply: Reply) -> set[str]:
    return {method.strip() for method in (reply.header("allow") or "").split(",") if method}


def test_every_route_answers_other_methods_with_405_and_allow(
    server: LiveServer, rules: list[Rule]
) -> None:
    for rule in rules:
        path = sample_path(rule)
        for method in OTHER_METHODS:
            headers = {"Host": "news.example.test", "Content-Length": "0"}
            reply = request(server, method, path, headers)
            assert reply.status == 405, (method, path)
            # RFC 9110 15.5.6: a 405 MUST list the target's methods.
            assert allowed(reply) == set(rule.methods or ()), (method, path)
        options = request(server, "OPTIONS", path, {"Host": "news.example.test"})
        assert options.status == 200 and options.body == b""
        assert allowed(options) == {"GET", "HEAD", "OPTIONS"}


def test_allow_lists_the_methods_in_one_order_whatever_the_process(tmp_path: Path) -> None:
    """Two nodes, or one node after a restart, send the same bytes (issue 14): Werkzeug listed
    a route's methods in Allow from a set, in an order that changed with each process's hash
    seed (a fresh-user trial saw three orders in three starts)."""
    script = (
        "import sys\n"
        "from feedsvc import create_app\n"
        "settings = {'SEEDS_DIR': sys.argv[1], 'INDEX_PATH': sys.argv[2], 'WATCH': 'false'}\n"
        "app = create_app(settings)\n"
        "client = app.test_client()\n"
        "for method, path in [('POST', '/feed.atom'), ('OPTIONS', '/feed.atom'),\n"
        "                     ('DELETE', '/'), ('OPTIONS', '/sources')]:\n"
        "    print(client.open(path, method=method).headers.get('Allow'))\n"
    )
    sent = set()
    for seed in range(4):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        index = tmp_path / f"index-{seed}.sqlite3"
        ran = subprocess.run([sys.executable, "-c", script, str(BUNDLED_SEEDS), str(index)],
                             env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        sent.add(ran.stdout)
    assert sent == {"GET, HEAD, OPTIONS\n" * 4}


def test_options_asterisk_describes_the_server(server: LiveServer, rules: list[Rule]) -> None:
    reply = request(server, "OPTIONS", "*", {"Host": "news.example.test"})
    assert reply.status == 200 and reply.body == b""
    assert allowed(reply) == set.intersection(*(set(rule.methods or ()) for rule in rules))
    assert_secure(reply, "OPTIONS *")


def test_head_and_get_agree_on_every_route(server: LiveServer, rules: list[Rule]) -> None:
    for rule in rules:
        path = sample_path(rule)
        got = get(server, path)
        head = request(server, "HEAD", path, {"Host": "news.example.test"})
        assert head.status == got.status and head.body == b"", path
        assert head.header("content-security-policy") == got.header("content-security-policy")


# -- 4. security headers on every kind of response --------------------------------------------

PAGE_CSP = re.compile(r"default-src 'none'; .*style-src 'self'[^;]*;.*frame-ancestors 'none'")
NAVIGATION = {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}  # gets the preview


def assert_secure(reply: Reply, what: str) -> None:
    assert reply.header("x-content-type-options") == "nosniff", what
    assert reply.header("referrer-policy") == "strict-origin-when-cross-origin", what
    assert reply.header("x-frame-options") == "DENY", what
    # SITE_URL is https: HSTS (RFC 6797), one year.
    assert reply.header("strict-transport-security") == "max-age=31536000", what
    for name in ("content-security-policy", "strict-transport-security", "x-content-type-options"):
        assert len(reply.headers.get(name, [])) <= 1, (what, name)
    assert "feedsvc-representation-type" not in reply.headers  # private to the process


def policy(reply: Reply) -> str:
    return reply.header("content-security-policy") or ""


@pytest.mark.parametrize(
    ("target", "headers", "status", "kind"),
    [("/", {}, 200, "page"), (PERMALINK, {}, 200, "page"), ("/search?q=oil", {}, 200, "page"),
     ("/sources", {}, 200, "page"), ("/feed.rss", NAVIGATION, 200, "page"),
     ("/feed.rss.html", {}, 200, "page"), ("/feeds.opml", NAVIGATION, 200, "page"),
     ("/feed.atom", {}, 200, "xml"), ("/feed.rss", {"Accept-Encoding": "gzip"}, 200, "xml"),
     ("/feed.json", {}, 200, "data"), ("/feeds.opml", {}, 200, "data"),
     ("/sitemap.xml", {}, 200, "xml"), ("/robots.txt", {}, 200, "data"),
     ("/static/site.css", {}, 200, "data"), ("/favicon.ico", {}, 200, "data"),
     ("/sources//reuters", {}, 404, "page"), (f"/articles/{SEED_ID}", {}, 301, "page"),
     ("/rss.xml", {}, 301, "page"), ("/?feed=atom", {}, 301, "page"),
     ("/feed.atom?limit=abc", {}, 400, "page"), ("/nowhere", {}, 404, "page"),
     ("/sources/nobody/feed.atom", {}, 404, "page"),
     ("/feed.atom?x=" + "y" * MAX_QUERY_STRING_BYTES, {}, 414, "data")],
)  # fmt: skip
def test_security_headers_on_every_kind_of_response(
    server: LiveServer, target: str, headers: dict[str, str], status: int, kind: str
) -> None:
    reply = get(server, target, **headers)
    assert reply.status == status
    assert_secure(reply, target)
    csp = policy(reply)
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp or "'unsafe" not in csp.partition("script-src")[2], csp
    if kind == "page":
        assert PAGE_CSP.search(csp) and "'unsafe-inline'" not in csp, csp
    elif kind == "xml":  # the browser's XML tree view: its own inline style, no script at all
        assert "script-src" not in csp, csp
    else:
        assert csp.endswith("sandbox") and "'unsafe-inline'" not in csp, csp
    etag = reply.header("etag")
    if etag:  # its 304 carries the very same policy, or a cache would replace it (RFC 9111 4.3.4)
        again = get(server, target, **headers, **{"If-None-Match": etag})
        assert again.status == 304 and again.body == b""
        assert_secure(again, f"304 {target}")
        assert policy(again) == csp
        assert again.header("content-type") is None


def test_other_methods_and_options_carry_security_headers(server: LiveServer) -> None:
    for method in ("POST", "OPTIONS", "TRACE"):
        reply = request(server, method, "/feed.atom", {"Host": "x", "Content-Length": "0"})
        assert_secure(reply, method)


def test_no_hsts_for_an_http_site_url(tmp_path: Path, seeds: Path) -> None:
    client = indexed_app(tmp_path, seeds, SITE_URL="http://news.example.test").test_client()
    for path in ("/", "/feed.atom", "/nowhere", "/sources//reuters"):
        response = client.get(path)
        assert "Strict-Transport-Security" not in response.headers
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    # Pages may load what the site URL serves: their assets are linked through it.
    assert "'self' http://news.example.test;" in client.get("/").headers["Content-Security-Policy"]


# -- 5. cache keys: one entry per response, however it is spelled ------------------------------


def test_cache_keys_ignore_unknown_parameters_order_and_spelling(
    tmp_path: Path, seeds: Path
) -> None:
    app = indexed_app(tmp_path, seeds, MAX_LIMIT="20")
    client = app.test_client()
    cache = app.extensions["feedsvc"].cache
    groups = [
        ["/feed.json", "/feed.json?x=1", "/feed.json?utm_source=a&fbclid=b", "/feed.json?&&=",
         "/feed.json?%00=1"],
        ["/feed.atom?limit=20", "/feed.atom?limit=21", "/feed.atom?limit=9999999",
         "/feed.atom?limit=" + "9" * 3000, "/feed.atom?x=2&limit=500",
         "/feed.atom?limit=500&limit=3"],
        ["/search/feed.rss?q=oil+talks&limit=3", "/search/feed.rss?limit=3&q=oil%20talks",
         "/search/feed.rss?q=++oil%01talks%EF%BF%BE&limit=3&utm=1"],
        ["/", "/?limit=3", "/?q=oil", "/?x=1", "/?feed=junk", "/?feed=", "/?alt=rss"],
        ["/static/site.css", "/static/site.css?v=0123456789ab", "/static/site.css?v=%01"],
    ]  # fmt: skip
    for group in groups:
        before = len(cache)
        replies = [client.get(path) for path in group]
        assert {reply.status_code for reply in replies} == {200}, group
        assert len({reply.headers["ETag"] for reply in replies}) == 1, group
        assert len(cache) == before + 1, group
    # The one ?v= that means something (the file's current hash) is another response.
    current = client.get(app.extensions["feedsvc"].assets.path("site.css"))
    assert "immutable" in current.headers["Cache-Control"]
    assert "immutable" not in client.get("/static/site.css?v=0123456789ab").headers["Cache-Control"]


def test_cache_counts_its_keys_in_its_byte_budget() -> None:
    from datetime import UTC, datetime

    from feedsvc.httpcache import Prepared, ResponseCache

    def fill(key_length: int) -> ResponseCache:
        cache = ResponseCache(lambda: 0, max_entries=10_000, max_bytes=1_000_000)
        for n in range(1_000):
            body = Prepared(b"x", "text/plain", last_modified=datetime(2024, 1, 1, tzinfo=UTC),
                            max_age_seconds=60)  # fmt: skip
            cache.put(f"/search?q={n:04d}".ljust(key_length, "k"), body, 0)
        assert cache.size <= 1_000_000
        return cache

    short, long = fill(20), fill(20_000)
    assert long.size >= len(long) * 20_000  # every key's bytes are in the budget
    assert len(long) < len(short) // 4  # so long keys leave room for fewer entries


def fast_path_of(app: Any) -> Any:
    """The FastPath middleware inside the app's WSGI stack."""
    layer = app.wsgi_app
    while not hasattr(layer, "slots"):
        layer = layer.app
    return layer


def test_a_full_lane_answers_503_and_cached_responses_still_flow(
    tmp_path: Path, seeds: Path
) -> None:
    app = indexed_app(tmp_path, seeds)
    client = app.test_client()
    assert client.get("/feed.atom").status_code == 200  # cached from now on
    fast_path = fast_path_of(app)
    fast_path.slots = RenderSlots(LaneSize(renders=1, waiting=0), LaneSize(renders=1, waiting=0))
    held = fast_path.slots.render("/search?q=held", open_ended=True)
    assert held.__enter__() is True  # the open-ended lane is full
    try:
        busy = client.get("/search/feed.atom?q=oil")
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "1"
        assert busy.headers["Cache-Control"] == "no-store"
        assert busy.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in busy.headers["Content-Security-Policy"]
        assert client.get("/feed.atom?limit=30").status_code == 503  # open-ended too
        assert client.get("/feed.atom?utm_source=x").status_code == 200  # served from the cache
        assert client.get("/sources/reuters").status_code == 200  # the site's lane is free
        assert client.get("/static/site.css?v=0").status_code == 200  # so is this one's
    finally:
        held.__exit__(None, None, None)
    assert client.get("/search/feed.atom?q=oil").status_code == 200


def test_a_busy_lane_keeps_a_short_line(tmp_path: Path, seeds: Path) -> None:
    from feedsvc.admission import LINE_WAIT_SECONDS

    app = indexed_app(tmp_path, seeds)
    fast_path = fast_path_of(app)
    fast_path.slots = RenderSlots(LaneSize(renders=1, waiting=1), LaneSize(renders=1, waiting=1))
    held = fast_path.slots.render("/sources/afp", open_ended=False)
    assert held.__enter__() is True
    released = threading.Timer(LINE_WAIT_SECONDS / 4, held.__exit__, (None, None, None))
    released.start()
    try:
        start = time.monotonic()
        assert app.test_client().get("/").status_code == 200  # waited in line, then rendered
        assert time.monotonic() - start < LINE_WAIT_SECONDS
    finally:
        released.join()


def test_request_threads_outnumber_everything_admission_may_hold() -> None:
    from feedsvc.admission import THREADS_BUSY_AT_MOST
    from feedsvc.cli import DEFAULT_THREADS

    assert DEFAULT_THREADS > THREADS_BUSY_AT_MOST


def test_requests_for_a_response_being_rendered_wait_for_it(tmp_path: Path, seeds: Path) -> None:
    from datetime import UTC, datetime

    from feedsvc.httpcache import Prepared

    app = indexed_app(tmp_path, seeds)
    fast_path = fast_path_of(app)
    rendered = Prepared(b"rendered once", "text/plain", max_age_seconds=60,
                        last_modified=datetime(2024, 1, 1, tzinfo=UTC))  # fmt: skip
    fast_path.slots = RenderSlots(LaneSize(renders=1, waiting=1), LaneSize(renders=2, waiting=0))
    in_flight = fast_path.slots.render("/feed.atom", open_ended=False)
    assert in_flight.__enter__() is True
    others = [fast_path.slots.render("/other", open_ended=False)]
    assert all(other.__enter__() for other in others)  # with the render, the site lane is full

    def finish_render() -> None:
        time.sleep(0.3)
        fast_path.cache.put("/feed.atom", rendered, fast_path.cache.current_version())
        in_flight.__exit__(None, None, None)

    thread = threading.Thread(target=finish_render)
    thread.start()
    try:
        assert app.test_client().get("/feed.rss").status_code == 503  # nothing to wait for
        response = app.test_client().get("/feed.atom")
        assert response.status_code == 200 and response.data == b"rendered once"
    finally:
        thread.join()
        for other in others:
            other.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("method", "target", "headers", "version", "status"),
    [("GET", "/feed.atom", {}, "HTTP/1.1", 400),  # no Host (RFC 9112 3.2)
     ("GET", "/feed.atom", {"Host": "a.example", "host": "b.example"}, "HTTP/1.1", 400),
     ("GET", "/feed.atom", {}, "HTTP/1.0", 200),  # HTTP/1.0 has no Host to require
     ("head", "/feed.atom", {"Host": "news.example.test"}, "HTTP/1.1", 405),  # RFC 9110 9.1
     ("get", "/", {"Host": "news.example.test"}, "HTTP/1.1", 405),
     ("GET", "//feed.atom", {"Host": "news.example.test"}, "HTTP/1.1", 404),
     ("GET", "///sources/reuters", {"Host": "news.example.test"}, "HTTP/1.1", 404)],
    ids=["no-host", "two-hosts", "http-1.0", "lower-case-head", "lower-case-get",
         "leading-doubled-slash", "leading-tripled-slash"],
)  # fmt: skip
def test_what_http_refuses_is_refused_with_its_status(
    server: LiveServer,
    method: str,
    target: str,
    headers: dict[str, str],
    version: str,
    status: int,
) -> None:
    # An HTTP audit: granian served all but the HTTP/1.0 one with 200 (Werkzeug upper-cases a
    # method and strips leading slashes).
    reply = request(server, method, target, headers, version=version)
    assert reply.status == status, reply.status
    assert reply.header("Content-Security-Policy")  # the security headers, as on every answer
    if status == 405:
        assert reply.header("Allow") == "GET, HEAD, OPTIONS"
    if status != 200:
        assert reply.header("Cache-Control") is None
