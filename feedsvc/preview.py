"""Feed previews: the page a person sees on opening a feed URL, or the OPML list, in a browser.

Feed readers and every other program get the feed's bytes, whatever they send. Only a browser's
top-level navigation gets the preview page instead, and only browsers send one: the request
carries ``Sec-Fetch-Dest: document`` and ``Sec-Fetch-Mode: navigate`` (W3C Fetch Metadata
Request Headers, the sec-fetch-dest and sec-fetch-mode headers; a page's scripts cannot set
them). A link with a ``download`` attribute (``Sec-Fetch-Dest: empty``), ``fetch()`` from a page
and an iframe send other values and get the feed.

Why not the Accept header: readers send ``text/html`` in it too (Miniflux, SimplePie) and browsers
send ``*/*``-style lists, so any rule on Accept guesses wrong for someone. Why not XSLT: browsers
are removing it. Browsers send Fetch Metadata only to HTTPS and loopback origins, so over plain
HTTP a browser gets the feed as readers do.

The preview is an ordinary page at its own address, ``channels.preview_path(feed path)``
(``/feed.rss.html``); the middleware below serves that page at the feed's URL to navigations,
which is what a static host does with an nginx ``map`` on ``$http_sec_fetch_dest``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from flask import render_template
from werkzeug.routing import Map

from .channels import OPML_PATH, has_preview, preview_path
from .templating import channel_heading

if TYPE_CHECKING:
    from .channels import FeedDocument
    from .services import Services

# What a browser's top-level navigation sends, and nothing else does; the one statement of the
# rule, for this module and for the static server configuration (staticconf.py).
NAVIGATION = {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}
# RFC 9110 12.5.5: the request headers that choose between a feed and its preview.
VARY = tuple(NAVIGATION)
ENTRIES_SHOWN = 10
# Web readers that subscribe from a link; {url} is the feed URL, percent-encoded.
READERS = (
    ("Feedly", "https://feedly.com/i/subscription/feed%2F{url}"),
    ("Inoreader", "https://www.inoreader.com/?add_feed={url}"),
    ("NewsBlur", "https://www.newsblur.com/?url={url}"),
    ("The Old Reader", "https://theoldreader.com/feeds/subscribe?url={url}"),
)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


def is_navigation(environ: dict) -> bool:
    """A browser's top-level navigation (typing the URL, following a link, a bookmark)."""
    return all(
        environ.get("HTTP_" + name.upper().replace("-", "_")) == value
        for name, value in NAVIGATION.items()
    )


class NavigationPreviews:
    """WSGI middleware: a navigation to a feed URL is answered as if its preview was asked for.

    Outside the response cache, so the feed and the preview are cached under their own paths.
    ``routes`` (the app's URL map) tells which previews exist: an address that only redirects
    to a feed (``/index.rss``) has none, and a browser following it gets the redirect.
    """

    def __init__(self, app: WSGIApp, routes: Map):
        self.app = app
        self.routes = routes.bind("localhost")

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        if method in ("GET", "HEAD") and has_preview(path) and is_navigation(environ):
            preview = preview_path(path)
            if self.routes.test(preview, "GET"):
                environ["PATH_INFO"] = preview
        return self.app(environ, start_response)


def reader_links(feed_url: str) -> list[tuple[str, str]]:
    """(reader name, subscribe URL) for each web reader, and ``feed:`` for installed apps."""
    encoded = quote(feed_url, safe="")
    links = [(name, pattern.format(url=encoded)) for name, pattern in READERS]
    # The feed: scheme (a draft that never became an RFC, still registered by many apps such as
    # NetNewsWire) hands the URL to the reader installed on this device.
    links.append(("An app on this device", f"feed:{feed_url}"))
    return links


def render_feed_preview(svc: Services, doc: FeedDocument, fmt: str) -> bytes:
    """The preview page of one feed: what it is, its address, readers, its latest entries."""
    channel = doc.channel
    heading = channel_heading(channel)
    if doc.archive is not None:  # an RFC 5005 archive page: a month or a day of the channel
        heading = f"{heading}: the archive of {doc.archive.key.replace('/', ', part ')}"
    return render_template(
        "preview.html",
        svc=svc,
        doc=doc,
        fmt=fmt,
        channel=channel,
        heading=heading,
        entries=doc.entries[:ENTRIES_SHOWN],
        total=len(doc.entries),
        readers=reader_links(doc.self_url),
        download_name=posixpath.basename(urlsplit(doc.self_url).path),
    ).encode()


def render_opml_preview(svc: Services) -> bytes:
    """The preview page of the OPML list: what OPML is, its address, the feeds it holds."""
    return render_template(
        "opml_preview.html",
        svc=svc,
        opml_path=OPML_PATH,
        agencies=svc.store.agencies(),
        cities=svc.store.cities(),
    ).encode()
