"""A static build served by Debian's nginx with the generated configuration, as operators do."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import brotli
import pytest
from werkzeug.http import http_date, parse_date

from benchmarks import corpus
from feedsvc import build
from feedsvc.build import Builder, request
from feedsvc.outtree import Entry
from feedsvc.preview import NAVIGATION

from .conftest import SITE_URL, free_port, hex_id, write_document
from .test_build import builder
from .test_e2e import LiveServer, raw_get

BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # /usr/sbin is not on every user's PATH

pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists() or not BROTLI_MODULE.exists(),
    reason="needs Debian's nginx-light and libnginx-mod-http-brotli-static (.ci/run installs them)",
)

NGINX_CONF = """\
load_module {module};
{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include "{state}/nginx/http.conf";
    server {{
        listen 127.0.0.1:{port};
        include "{state}/nginx/server.conf";
    }}
}}
"""


@dataclass
class Site:
    server: LiveServer  # raw_get's shape: the nginx URL
    out: Path
    builder: Builder
    entries: dict[str, Entry]


def start_nginx(folder: Path, state: Path) -> tuple[subprocess.Popen[bytes], str]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    # As root, nginx's workers would run as nobody, who cannot read pytest's private folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        NGINX_CONF.format(module=BROTLI_MODULE, user=user, dir=folder, state=state, port=port)
    )
    log = folder / "error.log"
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(folder), "-e", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("nginx did not start")


def reload_nginx(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGHUP)
    time.sleep(0.5)  # the old worker finishes, the new one reads the new maps


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    seeds = tmp_path / "seeds"
    corpus.write(seeds, 45, seed=5)
    out = tmp_path / "out"
    made = builder(tmp_path, seeds, out)
    made.build()
    process, url = start_nginx(tmp_path / "nginx", made.tree.state)
    try:
        live = LiveServer(url, seeds, process, tmp_path / "nginx" / "error.log")  # type: ignore[arg-type]
        yield Site(live, out, made, made.tree.entries())
    finally:
        process.terminate()
        process.wait(timeout=10)
        made.close()


def test_nginx_serves_every_url_with_the_services_type_and_headers(site: Site) -> None:
    files = [e for e in site.entries.values() if e.file and e.status == 200]
    assert len(files) > 150
    for entry in files:
        answer = raw_get(site.server, entry.url)
        assert answer.status == 200, entry.url
        assert answer.body == (site.out / str(entry.file)).read_bytes(), entry.url  # type: ignore[attr-defined]
        for name, value in entry.headers:
            assert answer.getheader(name) == value, (entry.url, name)
        assert len(answer.headers.get_all("Vary") or []) == 1, entry.url
        assert answer.getheader("Last-Modified") == http_date(entry.mtime), entry.url


def test_nginx_sends_the_precompressed_copies(site: Site) -> None:
    feed = site.entries["/feed.atom"]
    zipped = raw_get(site.server, "/feed.atom", **{"Accept-Encoding": "gzip"})
    assert zipped.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(zipped.body) == (site.out / "feed.atom").read_bytes()  # type: ignore[attr-defined]
    assert zipped.getheader("Vary") == dict(feed.headers)["Vary"]
    page = next(e for e in site.entries.values() if e.url.startswith("/articles/"))
    assert "br" in page.encodings
    packed = raw_get(site.server, page.url, **{"Accept-Encoding": "br, gzip"})
    assert packed.getheader("Content-Encoding") == "br"
    assert brotli.decompress(packed.body) == (site.out / str(page.file)).read_bytes()  # type: ignore[attr-defined]
    assert packed.getheader("Content-Type") == "text/html; charset=utf-8"


def test_nginx_answers_304_to_etag_and_last_modified(site: Site) -> None:
    for url in ("/feed.rss", "/", "/sources/reuters", "/?page=2"):
        first = raw_get(site.server, url)
        etag, modified = first.getheader("ETag"), first.getheader("Last-Modified")
        assert raw_get(site.server, url, **{"If-None-Match": etag}).status == 304
        again = raw_get(site.server, url, **{"If-Modified-Since": modified})
        assert again.status == 304
        assert again.getheader("Cache-Control") == first.getheader("Cache-Control")
        # Not modified since a later date either (RFC 9110 13.1.3), as from the service; an
        # earlier one gets the body.
        later = http_date(parse_date(modified) + timedelta(days=1))  # type: ignore[operator]
        assert raw_get(site.server, url, **{"If-Modified-Since": later}).status == 304, url
        earlier = http_date(parse_date(modified) - timedelta(days=1))  # type: ignore[operator]
        assert raw_get(site.server, url, **{"If-Modified-Since": earlier}).status == 200, url


def test_nginx_pages_listings_by_query(site: Site) -> None:
    paged_facet = next(u for u in site.entries if u.startswith("/sources/") and "?page=2" in u)
    facet = paged_facet.split("?")[0]
    for url, path in [
        ("/?page=2", "index/page/2.html"),
        ("/?page=1", "index.html"),
        (f"{facet}?page=2", f"{facet[1:]}/page/2.html"),
    ]:
        # A browser's navigation too: a page's file ends in .html like a feed's preview.
        for headers in ({}, NAVIGATION):
            answer = raw_get(site.server, url, **headers)
            assert answer.status == 200, (url, headers)
            assert answer.body == (site.out / path).read_bytes(), (url, headers)  # type: ignore[attr-defined]
    for headers in ({}, NAVIGATION):
        assert raw_get(site.server, "/?page=999", **headers).status == 404
        assert raw_get(site.server, f"{facet}?page=999", **headers).status == 404
        assert raw_get(site.server, "/?page=x", **headers).status == 400  # as the service


def test_nginx_redirects_old_article_addresses(site: Site) -> None:
    page = next(e for e in site.entries.values() if e.url.startswith("/articles/"))
    article_id = page.url.split("/")[2]
    for old in (f"/articles/{article_id}", f"/articles/{article_id}/an-old-headline"):
        answer = raw_get(site.server, old)
        assert answer.status == 301
        assert answer.getheader("Location") == SITE_URL + page.url
        # The headers the service sends with this redirect, not those of the files.
        status, headers, _ = request(site.builder.app, old, SITE_URL)
        assert status == 301
        for name in ("Cache-Control", "Vary", "X-Content-Type-Options", "Link"):
            expected = [value for key, value in headers if key == name]
            assert (answer.headers.get_all(name) or []) == expected, name
    missing = raw_get(site.server, f"/articles/{hex_id(12345)}/gone")
    assert missing.status == 404
    assert missing.body == (site.out / "404.html").read_bytes()  # type: ignore[attr-defined]


def test_nginx_hides_what_is_not_the_site(site: Site) -> None:
    hidden = ("/_headers", "/_redirects", "/404.html", "/feed.atom.gz", "/nothing-here")
    for url in (*hidden, "/nothing-here/", "/static/"):
        answer = raw_get(site.server, url)
        assert answer.status == 404, url
        assert answer.body == (site.out / "404.html").read_bytes(), url  # type: ignore[attr-defined]


# Headers a comparison leaves out: the connection's, and what nginx derives from a file
# (validators: test_nginx_serves_every_url_with_the_services_type_and_headers checks them).
NOT_COMPARED = frozenset({"content-length", "date", "server", "connection", "etag",
                          "last-modified", "accept-ranges"})  # fmt: skip


def test_nginx_answers_odd_addresses_as_the_service_does(site: Site) -> None:
    # Addresses people type, other publishing tools link to and crawlers try: nginx gives the
    # service's status, Location, media type (charset included) and headers, and a page's bytes.
    page = next(e for e in site.entries.values() if e.url.startswith("/articles/"))
    article_id = page.url.split("/")[2]
    place = next(e.url for e in site.entries.values() if e.url.startswith("/places/"))
    facet = next(u for u in site.entries if u.startswith("/sources/") and "?page=2" in u)
    facet = facet.split("?")[0]
    trailing_slash = ["/sources/", "/sources/reuters/", f"{place}/", "/sources/reuters/?page=2",
                      "/feed.atom/", f"{page.url}/", f"/articles/{article_id}/", "/sitemaps/",
                      "/nothing/here/", "/index/", "/404/", "/index.html/", "/404.html/",
                      "/index/page/2/"]  # fmt: skip
    # ?page= is read by the listings alone; elsewhere it is ignored like any unknown parameter
    # (the facet indexes /sources and /places are one page); a listing refuses a value that is
    # not a page number with 400.
    pages = ["/sources?page=2", "/places?page=2", "/sources?page=abc", "/places?page=",
             "/feed.atom?page=x", "/?page=0", "/?page=abc", "/?page=-1", "/?page=", "/?page",
             "/?page=99999999", "/?page=00000002", "/?page=02", "/?page=" + "9" * 3000,
             f"{facet}?page=02", "/sitemaps/01.xml", "/?page=2&page=x", "/?page=x&page=2",
             "/?foo=1&page=2", f"{facet}?page=0", f"{facet}?page=", f"{facet}?page=2",
             f"{facet}?page=999", "/?feed=rss2&page=abc"]  # fmt: skip
    # Files of other addresses, as they sit in OUT: not addresses of the site.
    files = ["/404", "/index", "/404.html", "/index.html", "/sources/reuters.html",
             "/index/page/2", "/index/page/2.html", f"{facet}/page/2", f"{facet}/page/2.html",
             f"{page.url}.html", "/feed.atom.html"]  # fmt: skip
    redirects = ["/rss.xml", "/feed/", "/?feed=rss2", "/feeds/posts/default?alt=rss",
                 f"/articles/{article_id}"]  # fmt: skip
    # Doubled slashes are not merged (framing.py, docs/exposure.md).
    slashes = ["//feed.atom", "/sources//reuters", f"/{page.url}", "//"]
    # Paths are case-sensitive, in the service's routes as on the disk; nginx's maps match
    # strings ignoring case (nginx.org/r/map), which once sent /Sources/ a 301 to a 404.
    cases = ["/Sources/", "/SOURCES", "/Sources?page=abc", f"{facet.upper()}?page=x",
             f"{facet.upper()}/", "/FEED.ATOM", "/Feed.atom/", "/Index/", "/RSS.XML",
             "/?FEED=rss2", "/?Page=abc", page.url.upper(), f"{page.url.upper()}/",
             f"/articles/{article_id.upper()}", f"/Articles/{article_id}", "/Sitemaps/",
             "/404.HTML/"]  # fmt: skip
    differ = []  # every address that differs, not only the first
    for url in [*trailing_slash, *pages, *files, *redirects, *slashes, *cases]:
        status, headers, body = request(site.builder.app, url, SITE_URL)
        answer = raw_get(site.server, url)
        sent = {k.lower(): v for k, v in headers if k.lower() not in NOT_COMPARED}
        got = {k.lower(): v for k, v in answer.getheaders() if k.lower() not in NOT_COMPARED}
        if answer.status != status or got != sent:
            differ.append((url, status, answer.status, set(sent.items()) ^ set(got.items())))
        elif status == 200 and answer.body != body:  # type: ignore[attr-defined]
            differ.append((url, status, "another body"))
        elif status == 404 and answer.body != (site.out / "404.html").read_bytes():  # type: ignore[attr-defined]
            differ.append((url, status, "another 404 page"))
    assert not differ, "\n".join(map(str, differ))
    assert raw_get(site.server, "/sources/").getheader("Location") == f"{SITE_URL}/sources"
    assert b"400" in raw_get(site.server, "/?page=abc").body  # type: ignore[attr-defined]
    # An article that does not exist: the service's 301 leads to its 404; nginx says it at once.
    assert raw_get(site.server, f"/articles/{hex_id(12345)}/").status == 404
    assert raw_get(site.server, f"/articles/{article_id.upper()}/").status == 404


def test_nginx_answers_other_methods_failed_conditions_and_ranges_as_the_service_does(
    site: Site,
) -> None:
    # An HTTP audit: nginx's own 405 had no Allow (RFC 9110 15.5.6 requires it), a POST to a
    # redirect was redirected, and its 405, 412 and 416 carried a file's Cache-Control, for a
    # CDN to keep. The service sends no Cache-Control or Vary with an error, and a Range gets
    # the whole body from it.
    page = next(e.url for e in site.entries.values() if e.url.startswith("/articles/"))
    client = site.builder.app.test_client()

    def allowed(value: str | None) -> set[str]:
        return {method.strip() for method in (value or "").split(",") if method.strip()}

    asked = [
        (method, url, {})
        for method in ("POST", "PUT", "DELETE", "OPTIONS")
        for url in ("/feed.atom", "/rss.xml", page, f"/articles/{page.split('/')[2]}")
    ]
    asked += [("GET", "/feed.atom", {"If-Match": '"x"'}), ("GET", "/nothing", {}),
              ("GET", "/feed.atom", {"Range": "bytes=abc"}),
              ("GET", "/feed.atom", {"Range": "bytes=0-9"})]  # fmt: skip
    for method, url, headers in asked:
        served = client.open(url, method=method, headers=headers)
        answer = raw_get(site.server, url, method, **headers)
        what = (method, url, headers)
        assert answer.status == served.status_code, what
        assert allowed(answer.getheader("Allow")) == allowed(served.headers.get("Allow")), what
        if answer.status >= 400:
            for name in ("Cache-Control", "Vary", "ETag", "Last-Modified"):
                assert answer.getheader(name) is None and name not in served.headers, (what, name)
            assert answer.getheader("Content-Security-Policy"), what
    whole = raw_get(site.server, "/feed.atom", Range="bytes=0-9")
    assert whole.body == (site.out / "feed.atom").read_bytes()  # type: ignore[attr-defined]
    assert whole.getheader("Accept-Ranges") is None


def test_a_rebuild_keeps_validators_of_unchanged_files(site: Site) -> None:
    article = next(e for e in site.entries.values() if e.url.startswith("/articles/"))
    urls = ("/feed.atom", article.url)
    before = {url: raw_get(site.server, url).getheader("ETag") for url in urls}
    time.sleep(1.1)
    write_document(site.server.seeds, 999, hex_id(999), date="1 Jan 2026", headline="New")
    site.builder.svc.store.refresh()
    report = site.builder.build()
    assert report.config_changed  # a new article: a new permalink in the map
    reload_nginx(site.server.process)
    after = {url: raw_get(site.server, url).getheader("ETag") for url in urls}
    assert after[article.url] == before[article.url]
    assert after["/feed.atom"] != before["/feed.atom"]
    fresh = raw_get(site.server, "/feed.atom", **{"If-None-Match": before["/feed.atom"]})
    assert fresh.status == 200 and b"New" in fresh.body  # type: ignore[attr-defined]
    moved = raw_get(site.server, f"/articles/{hex_id(999)}")
    assert moved.status == 301 and moved.getheader("Location").endswith(f"{hex_id(999)}/new")
    modified = parse_date(raw_get(site.server, "/feed.atom").getheader("Last-Modified"))
    assert modified is not None


def test_an_article_renamed_or_removed_before_nginx_is_reloaded_is_no_redirect_loop(
    site: Site,
) -> None:
    """nginx reads the article addresses (permalinks.map) when it is reloaded. Until then, a
    renamed or deleted article's old page 301'd to itself, for ever (a fresh-user trial: curl
    gave up after 5 redirects): it is not found instead, and after the reload the service's
    answers come back."""
    pages = sorted(e.url for e in site.entries.values() if e.url.startswith("/articles/"))
    renamed, removed = pages[0], pages[1]
    renamed_id, removed_id = renamed.split("/")[2], removed.split("/")[2]
    by_id = {article_id: next(p for p in site.server.seeds.iterdir() if article_id in p.name)
             for article_id in (renamed_id, removed_id)}  # fmt: skip
    lines = by_id[renamed_id].read_text(encoding="utf-8").split("\n")
    by_id[renamed_id].write_text("\n".join(["A headline of its own now", *lines[1:]]))
    by_id[removed_id].unlink()
    site.builder.svc.store.refresh()
    assert site.builder.build().config_changed
    for url in (renamed, removed, f"/articles/{renamed_id}", f"/articles/{removed_id}"):
        answer = raw_get(site.server, url)
        assert answer.status in (301, 404), url
        if answer.status == 301:  # the map's old page, no more: one hop to a 404
            location = urlsplit(answer.getheader("Location")).path
            assert location != url and raw_get(site.server, location).status == 404, url
    reload_nginx(site.server.process)
    for url in (renamed, removed, f"/articles/{renamed_id}", f"/articles/{removed_id}"):
        status, headers, _ = request(site.builder.app, url, SITE_URL)
        answer = raw_get(site.server, url)
        assert answer.status == status, url
        assert answer.getheader("Location") == dict(headers).get("Location"), url


def test_a_new_article_is_served_with_its_headers_before_the_configuration_is_rewritten(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watching build writes the configuration after the pages a new article shifts (and
    nginx reads it only when reloaded): the article's page must already be served as the
    service serves it. Its Cache-Control is not most files' (archive pages, a day), so the
    maps give article pages one rule rather than a line each, which a new one would lack."""
    http_conf = site.builder.tree.state / "nginx" / "http.conf"
    assert '"/articles/' not in http_conf.read_text()
    monkeypatch.setattr(build, "DEFERRED_BATCH_URLS", 1)
    write_document(site.server.seeds, 999, hex_id(999), date="1 Jan 2026", headline="New")
    site.builder.svc.store.refresh()
    report = site.builder.build(defer=True)
    assert report.deferred and not report.config_changed  # the configuration waits
    entry = site.builder.tree.entries()[f"/articles/{hex_id(999)}/new"]
    answer = raw_get(site.server, entry.url)
    assert answer.status == 200
    for name, value in entry.headers:
        assert answer.getheader(name) == value, name
    assert "max-age=86400" not in str(answer.getheader("Cache-Control"))


def test_a_folder_with_no_article_builds_a_site_nginx_serves(tmp_path: Path) -> None:
    """A build of a folder with no article (a new site, or one emptied on purpose) stopped
    with an AssertionError traceback while writing the nginx configuration (a review)."""
    empty = tmp_path / "seeds"
    empty.mkdir()
    made = builder(tmp_path, empty, tmp_path / "out")
    try:
        made.build()
        process, url = start_nginx(tmp_path / "nginx", made.tree.state)
    finally:
        made.close()
    try:
        live = LiveServer(url, empty, process, tmp_path / "nginx" / "error.log")  # type: ignore[arg-type]
        assert raw_get(live, "/feed.atom").status == 200
        assert raw_get(live, f"/articles/{hex_id(1)}/gone").status == 404
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_site_under_a_path(tmp_path: Path, seeds: Path) -> None:
    for n in range(1, 13):
        write_document(seeds, n, hex_id(n), date=f"{n} Feb 2023", headline=f"Story {n}")
    site_url = "https://news.example.test/news"
    made = builder(tmp_path, seeds, tmp_path / "out", SITE_URL=site_url)
    made.build()
    process, url = start_nginx(tmp_path / "nginx", made.tree.state)
    try:
        server = LiveServer(url, seeds, process, tmp_path / "nginx" / "error.log")  # type: ignore[arg-type]
        feed = raw_get(server, "/news/feed.atom")
        assert feed.status == 200 and f"{site_url}/articles/".encode() in feed.body  # type: ignore[attr-defined]
        assert raw_get(server, "/news/").body == (tmp_path / "out" / "index.html").read_bytes()  # type: ignore[attr-defined]
        second = raw_get(server, "/news/?page=2")
        assert second.body == (tmp_path / "out" / "index" / "page" / "2.html").read_bytes()  # type: ignore[attr-defined]
        moved = raw_get(server, f"/news/articles/{hex_id(3)}")
        assert moved.status == 301
        assert moved.getheader("Location") == f"{site_url}/articles/{hex_id(3)}/story-3"
        # The not-found page's file is no address under the path either, as at the root.
        hidden = raw_get(server, "/news/404.html")
        assert hidden.status == 404
        assert hidden.body == (tmp_path / "out" / "404.html").read_bytes()  # type: ignore[attr-defined]
        slashed = raw_get(server, "/news/sources/")
        assert (slashed.status, slashed.getheader("Location")) == (301, f"{site_url}/sources")
        # Other methods too, before the rewrite of the path ends the checks (a review).
        for path in ("/news/feed.atom", "/news/atom.xml", f"/news/articles/{hex_id(3)}"):
            refused = raw_get(server, path, "POST")
            assert refused.status == 405 and refused.getheader("Allow"), path
            assert refused.getheader("Cache-Control") is None, path
    finally:
        process.terminate()
        process.wait(timeout=10)
        made.close()


def test_nginx_shows_browsers_the_feed_preview(site: Site) -> None:
    navigation = {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}
    for url in ("/feed.atom", "/sources/reuters/feed.json", "/feeds.opml"):
        feed = raw_get(site.server, url)
        page = raw_get(site.server, url, **navigation)
        assert page.status == feed.status == 200
        assert page.body == (site.out / f"{url[1:]}.html").read_bytes(), url  # type: ignore[attr-defined]
        assert page.getheader("Content-Type") == "text/html; charset=utf-8"
        assert feed.body == (site.out / url[1:]).read_bytes()  # type: ignore[attr-defined]
        for answer in (feed, page):
            assert "Sec-Fetch-Dest" in answer.getheader("Vary"), url
        # A download link or a script's fetch() is no navigation: it gets the feed.
        fetched = raw_get(site.server, url, **{**navigation, "Sec-Fetch-Mode": "cors"})
        assert fetched.body == feed.body  # type: ignore[attr-defined]


def test_nginx_redirects_the_common_feed_addresses(site: Site) -> None:
    for url, target in [
        ("/rss.xml", "/feed.rss"),
        ("/feed/", "/feed.rss"),
        ("/atom.xml", "/feed.atom"),
        ("/feeds/posts/default", "/feed.atom"),
        ("/feeds/posts/default?alt=rss", "/feed.rss"),
        ("/?feed=rss2", "/feed.rss"),
        ("/?feed=json", "/feed.json"),
    ]:
        answer = raw_get(site.server, url)
        assert answer.status == 301, url
        assert answer.getheader("Location") == SITE_URL + target, url
        status, headers, _ = request(site.builder.app, url, SITE_URL)
        assert answer.getheader("Cache-Control") == dict(headers).get("Cache-Control"), url


def test_nginx_serves_static_files_as_the_service_does(site: Site) -> None:
    assets = site.builder.svc.assets
    for name in assets.names():
        url = assets.path(name)
        answer = raw_get(site.server, url)
        status, headers, body = request(site.builder.app, url, SITE_URL)
        assert answer.status == status == 200
        assert answer.body == body  # type: ignore[attr-defined]
        for header in ("Content-Type", "Cache-Control"):
            assert answer.getheader(header) == dict(headers)[header], (url, header)
    for url in ("/robots.txt", "/favicon.ico"):
        answer = raw_get(site.server, url)
        status, headers, body = request(site.builder.app, url, SITE_URL)
        assert (
            answer.body == body
            and answer.getheader("Content-Type") == dict(headers)["Content-Type"]
        )  # type: ignore[attr-defined]


def test_nginx_serves_a_build_in_a_folder_whose_name_has_a_space(
    tmp_path: Path, seeds: Path
) -> None:
    """Folders named as people name them (`News Desk's site`): the generated configuration
    quotes its paths, so nginx reads it, the permalink map included."""
    write_document(seeds, 1, hex_id(1), date="1 Feb 2023", headline="Story one")
    out = tmp_path / "News Desk's site" / "public"
    made = builder(tmp_path, seeds, out)
    made.build()
    process, url = start_nginx(tmp_path / "nginx", made.tree.state)
    try:
        server = LiveServer(url, seeds, process, tmp_path / "nginx" / "error.log")  # type: ignore[arg-type]
        feed = raw_get(server, "/feed.atom")
        assert feed.status == 200
        assert feed.body == (out / "feed.atom").read_bytes()  # type: ignore[attr-defined]
        moved = raw_get(server, f"/articles/{hex_id(1)}")
        assert moved.status == 301
        assert moved.getheader("Location") == f"{SITE_URL}/articles/{hex_id(1)}/story-one"
    finally:
        process.terminate()
        process.wait(timeout=10)
        made.close()


def test_nginx_answers_a_split_months_address_as_the_service_does(tmp_path: Path) -> None:
    """A month of FEEDSVC_FEED_SIZE articles, then one more: the month's address is no page
    any more, and the service sends it (for a while) to the page of its newest day. nginx and
    the _redirects file answer it the same way, for every format, channel and preview."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    days = [("1 Sep 2023", 1), ("1 Oct 2023", 2), ("1 Oct 2023", 3), ("15 Oct 2023", 4),
            ("20 Oct 2023", 5), ("1 Nov 2023", 6)]  # fmt: skip
    for date, number in days:
        write_document(seeds, number, hex_id(number), date=date, dateline="PARIS (AFP) —",
                       headline=f"Story {number}")  # fmt: skip
    made = builder(tmp_path, seeds, tmp_path / "out", FEED_SIZE="3")
    made.build()
    process, url = start_nginx(tmp_path / "nginx", made.tree.state)
    try:
        server = LiveServer(url, seeds, process, tmp_path / "nginx" / "error.log")  # type: ignore[arg-type]
        redirects = (tmp_path / "out" / "_redirects").read_text().splitlines()
        for channel in ("", "/sources/afp", "/places/paris"):
            for fmt in ("rss", "atom", "json"):
                month = f"{channel}/archives/2023-10/feed.{fmt}"
                newest = f"{SITE_URL}{channel}/archives/2023-10-20/feed.{fmt}"
                for path, headers, location in [
                    (month, {}, newest),
                    (month, NAVIGATION, newest + ".html"),
                    (month + ".html", {}, newest + ".html"),
                    (month + ".html", NAVIGATION, newest + ".html"),
                ]:
                    answer = raw_get(server, path, **headers)
                    status, sent, _ = request(made.app, path, SITE_URL, **headers)
                    assert answer.status == status == 302, (path, headers)
                    assert answer.getheader("Location") == dict(sent)["Location"] == location
                    for name in ("Cache-Control", "Vary", "Content-Type"):
                        assert answer.getheader(name) == dict(sent)[name], (path, name)
                    assert raw_get(server, urlsplit(location).path).status == 200, location
                # As a path in _redirects (Cloudflare Pages refuses an http:// destination).
                newest_path = urlsplit(newest).path
                assert f"{month} {newest_path} 302" in redirects
                assert f"{month}.html {newest_path}.html 302" in redirects
        # A month that is one page is a file; a period with no article is not found.
        assert raw_get(server, "/archives/2023-09/feed.atom").status == 200
        assert raw_get(server, "/archives/2023-08/feed.atom").status == 404
    finally:
        process.terminate()
        process.wait(timeout=10)
        made.close()
