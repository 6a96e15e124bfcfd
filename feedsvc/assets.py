"""The package's static files (stylesheet, script, icons): read once, addressed by content hash.

Pages link ``/static/site.css?v=<hash>``. A request carrying the current hash may be cached for a
year without revalidation, because a changed file gets a new hash and so a new URL; any other
request gets the same bytes with the ordinary max-age. Names come from the folder listing, never
from the URL, so a request can only ever name a file that ships with the package.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "static"
# Types by extension, stated rather than guessed from the system's mime.types.
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/vnd.microsoft.icon",
}
VERSION_CHARS = 12
# The Last-Modified of every static file: when the files of static/ last changed, the same in
# every install of a release. Not the files' own modification times, which say when this copy
# was installed: two nodes installed apart sent different Last-Modified for the same bytes
# (and ETag), and one answered 200 to an If-Modified-Since from the other. RFC 9110 8.8.2.1:
# an origin server sends Last-Modified only if it can be consistently determined. A static
# build dates the files it writes by it too (build._mtime), so nginx's own validators, made
# from the file's time, are the same on every node. Moved forward with any change to static/:
# FOLDER_DIGEST names the files it dates, and a test fails when they differ from it.
CHANGED_AT = datetime(2026, 12, 1, 23, 43, 11, tzinfo=UTC)
FOLDER_DIGEST = "2e13fd524b4b"


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    content_type: str
    version: str  # the first VERSION_CHARS hex digits of the body's SHA-256
    modified: datetime


class Assets:
    """Every file of ``folder``, by name."""

    def __init__(self, folder: Path = FOLDER):
        self._by_name: dict[str, Asset] = {}
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            body = path.read_bytes()
            content_type = CONTENT_TYPES.get(path.suffix) or (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            self._by_name[path.name] = Asset(
                path.name,
                body,
                content_type,
                hashlib.sha256(body).hexdigest()[:VERSION_CHARS],
                CHANGED_AT,
            )

    def names(self) -> list[str]:
        """Every file's name, sorted."""
        return sorted(self._by_name)

    def get(self, name: str) -> Asset | None:
        return self._by_name.get(name)

    def digest(self) -> str:
        """What names every file's name and bytes at once (FOLDER_DIGEST records it)."""
        found = hashlib.sha256()
        for name in self.names():
            found.update(f"{name}\0{self._by_name[name].version}\0".encode())
        return found.hexdigest()[:VERSION_CHARS]

    def versions(self) -> set[str]:
        """Every file's version: the only values of ``?v=`` that mean anything."""
        return {asset.version for asset in self._by_name.values()}

    def path(self, name: str) -> str:
        """The versioned path of a file that ships with the package: '/static/site.css?v=…'.

        Raises KeyError for a name that is not there, so a template typo fails its test."""
        return f"/static/{name}?v={self._by_name[name].version}"
