"""HTTP behaviour through the app: caching headers, 304, gzip, bounds, Host independence."""

from __future__ import annotations

import gzip
import hashlib
import math
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from werkzeug.test import run_wsgi_app

from feedsvc import create_app
from feedsvc.security import SecurityHeaders

from .conftest import SITE_URL, hex_id, indexed_app, set_mtime, settings_for, write_document

FEEDS = ["/feed.rss", "/feed.atom", "/feed.json", "/sources/reuters/feed.atom",
         "/places/washington/feed.rss", "/search/feed.atom?q=venezuela"]  # fmt: skip
PAGES = ["/", "/sources/reuters", "/places/washington", "/search?q=maduro",
         "/articles/5e300edb8a850530/u-s-officials-travel-to-venezuela-a-russian-ally-for-talks",
         "/feeds.opml", "/sitemap.xml", "/news-sitemap.xml", "/sources", "/places", "/search",
         "/feed.rss.html", "/feeds.opml.html", "/robots.txt", "/favicon.ico"]  # fmt: skip


@pytest.mark.parametrize("path", FEEDS + PAGES)
def test_conditional_get_answers_304(client, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": last_modified}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    # If-None-Match takes precedence over If-Modified-Since.
    both = {"If-None-Match": '"other"', "If-Modified-Since": last_modified}
    assert client.get(path, headers=both).status_code == 200


def test_if_match_and_if_unmodified_since_are_evaluated_first(client) -> None:
    # RFC 9110 13.1.1 and 13.1.4: an origin server MUST evaluate them, before If-None-Match
    # and If-Modified-Since (13.2.2); a false one is 412, with nothing that a cache may keep.
    first = client.get("/feed.atom")
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    earlier = "Sat, 01 Jan 2000 00:00:00 GMT"

    def status(**headers: str) -> int:
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        return client.get("/feed.atom", headers=named).status_code

    assert status(If_Match=etag) == 200
    assert status(If_Match=f'"other", {etag}') == 200
    assert status(If_Match="*") == 200
    assert status(If_Match=f"W/{etag}") == 412  # a weak tag never matches strongly (8.8.3.2)
    failed = client.get("/feed.atom", headers={"If-Match": '"other"'})
    assert failed.status_code == 412 and failed.data == b""
    assert "Cache-Control" not in failed.headers and "ETag" not in failed.headers
    # The gzip body is another representation, with its own tag.
    assert status(If_Match=etag, Accept_Encoding="gzip") == 412
    # If-Match before If-None-Match: 412, not 304.
    assert status(If_Match='"other"', If_None_Match=etag) == 412
    assert status(If_Match=etag, If_None_Match=etag) == 304
    assert status(If_Unmodified_Since=last_modified) == 200
    assert status(If_Unmodified_Since=earlier) == 412
    assert status(If_Match=etag, If_Unmodified_Since=earlier) == 200  # ignored after If-Match
    assert status(If_Unmodified_Since="yesterday") == 200  # not an HTTP-date: ignored


@pytest.mark.parametrize(
    "since",
    ["{lm}, {lm}",  # two members (13.1.3)
     "{day}, 06 Mar 2022 13:00:00 +0100",  # an HTTP-date is in GMT (5.6.7)
     "2022-03-06T12:00:00Z"],
)  # fmt: skip
def test_a_date_that_is_not_one_http_date_is_ignored(client, since: str) -> None:
    last_modified = client.get("/feed.atom").headers["Last-Modified"]
    value = since.format(lm=last_modified, day=last_modified[:3])
    assert client.get("/feed.atom", headers={"If-Modified-Since": value}).status_code == 200
    # The obsolete forms are HTTP-dates still.
    when = parsedate_to_datetime(last_modified)
    for old in (when.strftime("%A, %d-%b-%y %H:%M:%S GMT"), when.strftime("%a %b %e %H:%M:%S %Y")):
        assert client.get("/feed.atom", headers={"If-Modified-Since": old}).status_code == 304, old


def test_feed_cache_headers(client) -> None:
    response = client.get("/feed.atom")
    # The content time: when the bundled document was written (conftest), not its dateline.
    assert response.headers["Last-Modified"] == "Sun, 06 Mar 2022 12:00:00 GMT"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Vary"] == "Accept-Encoding, Sec-Fetch-Dest, Sec-Fetch-Mode"


def test_gzip_when_accepted_only(client) -> None:
    plain = client.get("/feed.atom")
    packed = client.get("/feed.atom", headers={"Accept-Encoding": "br, gzip;q=0.8"})
    refused = client.get("/feed.atom", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]  # a different representation
    # Each strong tag is the digest of the bytes it is sent with (RFC 9110 8.8.1): a node
    # whose zlib compresses otherwise sends other bytes under another tag.
    for response in (plain, packed):
        digest = hashlib.blake2b(response.data, digest_size=12).hexdigest()
        assert response.headers["ETag"].strip('"').removesuffix("-gzip") == digest
    assert "Content-Encoding" not in refused.headers
    # Each tag revalidates its own representation (RFC 9110 13.1.2), and a 304 names the one a
    # cache holds: told 304 with a tag it does not hold, a cache cannot use it (RFC 9111 4.3.4).
    headers = {"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    revalidated = client.get("/feed.atom", headers=headers)
    assert revalidated.status_code == 304
    assert revalidated.headers["ETag"] == packed.headers["ETag"]
    headers = {"Accept-Encoding": "gzip", "If-None-Match": plain.headers["ETag"]}
    other = client.get("/feed.atom", headers=headers)
    assert other.status_code == 200 and other.headers["ETag"] == packed.headers["ETag"]
    assert gzip.decompress(other.data) == plain.data
    headers = {"If-None-Match": f"{packed.headers['ETag']}, {plain.headers['ETag']}"}
    both = client.get("/feed.atom", headers=headers)  # a cache holding both variants
    assert both.status_code == 304 and both.headers["ETag"] == plain.headers["ETag"]


@pytest.mark.parametrize(
    ("accept_encoding", "compressed"),
    [("GZIP", True), ("x-gzip", True), ("*", True), ("br, *;q=0.1", True),
     ("identity", False), ("*;q=0", False), ("gzip; q=0", False), ("gzip;q=0, *", False),
     ("*, X-GZIP;q=0", False), ("*;q=0, gzip", True), ("gzip;q=0, x-gzip", False)],
)  # fmt: skip
def test_accept_encoding_is_read_as_rfc_9110_says(
    client, accept_encoding: str, compressed: bool
) -> None:
    # Content codings are case-insensitive (8.4.1) and "*" is any coding not named (12.5.3):
    # "gzip;q=0, *" refuses gzip. Of two names for gzip that disagree, the refusal wins.
    response = client.get("/feed.atom", headers={"Accept-Encoding": accept_encoding})
    assert (response.headers.get("Content-Encoding") == "gzip") is compressed


def test_head_has_headers_and_no_body(client) -> None:
    get, head = client.get("/feed.rss"), client.head("/feed.rss")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["ETag"] == get.headers["ETag"]


@pytest.mark.parametrize("path", ["/feed.atom", "/", "/feed.json"])
def test_any_host_header_gets_the_same_bytes(client, path: str) -> None:
    normal = client.get(path)
    spoofed = client.get(path, headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    assert spoofed.data == normal.data
    assert b"evil.example" not in spoofed.data


def test_redirect_location_comes_from_the_site_url(client) -> None:
    response = client.get("/articles/5e300edb8a850530/old-slug", headers={"Host": "evil.example"})
    assert response.status_code == 301
    assert response.headers["Location"] == (
        f"{SITE_URL}/articles/5e300edb8a850530/"
        "u-s-officials-travel-to-venezuela-a-russian-ally-for-talks"
    )


@pytest.mark.parametrize(
    ("query", "status"),
    [("limit=1", 200), ("limit=9999999", 200), ("limit=10000000", 200),
     ("limit=" + "9" * 4000, 200), ("limit=0", 400), ("limit=-3", 400), ("limit=abc", 400),
     ("limit=²", 400), ("limit=1e3", 400), ("limit=020", 400), ("limit=" + "0" * 4000, 400)],
)  # fmt: skip
def test_limit_is_bounded(client, query: str, status: int) -> None:
    assert client.get(f"/feed.atom?{query}").status_code == status


def test_limit_is_clamped_to_the_maximum(tmp_path: Path, seeds: Path) -> None:
    for n in range(1, 8):
        write_document(seeds, n, hex_id(n), headline=f"Story {n}", date="1 Jan 2024")
    app = indexed_app(tmp_path, seeds, FEED_SIZE=2, MAX_LIMIT=5)
    client = app.test_client()
    assert client.get("/feed.json").json["items"].__len__() == 2
    assert len(client.get("/feed.json?limit=3").json["items"]) == 3
    assert len(client.get("/feed.json?limit=500").json["items"]) == 5
    # Any number above the maximum is read as it, however many digits it has (README).
    for many in ("10000000", "9" * 4000):
        assert len(client.get(f"/feed.json?limit={many}").json["items"]) == 5
    refused = client.get("/feed.json?limit=0")
    assert b"whole number from 1, in digits without a leading zero" in refused.data
    assert b"any above 5 is read as 5" in refused.data


@pytest.mark.parametrize(
    "path", ["/?page=02", "/?page=0", "/?page=%EF%BC%92", "/?page=+2", "/feed.atom?limit=05"]
)
def test_a_number_with_a_leading_zero_or_other_digits_is_refused(client, path: str) -> None:
    # One address per page: /?page=02 was a second copy of /?page=2 (params.WHOLE_NUMBER).
    assert client.get(path).status_code == 400


@pytest.mark.parametrize(
    "path", ["/sitemaps/01.xml", "/sitemaps/%D9%A1.xml", "/sitemaps/+1.xml",
             "/archives/2022-03/02/feed.atom", "/sitemaps/" + "1" * 4000 + ".xml"],
)  # fmt: skip
def test_a_number_in_a_path_is_written_one_way(client, path: str) -> None:
    # /sitemaps/01.xml and /sitemaps/١.xml (Arabic-Indic one) were /sitemaps/1.xml again; a
    # static host has no file of that name either. The address they spell otherwise exists.
    assert client.get("/sitemaps/1.xml").status_code == 200
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/search/feed.atom", "/search/feed.atom?q=", "/search/feed.atom?q=" + "x" * 500,
     "/?page=0", "/?page=abc"],
)  # fmt: skip
def test_bad_query_parameters_get_a_clear_400(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert b"<h1>Bad Request</h1>" in response.data


@pytest.mark.parametrize(
    "path",
    ["/sources/nobody/feed.atom", "/places/atlantis", "/feed.xsl", "/archives/1/feed.atom",
     "/archives/2022-02/feed.atom", "/archives/2022-03/1/feed.atom", "/archives/x/feed.atom",
     "/sources/nobody/archives/2022-03/feed.atom", "/search/archives/2022-03/feed.atom",
     "/articles/0123456789abcdef/x", "/articles/../../etc/passwd", "/?page=9"],
)  # fmt: skip
def test_unknown_things_are_404(client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_a_doubled_slash_is_not_redirected_to_the_host_header(client) -> None:
    # Werkzeug would merge the slashes and redirect to a URL built from the Host header.
    response = client.get("/sources//reuters/feed.atom", headers={"Host": "evil.example"})
    assert response.status_code == 404 and "Location" not in response.headers


def _through(app, environ_overrides: dict, path: str) -> tuple[str, dict, bytes]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path.split("?")[0], query_string=path.partition("?")[2],
                             **environ_overrides).get_environ()  # fmt: skip
    body_iter, status, headers = run_wsgi_app(app, environ)
    body = b"".join(body_iter)
    return status, dict(headers), body


@pytest.mark.parametrize("path", ["/feed.atom", "/", "/search/feed.rss?q=oil"])
@pytest.mark.parametrize(
    "request_headers",
    [{}, {"Accept-Encoding": "gzip"}, {"If-None-Match": "*"}, {"__method": "HEAD"}],
)
def test_fast_path_serves_exactly_what_flask_serves(app, path: str, request_headers: dict) -> None:
    headers = dict(request_headers)
    method = headers.pop("__method", "GET")
    overrides = {"method": method, "headers": headers}
    # Behind the security headers, framing.py and the preview rewrite (which leave these
    # requests alone).
    fast_path = app.wsgi_app.app.app.app
    # Flask alone, with the same outermost layer as the whole stack.
    flask_only = SecurityHeaders(fast_path.app, app.wsgi_app.policy)
    via_flask = _through(flask_only, overrides, path)
    assert fast_path.cache.get(path) is not None  # now cached
    via_fast_path = _through(app.wsgi_app, overrides, path)
    assert via_fast_path == via_flask


def test_store_change_reaches_the_cached_feed(app, seeds: Path) -> None:
    client = app.test_client()
    first = client.get("/feed.atom")
    path = write_document(seeds, 1, hex_id(1), date="1 Jan 2024", headline="Fresh news")
    written = datetime(2024, 1, 2, 9, 30, tzinfo=UTC)  # as if copied in keeping its time
    set_mtime(path, written)
    set_mtime(seeds, written)
    app.extensions["feedsvc"].store.refresh()
    response = client.get("/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert response.status_code == 200
    assert b"Fresh news" in response.data
    assert response.headers["Last-Modified"] == "Tue, 02 Jan 2024 09:30:00 GMT"
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    assert client.get("/feed.atom", headers=since).status_code == 200


def test_settings_errors_name_the_variable(tmp_path: Path, seeds: Path) -> None:
    from feedsvc.config import ConfigError

    with pytest.raises(ConfigError, match="FEEDSVC_FEED_SIZE"):
        create_app(settings_for(tmp_path, seeds, FEED_SIZE="lots"))
    with pytest.raises(ConfigError, match="FEEDSVC_SITE_URL"):
        create_app(settings_for(tmp_path, seeds, SITE_URL="news.example"))


def test_readme_lists_every_setting() -> None:
    from feedsvc.config import describe

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert describe() in readme


def test_responses_are_not_html_sniffed(client) -> None:
    assert client.get("/feed.json").headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/").data.startswith(b"<!doctype html>")


def test_response_cache_is_bounded_and_keeps_what_is_popular() -> None:
    from datetime import UTC, datetime

    from feedsvc.httpcache import Prepared, ResponseCache

    def prepared(size: int) -> Prepared:
        return Prepared(b"x" * size, "text/plain", last_modified=datetime(2024, 1, 1, tzinfo=UTC),
                        max_age_seconds=60)  # fmt: skip

    cache = ResponseCache(lambda: 0, max_entries=100, max_bytes=100_000)
    cache.put("/feed.atom", prepared(2_000), 0)
    for n in range(1_000):  # a flood of one-off URLs, the popular feed requested throughout
        cache.put(f"/search/feed.atom?q={n}", prepared(2_000), 0)
        assert cache.get("/feed.atom") is not None
    assert len(cache) <= 100 and cache.size <= 100_000
    cache.put("/huge", prepared(60_000), 0)  # over a quarter of the budget: never kept
    assert cache.get("/huge") is None


@pytest.mark.parametrize(
    ("if_none_match", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', True),  # the weak comparison of RFC 9110 section 13.1.2
        ('"x", W/"def"', True),
        (' "x" ,"abc" ', True),
        ("*", True),
        ("abc", True),  # unquoted, as some clients send it
        ('"x"', False),
        ('"ab"', False),
        ('"abc,"', False),
        ("", False),
    ],
)
def test_if_none_match_lists(if_none_match: str, matches: bool) -> None:
    from feedsvc.httpcache import matches_any

    assert matches_any(if_none_match, ['"abc"', '"def"']) is matches


def test_a_render_of_an_older_store_state_is_not_kept() -> None:
    """A document changed while a feed was rendered: what was rendered shows the store before
    the change, and kept, it would be served (without the new story) until the next change."""
    from feedsvc.httpcache import Prepared, ResponseCache

    version = [1]
    cache = ResponseCache(lambda: version[0])
    response = Prepared(b"<feed/>", "application/atom+xml", last_modified=None, max_age_seconds=60)
    version[0] = 2  # the store changed during the render of version 1
    assert cache.get("/feed.atom") is None  # a request meanwhile sees version 2
    cache.put("/feed.atom", response, 1)
    assert cache.get("/feed.atom") is None
    cache.put("/feed.atom", response, 2)  # one rendered from the state now seen is kept
    assert cache.get("/feed.atom") is response


def test_the_news_sitemap_is_made_again_when_a_story_leaves_it(tmp_path: Path, seeds: Path) -> None:
    """A story leaves the news sitemap's two days by the clock alone, with no change of the
    store: the response sent before says so with Expires (RFC 9111 4.2.1), and the app's own
    memory must not serve it past that either (Google News would still see the story)."""
    leaves = datetime.fromtimestamp(math.ceil(time.time()) + 2, UTC)
    published = leaves - timedelta(days=2)
    write_document(seeds, 1, hex_id(1), headline="Leaving",
                   date=f"{published:%Y-%m-%d %H:%M:%S} UTC")  # fmt: skip
    client = indexed_app(tmp_path, seeds).test_client()
    first = client.get("/news-sitemap.xml")
    assert b"Leaving" in first.data
    assert parsedate_to_datetime(first.headers["Expires"]) == leaves
    time.sleep(max(0.0, leaves.timestamp() - time.time()) + 0.3)
    later = client.get("/news-sitemap.xml")
    assert later.status_code == 200 and b"Leaving" not in later.data
