"""WebSub discovery: a feed names the hub only if the hub is told of its every change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from feedsvc.store import Report
from feedsvc.websub import Notifier

from .conftest import SITE_URL
from .test_archives import corpus_app

HUB = "https://hub.example.test/publish"
ATOM = "{http://www.w3.org/2005/Atom}link"


@pytest.fixture
def hub_app(tmp_path: Path, seeds: Path):
    return corpus_app(tmp_path, seeds, WEBSUB_HUB=HUB)


def published(app, touched: list[tuple[str | None, str | None]]) -> set[str]:
    """The URLs the Notifier tells the hub of for a change touching ``touched``."""
    notifier = Notifier(HUB, app.extensions["feedsvc"].site)  # not started: its queue is read
    notifier.publish(Report(touched=touched))
    return {notifier._queue.get_nowait() for _ in range(notifier._queue.qsize())}


def hubs_named(response) -> tuple[bool, list[str]]:
    """(whether the Link header names the hub, the hubs the document itself names)."""
    in_header = f'<{HUB}>; rel="hub"' in response.headers.get_all("Link")
    if response.mimetype.endswith("json"):
        return in_header, [h["url"] for h in json.loads(response.data).get("hubs", [])]
    root = etree.fromstring(response.data)
    return in_header, [link.get("href") for link in root.iter(ATOM) if link.get("rel") == "hub"]


PATHS = [
    *(f"{folder}/feed.{fmt}" for folder in ("", "/sources/afp", "/places/paris")
      for fmt in ("rss", "atom", "json")),
    "/feed.atom?limit=5", "/feed.rss?limit=3", "/sources/afp/feed.json?limit=2",
    "/search/feed.atom?q=story", "/search/feed.json?q=story",
    "/archives/2023-01/feed.atom", "/archives/2023-03-10/2/feed.rss",
    "/sources/afp/archives/2023-02/feed.json",
]  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_only_the_feeds_the_hub_hears_of_name_it(hub_app, path: str) -> None:
    topics = published(hub_app, [("afp", "paris")])
    response = hub_app.test_client().get(path)
    assert response.status_code == 200
    in_header, in_document = hubs_named(response)
    advertised = SITE_URL + path in topics
    assert in_header == advertised
    assert in_document == ([HUB] if advertised else [])
    # rel=self names the document on every feed, whether it is a topic or not.
    assert f'<{SITE_URL}{path}>; rel="self"' in response.headers.get_all("Link")
