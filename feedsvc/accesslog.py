"""The access log: one line per request in the Combined Log Format, written by a WSGI wrapper.

    127.0.0.1 - - [30/Nov/2026:12:00:00 +0000] "GET /feed.atom HTTP/1.1" 200 5120 "-" "NetNewsWire"

The format of Apache's ``combined`` and nginx's default ``combined`` log: client address, two
unused fields, the time the request arrived, the request line, the status, the bytes of the body
sent ("-" for none), the Referer and the User-Agent. Everything that comes from the client is
escaped as nginx does (``"`` and ``\\`` and bytes outside printable ASCII as ``\\xHH``), so a
request cannot forge a line. The wrapper sits outside the whole app, fast path included, and
logs once the body has been handed to the server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]

# RFC 3986 section 3.3 characters a path may carry unencoded; everything else is re-encoded.
PATH_SAFE = "/:@!$&'()*+,;=-._~"
_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')


def _escape(text: str) -> str:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text  # the common case, without a regular expression
    return _UNSAFE.sub(lambda m: "".join(f"\\x{b:02X}" for b in m.group().encode()), text)


class _Clock:
    """The CLF time stamp (``30/Nov/2026:12:00:00 +0000``), formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def stamp(self, now: float) -> str:
        second = int(now)
        if second != self._second:  # a race between threads only formats the same text twice
            self._text = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))
            self._second = second
        return self._text


class AccessLog:
    """Wraps a WSGI app; hands ``write`` one line per request once its body was sent."""

    def __init__(self, app: WSGIApp, write: Callable[[str], None]) -> None:
        self.app = app
        self.write = write
        self._clock = _Clock()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        arrived = time.time()
        status: list[str] = []

        def capture(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[:] = [code.split(" ", 1)[0]]
            return start_response(code, headers, exc_info)

        try:
            body = self.app(environ, capture)
        except BaseException:
            self._log(environ, arrived, ["500"], 0)  # what the server answers instead
            raise
        if isinstance(body, list):  # prepared responses: the server sends the list as it is
            self._log(environ, arrived, status, sum(map(len, body)))
            return body
        return _Counted(body, lambda sent: self._log(environ, arrived, status, sent))

    def _log(self, environ: dict, arrived: float, status: list[str], sent: int) -> None:
        path = quote(environ.get("PATH_INFO", "").encode("latin-1", "replace"), safe=PATH_SAFE)
        query = environ.get("QUERY_STRING", "")
        request = f"{environ.get('REQUEST_METHOD', '-')} {path}{'?' + query if query else ''}"
        self.write(
            f"{environ.get('REMOTE_ADDR') or '-'} - - [{self._clock.stamp(arrived)}] "
            f'"{_escape(request)} {_escape(environ.get("SERVER_PROTOCOL", "-"))}" '
            f"{status[0] if status else '-'} {sent or '-'} "
            f'"{_escape(environ.get("HTTP_REFERER", "-"))}" '
            f'"{_escape(environ.get("HTTP_USER_AGENT", "-"))}"'
        )


class _Counted:
    """A streamed body: counts the bytes as the server takes them, logs when it closes."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._body = body
        self._done = done
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done(self._sent)
