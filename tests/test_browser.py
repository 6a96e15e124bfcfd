"""A real headless Chromium through what a reader meets: pages, search, navigation, and the
preview a feed URL opens as, with and without XSLT, at desktop and phone sizes, in light and
dark mode, each page checked by axe-core (injected into the page) at zero violations.

The server is the real ``feedsvc serve``, configured with the site URL ``http://news.example.test``.
Chromium resolves that name to the server's loopback port (``--host-resolver-rules``) and treats
the origin as secure, as it would an HTTPS site (browsers send Fetch Metadata, which chooses the
preview, only to secure origins). So every absolute link, form and button works as on a real site.

Screenshots go to ``$TEST_ARTIFACTS_DIR/screenshots`` when that variable is set, else to
``screenshots0/`` under pytest's temporary folder (``--basetemp`` to choose it).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import BUNDLED_SEEDS, LiveServer, hex_id, start_server, stop_server, write_document

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = Path(__file__).resolve().parent / "clients" / "node_modules" / "axe-core" / "axe.min.js"
SITE_HOST = "news.example.test"
SITE = f"http://{SITE_HOST}"
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1800",
    f"--unsafely-treat-insecure-origin-as-secure={SITE}",
)
# Chromium's switch for its XSLT engine: blink's base feature "XSLT" (the name in Chromium 156's
# binary and in the removal plan on blink-dev; on by default in 156, with a deprecation banner).
# test_xslt_switch_really_turns_xslt_off checks that it does what the xslt-off runs assume.
WITHOUT_XSLT = "--disable-features=XSLT"
DESKTOP = (1280, 1800)
PHONE = (390, 844)

SEED_ID = "5e300edb8a850530"
SEED_HEADLINE = "U.S. officials travel to Venezuela, a Russian ally, for talks."
SEED_JUNK = (
    "Recent Article",
    "Day Trading Guide for Beginners",
    "Ukraine Crisis Puts Euro On Course For Worst Week In Two Years",
    "Award-Winning Brokers",
    "IC Markets",
)
HOSTILE_ID = hex_id(0xBAD)
HOSTILE_HEADLINE = (
    "Hostile <script>alert('headline')</script> and <img src=x onerror=alert(1)> in a headline"
)
HOSTILE_MARKUP = (
    "<script>alert('headline')</script>",
    "<img src=x onerror=alert(1)>",
    "<script>window.__pwned = 1</script>",
    '</p><iframe src="javascript:alert(2)">',
    '&amp; ]]> "quotes"',
)
ZURICH_HEADLINE = "Bank talks in Zurich"
STAMPED_HEADLINE = "Coffee exports rise"
RTL_HEADLINE = "Parliament votes \u202eon the budget"
# Arabic that opens with a brand and a number: dir="auto" would take each for left to right.
ARABIC_HEADLINE = "iPhone 17 يصل إلى الأسواق العربية الشهر المقبل"
ARABIC_PARAGRAPHS = (
    "أعلنت شركة Apple أن هاتف iPhone 17 سيصل إلى الأسواق العربية الشهر المقبل.",
    "Apple قالت في بيان إن السعر سيبدأ من 999 دولاراً.",
    "25% من المبيعات المتوقعة ستكون في السعودية والإمارات.",
)
LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitän" * 6

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})",
    ),
]


def write_site_documents(seeds: Path) -> None:
    """Besides the bundled seed: hostile markup, accents, a wire time stamp, a right-to-left
    override, an unbreakable word, and enough stories for three pages of three."""
    write_document(
        seeds,
        900,
        HOSTILE_ID,
        headline=HOSTILE_HEADLINE,
        date="2 Mar 2022",
        dateline="PARIS (AFP) —",
        paragraphs=(
            "<script>window.__pwned = 1</script> Officials said the markup must show as text.",
            '</p><iframe src="javascript:alert(2)"> Negotiators met again on Tuesday.',
            'Ampersands &amp; ]]> "quotes" must survive every format the site publishes.',
        ),
    )
    write_document(
        seeds,
        901,
        hex_id(901),
        headline=ZURICH_HEADLINE,
        date="1 Apr 2023",
        dateline="ZÜRICH (AFP) —",
        paragraphs=("Bankers met.", "Talks went on."),
    )
    # Written out: a byline on its own line before the dateline, and a wire time stamp.
    (seeds / f"902_{hex_id(902)}.txt").write_text(
        f"{STAMPED_HEADLINE}\n\nDec 30, 2025 11:36 AM ET\n\nBy Ana Souza\n\n"
        "SÃO PAULO (Reuters) - Exports rose in December.\n\nPrices fell.\n",
        encoding="utf-8",
    )
    write_document(
        seeds,
        903,
        hex_id(903),
        headline=RTL_HEADLINE,
        date="3 Mar 2022",
        dateline="PARIS (AFP) —",
        paragraphs=("The vote was close.", "It passed."),
    )
    write_document(
        seeds,
        904,
        hex_id(904),
        headline=f"A long word: {LONG_WORD}",
        date="10 Jan 2024",
        paragraphs=(f"It reads {LONG_WORD}.", "Then it ends."),
    )
    write_document(seeds, 905, hex_id(905), headline="Talks resume in Geneva", date="11 Jan 2024")
    write_document(
        seeds,
        906,
        hex_id(906),
        headline=ARABIC_HEADLINE,
        date="5 Jan 2019",
        dateline="دبي (Reuters) —",
        paragraphs=ARABIC_PARAGRAPHS,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp_path = tmp_path_factory.mktemp("browser-server")
    seeds = tmp_path / "seeds"
    shutil.copytree(BUNDLED_SEEDS, seeds)
    write_site_documents(seeds)
    live = start_server(tmp_path, seeds, SITE_URL=SITE, FEED_SIZE="3")
    try:
        yield live
    finally:
        stop_server(live)


def _chromium(profile: Path, port: int, *extra: str) -> WebDriver:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (*CHROMIUM_ARGS, *extra):
        options.add_argument(argument)
    options.add_argument(f"--host-resolver-rules=MAP {SITE_HOST}:80 127.0.0.1:{port}")
    options.add_argument(f"--user-data-dir={profile}")
    # Leave any dialog open instead of auto-dismissing it, so the tests can see that none opened.
    options.unhandled_prompt_behavior = "ignore"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, server: LiveServer) -> Iterator[WebDriver]:
    port = int(server.url.rsplit(":", 1)[1])
    driver = _chromium(tmp_path_factory.mktemp("chromium-profile"), port)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser_without_xslt(
    tmp_path_factory: pytest.TempPathFactory, server: LiveServer
) -> Iterator[WebDriver]:
    port = int(server.url.rsplit(":", 1)[1])
    driver = _chromium(tmp_path_factory.mktemp("chromium-no-xslt"), port, WITHOUT_XSLT)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass(frozen=True)
class Variant:
    driver: WebDriver
    label: str  # for screenshot names


@pytest.fixture(params=["xslt-on", "xslt-off"])
def any_browser(request: pytest.FixtureRequest) -> Variant:
    """Each test using it runs twice: in Chromium as shipped, and with XSLT switched off."""
    name = "browser" if request.param == "xslt-on" else "browser_without_xslt"
    return Variant(request.getfixturevalue(name), request.param)


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("TEST_ARTIFACTS_DIR")
    folder = Path(chosen) / "screenshots" if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip(f"needs axe-core: cd tests/clients && npm ci (looked for {AXE})")
    return AXE.read_text()


# -- helpers ---------------------------------------------------------------------------------


def visit(driver: WebDriver, path: str) -> None:
    driver.get(SITE + path)
    wait_loaded(driver)


def wait_loaded(driver: WebDriver) -> None:
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def follow(driver: WebDriver, act: Callable[[], object]) -> None:
    """Do ``act`` (a click, a key press) and wait until the page it leads to has loaded."""
    old = driver.find_element(By.TAG_NAME, "html")
    act()
    WebDriverWait(driver, 10).until(lambda _: is_stale(old))
    wait_loaded(driver)


# chromedriver sometimes answers a look at an element of the page just left with this inspector
# error instead of "stale element reference" (SeleniumHQ/selenium#15401); both mean the same.
NODE_GONE = "Node with given id does not belong to the document"


def is_stale(element: WebElement) -> bool:
    """True once ``element``'s document is no longer the one shown (WebDriver, "is stale")."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if NODE_GONE in str(error.msg):
            return True
        raise
    return False


def path_of(driver: WebDriver) -> str:
    url = driver.current_url
    assert url.startswith(SITE + "/"), url
    return url.removeprefix(SITE)


def visible_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def heading(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text


def shoot(driver: WebDriver, folder: Path, name: str) -> None:
    assert driver.save_screenshot(str(folder / f"{name}.png")), name


def axe_violations(driver: WebDriver, axe_source: str) -> list[dict]:
    """axe-core's violations on the page as it is now (every rule axe runs by default)."""
    driver.execute_script(axe_source)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(r.violations), e => done([{id: 'axe-error',"
        " help: String(e), nodes: []}]));"
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["html"][:200] for n in v["nodes"][:3]]}
        for v in result
    ]


def set_dark(driver: WebDriver, dark: bool) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )


def luminance(css_color: str) -> float:
    """Relative luminance (WCAG 2) of an rgb()/rgba() value."""
    parts = css_color[css_color.index("(") + 1 : css_color.index(")")].split(",")
    channels = [float(p) / 255 for p in parts[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def assert_nothing_ran(driver: WebDriver) -> None:
    """No dialog opened (waiting a moment for late ones), no injected script set its flag."""
    with pytest.raises(TimeoutException):
        WebDriverWait(driver, 1).until(expected_conditions.alert_is_present())
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 - the property lookup is the check
    assert driver.execute_script("return typeof window.__pwned") == "undefined"


def script_errors(driver: WebDriver) -> list[dict]:
    """Console entries that report a script error, a refused resource or a failed subresource
    (a page's own status, such as a 404 page's, is not one)."""
    page = driver.current_url
    return [
        entry
        for entry in driver.get_log("browser")
        if entry.get("source") in ("javascript", "security")
        or "Refused" in entry.get("message", "")
        or (entry.get("source") == "network" and not entry.get("message", "").startswith(page))
    ]


def permalink_path(driver: WebDriver, headline: str) -> str:
    """The path of the first listing link to ``headline``, found through search."""
    visit(driver, "/search?" + urllib.parse.urlencode({"q": headline[:40]}))
    for link in driver.find_elements(By.CSS_SELECTOR, "li.summary h2 a"):
        if link.text == headline:
            href = link.get_attribute("href") or ""
            assert href.startswith(SITE + "/articles/"), href
            return href.removeprefix(SITE)
    raise AssertionError(f"no link to {headline!r}")


def raw(server: LiveServer, path: str) -> bytes:
    """What a program without any special header gets (straight to the loopback port)."""
    with urllib.request.urlopen(server.url + path, timeout=10) as response:
        return response.read()


# -- every page: accessible, readable at both sizes, in both colour schemes ------------------

PAGES = {
    "front": "/",
    "front-page-2": "/?page=2",
    "article": f"/articles/{SEED_ID}/u-s-officials-travel-to-venezuela-a-russian-ally-for-talks",
    "article-with-byline": f"/articles/{hex_id(902)}/coffee-exports-rise",
    "search": "/search?q=talks",
    "search-empty": "/search",
    "sources": "/sources",
    "places": "/places",
    "place": "/places/sao-paulo",
    "preview-rss": "/feed.rss",
    "preview-json": "/feed.json",
    "preview-opml": "/feeds.opml",
    "not-found": "/articles/ffffffffffffffff/gone",
}


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_is_accessible_at_both_sizes(
    browser: WebDriver, screenshots: Path, axe_source: str, name: str, size: str
) -> None:
    browser.set_window_size(*(DESKTOP if size == "desktop" else PHONE))
    set_dark(browser, False)
    try:
        visit(browser, PAGES[name])
        shoot(browser, screenshots, f"{name}-{size}")
        assert axe_violations(browser, axe_source) == []
        assert browser.execute_script("return document.documentElement.lang") == "en"
        assert len(browser.find_elements(By.TAG_NAME, "main")) == 1
        inner = browser.execute_script("return window.innerWidth")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= inner + 1
        # Styles and scripts all come from files (ready for a strict Content-Security-Policy).
        sheets = browser.execute_script("return Array.from(document.styleSheets, s => s.href)")
        assert sheets and all(href.startswith(f"{SITE}/static/") for href in sheets), sheets
        assert browser.find_elements(By.CSS_SELECTOR, "[style]") == []
        assert script_errors(browser) == []
    finally:
        browser.set_window_size(*DESKTOP)


@pytest.mark.parametrize(
    "name", ["front", "article", "search", "sources", "preview-rss", "preview-opml"]
)
def test_dark_mode(browser: WebDriver, screenshots: Path, axe_source: str, name: str) -> None:
    browser.set_window_size(*PHONE)
    set_dark(browser, True)
    try:
        visit(browser, PAGES[name])
        shoot(browser, screenshots, f"{name}-phone-dark")
        background = browser.execute_script(
            "return getComputedStyle(document.documentElement).backgroundColor"
        )
        text = browser.execute_script("return getComputedStyle(document.body).color")
        assert luminance(background) < 0.05 < 0.5 < luminance(text), (background, text)
        assert axe_violations(browser, axe_source) == []  # contrast included
    finally:
        set_dark(browser, False)
        browser.set_window_size(*DESKTOP)


# -- feed previews ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_a_feed_url_opens_as_a_page_with_or_without_xslt(
    any_browser: Variant, screenshots: Path, axe_source: str, fmt: str
) -> None:
    browser = any_browser.driver
    for size in ("desktop", "phone"):
        browser.set_window_size(*(DESKTOP if size == "desktop" else PHONE))
        try:
            visit(browser, f"/feed.{fmt}")
            shoot(browser, screenshots, f"preview-{fmt}-{size}-{any_browser.label}")
            assert path_of(browser) == f"/feed.{fmt}"  # the address stays the feed's
            assert browser.execute_script("return document.contentType") == "text/html"
            # "JSON Feed" is already a feed's name: not "JSON Feed feed".
            name = {"rss": "RSS feed", "atom": "Atom feed", "json": "JSON Feed"}[fmt]
            assert heading(browser) == f"Latest news: {name}"
            text = visible_text(browser)
            assert "This is a news feed" in text
            assert "XSLT" not in text and "cannot be formatted" not in text
            address = browser.find_element(By.ID, "feed-address")
            assert address.get_attribute("value") == f"{SITE}/feed.{fmt}"
            assert browser.find_element(By.CSS_SELECTOR, "button[data-copy-from]").is_displayed()
            readers = [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".readers a")]
            assert readers[:2] == ["Feedly", "Inoreader"]
            entries = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "li.summary h3")]
            assert entries[0] == STAMPED_HEADLINE and len(entries) == 3
            assert "30 December 2025, 11:36 AM ET" in text
            assert (
                browser.find_element(By.CSS_SELECTOR, "header .brand a").get_attribute("href")
                == f"{SITE}/"
            )
            assert axe_violations(browser, axe_source) == []
            assert script_errors(browser) == []
        finally:
            browser.set_window_size(*DESKTOP)


def test_the_opml_list_opens_as_a_page(
    any_browser: Variant, screenshots: Path, axe_source: str
) -> None:
    browser = any_browser.driver
    visit(browser, "/feeds.opml")
    shoot(browser, screenshots, f"preview-opml-{any_browser.label}")
    assert heading(browser) == "Every feed of feedsvc news"
    assert "This is an OPML file" in visible_text(browser)
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "main li a")]
    assert {"Latest news", "From Reuters", "From AFP", "São Paulo", "Zürich"} <= set(links)
    follow(browser, browser.find_element(By.LINK_TEXT, "Zürich").click)
    assert path_of(browser) == "/places/zurich/feed.atom"
    assert heading(browser) == "Zürich: Atom feed"
    assert axe_violations(browser, axe_source) == []


def test_xslt_switch_really_turns_xslt_off(
    browser: WebDriver, browser_without_xslt: WebDriver, tmp_path: Path
) -> None:
    """What the xslt-off runs stand for: the switch stops Chromium applying a stylesheet."""
    (tmp_path / "doc.xml").write_text(
        '<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="style.xsl"?><doc>raw</doc>'
    )
    (tmp_path / "style.xsl").write_text(
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:template match="/"><html><body><h1 id="styled">styled</h1></body></html>'
        "</xsl:template></xsl:stylesheet>"
    )
    handler = partial(QuietHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/doc.xml"
    try:

        def styled(driver: WebDriver) -> bool:
            driver.get(url)
            time.sleep(0.5)  # the transformation runs after load
            return bool(driver.find_elements(By.ID, "styled"))

        if not styled(browser):
            pytest.skip("this Chromium applies no XSLT even by default: every run is XSLT-free")
        assert not styled(browser_without_xslt)
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        pass


def test_copy_button_copies_the_address(browser: WebDriver) -> None:
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": SITE, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    visit(browser, "/sources/afp/feed.atom")
    browser.find_element(By.CSS_SELECTOR, "button[data-copy-from]").click()
    status = browser.find_element(By.ID, "copy-status")
    WebDriverWait(browser, 5).until(lambda _: status.text)
    assert status.text.startswith("Copied")
    copied = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, e => done('error: ' + e));"
    )
    assert copied == f"{SITE}/sources/afp/feed.atom"


def test_download_link_saves_the_feed_itself(
    browser: WebDriver, server: LiveServer, tmp_path: Path
) -> None:
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    for path, name in (("/feed.rss", "feed.rss"), ("/feeds.opml", "feeds.opml")):
        visit(browser, path)
        browser.find_element(By.PARTIAL_LINK_TEXT, "Download the file").click()
        saved = tmp_path / name
        WebDriverWait(browser, 10).until(
            lambda _, saved=saved: saved.is_file() and saved.stat().st_size
        )
        time.sleep(0.2)  # the download is renamed into place once complete
        assert saved.read_bytes() == raw(server, path)


def test_scripts_fetching_a_feed_get_the_feed(browser: WebDriver, server: LiveServer) -> None:
    visit(browser, "/")
    body = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/feed.atom').then(r => r.text()).then(done, e => done('error: ' + e));"
    )
    assert body.encode() == raw(server, "/feed.atom")


# -- reading, searching, finding one's way ---------------------------------------------------


def test_front_page_shows_the_news_and_its_feeds(browser: WebDriver) -> None:
    visit(browser, "/")
    text = visible_text(browser)
    for expected in ("Latest news", STAMPED_HEADLINE, "30 December 2025, 11:36 AM ET", "São Paulo"):
        assert expected in text
    links = browser.find_elements(By.CSS_SELECTOR, "head link[rel='alternate']")
    assert [(link.get_attribute("type"), link.get_attribute("href")) for link in links] == [
        ("application/rss+xml", f"{SITE}/feed.rss"),
        ("application/atom+xml", f"{SITE}/feed.atom"),
        ("application/feed+json", f"{SITE}/feed.json"),
    ]
    icon = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/favicon.ico').then(r => done([r.status, r.headers.get('content-type')]));"
    )
    assert icon == [200, "image/vnd.microsoft.icon"]


def test_search_box_on_every_page(browser: WebDriver) -> None:
    visit(browser, "/sources")
    box = browser.find_element(By.ID, "site-search")
    follow(browser, lambda: box.send_keys("zurich", Keys.ENTER))
    assert path_of(browser) == "/search?q=zurich"
    assert heading(browser) == "Search: zurich"
    assert "1 article matches zurich" in visible_text(browser)
    results = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "li.summary h2 a")]
    assert results == [ZURICH_HEADLINE]  # the dateline says ZÜRICH; no accent was typed
    # The search page's own box, emptied and sent: the search page again, not an error.
    box = browser.find_element(By.ID, "search-words")
    assert box.get_attribute("value") == "zurich"
    box.clear()
    follow(browser, lambda: box.send_keys(Keys.ENTER))
    assert heading(browser) == "Search"
    assert "Bad Request" not in visible_text(browser)


def test_search_results_page_through_every_match(browser: WebDriver) -> None:
    visit(browser, "/")
    box = browser.find_element(By.ID, "site-search")
    follow(browser, lambda: box.send_keys("the", Keys.ENTER))
    count = browser.find_element(By.CSS_SELECTOR, "main p.count").text
    total = int(count.split()[0])
    assert count == f"{total} articles match the · page 1 of {-(-total // 3)}"
    assert total > 3  # more than one page of three
    seen = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "li.summary h2 a")]
    while browser.find_elements(By.CSS_SELECTOR, "nav.pages a[rel='next']"):
        follow(browser, browser.find_element(By.CSS_SELECTOR, "nav.pages a[rel='next']").click)
        assert heading(browser).startswith("Search: the, page ")
        seen += [a.text for a in browser.find_elements(By.CSS_SELECTOR, "li.summary h2 a")]
    assert len(seen) == len(set(seen)) == total


def test_old_feed_addresses_and_robots_txt_in_a_browser(browser: WebDriver) -> None:
    """A subscriber's WordPress-style address opened in a browser lands on our feed's preview."""
    visit(browser, "/feed/")
    assert path_of(browser) == "/feed.rss"
    assert heading(browser) == "Latest news: RSS feed"
    visit(browser, "/index.xml")
    assert path_of(browser) == "/feed.rss"
    visit(browser, "/robots.txt")
    text = visible_text(browser)
    assert f"Sitemap: {SITE}/sitemap.xml" in text and f"Sitemap: {SITE}/news-sitemap.xml" in text


def test_listing_pages_by_number(browser: WebDriver) -> None:
    visit(browser, "/")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "nav.pages a[aria-label='Page 3']").click)
    assert path_of(browser) == "/?page=3"
    assert heading(browser) == "Latest news, page 3"
    assert browser.title.startswith("Latest news, page 3 ·")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "nav.pages a[rel='prev']").click)
    assert path_of(browser) == "/?page=2"


def test_finding_ones_way_from_sources_to_stories(browser: WebDriver) -> None:
    visit(browser, "/")
    follow(
        browser,
        browser.find_element(By.CSS_SELECTOR, "header nav")
        .find_element(By.LINK_TEXT, "Sources")
        .click,
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "table.facets tbody tr")
    assert [r.find_element(By.TAG_NAME, "th").text for r in rows] == ["AFP", "Reuters"]
    assert rows[0].find_element(By.CSS_SELECTOR, "td.number").text == "3"
    follow(browser, rows[1].find_element(By.CSS_SELECTOR, "th a").click)
    assert heading(browser) == "From Reuters"
    crumbs = browser.find_elements(By.CSS_SELECTOR, "nav.breadcrumbs li")
    assert [c.text for c in crumbs] == ["Home", "Sources", "Reuters"]
    follow(browser, browser.find_element(By.LINK_TEXT, STAMPED_HEADLINE).click)
    assert heading(browser) == STAMPED_HEADLINE
    assert "30 December 2025, 11:36 AM ET" in visible_text(browser)
    assert browser.find_element(By.CSS_SELECTOR, "article p.byline").text == "By Ana Souza"
    more = {
        s.find_element(By.TAG_NAME, "h2").text: s
        for s in browser.find_elements(By.CSS_SELECTOR, "section.more")
    }
    assert "More from Reuters" in more
    follow(
        browser, browser.find_element(By.CSS_SELECTOR, "nav.pager a[rel='next']").click
    )  # the older story
    assert heading(browser) == "Talks resume in Geneva"
    follow(browser, browser.find_element(By.CSS_SELECTOR, "nav.pager a[rel='prev']").click)
    assert heading(browser) == STAMPED_HEADLINE
    follow(browser, browser.find_element(By.LINK_TEXT, "São Paulo").click)
    assert heading(browser) == "São Paulo"
    assert path_of(browser) == "/places/sao-paulo"


def test_permalink_page(browser: WebDriver) -> None:
    path = f"/articles/{SEED_ID}/u-s-officials-travel-to-venezuela-a-russian-ally-for-talks"
    visit(browser, path)
    assert heading(browser) == SEED_HEADLINE
    text = visible_text(browser)
    assert "Senior U.S. officials traveled to Venezuela on Saturday" in text
    assert "6 March 2022" in text
    for junk in SEED_JUNK:
        assert junk not in text
    canonical = browser.find_element(By.CSS_SELECTOR, "head link[rel='canonical']")
    assert canonical.get_attribute("href") == SITE + path
    [ld_script] = browser.find_elements(By.CSS_SELECTOR, "script[type='application/ld+json']")
    data = json.loads(ld_script.get_attribute("textContent") or "")
    assert data["@type"] == "NewsArticle" and data["headline"] == SEED_HEADLINE
    hrefs = {
        link.get_attribute("href")
        for link in browser.find_elements(By.CSS_SELECTOR, "head link[rel='alternate']")
    }
    for fmt in ("rss", "atom", "json"):
        assert {
            f"{SITE}/feed.{fmt}",
            f"{SITE}/sources/reuters/feed.{fmt}",
            f"{SITE}/places/washington/feed.{fmt}",
        } <= hrefs


# -- hostile text ----------------------------------------------------------------------------


def test_hostile_document_shows_its_markup_as_text(browser: WebDriver) -> None:
    browser.get_log("browser")  # drop entries from earlier pages
    path = permalink_path(browser, HOSTILE_HEADLINE)
    assert_nothing_ran(browser)
    for shown in (path, "/sources/afp/feed.rss"):  # the page and a preview listing it
        visit(browser, shown)
        assert_nothing_ran(browser)
        text = visible_text(browser)
        assert HOSTILE_HEADLINE in text
        if shown == path:
            for markup in HOSTILE_MARKUP:
                assert markup in text
        assert browser.find_elements(By.TAG_NAME, "iframe") == []
        assert browser.find_elements(By.CSS_SELECTOR, "main img") == []
        scripts = browser.execute_script(
            "return Array.from(document.scripts, s => [s.type, s.src])"
        )
        for type_, src in scripts:
            assert type_ == "application/ld+json" or src.startswith(f"{SITE}/static/"), scripts
        assert script_errors(browser) == []


# Left edges, in the order the count line is written: "No article matches", the query (in its
# <bdi>), then the words "Try" and "other" of the sentence after it.
RTL_POSITIONS = """
const line = document.querySelector('main p.count');
const texts = Array.from(line.childNodes).filter(n => n.nodeType === Node.TEXT_NODE);
const left = (node, word) => {
  const range = document.createRange();
  const at = word ? node.data.indexOf(word) : 0;
  range.setStart(node, at);
  range.setEnd(node, word ? at + word.length : node.data.length);
  return range.getBoundingClientRect().left;
};
const before = texts.find(n => n.data.includes('matches'));
const after = texts.find(n => n.data.includes('Try'));
return [left(before), line.querySelector('bdi').getBoundingClientRect().left,
        left(after, 'Try'), left(after, 'other')];
"""


def test_a_right_to_left_override_stays_in_its_place(browser: WebDriver) -> None:
    """U+202E in document text or a query reverses only that text, never the page around it."""
    visit(browser, "/search?" + urllib.parse.urlencode({"q": "\u202exylophone"}))
    order = browser.execute_script(RTL_POSITIONS)
    assert order == sorted(order), order  # "No article matches", the query, "Try … other"
    path = permalink_path(browser, RTL_HEADLINE)
    visit(browser, path)
    line = browser.find_element(By.CSS_SELECTOR, "article p.meta")
    date, agency = line.find_element(By.TAG_NAME, "time"), line.find_element(By.TAG_NAME, "a")
    assert date.rect["x"] < agency.rect["x"]  # the line reads as written


# Per name and per feed link of a facet table: how many boxes (lines) it is laid out in.
LINES_PER_CELL = """
const cells = 'table.facets th[scope=row] bdi, table.facets .feeds a';
return Array.from(document.querySelectorAll(cells))
  .map(e => [e.textContent, e.getClientRects().length]);
"""


def test_source_and_place_names_keep_whole_on_a_phone(browser: WebDriver) -> None:
    browser.set_window_size(*PHONE)
    try:
        for shown in ("/sources", "/places"):
            visit(browser, shown)
            cells = browser.execute_script(LINES_PER_CELL)
            assert cells and all(lines == 1 for _, lines in cells), (
                shown,
                [cell for cell in cells if cell[1] != 1],
            )
            inner = browser.execute_script("return window.innerWidth")
            assert browser.execute_script("return document.documentElement.scrollWidth") <= inner
    finally:
        browser.set_window_size(*DESKTOP)


def test_long_words_wrap_on_a_phone(browser: WebDriver, screenshots: Path) -> None:
    path = permalink_path(browser, f"A long word: {LONG_WORD}")
    browser.set_window_size(*PHONE)
    try:
        for shown in (path, "/", "/feed.rss"):
            visit(browser, shown)
            inner = browser.execute_script("return window.innerWidth")
            assert browser.execute_script("return document.documentElement.scrollWidth") <= inner
        shoot(browser, screenshots, "long-word-phone")
    finally:
        browser.set_window_size(*DESKTOP)


# -- right-to-left text, narrow screens, print -----------------------------------------------

# Each block's resolved direction, in the order of the page.
DIRECTIONS = """
return Array.from(document.querySelectorAll(arguments[0]))
  .map(e => [e.textContent.trim().slice(0, 20), getComputedStyle(e).direction]);
"""


# Where on screen (x) each of some words of an element's text starts.
WORD_POSITIONS = """
const node = document.querySelector(arguments[0]).firstChild;
return arguments[1].map(word => {
  const range = document.createRange();
  const at = node.textContent.indexOf(word);
  range.setStart(node, at);
  range.setEnd(node, at + word.length);
  return range.getBoundingClientRect().left;
});
"""


def test_an_arabic_article_reads_right_to_left_even_where_a_block_opens_in_latin(
    browser: WebDriver, screenshots: Path
) -> None:
    """An Arabic headline and paragraphs that open with "iPhone 17", "Apple" or "25%" are laid
    out right to left, as the article is, not by their first letter (dir="auto")."""
    path = permalink_path(browser, ARABIC_HEADLINE)
    visit(browser, path)
    blocks = browser.execute_script(DIRECTIONS, "article h1, article > p:not(.meta):not(.byline)")
    assert len(blocks) == 1 + len(ARABIC_PARAGRAPHS), blocks
    assert {direction for _, direction in blocks} == {"rtl"}, blocks
    # The date, in English words, reads left to right in it: "5 January 2019".
    day, month = browser.execute_script(WORD_POSITIONS, "article p.meta time", ["5", "January"])
    assert day < month, (day, month)
    shoot(browser, screenshots, "arabic-article")
    visit(browser, "/places/dby")
    summary = browser.execute_script(DIRECTIONS, "li.summary h2, li.summary > p:not(.meta)")
    assert [direction for _, direction in summary] == ["rtl", "rtl"], summary
    # An English story's blocks stay left to right.
    visit(browser, permalink_path(browser, STAMPED_HEADLINE))
    blocks = browser.execute_script(DIRECTIONS, "article h1, article > p:not(.meta)")
    assert {direction for _, direction in blocks} == {"ltr"}, blocks


def test_a_right_to_left_name_keeps_the_words_around_it_in_order(browser: WebDriver) -> None:
    """A listing's heading isolates the channel's name in a <bdi> and runs left to right, as
    its English words do, so that on a later page "دبي, page 2" is not mirrored."""
    visit(browser, "/places/dby")
    title = browser.find_element(By.TAG_NAME, "h1")
    assert title.find_element(By.TAG_NAME, "bdi").text == "دبي"
    assert browser.execute_script("return getComputedStyle(arguments[0]).direction", title) == "ltr"


def with_viewport(driver: WebDriver, width: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": True},
    )


# Boxes whose content is wider than they are, and how wide the page is.
OVERFLOWS = """
const boxes = 'th, td, form.search, form.search :not(.visually-hidden)';
const cut = Array.from(document.querySelectorAll(boxes))
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => e.tagName + ' ' + e.textContent.trim().slice(0, 20));
return [cut, document.documentElement.scrollWidth, window.innerWidth];
"""
# WCAG 2.2 1.4.12 Text Spacing, as its understanding document's bookmarklet sets it; through
# the CSS object model, since the pages' Content-Security-Policy refuses a <style> element.
TEXT_SPACING = """
const sheet = document.styleSheets[0];
sheet.insertRule('* { line-height: 1.5 !important; letter-spacing: .12em !important;'
  + ' word-spacing: .16em !important; }', sheet.cssRules.length);
sheet.insertRule('p { margin-bottom: 2em !important; }', sheet.cssRules.length);
"""


@pytest.mark.parametrize(
    ("width", "spacing"), [(320, False), (375, True)], ids=["320px", "375px-text-spacing"]
)
def test_nothing_is_cut_off_on_a_narrow_screen(
    browser: WebDriver, width: int, spacing: bool
) -> None:
    """WCAG 2.2 1.4.10 Reflow (320 CSS px: a 1280 px window at 400 %) and 1.4.12 Text
    Spacing on a phone: no page scrolls sideways, the search button shows whole, and no
    table heading or feed link runs into the next."""
    with_viewport(browser, width)
    try:
        for shown in ("/", "/sources", "/places", "/search?q=talks", f"/articles/{SEED_ID}"):
            visit(browser, shown)
            if spacing:
                before = browser.execute_script("return document.body.scrollHeight")
                browser.execute_script(TEXT_SPACING)
                assert browser.execute_script("return document.body.scrollHeight") > before
            cut, page_width, inner = browser.execute_script(OVERFLOWS)
            assert cut == [] and page_width <= inner, (shown, cut, page_width, inner)
            broken = [cell for cell in browser.execute_script(LINES_PER_CELL) if cell[1] != 1]
            assert broken == [], (shown, broken)  # no name or format split over two lines
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_search_fields_placeholder_is_legible(browser: WebDriver, dark: bool) -> None:
    """The placeholder is the field's only visible label: 4.5:1 at least (WCAG 2.2 1.4.3)."""
    set_dark(browser, dark)
    try:
        visit(browser, "/")
        field = browser.find_element(By.ID, "site-search")
        colors = browser.execute_script(
            "return [getComputedStyle(arguments[0], '::placeholder').color,"
            " getComputedStyle(arguments[0]).backgroundColor]",
            field,
        )
        assert contrast(*colors) >= 4.5, colors
    finally:
        set_dark(browser, False)


def test_an_article_prints_black_on_white_without_the_screens_controls(browser: WebDriver) -> None:
    """Printed in dark mode: the text dark on white paper, no search box, feed links or pager."""
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"media": "print", "features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    try:
        visit(browser, permalink_path(browser, STAMPED_HEADLINE))
        paragraph = browser.find_element(By.CSS_SELECTOR, "article > p:not(.meta)")
        colors = browser.execute_script(
            "return [getComputedStyle(arguments[0]).color,"
            " getComputedStyle(document.documentElement).backgroundColor]",
            paragraph,
        )
        assert contrast(*colors) >= 7, colors
        hidden = browser.execute_script(
            "return ['form.search', '.feeds', 'nav.pager'].map(s => Array.from("
            "document.querySelectorAll(s)).every(e => e.offsetParent === null))"
        )
        assert hidden == [True, True, True]
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "", "features": []})
