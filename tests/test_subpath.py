"""A site under a path: ``FEEDSVC_SITE_URL=http://host/news`` behind Debian's nginx, which
proxies ``/news/`` to ``feedsvc serve``. Every link of every page, feed, archive page, OPML list
and sitemap, redirects and the feeds' stylesheet included, is under the site URL and answers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from lxml import etree, html

from .conftest import free_port, hex_id, start_server, stop_server, wait_for, write_document

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp-body;
    proxy_temp_path {dir}/tmp-proxy;
    fastcgi_temp_path {dir}/tmp-fastcgi;
    uwsgi_temp_path {dir}/tmp-uwsgi;
    scgi_temp_path {dir}/tmp-scgi;
    server {{
        listen 127.0.0.1:{port};
        location /news/ {{
            proxy_pass http://127.0.0.1:{upstream}/;
            proxy_max_temp_file_size 0;  # nginx's workers may not write to the test's folder
        }}
    }}
}}
"""
# Where the documents feedsvc writes put links (XPath, for HTML, XML feeds, OPML, sitemaps).
HTML_LINKS = "//a/@href | //link/@href"
XML_LINKS = (
    "//*[local-name()='link']/@href | //*[local-name()='loc']/text() | //@xmlUrl | //@htmlUrl"
    " | /rss/channel/link/text() | /rss/channel/item/link/text()"
)
STYLESHEET = re.compile(rb'<\?xml-stylesheet [^>]*href="([^"]+)"')


@pytest.fixture
def site(tmp_path: Path, seeds: Path) -> Iterator[str]:
    if shutil.which("nginx") is None:
        pytest.skip("needs Debian's nginx-light (.ci/run installs it)")
    for n in range(1, 7):
        write_document(seeds, n, hex_id(n), date=f"{n} Mar 2024", headline=f"Story {n}",
                       dateline="PARIS (AFP) —" if n % 2 else "GENEVA (Reuters) -")  # fmt: skip
    port = free_port()
    site_url = f"http://127.0.0.1:{port}/news"
    server = start_server(tmp_path, seeds, SITE_URL=site_url, FEED_SIZE="2")
    folder = tmp_path / "nginx"
    folder.mkdir()
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=folder, port=port, upstream=server.url.rsplit(":", 1)[1]))
    with open(folder / "nginx.out", "wb") as out:
        nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(folder)],
                                 stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(lambda: _status(f"{site_url}/") == 200, 10.0)
        yield site_url
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        stop_server(server)


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
    except OSError:
        return None


def links(url: str, content_type: str, body: bytes) -> set[str]:
    """Every link ``body`` holds, absolute."""
    found: list[str] = []
    if content_type.startswith("text/html"):
        found = html.fromstring(body).xpath(HTML_LINKS)
    elif content_type.startswith("application/feed+json"):
        feed = json.loads(body)
        found = [feed.get(key) for key in ("home_page_url", "feed_url", "next_url")]
        found += [item["url"] for item in feed["items"]]
    elif "xml" in content_type or "opml" in content_type:
        found = etree.fromstring(body).xpath(XML_LINKS)
        found += [m.decode() for m in STYLESHEET.findall(body)]
    # Resolved as a browser or reader would: a path-only link lands outside a site under a path.
    return {urldefrag(urljoin(url, link.strip())).url for link in found if link}


def test_every_link_is_under_the_site_url_and_answers(site: str) -> None:
    pending, seen, failures = [f"{site}/", f"{site}/feeds.opml", f"{site}/sitemap.xml"], set(), []
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # follows redirects
                assert response.url == url or response.url.startswith(f"{site}/"), url
                content_type = response.headers["Content-Type"]
                body = response.read()
        except urllib.error.HTTPError as error:
            error.close()
            failures.append((url, error.code))
            continue
        for link in links(url, content_type, body):
            if urlsplit(link).netloc != urlsplit(site).netloc:
                continue  # not ours (none expected where links are)
            assert link.startswith(f"{site}/"), f"{url} links to {link}, outside the site"
            pending.append(link)
    assert failures == []
    kinds = {urlsplit(u).path.rsplit(".", 1)[-1] for u in seen}
    assert {"rss", "atom", "json", "opml", "xml"} <= kinds
    assert any("/archives/" in u for u in seen) and any("/sources/" in u for u in seen)
    assert len(seen) > 40, len(seen)


def test_redirects_stay_under_the_site_url(site: str) -> None:
    request = urllib.request.Request(f"{site}/articles/{hex_id(1)}/an-old-slug")
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=10)
    caught.value.close()
    assert caught.value.code == 301
    assert caught.value.headers["Location"] == f"{site}/articles/{hex_id(1)}/story-1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_robots_names_the_search_under_the_site_path(site: str) -> None:
    with urllib.request.urlopen(f"{site}/robots.txt", timeout=10) as response:
        rules = response.read().decode().splitlines()
    path = urlsplit(site).path
    assert f"Disallow: {path}/search" in rules
    assert f"Sitemap: {site}/sitemap.xml" in rules
