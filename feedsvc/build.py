"""``feedsvc build OUT``: every URL the service answers, written as files by the service itself.

Each URL that inventory.py lists is requested from the app through its WSGI interface, exactly as
``feedsvc serve`` answers it: the body is the identity variant of the same prepared response, and
the ``.gz`` beside it is the very gzip body the service sends. A ``.br`` copy is added where it
is at least ``BROTLI_MIN_SAVING`` smaller than the gzip one. There is no second renderer that
could disagree with the service.

A rebuild renders only the URLs whose inputs changed (inventory.Target), writes only the files
whose bytes changed, removes the files of URLs that are gone, and commits atomically (outtree.py).
A file's modification time is the service's Last-Modified for it, moved at least one second past
the previous file's whenever the bytes change, so that validators derived from it (nginx's ETag
is modification time and size) change with the bytes. Large builds render in forked processes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import brotli
from werkzeug.http import parse_date

from . import config, inventory, staticconf, stopsignals
from .changes import quantity
from .config import Config
from .httpcache import STATIC_COPY
from .inventory import Snapshot, Target
from .outtree import STATE_SUFFIX, BuildFolderError, Entry, OutTree

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

# Brotli quality 5 took about 1 ms for a 12 KB page here and saved about 10 % over gzip -9 (the
# service's level then; httpcache.GZIP_LEVEL); quality 11 saved 23 % but took 15-20 ms a page
# (and 0.75 s for a 200 KB feed). On 200 KB feeds quality 5 saved under 3 %, so larger bodies
# are not tried.
BROTLI_QUALITY = 5
BROTLI_MIN_SAVING = 0.05  # a .br copy must be this much smaller than the .gz one to be kept
BROTLI_MAX_BYTES = 64 * 1024
# Below this many URLs to render, forking worker processes costs more than it saves.
PARALLEL_MIN_URLS = 200
# With workers kept from one build to the next (Builder keep_workers: build --watch), handing
# a URL to one costs a millisecond against about ten to render it.
KEPT_PARALLEL_MIN_URLS = 8
CHUNK_URLS = 100
# Listing pages put off by a watching build (Builder.build's ``defer``) written per commit: about
# half a second of rendering on two cores, so that a new change waits at most that long. So many
# or fewer are not put off.
DEFERRED_BATCH_URLS = 64
# What a watching build put off is written by the first build after this long, whatever it puts
# off itself: changes that keep coming faster than the pages can be written (a new article
# every 10 s at 100,000) must not leave them, or the configuration, behind for ever.
DEFERRED_MAX_SECONDS = 60.0
# How often a worker looks whether the build that started it is still there (_end_with).
PARENT_CHECK_SECONDS = 0.2
# Response headers the server derives from the file itself or from the connection.
FILE_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "etag", "last-modified", "date",
     "server", "connection", "transfer-encoding", "keep-alive"}
)  # fmt: skip
# Settings that do not change a byte of what is served.
NOT_RENDERED = frozenset({"SEEDS_DIR", "INDEX_PATH", "POLL_INTERVAL", "WATCH"})


ARTICLES = "/articles/"
FOLLOWED = "followed the change"  # BuildReport.inventory of a rebuild that did not list everything


__all__ = ["BuildError", "BuildFolderError", "BuildReport", "Builder", "render", "request"]


class BuildError(RuntimeError):
    """The app did not answer a listed URL as expected; the message names the URL."""


@dataclass
class BuildReport:
    urls: int = 0
    rendered: int = 0
    written: list[str] = field(default_factory=list)  # files written, relative to OUT
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # URLs kept as they were, and why
    seconds: float = 0.0
    next_change: datetime | None = None  # when the clock alone changes a page
    config_changed: bool = False  # the generated server configuration was written
    # Writes still put off (Builder.deferred): listing pages, and the configuration.
    deferred: int = 0
    # How the URLs were listed: every one (and why), or only what the changed articles can
    # touch (inventory.follow).
    inventory: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def settings_mapping(settings: Config) -> dict[str, str]:
    """The settings as a mapping for ``create_app``, with the app's own watcher off, search
    off (static files cannot answer it, and a page must not offer what its host lacks), and
    no WebSub hub: nothing tells a hub what a build changed, and a feed that names a hub must
    be a topic it is told of (WebSub 4, 6; channels.Channel.websub_topics)."""
    values = config.overrides_of(settings)
    values["WATCH"] = "false"
    values["SEARCH"] = "false"
    values["WEBSUB_HUB"] = ""
    return values


def renderer_stamp(settings: Config) -> str:
    """What every URL depends on besides its own inputs: feedsvc's code, templates and static
    files, the libraries that render, and the settings. Any change rebuilds everything."""
    digest = hashlib.blake2b(digest_size=16)
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    for library in ("flask", "werkzeug", "jinja2", "markupsafe", "feedgen", "lxml", "brotli"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{library}={metadata.version(library)}".encode())
    values = settings_mapping(settings)
    digest.update(repr(sorted((k, v) for k, v in values.items() if k not in NOT_RENDERED)).encode())
    return digest.hexdigest()


# -- one URL through the app ----------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    entry: Entry
    staged: tuple[tuple[str, str], ...]  # (name in the staging folder, file relative to OUT)
    error: str | None = None  # the app did not answer as expected: nothing staged


def request(app: Any, url: str, site_url: str, **headers: str) -> tuple[int, list, bytes]:
    """GET ``url`` from a WSGI app: (status, headers, body)."""
    path, _, query = url.partition("?")
    parts = urlsplit(site_url)
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": parts.hostname or "localhost",
        "SERVER_PORT": str(parts.port or (443 if parts.scheme == "https" else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": parts.netloc,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        STATIC_COPY: True,  # headers as a file keeps them (no max-age counting down)
        **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()},
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list, exc_info: Any = None) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = response_headers

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return answer["status"], answer["headers"], body


def render(app: Flask, site_url: str, target: Target, old: Entry | None, staging: Path) -> Rendered:
    """Ask the app for ``target`` and stage the files whose bytes differ from ``old``'s."""
    inputs = target.inputs
    status, headers, body = request(app, target.url, site_url)
    if status != target.status:
        error = f"{target.url} answered {status}; a static build expects {target.status}"
        return Rendered(Entry(target.url, inputs, status, None, None, None, "", ()), (), error)
    kept = _kept_headers(headers)
    if 300 <= status < 400:
        entry = Entry(target.url, inputs, status, None, None, None, "", kept)
        return Rendered(entry, ())
    content_type = _header(headers, "Content-Type") or "application/octet-stream"
    kept = (("Content-Type", content_type), *kept)
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    file = staticconf.file_path(target.url)
    if old is not None and old.digest == digest and old.file == file:
        return Rendered(old._replace(inputs=inputs, status=status, headers=kept), ())
    encoded = {"": body}
    # The service's own gzip body (from its response cache, so not compressed twice).
    _, zipped_headers, zipped = request(app, target.url, site_url, accept_encoding="gzip")
    if _header(zipped_headers, "Content-Encoding") == "gzip":
        encoded["gz"] = zipped
        packed = brotli_copy(body, zipped)
        if packed is not None:
            encoded["br"] = packed
    mtime = _mtime(headers, old)
    staged: list[tuple[str, str]] = []
    for extension, data in encoded.items():
        name = f"{os.getpid()}-{time.monotonic_ns()}-{len(staged)}"
        _stage(os.path.join(staging, name), data, mtime)
        staged.append((name, f"{file}.{extension}" if extension else file))
    encodings = " ".join(ext for ext in encoded if ext)
    entry = Entry(target.url, inputs, status, file, digest, mtime, encodings, kept)
    return Rendered(entry, tuple(staged))


def brotli_copy(body: bytes, zipped: bytes) -> bytes | None:
    """The ``.br`` copy written beside ``body`` whose gzip body is ``zipped``: tried on bodies
    up to BROTLI_MAX_BYTES, kept when it is BROTLI_MIN_SAVING smaller than the gzip one."""
    if len(body) > BROTLI_MAX_BYTES:
        return None
    packed = brotli.compress(body, quality=BROTLI_QUALITY)
    return packed if len(packed) <= len(zipped) * (1 - BROTLI_MIN_SAVING) else None


def default_jobs() -> int:
    """How many render processes a build forks unless told: one per core."""
    return os.cpu_count() or 1


def _stage(path: str, data: bytes, mtime: int) -> None:
    """Write a new file ``path`` holding ``data``, modified at ``mtime``. Three files a URL: at
    the system-call level, without open()'s buffered file object, its fstat() and isatty()."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)


def _header(headers: list, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


def _kept_headers(headers: list) -> tuple[tuple[str, str], ...]:
    """What the server must add to a file: the app's headers but those a file already says.
    Repeated fields are joined into one list (RFC 9110 5.3), as nginx's add_header sends one."""
    joined: dict[str, list[str]] = {}
    for name, value in headers:
        if name.lower() not in FILE_HEADERS:
            joined.setdefault(name, []).append(value)
    return tuple((name, ", ".join(values)) for name, values in joined.items())


def _mtime(headers: list, old: Entry | None) -> int:
    last_modified = _http_seconds(_header(headers, "Last-Modified"))
    seconds = last_modified if last_modified is not None else int(time.time())
    if old is not None and old.mtime is not None:
        seconds = max(seconds, old.mtime + 1)  # new bytes, new validators
    return seconds


@functools.lru_cache(maxsize=64)
def _http_seconds(value: str | None) -> int | None:
    """The epoch seconds of an HTTP date. Nearly every URL of a site carries the same
    Last-Modified (the site's content time): read once, not once a URL."""
    last_modified = parse_date(value)
    return int(last_modified.timestamp()) if last_modified else None


# -- many URLs, in worker processes -----------------------------------------------------------

# A worker process renders with its own app (and so its own SQLite connection, which must not
# cross a fork); multiprocessing hands a worker its state only through a global.
_worker: dict[str, Any] = {}


def _start_worker(settings: Mapping[str, str], site_url: str, staging: str) -> None:
    from . import create_app

    # Ctrl-C, and a service manager's SIGTERM, reach the whole process group: the parent stops
    # the pool (cli.build), and workers stay quiet meanwhile.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stopsignals.released()  # forked with them held (Builder._render)
    # A build killed alone (kill -9, the OOM killer) leaves its workers behind. One that sends
    # a result to it then ends at once and quietly, as a pipeline's writer does when its reader
    # is gone, rather than with two BrokenPipe tracebacks; one still rendering notices within
    # PARENT_CHECK_SECONDS (its staged files are dropped by the next build: OutTree.recover).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parent = os.getppid()
    threading.Thread(target=_end_with, args=(parent,), name="end-with-build", daemon=True).start()

    _worker.update(app=create_app(settings), site_url=site_url, staging=Path(staging))


def _end_with(parent: int) -> None:
    """End this worker process, silently, once ``parent`` is no longer its parent (it died and
    the worker was handed to another process)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _render_chunk(build: int, tasks: list[tuple[Target, Entry | None]]) -> list[Rendered]:
    app, site_url, staging = _worker["app"], _worker["site_url"], _worker["staging"]
    if _worker.get("build") != build:  # a kept worker's first chunk of a new build
        app.extensions["feedsvc"].cache.clear()  # as the builder's own (Builder.build)
        _worker["build"] = build
    return [render(app, site_url, target, old, staging) for target, old in tasks]


def refuse_overlaps(settings: Config, out: Path) -> None:
    """Raise BuildFolderError when OUT and the seeds folder overlap, or the index lies in OUT
    or its state folder (outtree.STATE_SUFFIX): it would be published with the site, and OUT
    would hold a file no build wrote. Checked before anything is written."""
    seeds, folder = settings.seeds_dir.resolve(), out.resolve()
    if folder == seeds or seeds in folder.parents or folder in seeds.parents:
        raise BuildFolderError(
            f"{out} and the seeds folder {settings.seeds_dir} overlap; build elsewhere"
        )
    index = settings.index_path.resolve()
    state = folder.with_name(folder.name + STATE_SUFFIX)
    for where in (folder, state):
        if where in index.parents:
            raise BuildFolderError(
                f"FEEDSVC_INDEX_PATH {settings.index_path} is inside {where}, which the build "
                "writes and publishes; keep the index elsewhere"
            )


class Builder:
    """Builds OUT from the index, again and again (``build --watch`` keeps one)."""

    def __init__(
        self, settings: Config, out: Path, jobs: int | None = None, keep_workers: bool = False
    ):
        """``keep_workers``: keep the render processes from one build to the next, for a
        builder that rebuilds after each change (build --watch): forking them and starting an
        app in each takes longer than rendering a one-document change. ``close()`` ends them."""
        from . import create_app

        refuse_overlaps(settings, out)
        # OUT first: a second build of the same OUT is refused before it reads a whole folder
        # into the index (minutes at a million documents).
        self.tree = OutTree(out)
        self.settings = settings
        self.mapping = settings_mapping(settings)
        try:
            self.app = create_app(self.mapping)
        except BaseException:
            self.tree.close()
            raise
        self.svc = self.app.extensions["feedsvc"]
        self.jobs = jobs or default_jobs()
        self.keep_workers = keep_workers
        self._pool: ProcessPoolExecutor | None = None  # the kept render processes, once started
        self._builds = 0  # how many builds this builder started (kept workers clear caches)
        self.stamp = renderer_stamp(settings)
        self._entries: dict[str, Entry] | None = None
        self._rewrite: set[str] = set()  # URLs whose files are not in OUT as built
        self._permalinks: dict[str, str] = {}  # article key -> URL (inventory.Snapshot)
        self._owners: dict[str, str] = {}  # file in OUT -> the URL of the entry it holds
        # The snapshot OUT was last brought in step with, and the earliest time at which the
        # clock alone changes one of its pages: what a rebuild follows a change from.
        self._previous: Snapshot | None = None
        self._no_previous = "no earlier build in this process"  # why there is none
        self._next_change: datetime | None = None
        self._last: Snapshot | None = None  # the last snapshot taken, in step with OUT or not
        # Listing pages a change shifted, put off by build(defer=True): URL -> the target as
        # last listed. The snapshot that listed it stays right for it until a later listing
        # lists it again (inventory.follow lists every URL whose inputs may differ).
        self._deferred: dict[str, Target] = {}
        self._deferred_since: float | None = None  # monotonic: since when anything is put off

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self.tree.close()
        # Every connection, the renders' pooled ones too: one closed after the record of a
        # clean stop (cli.py) would write the -wal file, and the next start would not trust it.
        self.svc.store.release()

    @property
    def deferred(self) -> int:
        """How many writes ``build(defer=True)`` put off and ``write_deferred`` has not made
        yet: a listing page each, and one for the server configuration."""
        return len(self._deferred) + self.tree.config_owed()

    def build(
        self,
        progress: Callable[[int, int], None] | None = None,
        follow: bool = True,
        defer: bool = False,
    ) -> BuildReport:
        """Bring OUT in step with the index (refresh the index first: ``store.refresh``).

        A rebuild lists only the URLs the articles changed since the last build can touch
        (inventory.follow), unless ``follow`` is False or it cannot (``_scope`` says when): then
        it lists every URL. Either way OUT ends the same.

        With ``defer`` (build --watch), when more than DEFERRED_BATCH_URLS listing pages
        between the first and the last of their listing (inventory.Target.deferrable) changed,
        those already in OUT are not written by this build but by ``write_deferred``: a new or
        deleted article shifts every one of them (2,500 pages at 100,000 articles, 25 s), and
        the feeds, the article's page and the first and last page of each listing must not wait
        for them; nor for the server configuration, written after them (``_commit``). Until
        then those pages show the listing as it was, which a reader's cache or a CDN may show
        anyway for the max-age they are served with. What is put off is written by the first
        build DEFERRED_MAX_SECONDS after, if ``write_deferred`` has not written it by then.

        ``progress(done, total)`` is called as URLs are rendered. Raises BuildError (and
        inventory.UndeclaredRoute, staticconf.UnmappableURL) with a message naming the URL;
        after any exception the next build lists every URL."""
        try:
            return self._build(progress, follow, defer)
        except BaseException:
            self._lost_step()
            raise

    def _lost_step(self) -> None:
        """After a build or a batch that raised (a full disk, a render process killed): what
        OUT holds is no longer known to match a snapshot, and pages put off by it, written
        later from the index as it now is, would be recorded as of the wrong one. The next
        build lists every URL (and puts off again what it shifts)."""
        self._previous, self._no_previous = None, "the last build did not finish"
        self._deferred.clear()  # (the configuration is made from the entries: it can wait)
        # A commit finished before the stop that came during it was acted on (OutTree.commit)
        # is in the manifest and not in what this process holds of it: read it again. (Not
        # after any other failure: it costs a stat() of every file.)
        if self.tree.stopped_in_commit:
            self._entries = None

    def _build(
        self, progress: Callable[[int, int], None] | None, follow: bool, defer: bool
    ) -> BuildReport:
        started = time.monotonic()
        self._builds += 1
        if not self.tree.out.is_dir():  # removed under a watching build: made again, whole
            self.tree.out.mkdir(parents=True)
            self._entries = None
        if self.tree.recover() or self._entries is None:
            if self._previous is not None:  # OUT may hold another build's work, or none
                self._previous = None
                self._no_previous = "OUT was read again (a stopped build finished, or OUT removed)"
            self._entries = self.tree.entries()
            # What is really in OUT: files removed or changed by hand are written again.
            self._rewrite = self.tree.not_in_place(self._entries.values())
            if self._rewrite:
                log.warning(
                    "%s: the files of %s were missing or changed since they were built; "
                    "writing them again",
                    self.tree.out,
                    quantity(len(self._rewrite), "URL"),
                )
            self._permalinks = {
                inventory.permalink_key(entry.inputs): url
                for url, entry in self._entries.items()
                if url.startswith(ARTICLES)
            }
            self._owners = {e.file: url for url, e in self._entries.items() if e.file is not None}
        entries = self._entries
        # Responses cached by an earlier build may have aged (the news sitemap is kept a minute).
        self.svc.cache.clear()
        # Made from the last one when the store can tell what changed since (Snapshot).
        snapshot = Snapshot(self.svc, datetime.now(UTC), self._permalinks, self._last)
        self._last = snapshot
        # Another renderer (code, templates, settings) makes every URL's inputs stale.
        same_renderer = self.tree.stamp() == self.stamp
        scope, why = self._scope(snapshot, same_renderer, follow)
        if scope is None:
            log.debug("listing every URL: %s", why)
            targets = inventory.targets(self.app, snapshot)
            wanted = {target.url for target in targets}
            gone = [entry for url, entry in entries.items() if url not in wanted]
            next_change = min(snapshot.expiries, default=None)
            report = BuildReport(urls=len(targets), inventory=f"listed every URL: {why}")
            self._deferred.clear()  # each is listed again, as this snapshot has it
        else:
            assert self._previous is not None
            targets, gone_urls = inventory.followed(self.app, self._previous, snapshot, scope)
            gone = [entries[url] for url in gone_urls if url in entries]
            for url in gone_urls:
                self._deferred.pop(url, None)
            # Pages left out of this listing keep the expiries found when they were last listed.
            expiries = [*snapshot.expiries, *filter(None, [self._next_change])]
            next_change = min(expiries, default=None)
            report = BuildReport(urls=len(targets), inventory=FOLLOWED)
            log.debug(
                "following the change: %d article pages, %d channels, %d URLs listed",
                len(scope.articles), len(scope.channels), len(targets),
            )  # fmt: skip
        report.next_change = next_change
        todo: list[tuple[Target, Entry | None]] = []
        shifted: list[Target] = []
        for target in targets:
            old = entries.get(target.url)
            self._deferred.pop(target.url, None)  # listed again: as this snapshot has it
            if target.url in self._rewrite:
                todo.append((target, None))  # its bytes as new, whatever the manifest says
            elif old is None or not same_renderer or old.inputs != target.inputs:
                # A page new to OUT is written now: the page before it links to it.
                if defer and target.deferrable and old is not None:
                    shifted.append(target)
                else:
                    todo.append((target, old))
        put_off = defer and not self._overdue()
        # A few are written at once, as the rest: an edit's page, a small site's listings.
        if len(shifted) > DEFERRED_BATCH_URLS and put_off:
            self._deferred.update((target.url, target) for target in shifted)
        else:
            todo += [(target, entries.get(target.url)) for target in shifted]
            todo += [(target, entries.get(url)) for url, target in self._deferred.items()]
            self._deferred.clear()
        # The configuration waits with the pages, and an edit does not write it if it waits.
        self._write(todo, gone, report, progress, defer_config=put_off and bool(self.deferred))
        self._since_deferred()
        if not report.failed:
            self._previous = snapshot
        self._next_change = next_change
        report.deferred = self.deferred
        report.seconds = time.monotonic() - started
        return report

    def write_deferred(self, most: int = DEFERRED_BATCH_URLS) -> BuildReport:
        """Write up to ``most`` of the listing pages ``build(defer=True)`` put off, in the order
        they were listed (page 2 of a listing before page 3), committed together; once none is
        left, the server configuration, if it waits. Call it with the index as the last build
        left it; a build in between lists again, as it then is, those of them a further change
        touched. Raises as ``build`` does."""
        started = time.monotonic()
        report = BuildReport(inventory="pages put off by the last build")
        if self._entries is None or not self.deferred:
            return report
        self._builds += 1
        self.svc.cache.clear()
        # The pages, then the configuration (alone, once no page is left).
        batch = list(self._deferred.values())[:most]
        todo = [(target, self._entries.get(target.url)) for target in batch]
        report.urls = len(batch)
        previous = self._previous
        try:
            self._write(todo, [], report, None, defer_config=bool(batch))
        except BaseException:
            self._lost_step()
            raise
        for target in batch:
            del self._deferred[target.url]
        if not report.failed:  # else the next build lists every URL, which retries it
            self._previous = previous
        self._since_deferred()
        report.deferred = self.deferred
        report.seconds = time.monotonic() - started
        return report

    def _overdue(self) -> bool:
        """Whether something was put off DEFERRED_MAX_SECONDS ago and is still not written."""
        since = self._deferred_since
        return since is not None and time.monotonic() - since > DEFERRED_MAX_SECONDS

    def _since_deferred(self) -> None:
        """Keep when the oldest write still put off was put off."""
        if not self.deferred:
            self._deferred_since = None
        elif self._deferred_since is None:
            self._deferred_since = time.monotonic()

    def _write(
        self,
        todo: list[tuple[Target, Entry | None]],
        gone: list[Entry],
        report: BuildReport,
        progress: Callable[[int, int], None] | None,
        defer_config: bool = False,
    ) -> None:
        """Render ``todo`` and commit it with the removal of ``gone`` (and the configuration,
        unless ``defer_config``). Afterwards OUT is in step with no snapshot (``_previous``)
        until the caller says which; after a failed URL, with none (the next build lists
        everything, which retries it)."""
        report.rendered = len(todo)
        results = []
        for done, rendered in enumerate(self._render(todo), 1):
            results.append(rendered)
            if progress is not None:
                progress(done, len(todo))
        # Until the commit ends, OUT is in step with no snapshot.
        self._previous, self._no_previous = None, "the last build did not finish"
        self._commit(results, gone, report, defer_config)
        # A URL that failed kept its old files: the next build lists everything, which retries it.
        if report.failed:
            self._no_previous = "a URL failed in the last build"

    def _scope(
        self, snapshot: Snapshot, same_renderer: bool, follow: bool
    ) -> tuple[inventory.Scope | None, str]:
        """What this rebuild must list (inventory.follow), or None and why everything is."""
        if not follow:
            return None, "asked to"
        if self._previous is None:
            return None, self._no_previous
        if self._rewrite:  # files to write again whatever their inputs: a full listing has them
            return None, "files in OUT were missing or changed"
        if not same_renderer:
            return None, "the renderer changed"
        if self._next_change is not None and snapshot.now >= self._next_change:
            return None, "the clock changed a page"
        scope = inventory.follow(self._previous, snapshot)
        if scope is None:
            return None, (
                f"more than {inventory.FOLLOW_MAX_ARTICLES} articles changed, or articles that "
                "stay changed their order"
            )
        return scope, ""

    def _render(self, todo: list[tuple[Target, Entry | None]]) -> Iterator[Rendered]:
        site_url = self.settings.site_url
        staging = self.tree.staging
        least = KEPT_PARALLEL_MIN_URLS if self.keep_workers else PARALLEL_MIN_URLS
        if len(todo) < least or self.jobs == 1:
            for target, old in todo:
                yield render(self.app, site_url, target, old, staging)
            return
        # Small chunks for a small change, so that every worker gets a share.
        size = min(CHUNK_URLS, math.ceil(len(todo) / (2 * self.jobs)))
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        # A process pool that says when a worker died (BrokenProcessPool) rather than waiting
        # for it forever, as multiprocessing.Pool does (a kept pool lives through many builds).
        pool = self._pool or self._new_pool()
        keep = self.keep_workers
        try:
            try:
                # The first submit forks the render processes.
                with stopsignals.held_while_forking():
                    futures = [pool.submit(_render_chunk, self._builds, chunk) for chunk in chunks]
            except BrokenProcessPool:  # a kept worker died between builds: start them again
                pool.shutdown(wait=True)
                pool = self._new_pool()
                with stopsignals.held_while_forking():
                    futures = [pool.submit(_render_chunk, self._builds, chunk) for chunk in chunks]
            for future in as_completed(futures):
                yield from future.result()
        except BrokenProcessPool:
            keep = False
            raise BuildError(
                "a render process ended before its work was done (killed, or out of memory); "
                "OUT is as the last build left it"
            ) from None
        finally:
            if keep:
                self._pool = pool
            else:
                self._pool = None
                pool.shutdown(wait=True, cancel_futures=True)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.jobs,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker,
            initargs=(self.mapping, self.settings.site_url, str(self.tree.staging)),
        )

    def _redirect_headers(self) -> staticconf.RedirectHeaders:
        """The headers (but Location) of the 301s nginx answers from patterns, asked of the
        app: from an article's id to its permalink (for one article; none without one), and
        from the site's feed with a trailing slash."""
        versions = self.svc.store.versions()
        article = self._moved_headers(f"/articles/{versions[0].id}") if versions else ()
        return staticconf.RedirectHeaders(article, self._moved_headers("/feed.atom/"))

    def _moved_headers(self, url: str) -> tuple[tuple[str, str], ...]:
        status, headers, _ = request(self.app, url, self.settings.site_url)
        if status != 301:
            raise BuildError(f"{url} answered {status}; a static build expects 301")
        return tuple((k, v) for k, v in _kept_headers(headers) if k.lower() != "location")

    def _commit(
        self,
        results: list[Rendered],
        gone: list[Entry],
        report: BuildReport,
        defer_config: bool = False,
    ) -> None:
        assert self._entries is not None
        entries = self._entries
        moves: list[tuple[str, Path]] = []
        stale: list[str] = []  # files (relative to OUT) of entries changed or gone
        changed: list[Entry] = []
        for result in results:
            if result.error is not None:
                # One URL the app fails to answer never holds back the others; its files, if
                # any, stay as the last good build wrote them.
                log.error("not written: %s", result.error)
                report.failed.append(result.error)
                continue
            old = entries.get(result.entry.url)
            for name, relative in result.staged:
                moves.append((name, self.tree.path(relative)))
                report.written.append(relative)
            if old is not None:
                stale += sorted(set(old.files()) - set(result.entry.files()))
            changed.append(result.entry)
        for entry in gone:
            stale += entry.files()
        # A file a gone URL leaves may be another's now: /static/site.css?v=<new> takes over
        # static/site.css from ?v=<old> when a release changes the stylesheet. Removed after
        # the moves, it would leave the site without it.
        held = {relative for entry in changed for relative in entry.files()}
        stale = [relative for relative in stale if relative not in held]
        removals = [self.tree.path(relative) for relative in stale]
        report.removed += stale
        _check_unique_files(self._owners, changed, gone)
        updated = dict(entries)
        updated.update((entry.url, entry) for entry in changed)
        for entry in gone:
            del updated[entry.url]
        # The configuration says what each file's URL, status and headers are: only a change
        # of those (a new or removed URL, new headers) needs it written again. It is made from
        # every entry (4 s at 100,000 articles): a watching build that puts pages off writes it
        # after them too (write_deferred); a new article's page is served meanwhile with article
        # pages' headers (staticconf.ARTICLE_FILE), and only its short address (/articles/<id>)
        # waits.
        served = bool(gone) or any(_served_as(entries.get(e.url)) != _served_as(e) for e in changed)
        damaged = bool(self._rewrite) or not all(
            (self.tree.out / name).is_file() for name in staticconf.HOST_FILES
        )  # OUT was damaged: its _headers and _redirects may be too
        # Another renderer (an upgrade of feedsvc, other settings) may write it otherwise.
        owed = served or self.tree.stamp() != self.stamp or self.tree.config_owed()
        # An article page this commit removes (a headline edit changed its slug) is still an
        # address of the article: _redirects sends it on to the article's page for as long as
        # the article has one, forgotten with the configuration written after it has none.
        left = [entry.url for entry in gone if staticconf.ARTICLE_URL.fullmatch(entry.url)]
        forgotten: list[str] = []
        if damaged or (owed and not defer_config):
            known = self.tree.former_pages() | set(left)
            formers = staticconf.former_redirects(known, updated.values())
            forgotten = sorted(known - formers.keys())
            config_moves, config_written = staticconf.stage(
                self.tree,
                updated.values(),
                self.settings.site_url,
                self._redirect_headers(),
                formers,
            )
            moves += config_moves
            report.written += config_written
            report.config_changed = bool(config_moves)
            owed = False
        # A second change within a second is dated one second on (_mtime: nginx's ETag is made
        # of time and size): not shown before that second, or nginx would send a Last-Modified
        # later than its Date (RFC 9110 8.8.2.1). At most a second's wait, and only then.
        ahead = max((r.entry.mtime or 0 for r in results if r.staged), default=0) - time.time()
        if ahead > 0:
            time.sleep(ahead)
        gone_urls = [entry.url for entry in gone]
        self.tree.commit(moves, removals, changed, gone_urls, self.stamp, config_owed=owed,
                         config_changed=report.config_changed,
                         former_pages=(left, forgotten))  # fmt: skip
        self._rewrite -= {entry.url for entry in changed} | {entry.url for entry in gone}
        self._entries = updated
        # Each gone or changed entry gives up its file and its article key; changed ones take
        # their new ones.
        for old in (entries.get(e.url) for e in changed):
            if old is not None:
                self._forget(old)
        for entry in gone:
            self._forget(entry)
        for entry in changed:
            if entry.file is not None:
                self._owners[entry.file] = entry.url
            if entry.url.startswith(ARTICLES):
                self._permalinks[inventory.permalink_key(entry.inputs)] = entry.url

    def _forget(self, entry: Entry) -> None:
        if entry.file is not None and self._owners.get(entry.file) == entry.url:
            del self._owners[entry.file]
        key = inventory.permalink_key(entry.inputs)
        if entry.url.startswith(ARTICLES) and self._permalinks.get(key) == entry.url:
            del self._permalinks[key]


def _served_as(entry: Entry | None) -> tuple | None:
    return None if entry is None else (entry.status, entry.file, entry.encodings, entry.headers)


def _check_unique_files(owners: Mapping[str, str], changed: list[Entry], gone: list[Entry]) -> None:
    """Raise BuildError, naming both URLs, when two would be written to one file once the
    ``changed`` entries replace theirs and the ``gone`` ones are removed; ``owners`` maps each
    file in OUT to its URL. Only the changed entries' files are looked at: a one-document
    rebuild at 100,000 articles does not walk 200,000 entries."""
    claimed: dict[str, str] = {}
    for entry in changed:
        if entry.file is None:
            continue
        if entry.file in claimed:
            raise BuildError(f"{claimed[entry.file]} and {entry.url} would share {entry.file}")
        claimed[entry.file] = entry.url
    leaving = {entry.url for entry in changed} | {entry.url for entry in gone}
    for file, url in claimed.items():
        other = owners.get(file)
        if other is not None and other != url and other not in leaving:
            raise BuildError(f"{other} and {url} would share {file}")
