"""The output folder of a static build: changed files staged, then committed all at once.

Beside ``OUT`` lives its state folder, ``OUT.feedsvc/`` (never published): the manifest (what
each URL was built from and into, ``manifest.sqlite3``, and the article page addresses a build
published that are no longer their article's, ``former_pages``), the staging folder, and the
generated server configuration (staticconf.py).

Why per-file renames and not a symlink swapped to a new tree: a new tree needs every unchanged
file hard-linked into it, one system call per file (and two directories per article), which at
100,000 articles is seconds of work for a one-document change. Here a build writes only the
files whose bytes changed, into the staging folder, and then commits them:

1. *Commit point*: one SQLite transaction records every rename, every removal and the new
   manifest rows. Killed before it, the build leaves OUT exactly as it was (the staged files
   are thrown away by the next build).
2. *Apply*: each staged file is renamed over its place in OUT (a reader sees the old file or the
   new one, never a part), then removed files are unlinked, then the manifest rows are applied
   and the journal cleared in one transaction. Killed during this (a few milliseconds for a
   one-document change), the next build or ``recover()`` finishes it before anything else: every
   step can be repeated.

Unchanged files are never touched, so their modification times, and the ETag and Last-Modified
that nginx and CDNs derive from them, stay.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from . import stopsignals

log = logging.getLogger(__name__)

STATE_SUFFIX = ".feedsvc"
MANIFEST_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    url TEXT PRIMARY KEY,
    inputs TEXT NOT NULL,
    status INTEGER NOT NULL,
    file TEXT,
    digest TEXT,
    mtime INTEGER,
    encodings TEXT NOT NULL,
    headers TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS former_pages (url TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal_moves (source TEXT NOT NULL, target TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal_removals (target TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal_entries (
    url TEXT PRIMARY KEY, inputs TEXT, status INTEGER, file TEXT, digest TEXT, mtime INTEGER,
    encodings TEXT, headers TEXT, gone INTEGER NOT NULL
) WITHOUT ROWID;
"""


class Entry(NamedTuple):
    """One URL of the built site, as the manifest remembers it."""

    url: str
    inputs: str  # see inventory.Target (valid for the manifest's renderer stamp)
    status: int  # 200 for a file, 3xx for a redirect, 404 for the not-found page
    file: str | None  # the file's path relative to OUT (None for redirects)
    digest: str | None  # of the body, to tell a re-render that changed nothing
    mtime: int | None  # whole seconds: the files' modification time, so Last-Modified
    encodings: str  # the pre-compressed siblings written: "", "gz" or "gz br"
    headers: tuple[tuple[str, str], ...]  # what the server must send that a file cannot say

    def files(self) -> list[str]:
        """The file and its pre-compressed siblings, relative to OUT."""
        if self.file is None:
            return []
        return [self.file, *(f"{self.file}.{ext}" for ext in self.encodings.split())]


class BuildFolderError(RuntimeError):
    """OUT cannot be used as a build folder (message says why and what to do)."""


def _holds_visible_files(folder: Path) -> bool:
    """Whether ``folder`` exists and holds an entry whose name does not start with a dot."""
    try:
        with os.scandir(folder) as entries:
            return any(not entry.name.startswith(".") for entry in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False


class OutTree:
    def __init__(self, out: Path):
        self.out = out.absolute()
        self.state = self.out.parent / (self.out.name + STATE_SUFFIX)
        self.staging = self.state / "staging"
        if not self.state.exists() and _holds_visible_files(self.out):
            # Not a folder a build wrote (no OUT.feedsvc beside it): $HOME, a project, a web
            # root whose index.html the site's would replace. Hidden entries (.git, .nojekyll)
            # are left alone by every build, so a checkout of a Pages branch is fine.
            raise BuildFolderError(
                f"{self.out} already holds files, and no {self.state.name} beside it says "
                "that `feedsvc build` wrote them; build into a new or empty folder"
            )
        for folder in (self.out, self.state, self.staging):
            folder.mkdir(parents=True, exist_ok=True)
        if os.stat(self.out).st_dev != os.stat(self.state).st_dev:
            raise BuildFolderError(
                f"{self.out} and {self.state} are on different file systems: a file cannot be "
                "renamed from one to the other; build into a folder that is not a mount point"
            )
        # One build at a time per OUT: a second one would stage into, and clear, the same folder.
        self._lock = open(self.state / "lock", "a")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise BuildFolderError(
                f"another `feedsvc build` is writing {self.out} (a --watch perhaps); stop it first"
            ) from None
        # A stop arrived during the last commit, which was applied first (``commit``).
        self.stopped_in_commit = False
        self._db = sqlite3.connect(self.state / "manifest.sqlite3", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(MANIFEST_SCHEMA)

    def close(self) -> None:
        """Drop what was staged and never committed (a stopped build's, up to gigabytes for a
        first build at 100,000 articles), unless a commit left half applied needs it
        (``recover``), and let another build have OUT. Call once the build's render processes
        have ended: they write into the staging folder."""
        try:
            if not self._pending():
                self._clear_staging()
        finally:
            self._db.close()
            self._lock.close()

    # -- reading -----------------------------------------------------------------------------

    def entries(self) -> dict[str, Entry]:
        cursor = self._db.execute(
            "SELECT url, inputs, status, file, digest, mtime, encodings, headers FROM entries"
        )
        # Most files share their headers: each distinct JSON text is decoded once.
        decoded: dict[str, tuple[tuple[str, str], ...]] = {}
        found = {}
        for url, inputs, status, file, digest, mtime, encodings, text in cursor:
            headers = decoded.get(text)
            if headers is None:
                headers = decoded[text] = tuple((k, v) for k, v in json.loads(text))
            found[url] = Entry(url, inputs, status, file, digest, mtime, encodings, headers)
        return found

    def not_in_place(self, entries: Iterable[Entry]) -> set[str]:
        """The URLs of ``entries`` whose files are not in OUT as a build left them (each one
        there, a regular file with its recorded time): a file deleted, replaced or edited
        since, or all of OUT removed. One stat() per file."""
        return {
            entry.url
            for entry in entries
            if not all(self._in_place(name, entry.mtime) for name in entry.files())
        }

    def _in_place(self, relative: str, mtime: int | None) -> bool:
        try:
            info = os.lstat(self.out / relative)
        except OSError:
            return False
        return stat.S_ISREG(info.st_mode) and int(info.st_mtime) == mtime

    def stamp(self) -> str | None:
        """The renderer stamp (build.renderer_stamp) the entries were built with."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'stamp'").fetchone()
        return row[0] if row else None

    def former_pages(self) -> set[str]:
        """The URLs of article pages earlier builds published and removed since (a headline
        edit changed the slug), as ``record`` was told of them."""
        return {url for (url,) in self._db.execute("SELECT url FROM former_pages")}

    def unpublished(self) -> str:
        """What changed in OUT since a hook last published it (the manifest says so across
        runs): "" nothing, "files", or "config" when the server configuration changed too."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'unpublished'").fetchone()
        return row[0] if row else ""

    def published(self) -> None:
        """A hook published OUT as it is."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('unpublished', '')")

    def config_owed(self) -> bool:
        """Whether the last commit left the server configuration behind its entries (a
        watching build writes it after the pages: build.Builder.write_deferred)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        return row is not None and row[0] == "owed"

    def path(self, relative: str) -> Path:
        return self.out / relative

    # -- writing -----------------------------------------------------------------------------

    def recover(self) -> bool:
        """Finish a commit that a killed build left half applied, and drop staged files that
        were never committed. True when a commit was finished."""
        pending = self._pending()
        if pending:
            self._apply()
        self._clear_staging()
        return pending

    def _clear_staging(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True, exist_ok=True)

    def _pending(self) -> bool:
        """Whether a commit was recorded and not yet applied in full."""
        return bool(
            self._db.execute(
                "SELECT (SELECT count(*) FROM journal_entries) + (SELECT count(*) FROM "
                "journal_meta) + (SELECT count(*) FROM journal_moves)"
            ).fetchone()[0]
        )

    def commit(
        self,
        moves: Iterable[tuple[str, Path]],
        removals: Iterable[Path],
        changed: Iterable[Entry],
        gone: Iterable[str],
        stamp: str,
        config_owed: bool = False,
        config_changed: bool = False,
        former_pages: tuple[Iterable[str], Iterable[str]] = ((), ()),
    ) -> None:
        """Put staged files in place, remove ``removals``, record ``changed`` entries and forget
        the ``gone`` URLs, and record ``stamp``, ``config_owed`` (``config_owed()``) and, when
        files move, that OUT is to be published again (``unpublished()``; ``config_changed``:
        some of them are the server configuration), and the (added, forgotten) URLs of
        ``former_pages()``, all or nothing (see the module docstring).

        ``moves`` are (name in the staging folder, absolute target path).

        A Ctrl-C or SIGTERM that arrives meanwhile is acted on once the commit is applied
        (``stopped_in_commit`` then says so): stopped during the renames, which take seconds
        for a first build at 100,000 articles, it left OUT part old and part new until the
        next build."""
        moves = list(moves)
        stopped = []

        def notice() -> None:
            stopped.append(True)
            log.warning("Stopping once the %s staged files are in place, so that %s is not "
                        "left half built", f"{len(moves):,}", self.out)  # fmt: skip

        with stopsignals.deferred(notice):
            self.record(moves, removals, changed, gone, stamp, config_owed, config_changed,
                        former_pages)  # fmt: skip
            self._apply()
            self.stopped_in_commit = bool(stopped)  # (not when the commit failed)

    def record(
        self,
        moves: Iterable[tuple[str, Path]],
        removals: Iterable[Path],
        changed: Iterable[Entry],
        gone: Iterable[str],
        stamp: str,
        config_owed: bool = False,
        config_changed: bool = False,
        former_pages: tuple[Iterable[str], Iterable[str]] = ((), ()),
    ) -> None:
        """The commit point alone: from here on the change happens, if not now then at the
        next ``recover()`` (what a build killed right after it leaves)."""
        moves, removals = list(moves), list(removals)
        unpublished = self.unpublished()
        if moves or removals:
            unpublished = "config" if config_changed or unpublished == "config" else "files"
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO journal_moves VALUES (?, ?)",
                ((source, str(target)) for source, target in moves),
            )
            db.executemany(
                "INSERT INTO journal_removals VALUES (?)", ((str(path),) for path in removals)
            )
            db.executemany(
                "INSERT OR REPLACE INTO journal_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (_row(entry) for entry in changed),
            )
            db.executemany(
                "INSERT OR REPLACE INTO journal_entries (url, gone) VALUES (?, 1)",
                ((url,) for url in gone),
            )
            db.execute("INSERT OR REPLACE INTO journal_meta VALUES ('stamp', ?)", (stamp,))
            config = "owed" if config_owed else "written"
            db.execute("INSERT OR REPLACE INTO journal_meta VALUES ('config', ?)", (config,))
            db.execute(
                "INSERT OR REPLACE INTO journal_meta VALUES ('unpublished', ?)", (unpublished,)
            )
            # Not journalled: only the configuration reads them, and it is staged with them.
            added, forgotten = former_pages
            db.executemany("INSERT OR IGNORE INTO former_pages VALUES (?)", ((u,) for u in added))
            db.executemany("DELETE FROM former_pages WHERE url = ?", ((u,) for u in forgotten))
            db.execute("COMMIT")  # the commit point
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _apply(self) -> None:
        db = self._db
        made: set[str] = set()
        # Strings, not Path objects: a first build moves three files a URL.
        staging = str(self.staging)
        for source, target in db.execute("SELECT source, target FROM journal_moves").fetchall():
            staged = os.path.join(staging, source)
            if not os.path.exists(staged):
                continue  # renamed before a kill
            parent = os.path.dirname(target)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            os.replace(staged, target)
        emptied: set[Path] = set()
        for (target,) in db.execute("SELECT target FROM journal_removals").fetchall():
            Path(target).unlink(missing_ok=True)
            emptied.add(Path(target).parent)
        self._remove_empty_folders(emptied)
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "DELETE FROM entries WHERE url IN (SELECT url FROM journal_entries WHERE gone = 1)"
        )
        db.execute(
            "INSERT OR REPLACE INTO entries SELECT url, inputs, status, file, digest, mtime, "
            "encodings, headers FROM journal_entries WHERE gone = 0"
        )
        db.execute("INSERT OR REPLACE INTO meta SELECT key, value FROM journal_meta")
        db.execute("DELETE FROM journal_meta")
        db.execute("DELETE FROM journal_entries")
        db.execute("DELETE FROM journal_moves")
        db.execute("DELETE FROM journal_removals")
        db.execute("COMMIT")

    def _remove_empty_folders(self, folders: set[Path]) -> None:
        # Deepest first, so that a folder emptied by removing its last subfolder goes too.
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            while folder != self.out and self.out in folder.parents:
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty (or already gone with a deeper pass)
                folder = folder.parent


def _row(entry: Entry) -> tuple:
    return (*entry[:7], json.dumps(entry.headers))
