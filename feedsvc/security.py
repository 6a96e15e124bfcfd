"""Security headers: the one place that decides them, for every response feedsvc sends.

``SecurityHeaders``, the outermost WSGI layer, adds them to every response: cached or rendered,
200 or 304, redirect, error or 503. The Content-Security-Policy depends on the media type. A 304
carries no Content-Type (RFC 9110 15.4.5), yet it must carry the policy of the representation
it revalidates, because a cache replaces the stored response's header fields with the 304's
(RFC 9111 4.3.4): a prepared 304 names that type in the private header
``REPRESENTATION_TYPE``, which this layer reads and removes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]

# The header under which a response without a Content-Type (a 304) names its representation's
# media type for this layer; it never leaves the process.
REPRESENTATION_TYPE = "Feedsvc-Representation-Type"

# Media types a browser may show in its XML tree view.
XML_MEDIA_TYPES = frozenset(
    {"application/xml", "text/xml", "application/rss+xml", "application/atom+xml"}
)
# RFC 6797 6.1.1 max-age: a year, what most sites and the preload list use. No
# includeSubDomains: feedsvc cannot know what else runs under its domain.
HSTS_MAX_AGE_SECONDS = 365 * 86_400


_PRIVATE = REPRESENTATION_TYPE.lower()


class SecurityPolicy:
    """The security headers of a site (its ``FEEDSVC_SITE_URL``), by media type.

    Pages (feed previews included) may load style sheets, scripts, images and forms from the
    page's own origin and the site URL's (pages link assets through the site URL), nothing
    inline and nothing else (CSP Level 3). An XML document (a feed, a sitemap) opened in a
    browser may use only what the browser's own tree view needs: inline style and data: images
    (neither runs script; the document's text is never parsed as HTML there). Anything else
    (JSON Feed, OPML, style sheets, scripts, plain-text errors) is data: it may load nothing
    and is sandboxed if a browser shows it. No response may be framed (frame-ancestors, and
    X-Frame-Options for browsers without CSP). HSTS only for an https site URL.
    """

    def __init__(self, site_url: str):
        parts = urlsplit(site_url)
        own = f"'self' {parts.scheme}://{parts.netloc}"
        self.page = (
            f"default-src 'none'; style-src {own}; script-src {own}; img-src {own}; "
            f"connect-src {own}; form-action {own}; base-uri 'none'; frame-ancestors 'none'"
        )
        self.xml = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        self.data = "default-src 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"
        self.common = [
            # Never guess a type from the bytes (fetch.spec.whatwg.org, "X-Content-Type-Options").
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            ("X-Frame-Options", "DENY"),
        ]
        if parts.scheme == "https":
            # RFC 6797 7.2: browsers heed it only over TLS, i.e. from the TLS front.
            self.common.append(("Strict-Transport-Security", f"max-age={HSTS_MAX_AGE_SECONDS}"))
        self._by_type: dict[str | None, list[tuple[str, str]]] = {}

    def content_security_policy(self, content_type: str) -> str:
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type == "text/html":
            return self.page
        return self.xml if media_type in XML_MEDIA_TYPES else self.data

    def headers(self, content_type: str | None) -> list[tuple[str, str]]:
        """Every security header of a response of ``content_type``; None (a response with no
        representation, such as 204) gets no policy, which would only replace a stored one."""
        found = self._by_type.get(content_type)
        if found is None:
            found = list(self.common)
            if content_type is not None:
                policy = self.content_security_policy(content_type)
                found.append(("Content-Security-Policy", policy))
            if len(self._by_type) < 64:  # a handful of types; never grow without bound
                self._by_type[content_type] = found
        return found


class SecurityHeaders:
    """WSGI middleware: ``policy``'s headers on every response, replacing any the app set."""

    def __init__(self, app: WSGIApp, policy: SecurityPolicy):
        self.app = app
        self.policy = policy
        self._names = {name.lower() for name, _ in policy.headers("text/html")}
        self._names.add(REPRESENTATION_TYPE.lower())

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        def secured(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            content_type = None
            kept = []
            for name, value in headers:
                lowered = name.lower()
                if lowered in ("content-type", _PRIVATE):
                    content_type = value
                if lowered not in self._names:
                    kept.append((name, value))
            kept += self.policy.headers(content_type)
            return start_response(status, kept, exc_info)

        return self.app(environ, secured)
