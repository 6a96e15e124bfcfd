"""The Content-Security-Policy fits every kind of page: real headless Chromium reports no
violation on any of them (a violation means something of ours was blocked: a style, a script,
an image), and the policies still block what they exist to block."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import BUNDLED_SEEDS, LiveServer, start_server, stop_server

# As in test_browser.py: the site URL's host name leads Chromium to the loopback server, and is
# treated as secure so that Chromium sends Fetch Metadata (navigations get feed previews).
SITE_HOST = "news.example.test"
SITE = f"http://{SITE_HOST}"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SEED_ID = "5e300edb8a850530"
PERMALINK = f"/articles/{SEED_ID}/u-s-officials-travel-to-venezuela-a-russian-ally-for-talks"
# One of every kind of page a browser can land on.
PAGE_KINDS = {
    "front page": "/",
    "second listing page": "/?page=1",
    "agency page": "/sources/reuters",
    "city page": "/places/washington",
    "agency index": "/sources",
    "city index": "/places",
    "search page": "/search?q=venezuela",
    "empty search page": "/search",
    "article page": PERMALINK,
    "not found": "/nowhere",
    "bad request": "/feed.atom?limit=abc",
    "RSS preview": "/feed.rss",  # a navigation to a feed URL gets its preview page
    "Atom preview": "/sources/reuters/feed.atom",
    "JSON Feed preview": "/feed.json",
    "search feed preview": "/search/feed.atom?q=oil",
    "OPML preview": "/feeds.opml",
    "preview at its own address": "/feed.rss.html",
    "sitemap": "/sitemap.xml",
    "news sitemap": "/news-sitemap.xml",
    "robots.txt": "/robots.txt",
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp_path = tmp_path_factory.mktemp("csp-server")
    seeds = tmp_path / "seeds"
    shutil.copytree(BUNDLED_SEEDS, seeds)
    live = start_server(tmp_path, seeds, SITE_URL=SITE)
    try:
        yield live
    finally:
        stop_server(live)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, server: LiveServer) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-background-networking"):  # fmt: skip
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('csp-profile')}")
    options.add_argument(f"--host-resolver-rules=MAP {SITE_HOST}:80 127.0.0.1:{port_of(server)}")
    options.add_argument(f"--unsafely-treat-insecure-origin-as-secure={SITE}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def port_of(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def violations(driver: WebDriver) -> list[str]:
    """Chromium reports every CSP violation as a console entry from the "security" source."""
    entries = driver.get_log("browser")
    return [entry["message"] for entry in entries if entry["source"] == "security"]


def visit(driver: WebDriver, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_no_csp_violation(browser: WebDriver, server: LiveServer, kind: str) -> None:
    browser.get_log("browser")  # drop what earlier pages logged
    visit(browser, SITE + PAGE_KINDS[kind])
    assert browser.execute_script("return document.readyState") == "complete"
    assert violations(browser) == []
    if browser.execute_script("return document.contentType") == "text/html":
        # The site's style sheet was allowed and applied (the policy fits the page).
        assert browser.execute_script("return document.styleSheets.length") >= 1


def test_the_page_policy_blocks_what_it_must(browser: WebDriver, server: LiveServer) -> None:
    """A page with an injected inline script, inline handler and foreign script: each refused."""
    visit(browser, SITE + "/")
    browser.get_log("browser")
    browser.execute_script(
        """
        const inline = document.createElement('script');
        inline.textContent = 'window.__ran = 1';
        document.body.append(inline);
        const foreign = document.createElement('script');
        foreign.src = 'https://cdn.example.invalid/x.js';
        document.body.append(foreign);
        const img = document.createElement('img');
        img.setAttribute('src', 'data:image/gif;base64,R0lGODlhAQABAAAAACw=');
        img.setAttribute('onerror', 'window.__ran = 2');
        document.body.append(img);
        """
    )
    seen: list[str] = []
    WebDriverWait(browser, 5).until(lambda d: len(seen.extend(violations(d)) or seen) >= 3)
    assert browser.execute_script("return typeof window.__ran") == "undefined"
    assert any("inline" in message and "script-src" in message for message in seen), seen
    assert any("cdn.example.invalid" in message for message in seen), seen
    assert any("img-src" in message for message in seen), seen


class _Framer(http.server.BaseHTTPRequestHandler):
    """Another origin's page that tries to frame the site."""

    frames = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = f"<!doctype html><title>framer</title>{self.frames}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_no_page_can_be_framed(browser: WebDriver, server: LiveServer) -> None:
    paths = ("/", PERMALINK, "/nowhere", "/feed.json")
    _Framer.frames = "".join(f'<iframe src="{SITE}{path}"></iframe>' for path in paths)
    framer = http.server.HTTPServer(("127.0.0.1", 0), _Framer)
    thread = threading.Thread(target=framer.serve_forever, daemon=True)
    thread.start()
    try:
        browser.get_log("browser")
        visit(browser, f"http://127.0.0.1:{framer.server_address[1]}/")
        seen: list[str] = []
        WebDriverWait(browser, 10).until(
            lambda d: len(seen.extend(violations(d)) or seen) >= len(paths)
        )
        assert all("frame-ancestors 'none'" in message for message in seen), seen
        for index in range(len(paths)):
            browser.switch_to.frame(index)
            assert "feedsvc" not in browser.title  # not our page: the browser's refusal
            browser.switch_to.default_content()
    finally:
        framer.shutdown()
        framer.server_close()
