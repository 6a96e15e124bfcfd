"""Requests HTTP refuses, refused before any layer reads them.

granian serves them, and Werkzeug would route them: an HTTP/1.1 request without ``Host`` or with
two (RFC 9112 3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
request message that lacks a Host header field and to any request message that contains more
than one Host header field line"), and a method in another case than its name (RFC 9110 9.1:
"The method token is case-sensitive"; Werkzeug upper-cases it, so ``head`` was answered as HEAD,
with a body). An HTTP audit found both; nginx in front (docs/exposure.md) refuses them itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .web import SERVER_METHODS

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]

_BAD_REQUEST = b"Bad request: HTTP/1.1 needs one Host header field.\n"
_NOT_ALLOWED = b"Method not allowed: method names are case-sensitive (GET, HEAD, OPTIONS).\n"


class Framing:
    """WSGI middleware: 400 for a missing (in HTTP/1.1) or repeated Host, 405 for a method not
    in upper case; else the app."""

    def __init__(self, app: WSGIApp):
        self.app = app

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        # granian passes a missing Host as an empty one, and two Host lines joined by a comma,
        # which no host name holds.
        host = environ.get("HTTP_HOST", "")
        if (not host and environ.get("SERVER_PROTOCOL") == "HTTP/1.1") or "," in host:
            return _answer(environ, start_response, "400 Bad Request", _BAD_REQUEST)
        if not method.isupper():
            return _answer(environ, start_response, "405 Method Not Allowed", _NOT_ALLOWED,
                           ("Allow", ", ".join(SERVER_METHODS)))  # fmt: skip
        return self.app(environ, start_response)


def _answer(
    environ: dict, start_response: StartResponse, status: str, body: bytes, *headers: tuple
) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *headers])  # fmt: skip
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
