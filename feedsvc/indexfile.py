"""The index on disk: one SQLite file per build, the index path a symbolic link to the current one.

The index is a disposable cache of the documents and must be one in fact: deleted, truncated or
damaged, while serving or while stopped, it is rebuilt from the documents while every process
goes on serving a whole site. Rebuilding in place would show readers a half-built index, and
replacing the file by a rename is not safe with SQLite's WAL: the ``-wal`` and ``-shm`` files are
found by the database's *name*, so a process still reading the old file and one opening the new
one would share them, and the last connection to the old file to close deletes them by name
(https://www.sqlite.org/howtocorrupt.html, 2.4 and 6). So each build is a file of its own,
``<index>.<16 hex digits>``, with its own ``-wal`` and ``-shm``, and the index path is a
symbolic link to the complete one (``sqlite3 <index>`` still opens it):

- a new build is made aside, ``<index>.next`` linking to it meanwhile (so that an interrupted
  build, a first index killed at 90 %, is resumed rather than started again);
- it is put in place by replacing the link, atomically (rename(2));
- processes reading the old build keep their connections to it until they see the new
  generation (store.py), then move; its files are then removed, and a process that still has
  them open keeps reading them until it moves.

A regular file at the index path is an index made before builds had files of their own: it is
used while it is a good index of this version, and replaced by a link to a new build otherwise,
if it is an index at all. A file that is not one (a setting pointing at the wrong file) is never
touched, and neither is a link to a file not named as a build.

Lock files beside the index (``.lock`` for writers, ``.watch`` for the watcher's leader) are
checked after locking to still be the file at their path, so that deleting them (``rm
index.sqlite3*``) cannot let two processes hold "the" lock at once.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO
from urllib.parse import quote

# How long a connection waits for another one's lock before giving up. Writers take turns on a
# lock file first, and WAL readers never wait for a writer, so this is only reached when the
# file is not what it should be: a request thread must not hang on it for long.
BUSY_TIMEOUT_SECONDS = 5
# What SQLite keeps beside a database file, by suffix.
COMPANIONS = ("-wal", "-shm", "-journal")


class IndexUnavailable(Exception):
    """The index cannot be read just now (being rebuilt, damaged, on a failing disk): a
    request should be answered "try again soon", and the reason is said once in the log."""


class ForeignIndex(Exception):
    """The index path holds something feedsvc did not make: it is never overwritten."""


class IndexFiles:
    """The index path, its builds and its lock files (see the module doc)."""

    def __init__(self, path: Path):
        self.path = path
        self.folder = path.parent
        self.next_link = path.with_name(f"{path.name}.next")
        self._build_name = re.compile(re.escape(path.name) + r"\.[0-9a-f]{16}")

    def current(self) -> Path | None:
        """The build the index path leads to; None when there is none (never built, or deleted).
        The index path itself when it is a regular file (an index made by an older version)."""
        try:
            target = os.readlink(self.path)
        except FileNotFoundError:
            return None
        except OSError:  # not a link: a regular file, or something a setting check refused
            return self.path if self.path.is_file() else None
        if not self._build_name.fullmatch(target):
            raise ForeignIndex(f"{self.path} links to {target}, which feedsvc did not make")
        build = self.folder / target
        return build if build.exists() else None

    def is_build(self, path: Path) -> bool:
        """Whether ``path`` is a build file of this index (a file feedsvc made and may delete)."""
        return path.parent == self.folder and bool(self._build_name.fullmatch(path.name))

    def unfinished(self) -> Path | None:
        """The build an interrupted rebuild left, to be continued; None when there is none."""
        try:
            target = os.readlink(self.next_link)
        except OSError:
            return None
        build = self.folder / target
        return build if self._build_name.fullmatch(target) and build.exists() else None

    def new_build(self) -> Path:
        """A name for a new build, which ``<index>.next`` now leads to."""
        build = self.folder / f"{self.path.name}.{time.time_ns():016x}"
        self._link(self.next_link, build)
        return build

    def adopt(self, index: Path) -> Path:
        """Make ``index``, a finished SQLite index file in this folder that no connection has
        open (another IndexFiles' build: a renewal's), a build of this index: renamed to a new
        build's name, with what SQLite keeps beside it. Returns the new name; ``put_in_place``
        makes it the index."""
        build = self.folder / f"{self.path.name}.{time.time_ns():016x}"
        os.replace(index, build)
        for suffix in COMPANIONS:  # none, normally: the last connection's close removes them
            with suppress(FileNotFoundError):
                os.replace(f"{index}{suffix}", f"{build}{suffix}")
        return build

    def put_in_place(self, build: Path) -> Path | None:
        """Make ``build`` the index, atomically; returns the build it replaces (None if none)."""
        try:
            previous = self.current()
        except ForeignIndex:
            previous = None
        self._link(self.path, build)
        if self.next_link.is_symlink() and os.readlink(self.next_link) == build.name:
            self.next_link.unlink()
        return previous if previous != build else None

    def remove(self, build: Path) -> None:
        """Delete a build that is no longer the index, with what SQLite keeps beside it. A
        process still reading it keeps its open files until it moves to the current one."""
        if self.is_build(build):
            build.unlink(missing_ok=True)
        elif build != self.path:  # an older version's index file is replaced by the link
            return
        for suffix in COMPANIONS:
            Path(f"{build}{suffix}").unlink(missing_ok=True)

    def remove_leftovers(self) -> None:
        """Delete builds that are neither the index nor being made (what a deleted link or an
        abandoned build left behind)."""
        keep = {self.current(), self.unfinished()}
        for entry in os.scandir(self.folder):
            path = self.folder / entry.name
            if self.is_build(path) and path not in keep:
                self.remove(path)

    def _link(self, link: Path, build: Path) -> None:
        temporary = link.with_name(f"{link.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        os.symlink(build.name, temporary)  # relative: the folder can be moved as a whole
        os.replace(temporary, link)


class Damaged(sqlite3.DatabaseError):
    """The file is not the index it was made as."""

    sqlite_errorcode = sqlite3.SQLITE_CORRUPT
    sqlite_errorname = "SQLITE_CORRUPT"


def connect(database: Path, *, create: bool = False) -> sqlite3.Connection:
    """A connection to one build, never creating it unless ``create`` (a reader that finds no
    file must not leave an empty index behind). Usable from any thread, one at a time. Raises
    sqlite3.Error, Damaged when the file is not in WAL mode as every build is made: asking a
    truncated file to switch would wait for every reader's lock."""
    uri = f"file:{quote(str(database))}?mode={'rwc' if create else 'rw'}"
    conn = sqlite3.connect(
        uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    try:
        if create:
            conn.execute("PRAGMA journal_mode=WAL")
        else:
            (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
            if mode != "wal":
                raise Damaged(f"the file is in {mode} journal mode, not WAL: truncated or replaced")
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


# -- what went wrong -------------------------------------------------------------------------

DAMAGED = "damaged"
FULL = "full"
READ_ONLY = "read-only"
OTHER = "other"
_OS_KINDS = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EROFS: READ_ONLY,
             errno.EACCES: READ_ONLY, errno.EPERM: READ_ONLY}  # fmt: skip


def kind_of(exc: BaseException) -> str:
    """DAMAGED, FULL, READ_ONLY or OTHER, from an sqlite3 error or an OSError."""
    if isinstance(exc, OSError):
        return _OS_KINDS.get(exc.errno or 0, OTHER)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return DAMAGED
    # Every table and column feedsvc reads is created with the index: one that is missing
    # means the file was truncated or replaced under it.
    if primary == sqlite3.SQLITE_ERROR and str(exc).startswith(("no such table", "no such column")):
        return DAMAGED
    if primary == sqlite3.SQLITE_FULL:
        return FULL
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return READ_ONLY
    return OTHER


def explain(exc: BaseException) -> str:
    """What went wrong, in words an operator acts on: "the disk is full", "damaged (...)",
    "not writable (...)", or the error's own words."""
    kind = kind_of(exc)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    # Without file names: a condition retried is said again only when it changes (conditions.py),
    # and the same full disk fails on one file, then on another.
    if kind == FULL:
        return "the disk is full"
    if kind == READ_ONLY:
        return f"not writable ({reason})"
    if kind == DAMAGED:
        return f"damaged ({reason})"
    return reason


# -- lock files ------------------------------------------------------------------------------


def try_lock(path: Path, *, wait: bool) -> IO[str] | None:
    """The open lock file at ``path``, locked exclusively (released when closed); None if
    another process holds it and not ``wait``. Raises OSError when it cannot be opened.

    Its folder, the index's, is made if missing: removed while serving (`rm -rf .feedsvc`),
    nothing else would make it again, and no process could lead and rebuild the index. Not the
    folders above it: a volume not mounted is not written beneath."""
    while True:
        with suppress(FileExistsError):
            path.parent.mkdir()
        lock_file = open(path, "a")  # noqa: SIM115 - held by the caller
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            lock_file.close()
            return None
        except BaseException:
            lock_file.close()
            raise
        if holds(lock_file, path):
            return lock_file
        lock_file.close()  # deleted or replaced while we waited: lock the file there now


def holds(lock_file: IO[str], path: Path) -> bool:
    """Whether ``lock_file`` is still the file at ``path`` (not deleted or replaced)."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(lock_file.fileno())
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock file at ``path`` exclusively for the block (one writer across processes)."""
    lock_file = try_lock(path, wait=True)
    assert lock_file is not None  # waited for it
    try:
        yield
    finally:
        lock_file.close()


# -- a clean stop ----------------------------------------------------------------------------
#
# At start, `feedsvc serve` checks the whole index file (PRAGMA quick_check), so that one
# damaged while the service was stopped is rebuilt before anything is served from it. That
# reads all of it: 25 s for a 4.9 GB index of a million documents. It is skipped when the
# build is exactly as feedsvc left it at a clean stop: the process that stopped last records
# then, beside the index (``<index>.clean``), which build it was and the identity of its file
# and ``-wal`` file: device, inode, size, modification and change times. Every write to a file
# moves its change time (st_ctime), which no user can set back (utime sets it to now), so a
# file written, truncated, replaced or re-dated since does not match. Every writer deletes the
# record when it takes the write lock, so the record never outlives a session that wrote; a
# crash (kill -9) leaves none, nor does a stop that found another process still reading.
#
# So taking the record tells three things apart (take_clean_stop): CLEAN, the index as the
# last clean stop left it; TOUCHED, a record the index no longer matches, so something wrote it
# while feedsvc was stopped: checked before serving; UNRECORDED, no record: the last feedsvc
# process to write it crashed, or stopped while another one read. A crash does not damage an
# SQLite database (its journal makes every commit whole or absent, in WAL mode too:
# https://www.sqlite.org/atomiccommit.html, https://www.sqlite.org/howtocorrupt.html), so that
# check is owed only against a disk that lies, and is made while serving (indexcheck.py).
CLEAN = "clean"
TOUCHED = "touched"
UNRECORDED = "unrecorded"

CLEAN_STOP_VERSION = 1
# File times tick with the kernel's clock (a few ms): a write in the same tick as the record
# could keep every time it recorded. The record is trusted only when it is newer than both
# files' change times; written in the same tick, it is written again a little later.
_RACY_RETRY_SECONDS = 0.01
_RACY_RETRIES = 50


def _identity(path: Path) -> list[int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return [found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns]


def _record(build: Path, schema: str) -> dict[str, object]:
    return {
        "version": CLEAN_STOP_VERSION,
        "schema": schema,
        "build": build.name,
        "file": _identity(build),
        "wal": _identity(Path(f"{build}-wal")),
    }


def _newer_than_files(mark: Path, record: dict[str, object]) -> bool:
    written = os.stat(mark).st_mtime_ns
    identities = [record["file"], record["wal"]]
    return all(i is None or written > i[4] for i in identities)  # type: ignore[index]


def mark_clean_stop(files: IndexFiles, schema: str) -> bool:
    """Record that the current build is as feedsvc leaves it at a clean stop, for the next
    start to skip the whole-file check (see above). Call with the write lock held, once no
    process of this service reads the index any more. Writes what a reader's connection left
    in the ``-wal`` file into the build first. Whether it recorded: not when there is no build,
    or another process is still reading it. Raises OSError, sqlite3.Error."""
    build = files.current()
    if build is None or not files.is_build(build):
        return False
    conn = connect(build)
    try:
        # PASSIVE: never waits for readers (`feedsvc index` ending while a server reads). What
        # is left in the -wal would be written into the build by whichever connection closes
        # last, after the record: only a -wal written whole into the build is recorded. (When
        # this connection is the last, closing it removes the -wal.)
        (busy, frames, written) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()
    if busy or frames != written:
        return False
    mark = clean_stop_mark(files)
    temporary = mark.with_name(f"{mark.name}.{os.getpid()}.tmp")
    for _ in range(_RACY_RETRIES):
        record = _record(build, schema)
        temporary.write_text(json.dumps(record))
        os.replace(temporary, mark)
        if _newer_than_files(mark, record):
            return True
        time.sleep(_RACY_RETRY_SECONDS)
    mark.unlink(missing_ok=True)
    return False


def take_clean_stop(files: IndexFiles, schema: str) -> str:
    """Delete the record of a clean stop (call with the write lock held: whoever takes it may
    write), and say what it told (see above): CLEAN when the current build and its ``-wal``
    are still what it recorded; UNRECORDED when there was none; TOUCHED at any other doubt (an
    unreadable record, one of another version or build, a file written since)."""
    mark = clean_stop_mark(files)
    recorded = None
    try:
        recorded = json.loads(mark.read_text())
        trusted = _newer_than_files(mark, recorded)
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        trusted = False
    try:
        mark.unlink()
    except FileNotFoundError:
        return UNRECORDED
    if not trusted:
        return TOUCHED
    try:
        build = files.current()
    except ForeignIndex:
        return TOUCHED
    return CLEAN if build is not None and recorded == _record(build, schema) else TOUCHED


def clean_stop_mark(files: IndexFiles) -> Path:
    """Where the record of a clean stop is kept: ``<index>.clean``."""
    return files.path.with_name(f"{files.path.name}.clean")
