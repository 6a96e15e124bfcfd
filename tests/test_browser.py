"""A real headless Chromium through the pages a reader meets: front page, permalink, a hostile
document, the feeds rendered by the XSLT stylesheet, and a phone-sized viewport.

The server is the real ``feedsvc serve``. Links in pages are absolute to the configured site URL
(not the loopback address), so the browser is steered by loopback URL + the links' paths.
Screenshots go to tests/artifacts/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import (
    BUNDLED_SEEDS,
    SITE_URL,
    LiveServer,
    hex_id,
    start_server,
    stop_server,
    write_document,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
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
)
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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})",
    ),
]


def write_hostile_document(seeds: Path) -> Path:
    """A publishable document whose headline and body are full of markup that must stay text."""
    return write_document(
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp_path = tmp_path_factory.mktemp("browser-server")
    seeds = tmp_path / "seeds"
    shutil.copytree(BUNDLED_SEEDS, seeds)
    write_hostile_document(seeds)
    live = start_server(tmp_path, seeds)
    try:
        yield live
    finally:
        stop_server(live)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # Leave any dialog open instead of auto-dismissing it, so the tests can see that none opened.
    options.unhandled_prompt_behavior = "ignore"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


# -- helpers ---------------------------------------------------------------------------------


def visit(driver: WebDriver, server: LiveServer, path: str) -> None:
    driver.get(server.url + path)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def visible_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def screenshot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / f"{name}.png")), name


def alternate_links(driver: WebDriver) -> list[tuple[str, str]]:
    links = driver.find_elements(By.CSS_SELECTOR, "head link[rel='alternate']")
    return [(link.get_attribute("type") or "", link.get_attribute("href") or "") for link in links]


def meta_content(driver: WebDriver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).get_attribute("content") or ""


def permalink_path(driver: WebDriver, server: LiveServer, headline: str) -> str:
    """The path of the front page's link to ``headline`` (its href points to the site URL)."""
    visit(driver, server, "/")
    hrefs = [
        link.get_attribute("href") or ""
        for link in driver.find_elements(By.CSS_SELECTOR, "article h2 a")
        if link.text == headline
    ]
    assert len(hrefs) == 1, hrefs
    assert hrefs[0].startswith(SITE_URL + "/articles/"), hrefs[0]
    return urllib.parse.urlsplit(hrefs[0]).path


def assert_nothing_ran(driver: WebDriver) -> None:
    """No dialog opened (waiting a moment for late ones), no injected script set its flag."""
    with pytest.raises(TimeoutException):
        WebDriverWait(driver, 1).until(expected_conditions.alert_is_present())
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 - the property lookup is the check
    assert driver.execute_script("return typeof window.__pwned") == "undefined"


def page_script_errors(driver: WebDriver, server: LiveServer) -> list[dict]:
    """Console entries from our pages that report a script error or a blocked script."""
    try:
        entries = driver.get_log("browser")
    except AttributeError:  # a driver without the legacy log endpoint: nothing to check
        return []
    return [
        entry
        for entry in entries
        if entry.get("source") == "javascript"
        or (server.url in entry.get("message", "") and "Uncaught" in entry.get("message", ""))
    ]


# -- tests -----------------------------------------------------------------------------------


def test_front_page_shows_the_news_and_its_feeds(browser: WebDriver, server: LiveServer) -> None:
    visit(browser, server, "/")
    screenshot(browser, "front")
    text = visible_text(browser)
    for expected in (SEED_HEADLINE, "6 March 2022", "WASHINGTON", "Reuters"):
        assert expected in text
    links = alternate_links(browser)
    assert [media_type for media_type, _ in links] == [
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    ]
    for (_, href), suffix in zip(links, ("/feed.rss", "/feed.atom", "/feed.json"), strict=True):
        assert href.endswith(suffix), href


def test_permalink_page(browser: WebDriver, server: LiveServer) -> None:
    path = permalink_path(browser, server, SEED_HEADLINE)
    assert path.startswith(f"/articles/{SEED_ID}/")
    visit(browser, server, path)
    screenshot(browser, "permalink")

    assert browser.find_element(By.TAG_NAME, "h1").text == SEED_HEADLINE
    text = visible_text(browser)
    assert "Senior U.S. officials traveled to Venezuela on Saturday" in text
    assert "the Interfax news agency reported, citing the Kremlin." in text
    assert "6 March 2022" in text
    for junk in SEED_JUNK:
        assert junk not in text

    canonical = browser.find_element(By.CSS_SELECTOR, "head link[rel='canonical']")
    assert canonical.get_attribute("href") == SITE_URL + path
    assert meta_content(browser, "meta[property='og:title']") == SEED_HEADLINE
    assert meta_content(browser, "meta[property='og:url']") == SITE_URL + path
    [ld_script] = browser.find_elements(By.CSS_SELECTOR, "script[type='application/ld+json']")
    data = json.loads(ld_script.get_attribute("textContent") or "")
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == SEED_HEADLINE
    assert data["url"] == SITE_URL + path

    hrefs = {href for _, href in alternate_links(browser)}
    for fmt in ("rss", "atom", "json"):
        assert f"{SITE_URL}/feed.{fmt}" in hrefs
        assert f"{SITE_URL}/sources/reuters/feed.{fmt}" in hrefs
        assert f"{SITE_URL}/places/washington/feed.{fmt}" in hrefs
    assert {media_type for media_type, _ in alternate_links(browser)} == {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    }


def test_hostile_document_shows_its_markup_as_text(browser: WebDriver, server: LiveServer) -> None:
    browser.get_log("browser")  # drop entries from earlier pages
    path = permalink_path(browser, server, HOSTILE_HEADLINE)  # the front page lists it too
    assert_nothing_ran(browser)
    visit(browser, server, path)
    screenshot(browser, "hostile")

    assert_nothing_ran(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == HOSTILE_HEADLINE
    text = visible_text(browser)
    for markup in HOSTILE_MARKUP:
        assert markup in text
    assert "PARIS (AFP) —" in text
    assert browser.find_elements(By.TAG_NAME, "iframe") == []
    assert browser.find_elements(By.TAG_NAME, "img") == []
    script_types = browser.execute_script("return Array.from(document.scripts, s => s.type)")
    assert script_types == ["application/ld+json"]
    assert meta_content(browser, "meta[property='og:title']") == HOSTILE_HEADLINE
    assert page_script_errors(browser, server) == []


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feed_opens_as_a_readable_page(browser: WebDriver, server: LiveServer, fmt: str) -> None:
    visit(browser, server, f"/feed.{fmt}")
    screenshot(browser, f"feed-{fmt}")
    # Chromium shows a document served as application/rss+xml or application/atom+xml as plain
    # text and never applies its stylesheet; say so when that is why no heading is there.
    content_type = browser.execute_script("return document.contentType")
    headings = [h2.text for h2 in browser.find_elements(By.TAG_NAME, "h2")]
    assert SEED_HEADLINE in headings, f"no rendered headings; browser shows it as {content_type}"
    assert HOSTILE_HEADLINE in headings  # the stylesheet copies text, it does not parse markup
    assert "This is a news feed" in visible_text(browser)
    assert_nothing_ran(browser)
    assert browser.find_elements(By.TAG_NAME, "iframe") == []
    assert browser.find_elements(By.TAG_NAME, "img") == []


@pytest.mark.parametrize("page", ["front", "permalink"])
def test_phone_viewport_has_no_horizontal_scroll(
    browser: WebDriver, server: LiveServer, page: str
) -> None:
    path = "/" if page == "front" else permalink_path(browser, server, SEED_HEADLINE)
    browser.set_window_size(*PHONE)
    try:
        visit(browser, server, path)
        screenshot(browser, f"phone-{page}")
        inner_width = browser.execute_script("return window.innerWidth")
        scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
        assert inner_width <= PHONE[0]
        assert scroll_width <= inner_width + 1
    finally:
        browser.set_window_size(*DESKTOP)
