"""The article store: a SQLite index of the seeds folder, kept in step with it incrementally.

The documents are the source of truth; the index is a cache that can be deleted at any time, and
is rebuilt when it is missing, damaged or of another version, aside, while readers go on with the
one they have (indexfile.py). One process at a time writes (a lock file), a refresh commits in
batches of BATCH_DOCUMENTS (so an interrupted first index keeps what it did), and readers use WAL
snapshots, so several worker processes can read while one re-indexes and never see a half-done
batch. ``generation`` counts committed changes. After each commit the writer replaces a small
file beside the index (``<index>.generation``), so any process learns of a change with one
``stat()`` (see ``version``), whoever wrote it: a serving worker's watcher or ``feedsvc index``.
A reader that cannot read the index (damaged, a failing disk) raises IndexUnavailable, says so
once in the log, and has the index checked and rebuilt if it is damaged.

An article dated in the future is indexed but held back (an embargo): every read sees only what is
published at the moment of reading, and ``version`` changes at each release, so caches drop what
they rendered before it. What the store dates, and how, is lastmod.py's rule.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import math
import os
import re
import sqlite3
import threading
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from . import changes, indexfile, lastmod, rows, seedfiles
from .conditions import Conditions
from .config import Config
from .document import PARSER_VERSION, Article, ParseOptions
from .indexfile import ForeignIndex, IndexFiles, IndexUnavailable
from .indexing import Filed, Loaded, load_documents

log = logging.getLogger(__name__)

# Up to this many files, a refresh reads only the index rows they can touch.
SMALL_REFRESH = 200
# A full scan compares this many files at a time with the index.
SCAN_BATCH = 2000
# The page cache of a large refresh (a first index, a folder of new documents).
BULK_CACHE_KIB = 64 * 1024
# A refresh commits after this many documents, so that an interrupted one (a first index killed
# at 90 %) keeps what it did and the next one goes on from there. Each commit that changes what
# readers see is a generation of its own: no cache or archive plan outlives it.
BATCH_DOCUMENTS = 500
# A published document found unreadable or unparseable may be being written (an editor
# truncates, then writes): the index keeps its article, and it is looked at again after this
# long; still the same and still bad, it is withdrawn. (The write that completes it is read as
# any change is, when it is reported: this delays only a withdrawal.)
EDIT_SETTLE_SECONDS = 1.0
# The files table's retry column: a skipped file read again whenever something else changed (a
# duplicate: its original may go), or on every full scan too (unreadable: a chmod changes
# neither its size nor its time).
RETRY_AFTER_CHANGES = 1
RETRY_ON_RESCAN = 2
# Idle connections a process keeps for renders (admission.py lets only a few run at once).
IDLE_CONNECTIONS = 4
# After the index could not be read, how long requests go on without trying again.
READ_RETRY_SECONDS = 1.0
# A process that finds the index damaged has it checked at most this often.
REPAIR_INTERVAL_SECONDS = 10.0
MISSING = "is missing"
OTHER_VERSION = "was made by another version of feedsvc"
# The settings a document's parse depends on (document.ParseOptions): an index made under other
# values holds other times, which no change of a file would ever correct.
OTHER_SETTINGS = "was made with other date settings (FEEDSVC_TIMEZONE, FEEDSVC_DATE_ORDER)"
# Likewise for an index made by an earlier document parser (document.PARSER_VERSION): an upgrade
# that reads some documents better must reach the documents indexed before it.
OTHER_PARSER = "was made by an earlier version of the document parser"
# Indexes built again by refresh (aside, while the old one is served), as an expected step.
RENEWED = (OTHER_VERSION, OTHER_SETTINGS, OTHER_PARSER)


def renewal_path(index_path: Path) -> Path:
    """Where Store.renew builds the index again beside ``index_path``: an index of its own, with
    its own builds and lock, none of whose files the index's own rules take for theirs."""
    return index_path.with_name(f"{index_path.name}.renewal")


# 6: authors, dateline and zone_label; slugs in every script (python-slugify).
# 7: agency and city in the full-text index, which folds accents (remove_diacritics 2).
# 8: an entry's time from its file, the folder's time; indexes for the content time.
# 9: covering indexes for the static build's Store.versions() and the facet lists.
# 10: articles per day, per channel (day_counts), kept by triggers.
SCHEMA_VERSION = "10"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    name TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    article_id TEXT,
    problem TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    retry INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    file_name TEXT NOT NULL,
    seq INTEGER,
    headline TEXT NOT NULL,
    published TEXT NOT NULL,
    published_ts REAL NOT NULL,
    has_time INTEGER NOT NULL,
    updated_ts REAL NOT NULL,
    city TEXT,
    city_slug TEXT,
    agency TEXT,
    agency_slug TEXT,
    summary TEXT NOT NULL,
    paragraphs TEXT NOT NULL,
    removed TEXT NOT NULL,
    warnings TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    authors TEXT NOT NULL,  -- JSON list of names
    dateline TEXT,
    zone_label TEXT
);
-- The trailing columns make these covering indexes for Store.versions() and the facet lists:
-- a static build reads every article's version on each change, and at 100,000 articles that
-- took 0.5 s through the table (whose rows hold the text) against 0.14 s from the index alone.
CREATE INDEX IF NOT EXISTS articles_newest ON articles (
    published_ts DESC, seq DESC, id DESC, updated_ts, content_hash, agency_slug, city_slug, headline
);
CREATE INDEX IF NOT EXISTS articles_agency
    ON articles (agency_slug, published_ts DESC, seq DESC, id DESC, agency);
CREATE INDEX IF NOT EXISTS articles_city
    ON articles (city_slug, published_ts DESC, seq DESC, id DESC, city);
CREATE INDEX IF NOT EXISTS articles_hash ON articles (content_hash);
CREATE INDEX IF NOT EXISTS articles_file ON articles (file_name);
-- The content time (newest file) and the next file dated in the future; articles changed after
-- a moment (RFC 5005 4.1: edited archived entries go back into the subscription feed).
CREATE INDEX IF NOT EXISTS files_mtime ON files (mtime_ns);
CREATE INDEX IF NOT EXISTS articles_updated ON articles (updated_ts);
-- The same per agency and per city: without them, an agency's subscription feed read every
-- article of the agency changed after the moment (at a million documents all copied at once,
-- 250,000 rows and 14 s for one feed).
CREATE INDEX IF NOT EXISTS articles_agency_updated
    ON articles (agency_slug, updated_ts DESC, id DESC);
CREATE INDEX IF NOT EXISTS articles_city_updated ON articles (city_slug, updated_ts DESC, id DESC);
-- Search needs matching rows, not phrases or ranking (results are newest first), and
-- detail=none with columnsize=0 builds the index about twice as fast. The text is indexed
-- from the articles table itself (external content, paragraphs one per line), and the index
-- keeps no second copy of every article. People type without capitals or accents: unicode61
-- folds case, and remove_diacritics 2 folds every accent ("zurich" finds "ZÜRICH").
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5 (
    headline, paragraphs, agency, city, content=articles, content_rowid=rowid, detail=none,
    columnsize=0, tokenize='unicode61 remove_diacritics 2'
);
-- How many articles each channel holds per UTC day of publication: the site (kind 'site',
-- slug and name ''), each agency and each city (by slug, and by the name as written, so that
-- the most common spelling can name the group). Counts, facet lists and archive plans read
-- these few thousand rows instead of every article: at a million articles, counting an agency's
-- articles or listing the cities read the whole table, seconds for every page. Articles are
-- only ever inserted and deleted (a change is both), and the triggers keep the counts.
CREATE TABLE IF NOT EXISTS day_counts (
    kind TEXT NOT NULL,
    slug TEXT NOT NULL,
    day INTEGER NOT NULL,
    name TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, slug, day, name)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS articles_counted AFTER INSERT ON articles BEGIN
    INSERT INTO day_counts
        SELECT column1, column2, CAST(NEW.published_ts / 86400 AS INTEGER), column3, 1
        FROM (VALUES ('site', '', ''), ('agency', NEW.agency_slug, coalesce(NEW.agency, '')),
                     ('city', NEW.city_slug, coalesce(NEW.city, '')))
        WHERE column1 = 'site' OR column2 != ''
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS articles_uncounted AFTER DELETE ON articles BEGIN
    UPDATE day_counts SET n = n - 1
        WHERE day = CAST(OLD.published_ts / 86400 AS INTEGER) AND (
            (kind = 'site' AND slug = '' AND name = '')
            OR (kind = 'agency' AND slug = OLD.agency_slug AND name = coalesce(OLD.agency, ''))
            OR (kind = 'city' AND slug = OLD.city_slug AND name = coalesce(OLD.city, '')));
    DELETE FROM day_counts WHERE n <= 0 AND day = CAST(OLD.published_ts / 86400 AS INTEGER);
END;
"""
# Indexes added to this SCHEMA_VERSION after it was released. They change no row, so an index
# that lacks one is not rebuilt (13-14 min at a million documents, and every start before
# serving): the next start adds it in place (Store.verify), a read of one table. New builds
# have them from SCHEMA.
ADDED_INDEXES = {
    # Store.problems(), summarised at every start: without it, a read of the whole `files`
    # table (0.07-0.16 s at a million files) before the first worker starts.
    "files_problem": "CREATE INDEX IF NOT EXISTS files_problem ON files (name, problem)"
    " WHERE problem IS NOT NULL",
}
SCHEMA += "".join(f"{sql};\n" for sql in ADDED_INDEXES.values())
# Store.problems(); the partial index files_problem holds exactly its rows, in its order.
PROBLEMS_SQL = "SELECT name, problem FROM files WHERE problem IS NOT NULL ORDER BY name"
NEWEST_FIRST = "ORDER BY published_ts DESC, seq DESC, id DESC"
# Store.versions(); the covering index articles_newest holds every column.
_VERSION_COLUMNS = (
    f"id, headline, content_hash, {lastmod.ENTRY_UPDATED_AT_SQL}, published_ts, agency_slug, "
    "city_slug, seq"
)
OLDEST_FIRST = "ORDER BY published_ts ASC, seq ASC, id ASC"
MAX_SEARCH_TERMS = 8
SECONDS_PER_DAY = 86_400
# Beyond this OFFSET, reads skip whole days by their counts first (Store._seek).
SEEK_FROM = 1000
# The commits a store remembers the changed articles of (Store.versions_changed_since), and
# the most changed articles it answers with: past that, reading every version is as cheap.
CHANGE_LOG_COMMITS = 64
CHANGE_LOG_MAX_IDS = 1000


@dataclass(frozen=True)
class Problem:
    file_name: str
    reason: str


@dataclass
class Report:
    """What one refresh did."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    unchanged: int = 0
    # (agency slug, city slug) of old and new versions, for notifiers: the feeds they alter.
    touched: list[tuple[str | None, str | None]] = field(default_factory=list)
    # The seeds folder's own modification time moved (a file added, removed or renamed, hidden
    # ones included): the content time moved even when no article did.
    folder_changed: bool = False
    # The content time's facts moved (lastmod.py): the folder's time, or a file's, even one
    # that is no article (a note, a broken document): every response is made again, so that
    # every URL, worker and node sends the same Last-Modified (a trial's touched notes.md
    # moved it for the URLs rendered after, not for those cached).
    times_changed: bool = False
    # Article id -> file name, for every id added or changed, and for every id removed (its
    # last file name: a renamed document is removed under its old name, added under its new).
    names: dict[str, str] = field(default_factory=dict)
    removed_names: dict[str, str] = field(default_factory=dict)
    # Article id -> publication time, for those added or changed that are dated in the future
    # (an embargo): published in no feed until then.
    held: dict[str, datetime] = field(default_factory=dict)
    # Published documents found unreadable or unparseable (maybe being written), by name, with
    # the (size, mtime_ns) read: the index keeps their articles; look again after
    # EDIT_SETTLE_SECONDS, passing them as ``settled``.
    unsettled: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Why the whole index was built from the folder by this refresh (None: it was updated).
    rebuilt: str | None = None

    @property
    def any_change(self) -> bool:
        """Whether any article was added, changed or removed."""
        return bool(self.added or self.changed or self.removed)

    def then(self, later: Report) -> Report:
        """This report followed by ``later``'s, for files looked at again."""
        return Report(
            added=[*self.added, *later.added],
            changed=[*self.changed, *later.changed],
            removed=[*self.removed, *later.removed],
            skipped=[*self.skipped, *later.skipped],
            unchanged=self.unchanged,
            touched=[*self.touched, *later.touched],
            folder_changed=self.folder_changed or later.folder_changed,
            times_changed=self.times_changed or later.times_changed,
            names={**self.names, **later.names},
            removed_names={**self.removed_names, **later.removed_names},
            held={**self.held, **later.held},
            unsettled=later.unsettled,
            rebuilt=self.rebuilt or later.rebuilt,
        )


@dataclass(frozen=True)
class Facet:
    """An agency or a dateline city with its article count."""

    slug: str
    name: str
    count: int


class Version(NamedTuple):
    """What decides how an article looks wherever it is shown, and where it is listed."""

    id: str
    headline: str
    content_hash: str  # of everything parsed from the document (document.content_hash)
    updated_ts: float
    published_ts: float
    agency_slug: str | None
    city_slug: str | None
    seq: int | None  # the file's sequence number: with the time and id, the listing order

    def order(self) -> tuple[float, float, str]:
        """The sort key of NEWEST_FIRST (descending): SQLite puts a NULL seq lowest."""
        return (self.published_ts, -math.inf if self.seq is None else self.seq, self.id)


class Snapshot:
    """What a ``reading()`` did: whether it read the index at all (a response made without it,
    a static file, stays valid whatever the index does)."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = False


class Store:
    def __init__(self, config: Config, *, renew: bool = True):
        """The index of ``config``'s seeds folder. With ``renew`` (commands), a refresh builds
        again an index made by an earlier document parser (OTHER_PARSER) before anything else;
        without (the service's workers), it refreshes that index in place and leaves the
        renewal to a process of its own (renewal.py), so that readers are served meanwhile."""
        self.settings = config  # for a process of its own to read documents as this one
        self.seeds_dir = config.seeds_dir
        self.index_path = config.index_path
        self.max_bytes = config.max_document_bytes
        self.parse_options = ParseOptions(timezone=config.timezone, date_order=config.date_order)
        self._parsing = json.dumps(dataclasses.asdict(self.parse_options), sort_keys=True)
        self._renews = renew
        self._files = IndexFiles(self.index_path)
        self._local = threading.local()
        # The build this process reads, and idle connections to it for renders: any request
        # thread takes one, so a thread that never read before still reads this build when
        # the index path no longer leads to it (deleted, and being rebuilt).
        self._build: Path | None = None
        self._idle: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._state_lock = threading.Lock()  # what version() saw, and its connection
        self._latest: tuple[Path, sqlite3.Connection] | None = None
        self._conditions = Conditions(log)
        # Each facet kind's list as last read, with what reads saw then (visible_state): the
        # OPML list, facet indexes and every facet feed's title ask for it again and again,
        # and it took 20-30 ms at 100,000 articles. Two entries at most.
        self._facet_lists: dict[str, tuple[tuple, list[Facet]]] = {}
        self._generation_path = f"{self.index_path}.generation"
        self._unannounced = False  # a commit the generation file does not show yet
        # (build, generation, ids of the articles changed) of this process's last commits.
        self._change_log: deque[tuple[str, int, frozenset[str]]] = deque(maxlen=CHANGE_LOG_COMMITS)
        self._log_lock = threading.Lock()
        # The build last asked to be checked, and until when (monotonic) it is not asked again;
        # the build file's identity and size as last seen (check_file).
        self._repair_asked: tuple[Path | None, float] = (None, 0.0)
        # Whether the last verify(starting=True) left the whole-file check owed (a crash).
        self.check_owed = False
        self._file_seen: tuple[Path, int, int, int, int, int] | None = None
        self._unreadable_at = 0.0  # monotonic: when a read last failed
        self.index_path.parent.mkdir(parents=True, exist_ok=True)
        # What version() last saw: the generation file's signature and the index's generation,
        # how many releases have passed, and when the next one (or another change by the clock
        # alone) is due; when the index may be read again after it could not be.
        self._signature: tuple[int, int] | None = None
        self._epoch = 0
        self._next_event = 0.0
        self._retry_at = 0.0
        self.generation = -1
        self._version: tuple[str, int, int] = ("", -1, 0)

    # -- connections -----------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection of what this thread is doing: a render's snapshot (``reading``, whose
        first read starts it), a refresh's, or else the thread's own."""
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None:
            return conn
        if getattr(local, "now", None) is not None:
            return self._start_snapshot()
        return self._own()

    def _own(self) -> sqlite3.Connection:
        """This thread's connection outside renders (the command line, the watcher)."""
        build = self._require_build()
        own = getattr(self._local, "own", None)
        if own is None or own[0] != build:
            if own is not None:
                own[1].close()
            own = self._local.own = (build, indexfile.connect(build))
        return own[1]

    def _require_build(self) -> Path:
        if self._build is None:
            with self._state_lock:
                self._follow()
        if self._build is None:
            raise IndexUnavailable(f"there is no index at {self.index_path} yet")
        return self._build

    def _follow(self) -> bool:
        """Move to the build the index path leads to, if that changed (under _state_lock);
        whether it did. With none there (deleted), go on reading the one we have: its open
        files are still whole."""
        current = self._files.current()
        if current is None or current == self._build:
            return False
        with self._pool_lock:
            idle, self._idle, self._build = self._idle, [], current
        for conn in idle:
            conn.close()
        if self._latest is not None:
            self._latest[1].close()
            self._latest = None
        return True

    def _checkout(self) -> tuple[Path, sqlite3.Connection]:
        with self._pool_lock:
            if self._build is not None and self._idle:
                return self._build, self._idle.pop()
        build = self._require_build()
        try:
            return build, indexfile.connect(build)
        except sqlite3.Error as exc:
            # Removed after a rebuild this process has not seen yet: move to the new one.
            with self._state_lock:
                if self._follow():
                    return self._checkout()
            if not build.exists():  # deleted: open connections still read it, new ones cannot
                raise self._unavailable(FileNotFoundError(errno.ENOENT, "deleted")) from exc
            raise self._unavailable(exc) from exc

    def _checkin(self, build: Path, conn: sqlite3.Connection, reusable: bool) -> None:
        with self._pool_lock:
            if reusable and build == self._build and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def _bound(self, conn: sqlite3.Connection, build: Path) -> Iterator[None]:
        """Run the block's reads and writes on ``conn`` (a refresh's connection)."""
        local = self._local
        saved = getattr(local, "conn", None), getattr(local, "build", None)
        local.conn, local.build = conn, build
        try:
            yield
        finally:
            local.conn, local.build = saved

    def close(self) -> None:
        """Close this thread's own connection (outside renders). A serving worker's request
        threads each call it after every request: there are many of them (admission.py), and a
        connection kept per thread, each with its own page cache, would grow a worker by
        megabytes a thread. Renders share the few pooled connections instead."""
        own = getattr(self._local, "own", None)
        if own is not None:
            own[1].close()
            self._local.own = None

    @contextmanager
    def _write_lock(self) -> Iterator[str]:
        """One writer at a time across processes: an exclusive lock on a file beside the index.
        Whoever holds it may write, so it takes the record of a clean stop (indexfile.py):
        yields what the record said (indexfile.CLEAN, TOUCHED or UNRECORDED)."""
        with indexfile.locked(Path(f"{self.index_path}.lock")):
            yield indexfile.take_clean_stop(self._files, SCHEMA_VERSION)

    def mark_clean_stop(self) -> bool:
        """Record that the index is as feedsvc leaves it, for the next start to skip the
        whole-file check (indexfile.py): when the service stops, once no process of it reads the
        index any more. Closes every connection this process has to the index first. Whether it
        recorded (not when another process still reads it). Raises sqlite3.Error, OSError."""
        self.release()
        with self._write_lock():
            return indexfile.mark_clean_stop(self._files, SCHEMA_VERSION)

    def release(self) -> None:
        """Close every connection this process has to the index, not only this thread's (at
        the end of a command: an open one would write the file as the process exits)."""
        self.close()
        with self._state_lock, self._pool_lock:
            idle, self._idle = self._idle, []
            latest, self._latest = self._latest, None
        for conn in idle:
            conn.close()
        if latest is not None:
            latest[1].close()

    # -- the version: what caches compare ----------------------------------------------------

    def version(self) -> tuple[str, int, int]:
        """A token that changes whenever what the store shows changes: on every commit, by any
        process, at every embargo release, and when a rebuilt index is put in place. Cheap
        enough to call on every request: one ``stat()`` of the generation file and a clock
        reading, unless something changed. Never raises: a worker that cannot read the index
        says so once and keeps the token it had (its cache goes on serving what it holds)."""
        # On the path of every cached response: kept to the stat() and two comparisons.
        try:
            info = os.stat(self._generation_path)
            # The writer replaces the file by a rename: a new inode on every commit (the old
            # one is still in use while the new one is made, so it is not handed out again).
            signature: tuple[int, int] | None = (info.st_ino, info.st_mtime_ns)
        except OSError:
            signature = None  # deleted under us: read the generation from the index each time
        if signature != self._signature or signature is None or time.time() >= self._next_event:
            with self._state_lock:
                self._reload(signature)
        return self._version

    def _reload(self, signature: tuple[int, int] | None) -> None:
        now = time.time()
        if now < self._retry_at:
            return  # it could not be read a moment ago
        try:
            moved = self._follow()
            if self._build is None:
                return  # nothing built yet
            db = self._latest_connection(self._build)
            # The generation is read after the file: the writer replaces the file after
            # committing, so the index already holds at least what the file announced.
            generation = int(self._meta("generation", db))
            if moved or generation != self.generation or now >= self._next_event:
                # Counting releases keeps the token moving even when no one commits.
                self._epoch += not moved and self.generation == generation
                self._next_event = self._read_times(db, now)[1]
                self.generation = generation
                self._version = (self._build.name, generation, self._epoch)
        except (sqlite3.Error, OSError, ForeignIndex) as exc:
            self._retry_at = now + READ_RETRY_SECONDS
            if self._latest is not None:
                self._latest[1].close()
                self._latest = None
            self._unavailable(exc)
            return
        self._signature = signature
        self._readable()

    def _latest_connection(self, build: Path) -> sqlite3.Connection:
        """version()'s connection (under _state_lock): never inside a ``reading()`` snapshot,
        so it always sees the last commit."""
        if self._latest is None or self._latest[0] != build:
            if self._latest is not None:
                self._latest[1].close()
            self._latest = (build, indexfile.connect(build))
        return self._latest[1]

    def _unavailable(self, exc: BaseException) -> IndexUnavailable:
        """Say once that this process cannot read the index, and why; ask for a check when it
        looks damaged. The exception a request answers with (503)."""
        self._unreadable_at = time.monotonic()
        if indexfile.kind_of(exc) == indexfile.DAMAGED:
            self._repair_soon()
        reason = indexfile.explain(exc)
        self._conditions.start(
            "read",
            f"cannot read the index {self.index_path} ({reason}); serving what this worker "
            "holds and answering 503 to the rest until it can",
            f"the index {self.index_path} can be read again",
        )
        return IndexUnavailable(reason)

    def _readable(self) -> None:
        """Say the index can be read again, once no read has failed for a while: some reads
        succeed while others fail (a connection already open reads a deleted file, a new one
        cannot), and the log must not flap with them."""
        if "read" in self._conditions and time.monotonic() - self._unreadable_at > 2:
            self._conditions.end("read")

    def _repair_soon(self) -> None:
        """Check the index, and rebuild it if it is damaged, in the background: any process
        may, under the write lock, and the first to get there does it. At most once per
        REPAIR_INTERVAL_SECONDS for the same build (a check that found it sound)."""
        now, build = time.monotonic(), self._build
        asked, until = self._repair_asked
        if asked == build and now < until:
            return
        self._repair_asked = (build, now + REPAIR_INTERVAL_SECONDS)
        threading.Thread(target=self._repair, name="feedsvc-repair", daemon=True).start()

    def check_file(self) -> None:
        """Have the index checked, and rebuilt if damaged, when its file was replaced,
        truncated or written by no commit since the last look: one stat(), for a watcher's
        every tick. (SQLite writes the file only when a commit checkpoints, and it only grows:
        feedsvc never vacuums.)"""
        build = self._build
        if build is None:
            return
        try:
            info = os.stat(build)
        except OSError:
            return  # deleted: the watcher sees the index path go, and has it rebuilt
        self.version()  # the generation of a commit by another process
        seen = (build, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, self.generation)
        last, self._file_seen = self._file_seen, seen
        if last is None or last[0] != build:
            return
        replaced, shrunk = last[1:3] != seen[1:3], seen[3] < last[3]
        written = seen[4] != last[4] and seen[5] == last[5]
        if replaced or shrunk or written:
            # Said when the check finds it damaged (a false alarm costs a check, not a line).
            log.debug("the index file %s was replaced, truncated or written; checking it", build)
            self._repair_soon()

    def _repair(self) -> None:
        try:
            self.verify()
        except Exception as exc:  # a thread of its own: say why, never die silently
            self._conditions.start(
                "repair",
                f"cannot rebuild the index {self.index_path} ({indexfile.explain(exc)}); "
                "trying again when it is next found damaged",
                f"the index {self.index_path} is rebuilt",
                bug=not isinstance(exc, (sqlite3.Error, OSError, ForeignIndex)),
            )
        else:
            self._conditions.end("repair")
        finally:
            self.close()

    def _read_times(self, db: sqlite3.Connection, now: float) -> tuple[lastmod.SiteTimes, float]:
        """The facts of the content time, and when (epoch seconds) they next change by the
        clock alone: the next release, or a file or the folder dated in the future."""
        newest_file, next_file = _file_times(db, math.floor(now * 1e9))
        latest, upcoming = db.execute(
            "SELECT (SELECT max(published_ts) FROM articles WHERE published_ts <= ?),"
            " (SELECT min(published_ts) FROM articles WHERE published_ts > ?)",
            (now, now),
        ).fetchone()
        folder_ns = int(self._meta("folder_mtime_ns", db))
        events = [upcoming, next_file and next_file / 1e9, folder_ns / 1e9]
        next_event = min((e for e in events if e is not None and e > now), default=math.inf)
        times = lastmod.SiteTimes(newest_file or 0, folder_ns, latest, next_file is not None)
        return times, next_event

    def _site_times(self) -> lastmod.SiteTimes:
        """The content time's facts as reads see them: within a ``reading()``, read once from
        its snapshot, so that a response's time and its bytes come from the same state."""
        local = self._local
        if getattr(local, "now", None) is None:
            return self._read_times(self._db, time.time())[0]
        if local.times is None:
            local.times = self._read_times(self._db, local.now)[0]
        return local.times

    def content_time(self) -> datetime:
        """The site's content time (lastmod.py): when anything it shows last changed."""
        return self._site_times().content_time(self._now())

    def content_time_determinable(self) -> bool:
        """Whether the content time may be sent as Last-Modified: not while a document file
        or the folder is dated in the future (lastmod.py, RFC 9110 8.8.2.1)."""
        return self._site_times().determinable(self._now())

    def visible_state(self) -> tuple[str, int, float | None]:
        """What reads see, as a key: the build, its generation and the latest release (the
        articles published by now are the same for as long as all three are). Within a
        ``reading()``, read once from its snapshot (a render asks for it several times)."""
        local = self._local
        within = getattr(local, "now", None) is not None
        if within and local.state is not None:
            return local.state
        generation = int(self._meta("generation"))
        build = getattr(local, "build", None) or self._build
        state = str(build), generation, self._site_times().latest_release_ts
        if within:
            local.state = state
        return state

    def next_event(self) -> float:
        """When (epoch seconds) the store next changes by the clock alone (inf: never)."""
        self.version()
        return self._next_event

    # -- reading ---------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """One consistent view for a whole render: one SQLite read snapshot (the first read
        starts it) and one moment for the embargo. A render that cannot read the index raises
        IndexUnavailable (said once in the log, not per request)."""
        local = self._local
        if getattr(local, "now", None) is not None:  # already inside one
            yield local.snapshot
            return
        snapshot = Snapshot()
        local.now, local.times, local.state, local.snapshot = time.time(), None, None, snapshot
        failed = False
        try:
            yield snapshot
        except sqlite3.Error as exc:
            failed = True
            raise self._unavailable(exc) from exc
        finally:
            conn, build = getattr(local, "conn", None), getattr(local, "build", None)
            local.now = local.times = local.state = local.snapshot = None
            local.conn = local.build = None
            if conn is not None and build is not None:
                self._end_snapshot(build, conn, failed)

    def _start_snapshot(self) -> sqlite3.Connection:
        local = self._local
        build, conn = self._checkout()
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            conn.close()
            raise self._unavailable(exc) from exc
        local.conn, local.build = conn, build
        local.snapshot.used = True
        return conn

    def _end_snapshot(self, build: Path, conn: sqlite3.Connection, failed: bool) -> None:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error:
            failed = True
        self._checkin(build, conn, reusable=not failed)
        if not failed:
            self._readable()

    def _now(self) -> float:
        now = getattr(self._local, "now", None)
        return time.time() if now is None else now

    def now(self) -> datetime:
        """The moment reads are made at: fixed for the whole of a ``reading()``."""
        return lastmod.from_timestamp(self._now())

    def _meta(self, key: str, db: sqlite3.Connection | None = None) -> str:
        db = self._db if db is None else db
        return db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def _articles(self, sql: str, args: Iterable[object] = ()) -> list[Article]:
        """Articles from ``sql`` (selecting rows.DECODED_COLUMNS), each dated as read now
        (lastmod.entry_updated_at: a file dated in the future by a skewed clock)."""
        now = self._now()
        found = []
        for row in self._db.execute(sql, tuple(args)):
            article = rows.decode(row)
            if article.updated is not None and article.updated.timestamp() > now:
                ts = lastmod.entry_updated_at(
                    article.updated.timestamp(), article.published.timestamp(), now
                )
                article = replace(article, updated=lastmod.from_timestamp(ts))
            found.append(article)
        return found

    def count(self, *, facet: tuple[str, str] | None = None) -> int:
        """How many articles, or how many with ``facet`` = (field, slug), e.g. ("city", "paris")."""
        return sum(n for _, n in self.day_counts(facet=facet))

    def latest(
        self, limit: int, offset: int = 0, *, facet: tuple[str, str] | None = None
    ) -> list[Article]:
        """Newest first, optionally only those with ``facet`` = (field, slug)."""
        before, offset = self._seek(offset, facet)
        where, args = self._visible(facet, before=before)
        return self._articles(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles {where} {NEWEST_FIRST} LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )

    def _seek(
        self, offset: int, facet: tuple[str, str] | None, *, oldest_first: bool = False
    ) -> tuple[float, int]:
        """Where the ``offset``-th article newest first starts: (a time all of them are published
        before, and the offset among those); with ``oldest_first``, the ``offset``-th oldest:
        (a time all of them are published at or after, and the offset among those). SQLite
        steps over every row an OFFSET skips: at a million articles the last sitemap part
        skipped 950,000 (3.3 s) and a deep listing page as many. The day counts skip whole days
        instead, and leave at most one day's worth."""
        unbounded = -math.inf if oldest_first else math.inf
        if offset <= SEEK_FROM:
            return unbounded, offset
        days = self.day_counts(facet=facet)
        skipped = 0
        for day, n in days if oldest_first else reversed(days):
            if skipped + n > offset:
                start = day if oldest_first else day + 1
                return float(start * SECONDS_PER_DAY), offset - skipped
            skipped += n
        return unbounded, offset  # past the end: the query finds nothing

    def changed_after(
        self, moment: float, limit: int, *, facet: tuple[str, str] | None = None
    ) -> list[Article]:
        """Articles last changed after ``moment`` (epoch seconds), most recently changed first;
        a change dated in the future counts from its time (lastmod.entry_updated_at)."""
        where, args = self._visible(
            facet, "updated_ts > ? AND updated_ts <= ?", moment, self._now()
        )
        return self._articles(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles {where} "
            "ORDER BY updated_ts DESC, id DESC LIMIT ?",
            (*args, limit),
        )

    def day_counts(self, *, facet: tuple[str, str] | None = None) -> list[tuple[int, int]]:
        """(UTC day number since 1970-01-01, articles published that day), oldest day first."""
        kind, slug = facet or ("site", "")
        cursor = self._db.execute(
            "SELECT day, sum(n) FROM day_counts WHERE kind = ? AND slug = ? "
            "GROUP BY day ORDER BY day",
            (kind, slug),
        )
        held = Counter(day for held_kind, held_slug, day, _ in self._held_keys()
                       if (held_kind, held_slug) == (kind, slug))  # fmt: skip
        if not held:
            return list(cursor)
        counts = ((day, n - held[day]) for day, n in cursor)
        return [(day, n) for day, n in counts if n > 0]

    def _held_keys(self) -> list[tuple[str, str, int, str]]:
        """The day_counts keys (kind, slug, day, name) of every article held (dated after the
        moment of reading): the table counts them, reads must not. Usually none; an index
        range either way."""
        found = []
        for published_ts, agency_slug, agency, city_slug, city in self._db.execute(
            "SELECT published_ts, agency_slug, agency, city_slug, city FROM articles "
            "WHERE published_ts > ?",
            (self._now(),),
        ):
            day = int(published_ts // SECONDS_PER_DAY)
            found.append(("site", "", day, ""))
            if agency_slug:
                found.append(("agency", agency_slug, day, agency or ""))
            if city_slug:
                found.append(("city", city_slug, day, city or ""))
        return found

    def published_between(
        self,
        start: float,
        end: float,
        limit: int,
        offset: int = 0,
        *,
        facet: tuple[str, str] | None = None,
    ) -> list[Article]:
        """Articles published in [start, end) (epoch seconds), oldest first."""
        where, args = self._visible(facet, "published_ts >= ? AND published_ts < ?", start, end)
        return self._articles(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles {where} {OLDEST_FIRST} LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )

    def link_rows(self, limit: int, offset: int = 0) -> list[tuple[str, str, datetime]]:
        """(id, headline, last change) oldest first, from the ``offset``-th oldest: what a
        sitemap part needs, without the text."""
        since, offset = self._seek(offset, None, oldest_first=True)
        where, args = self._visible(None, "published_ts >= ?", since)
        now = self._now()
        cursor = self._db.execute(
            f"SELECT id, headline, {lastmod.ENTRY_UPDATED_AT_SQL} FROM articles {where} "
            f"{OLDEST_FIRST} LIMIT ? OFFSET ?",
            (now, *args, limit, offset),
        )
        return [(i, h, lastmod.from_timestamp(ts)) for i, h, ts in cursor]

    def versions(self) -> list[Version]:
        """Every article as a ``Version``, newest first, without its text: one cheap pass that
        tells a static build which pages may have changed (build.py), whatever their number."""
        where, args = self._visible(None)
        cursor = self._db.execute(
            f"SELECT {_VERSION_COLUMNS} FROM articles {where} {NEWEST_FIRST}",
            (self._now(), *args),  # as link_rows; a float, so keys compare
        )
        return list(map(Version._make, cursor))

    def versions_changed_since(
        self, state: tuple[str, int, float | None]
    ) -> tuple[set[str], list[Version]] | None:
        """Within a ``reading()``: the ids of the articles changed since ``state`` (an earlier
        ``visible_state()``) and the Version of each one still shown, or None when this
        process cannot tell (another process wrote the index since, it was rebuilt, or more
        than CHANGE_LOG_MAX_IDS articles changed). The changes
        are those this process's refreshes committed (CHANGE_LOG_COMMITS of them are kept): a
        static build that indexes for itself reads a few rows, not every article's version.
        What the clock alone changes (an embargo lifting, a file dated in the future coming of
        age) is the caller's to watch: nothing is logged before ``next_event()``."""
        build, generation, _ = self.visible_state()
        since_build, since_generation, _ = state
        if build != since_build or generation < since_generation:
            return None
        with self._log_lock:
            log = [entry for entry in self._change_log if entry[0] == build]
        changed: set[str] = set()
        expected = since_generation + 1
        for _, committed, ids in log:
            if committed < expected:
                continue
            if committed != expected:  # a generation committed by another process
                return None
            changed.update(ids)
            expected += 1
        if expected != generation + 1 or len(changed) > CHANGE_LOG_MAX_IDS:
            return None
        if not changed:
            return changed, []
        where, args = self._visible(None, f"id IN ({','.join('?' * len(changed))})", *changed)
        cursor = self._db.execute(
            f"SELECT {_VERSION_COLUMNS} FROM articles {where}", (self._now(), *args)
        )
        return changed, list(map(Version._make, cursor))

    def _remember(self, generation: int, ids: frozenset[str]) -> None:
        """Log a generation this process committed to the build being served, with the ids of
        the articles it added, changed or removed (versions_changed_since)."""
        build = getattr(self._local, "build", None)
        with self._log_lock:
            self._change_log.append((str(build), generation, ids))

    def published_since(self, since: datetime, limit: int) -> list[Article]:
        where, args = self._visible(None, "published_ts >= ?", since.timestamp())
        return self._articles(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles {where} {NEWEST_FIRST} LIMIT ?",
            (*args, limit),
        )

    def published_bounds(self, moment: datetime) -> tuple[datetime | None, datetime | None]:
        """The last publication time before ``moment`` and the first at or after it, among what
        is published now: when a sliding window starting at ``moment`` last lost an article, and
        when it next will."""
        before, since = self._db.execute(
            "SELECT (SELECT max(published_ts) FROM articles WHERE published_ts < ?),"
            " (SELECT min(published_ts) FROM articles WHERE published_ts >= ? AND"
            " published_ts <= ?)",
            (moment.timestamp(), moment.timestamp(), self._now()),
        ).fetchone()
        return (
            None if before is None else lastmod.from_timestamp(before),
            None if since is None else lastmod.from_timestamp(since),
        )

    def get(self, article_id: str) -> Article | None:
        where, args = self._visible(None, "id = ?", article_id)
        found = self._articles(f"SELECT {rows.DECODED_COLUMNS} FROM articles {where}", args)
        return found[0] if found else None

    def search(self, query: str, limit: int, offset: int = 0) -> list[Article]:
        """Articles with every word of ``query`` in their headline, text, agency or city (the
        last word may be the start of a word), newest first; [] when it has no words."""
        match = search_expression(query)
        if match is None:
            return []
        where, args = self._visible(None, f"rowid IN ({_MATCHING})", match)
        return self._articles(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles {where} {NEWEST_FIRST} LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )

    def held(self) -> list[Article]:
        """Articles dated in the future (embargoed), soonest first: each is published, in every
        feed, page and count, from its publication time on."""
        return self._articles(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles WHERE published_ts > ? {OLDEST_FIRST}",
            (self._now(),),
        )

    def released_between(
        self, start: float, end: float
    ) -> list[tuple[str, tuple[str | None, str | None]]]:
        """(id, (agency slug, city slug)) of articles whose embargo lifted in (start, end]."""
        cursor = self._db.execute(
            "SELECT id, agency_slug, city_slug FROM articles "
            "WHERE published_ts > ? AND published_ts <= ?",
            (start, end),
        )
        return [(article_id, (agency, city)) for article_id, agency, city in cursor]

    def search_count(self, query: str) -> int:
        """How many articles ``search`` finds for ``query``, all pages together."""
        match = search_expression(query)
        if match is None:
            return 0
        where, args = self._visible(None, f"rowid IN ({_MATCHING})", match)
        return self._db.execute(f"SELECT count(*) FROM articles {where}", args).fetchone()[0]

    def neighbours(self, article: Article) -> tuple[Article | None, Article | None]:
        """(the next newer, the next older) article in the newest-first order of every list."""
        # Row values compare in the order of NEWEST_FIRST; a missing seq sorts as the lowest.
        key = (article.published.timestamp(), -1 if article.seq is None else article.seq)
        where, args = self._visible(
            None, "published_ts >= ? AND (published_ts, coalesce(seq, -1), id) > (?, ?, ?)",
            key[0], *key, article.id,
        )  # fmt: skip
        newer = self._articles(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles {where} "
            "ORDER BY published_ts ASC, seq ASC, id ASC LIMIT 1",
            args,
        )
        older = self.older(article, 1)
        return (newer[0] if newer else None, older[0] if older else None)

    def older(
        self, article: Article, limit: int, *, facet: tuple[str, str] | None = None
    ) -> list[Article]:
        """The ``limit`` articles just older than ``article`` in the newest-first order of every
        list, optionally only those with ``facet`` = (field, slug)."""
        key = (article.published.timestamp(), -1 if article.seq is None else article.seq)
        where, args = self._visible(
            facet, "published_ts <= ? AND (published_ts, coalesce(seq, -1), id) < (?, ?, ?)",
            key[0], *key, article.id,
        )  # fmt: skip
        return self._articles(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles {where} {NEWEST_FIRST} LIMIT ?",
            (*args, limit),
        )

    def facets(self, field: str) -> list[Facet]:
        """Every value of an article field ("agency" or "city") with its count, most used first."""
        return self._facets(field)

    def agencies(self) -> list[Facet]:
        return self._facets("agency")

    def cities(self) -> list[Facet]:
        return self._facets("city")

    def facet(self, kind: str, slug: str) -> Facet | None:
        return next((f for f in self._facets(kind) if f.slug == slug), None)

    def _facets(self, kind: str) -> list[Facet]:
        """The facets of ``kind``, most articles first."""
        assert kind in FACET_COLUMNS, kind
        seen = self.visible_state()
        kept = self._facet_lists.get(kind)
        if kept is not None and kept[0] == seen:
            return list(kept[1])
        cursor = self._db.execute(
            "SELECT slug, name, sum(n) FROM day_counts WHERE kind = ? GROUP BY slug, name",
            (kind,),
        )
        spellings = Counter({(slug, name): n for slug, name, n in cursor})
        spellings.subtract((k[1], k[3]) for k in self._held_keys() if k[0] == kind)
        # The most common spelling names the group ("Reuters" over "REUTERS"); the first by
        # code point among equals.
        facets: dict[str, Facet] = {}
        for (key, name), n in sorted(spellings.items(), key=lambda s: (s[0][0], -s[1], s[0][1])):
            if n > 0:
                known = facets.get(key)
                facets[key] = Facet(
                    key, known.name if known else name, n + (known.count if known else 0)
                )
        found = sorted(facets.values(), key=lambda f: (-f.count, f.slug))
        self._facet_lists[kind] = (seen, found)
        return list(found)

    def problems(self) -> list[Problem]:
        return [Problem(name, reason) for name, reason in self._db.execute(PROBLEMS_SQL)]

    def _visible(
        self,
        facet: tuple[str, str] | None,
        condition: str = "",
        *args: object,
        before: float = math.inf,
    ) -> tuple[str, tuple[object, ...]]:
        """A WHERE clause for the articles published by now (held ones are not) and before
        ``before`` (epoch seconds, from ``_seek``), narrowed by ``facet`` and ``condition``
        (with its ``args``)."""
        # One upper bound on the time, the lower of the two: given two, SQLite seeks to the
        # first and steps over every row up to the other (at a million articles, a listing
        # page 950,000 deep stepped over the 950,000 index entries that _seek meant to skip).
        now = self._now()
        if before <= now:
            clauses, values = ["published_ts < ?"], [before]  # type: list[str], list[object]
        else:
            clauses, values = ["published_ts <= ?"], [now]
        if facet is not None:
            field, slug = facet
            clauses.append(f"{FACET_COLUMNS[field]} = ?")
            values.append(slug)
        if condition:
            clauses.append(condition)
            values.extend(args)
        return "WHERE " + " AND ".join(clauses), tuple(values)

    # -- writing ---------------------------------------------------------------------------

    def index_present(self) -> bool:
        """Whether the index path leads to an index file: cheap, for a watcher's every tick."""
        try:
            return self._files.current() is not None
        except ForeignIndex:
            return True  # refresh says what is wrong with it

    def ready(self) -> bool:
        """Whether there is a complete index of this version to serve (else ``refresh`` makes
        one before anything is read from it). One made by an earlier document parser is, for
        a Store that does not renew (the service's: it holds every document, most of them read
        as now, until ``renew`` replaces it); one that does must build it again first."""
        try:
            build = self._files.current()
            problem = None if build is None else self._problem_with(build)
            servable = problem is None or (problem == OTHER_PARSER and not self._renews)
            return build is not None and servable
        except (sqlite3.Error, OSError, ForeignIndex):
            return False

    def renewal_owed(self) -> bool:
        """Whether the index was made by an earlier document parser, and a refresh by a
        Store that renews must build it again (OTHER_PARSER). Raises sqlite3.Error, OSError."""
        build = self._files.current()
        return build is not None and self._problem_with(build) == OTHER_PARSER

    def refresh(
        self,
        progress: Callable[[int, int], None] | None = None,
        names: Collection[str] | None = None,
        *,
        parallel: bool = False,
        settle: bool = True,
        settled: Mapping[str, tuple[int, int]] | None = None,
        partial: bool = False,
    ) -> Report:
        """Bring the index in step with the seeds folder; parses only new and changed files.

        ``names`` limits the look to those files (the ones the file system reported changed);
        by default the whole folder is scanned. ``parallel`` parses large batches in forked
        processes: only for a caller that runs a single thread (see indexing.load_documents).
        With ``settle``, a published document found unreadable or unparseable keeps its
        article for now (``Report.unsettled``), unless ``settled`` holds its name with the same
        (size, mtime_ns): it was held once already, and is judged. Commits every
        BATCH_DOCUMENTS documents.

        An index that is missing, of another version or found damaged is built again, aside
        (indexfile.py), and put in place when complete: from the whole folder, or only from
        ``names`` when ``partial`` (a throw-away index: `feedsvc check FILE`).

        Raises sqlite3.Error or OSError (a full disk, a read-only folder), having kept every
        batch it committed; ForeignIndex when the index path is not feedsvc's.
        """
        # The whole folder (``names`` None) is compared with the index a batch at a time, under
        # the lock (_scan): a listing held whole took over 400 MB at a million files. A watcher
        # that must not wait for that compares without the lock first (scan()). A partial index
        # takes the named files for the whole folder.
        listed: set[seedfiles.Signature] | None = None
        if names is not None and partial:
            found = seedfiles.describe(self.seeds_dir, names, self.max_bytes)
            listed = {(name, seed.size, seed.mtime_ns) for name, seed in found.items()}
        with self._write_lock():
            settling = Settling(settle, settled or {})
            report = self._refresh_or_rebuild(progress, names, listed, parallel, settling)
        self.version()
        return report

    def verify(
        self,
        progress: Callable[[int, int], None] | None = None,
        *,
        parallel: bool = False,
        starting: bool = False,
    ) -> Report | None:
        """Check the whole index file (``PRAGMA quick_check``, which reads all of it) and
        rebuild it if it is damaged: at start-up, and when a reader found it damaged. When
        ``starting``, the whole-file check is made, and said with its time, only when the record
        of the last clean stop says the index was written since (indexfile.TOUCHED). After a
        crash (no record: indexfile.UNRECORDED) it is owed, but not made: ``check_owed`` is set,
        and the caller has ``check_whole`` made while it serves. Returns the rebuild's report,
        or None when the index is sound (or missing: ``refresh``)."""
        with self._write_lock() as record:
            build = self._files.current()
            thorough = not starting or record == indexfile.TOUCHED
            self.check_owed = starting and record == indexfile.UNRECORDED and build is not None
            started = time.monotonic()
            problem = None if build is None else self._problem_with(build, thorough=thorough)
            if starting and thorough and build is not None:
                self._said_checked(started)
            if problem is None and build is not None:
                self._add_indexes(build)
            if problem is None or problem in RENEWED:  # refresh's business
                return None
            report = self._rebuild(problem, progress, None, parallel, Settling())
        self.version()
        return report

    def check_whole(self) -> Report | None:
        """Make the whole-file check a start after a crash owes (``verify``, indexfile.py): read
        the whole current build (``PRAGMA quick_check``) without the write lock, so that writers
        go on meanwhile, and rebuild it (``verify``) if that finds it damaged. Returns the
        rebuild's report, or None when the index is sound or there is none. Raises what
        ``verify`` raises."""
        build = self._files.current()
        if build is None:
            return None
        started = time.monotonic()
        problem = self._problem_with(build, thorough=True)
        self._said_checked(started)
        if problem is None or problem in RENEWED:  # refresh's business
            return None
        return self.verify()  # checks again under the lock: another process may have rebuilt

    def _said_checked(self, started: float) -> None:
        log.info(
            "checked the whole index %s for damage: it may have changed since the last clean "
            "stop (%.1f s)",
            self.index_path,
            time.monotonic() - started,
        )

    def _add_indexes(self, build: Path) -> None:
        """Add the ADDED_INDEXES that ``build`` lacks (call with the write lock held). One that
        cannot be added (a read-only or full disk) is said, and the index served without it:
        it makes reads faster, not different."""
        conn = indexfile.connect(build)
        try:
            present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
            for name, sql in ADDED_INDEXES.items():
                if name in present:
                    continue
                started = time.monotonic()
                try:
                    conn.execute(sql)
                except sqlite3.Error as exc:
                    log.warning("cannot add the index %s to %s (%s); serving without it",
                                name, self.index_path, indexfile.explain(exc))  # fmt: skip
                    continue
                log.info("added the index %s to %s (%.1f s)",
                         name, self.index_path, time.monotonic() - started)  # fmt: skip
        finally:
            conn.close()

    def _refresh_or_rebuild(
        self,
        progress: Callable[[int, int], None] | None,
        names: Collection[str] | None,
        listed: set[seedfiles.Signature] | None,
        parallel: bool,
        settling: Settling,
    ) -> Report:
        if self._unannounced:  # a commit of an earlier refresh that could not be told
            self._publish(self._stored_generation())
        build = self._files.current()
        problem = MISSING if build is None else self._problem_with(build)
        if problem == OTHER_PARSER and not self._renews:
            problem = None  # kept up to date, by this parser, until the renewal replaces it
        if build is not None and problem is None:
            with self._state_lock:
                self._follow()
            try:
                with self._bound(self._own(), build):
                    return self._refresh(progress, names, listed, parallel, settling, announce=True)
            except sqlite3.DatabaseError as exc:
                if indexfile.kind_of(exc) != indexfile.DAMAGED or not self._files.is_build(build):
                    raise
                problem = f"is {indexfile.explain(exc)}"
        return self._rebuild(problem or MISSING, progress, listed, parallel, settling)

    def _problem_with(self, build: Path, *, thorough: bool = False) -> str | None:
        """Why ``build`` cannot be served as it is (None: it can). Raises the error when the
        index path is a file that may not be feedsvc's: that is never rebuilt over."""
        ours = self._files.is_build(build)
        try:
            conn = indexfile.connect(build)
            try:
                found = conn.execute("PRAGMA quick_check").fetchone()[0] if thorough else "ok"
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                parsing = conn.execute("SELECT value FROM meta WHERE key = 'parsing'").fetchone()
                parser = conn.execute("SELECT value FROM meta WHERE key = 'parser'").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            if indexfile.kind_of(exc) != indexfile.DAMAGED or not ours:
                raise
            return f"is {indexfile.explain(exc)}"
        if found != "ok":
            if not ours:
                raise sqlite3.DatabaseError(f"{found} (PRAGMA quick_check)")
            return f"is damaged ({found})"
        if row is None or row[0] != SCHEMA_VERSION:
            return OTHER_VERSION
        if parsing is None or parsing[0] != self._parsing:
            return OTHER_SETTINGS
        # An index without the record was made before parsers were numbered.
        if parser is None or parser[0] != str(PARSER_VERSION):
            return OTHER_PARSER
        return None

    def _rebuild(
        self,
        problem: str,
        progress: Callable[[int, int], None] | None,
        listed: set[seedfiles.Signature] | None,
        parallel: bool,
        settling: Settling,
    ) -> Report:
        """Build the index from the whole folder aside, resuming an interrupted build, and put
        it in place; readers go on with the old one meanwhile (indexfile.py)."""
        started = time.monotonic()
        build = self._files.unfinished()
        if build is not None:
            try:
                unusable = self._problem_with(build) is not None
            except sqlite3.Error:
                unusable = True
            if unusable:
                self._files.remove(build)
                build = None
        resumed = build is not None
        # An index missing when this process starts (a first index, `feedsvc index` after `rm`)
        # is what the caller is there to build, and says so in its own words (the command's
        # summary, the start line); a new version's is expected; an index that went missing or
        # bad while in use, or found damaged, is a fault.
        starting = problem == MISSING and self._build is None
        expected = problem in RENEWED  # an upgrade, a changed setting
        level = logging.WARNING if not starting and not expected else logging.INFO
        level = logging.DEBUG if starting and not resumed else level
        # Said once, however often a failing rebuild is tried again (a full disk). A missing
        # index whose build was begun is one that was not finished (a renewal stopped half-way).
        said = "was not finished" if resumed and problem == MISSING else problem
        self._conditions.start(
            "rebuild",
            f"the index {self.index_path} {said}; "
            f"{'continuing to build' if resumed else 'building'} it from {self.seeds_dir}",
            "",
            level=level,
        )
        if build is None:
            build = self._files.new_build()
        conn = indexfile.connect(build, create=True)
        try:
            with self._bound(conn, build):
                if not resumed:
                    self._create_schema(conn)
                # The whole folder, or the partial index's files.
                report = self._refresh(progress, None, listed, parallel, settling, announce=False)
                generation = self._stored_generation()
                built = self._article_count(conn)
        finally:
            conn.close()
        if built == 0 and (articles := self._articles_in_place()):
            self._files.remove(build)
            raise seedfiles.NoDocuments(self.seeds_dir, articles, read=bool(report.skipped))
        self._put_in_place(build, generation)
        report.rebuilt = problem
        self._conditions.end("rebuild")
        # What the index holds: a resumed build added only what the interrupted one had not.
        log.log(logging.DEBUG if starting and not resumed else logging.INFO,
                "the index %s is built: %s in %.1f s",
                self.index_path, changes.quantity(self.count(), "article"),
                time.monotonic() - started)  # fmt: skip
        return report

    def _put_in_place(self, build: Path, generation: int) -> None:
        """Make the finished ``build`` the index and announce its ``generation``; remove the
        build it replaces and what interrupted builds left. Call with the write lock held."""
        previous = self._files.put_in_place(build)
        self._publish(generation)
        if previous is not None:
            self._files.remove(previous)
        self._files.remove_leftovers()

    def _first_generation(self) -> int:
        """A new build's generation: it follows the last one announced, so that a token a
        process kept from the old build is never taken for one of the new build."""
        try:
            with open(self._generation_path) as announced:
                return int(announced.read().strip() or 0) + 1
        except (OSError, ValueError):
            return 1

    def _create_schema(self, db: sqlite3.Connection) -> None:
        first = self._first_generation()
        db.executescript(SCHEMA)
        db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('generation', ?),"
            " ('folder_mtime_ns', '0'), ('parsing', ?), ('parser', ?)",
            (SCHEMA_VERSION, str(first), self._parsing, str(PARSER_VERSION)),
        )

    def renew(self) -> Report | None:
        """Build the index again for this version's document parser (OTHER_PARSER) while the
        old one is served and kept in step: the whole folder is read into an index of its own
        (``renewal_path``), under that index's own lock; then, under this index's write lock,
        that one is brought in step with what changed meanwhile, and put in place. Writers wait
        only for that catch-up (a scan of the folder): the renewal made under the write lock
        kept every change waiting for as long as it took (minutes at a million documents).
        Returns the catch-up's report, or None when no renewal is owed (any more). Raises
        sqlite3.Error, OSError (a full disk): the renewal's index is kept, and the next
        renewal goes on from it."""
        if not self.renewal_owed():
            return None
        started = time.monotonic()
        log.info("the index %s %s; building it again from %s beside it",
                 self.index_path, OTHER_PARSER, self.seeds_dir)  # fmt: skip
        aside = Store(self.settings.replace(index_path=renewal_path(self.index_path)))
        try:
            aside.refresh(parallel=True)
            if aside.count() == 0 and (articles := self.count()):  # a folder not mounted
                raise seedfiles.NoDocuments(self.seeds_dir, articles)
            with self._write_lock():
                if not self.renewal_owed():  # another process built it meanwhile
                    return None
                caught_up = time.monotonic()
                report = aside.refresh(parallel=True)
                renewed = aside._files.current()
                aside.release()
                if renewed is None:  # removed under it: the next renewal starts again
                    raise FileNotFoundError(f"{aside.index_path} went missing")
                build = self._files.adopt(renewed)
                generation = self._first_generation()
                conn = indexfile.connect(build)
                try:
                    with conn:
                        conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'",
                                     (str(generation),))  # fmt: skip
                finally:
                    conn.close()
                self._put_in_place(build, generation)
                aside.discard()
        finally:
            aside.release()
        self.version()  # read the index put in place, not the one it replaced
        log.info("the index %s is built again: %s in %.1f s, of which %.1f s catching up "
                 "with the changes made meanwhile", self.index_path,
                 changes.quantity(self.count(), "article"), time.monotonic() - started,
                 time.monotonic() - caught_up)  # fmt: skip
        # What this parser refuses that the earlier one published is gone from the site now:
        # said here, or only `feedsvc check` would tell (an upgrade trial's pages went 404 in
        # silence), as the service's start says what its index skips.
        if summary := changes.summarise_problems(self.problems()):
            log.warning("%s", summary)
        self.release()
        return report

    def discard(self) -> None:
        """Remove this index and the files beside it (a renewal's, once adopted). Closes this
        process's connections to it first."""
        self.release()
        build = self._files.current()
        if build is not None:
            self._files.remove(build)
        self.index_path.unlink(missing_ok=True)
        for suffix in (".generation", ".clean", ".next", ".lock"):
            Path(f"{self.index_path}{suffix}").unlink(missing_ok=True)

    @staticmethod
    def _article_count(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])

    def _articles_in_place(self) -> int:
        """How many articles the index in place holds (0 when there is none, or it cannot be
        read): a rebuild that found no document must not replace one that has some."""
        current = self._files.current()
        if current is None:
            return 0
        try:
            conn = indexfile.connect(current)
            try:
                return self._article_count(conn)
            finally:
                conn.close()
        except sqlite3.Error:
            return 0

    def scan(self) -> list[str]:
        """The names of files that differ from the index's record (new, changed or gone), and
        of files skipped for a reason that may pass unseen (unreadable: a chmod changes neither
        size nor time), from a comparison of the whole folder with the index that takes no lock
        and writes nothing: ``refresh(names=...)`` of them brings the index in step. For a
        thread that scans while another keeps refreshing what the file system reports. Raises
        what reading the index or the folder raises."""
        changed, gone, _ = self._scan()
        retried = self._db.execute(
            "SELECT name FROM files WHERE retry >= ?", (RETRY_ON_RESCAN,)
        ).fetchall()
        return sorted({*changed, *gone, *(name for (name,) in retried)})

    def _scan(self) -> tuple[list[str], list[str], int]:
        """The whole folder compared with the index, SCAN_BATCH files at a time: (names new
        or changed, names on record that are gone, files in the folder). Holds the differences,
        never a listing of the whole folder (at a million files, the listing and the index's
        record as sets took over 400 MB for a few seconds, every rescan). Raises
        seedfiles.NoDocuments when the folder holds no document where the index has articles."""
        db = self._db
        changed: list[str] = []
        present = recorded = documents = 0
        for batch in seedfiles.signature_batches(self.seeds_dir, SCAN_BATCH):
            names = [name for name, _, _ in batch]
            marks = ",".join("?" * len(names))
            cursor = db.execute(
                f"SELECT name, size, mtime_ns FROM files WHERE name IN ({marks})", names
            )
            known = set(cursor)
            # Compared as sets, in C: name by name in Python cost as much as the listing.
            changed += [name for name, _, _ in set(batch).difference(known)]
            present += len(batch)
            recorded += len(known)
            documents += sum(map(seedfiles.is_document_name, names))
        if documents == 0 and (articles := self._article_count(db)):
            raise seedfiles.NoDocuments(self.seeds_dir, articles)
        gone: list[str] = []
        # Names are unique on both sides: every name on record was listed unless the counts
        # differ. Only then are the recorded names looked for, one stat each.
        if recorded != db.execute("SELECT count(*) FROM files").fetchone()[0]:
            on_record = (name for (name,) in db.execute("SELECT name FROM files"))
            gone = sorted(seedfiles.unlisted(self.seeds_dir, on_record))
        return changed, gone, present

    def _refresh(
        self,
        progress: Callable[[int, int], None] | None,
        names: Collection[str] | None,
        listed: set[seedfiles.Signature] | None,
        parallel: bool,
        settling: Settling,
        *,
        announce: bool,
    ) -> Report:
        """``listed``: a partial index's whole folder; else ``names``, or (None) the whole
        folder, scanned a batch at a time."""
        db = self._db
        report = Report()
        if listed is not None:
            # Whole sets compared in C (a partial index's few files).
            on_record = set(db.execute("SELECT name, size, mtime_ns FROM files"))
            changed = [name for name, _, _ in listed - on_record]
            gone = []
            if changed or len(listed) != len(on_record):
                gone = sorted({name for name, _, _ in on_record} - {name for name, _, _ in listed})
            found = seedfiles.describe(self.seeds_dir, changed, self.max_bytes)
            todo = sorted(found)
            present = len(listed)
        elif names is None:
            changed, gone, present = self._scan()
            found = seedfiles.describe(self.seeds_dir, changed, self.max_bytes)
            todo = sorted(found)
        else:
            names = list(names or ())
            found = seedfiles.describe(self.seeds_dir, names, self.max_bytes)
            marks = ",".join("?" * len(names))
            cursor = db.execute(
                f"SELECT name, size, mtime_ns, retry FROM files WHERE name IN ({marks})", names
            )
            known, named_retries = {}, set()
            for name, size, mtime_ns, retry in cursor:
                known[name] = (size, mtime_ns)
                if retry:  # an unreadable file chmod'ed back keeps its size and time
                    named_retries.add(name)
            gone = sorted(set(known) - set(found))
            todo = sorted(
                name
                for name, seed in found.items()
                if known.get(name) != seed.signature or name in named_retries
            )
            present = len(found)
        # Read after the listing: any file the listing saw come or go is older than this, so a
        # deletion always moves the content time (lastmod.py).
        folder_ns = os.stat(self.seeds_dir).st_mtime_ns
        report.folder_changed = folder_ns != int(self._meta("folder_mtime_ns"))
        # Files skipped for a reason that may pass with nothing else changing (unreadable) are
        # read again on every full scan; duplicates whenever something else changed (their
        # original may have been removed or edited). Unchanged ones are reported again only if
        # the reason changed.
        unchanged_retries: dict[str, str] = {}
        if todo or gone or names is None or listed is not None:
            least = RETRY_AFTER_CHANGES if todo or gone else RETRY_ON_RESCAN
            retried = dict(db.execute("SELECT name, problem FROM files WHERE retry >= ?", (least,)))
            found.update(seedfiles.describe(self.seeds_dir, list(retried), self.max_bytes))
            pending = set(todo)
            unchanged_retries = {
                name: problem
                for name, problem in retried.items()
                if name in found and name not in pending
            }
            todo = sorted(pending | set(unchanged_retries))
        report.unchanged = present - len(todo)
        if not todo and not gone and not report.folder_changed:
            return report

        seeds = [found[n] for n in todo]
        if len(todo) > SMALL_REFRESH:
            loaded: Iterable[Loaded] = load_documents(
                self.seeds_dir, seeds, self.max_bytes, self.parse_options, parallel=parallel
            )
            index = IndexState.read(db, [*todo, *gone], [])
        else:
            loaded = list(load_documents(self.seeds_dir, seeds, self.max_bytes, self.parse_options))
            index = IndexState.read(db, [*todo, *gone], loaded)
        index.pending = set(todo)
        now_ns = time.time_ns()
        files_before = _file_times(db, now_ns)
        batches = _Batches(db, report, self._announce if announce else None)
        with self._page_cache(BULK_CACHE_KIB if len(todo) > SMALL_REFRESH else None):
            db.execute("BEGIN IMMEDIATE")
            try:
                for name in gone:
                    self._forget_file(name, index, report)
                for done, document in enumerate(loaded, 1):
                    index.pending.discard(document.seed.name)
                    handed = index.handed.pop(document.seed.name, None)
                    if settling.holds(document, index):
                        if handed:  # its turn put off: a copy sorting first took it meanwhile
                            self._hand_over(document.seed.name, *handed, index, report)
                        report.unsettled[document.seed.name] = document.seed.signature
                    else:
                        self._apply(document, index, report)
                    if progress:
                        progress(done, len(todo))
                    if done % BATCH_DOCUMENTS == 0:
                        batches.commit()
                        db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'folder_mtime_ns'", (str(folder_ns),)
                )
                report.times_changed = report.folder_changed or (
                    _file_times(db, now_ns) != files_before
                )
                batches.commit(final=True)
            except BaseException:
                # A failed COMMIT (a full disk) has already rolled back.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        report.skipped = [
            p for p in report.skipped if unchanged_retries.get(p.file_name) != p.reason
        ]
        return report

    def _stored_generation(self) -> int:
        return int(self._meta("generation"))

    def _announce(self, generation: int, ids: frozenset[str]) -> None:
        self._remember(generation, ids)
        self._publish(generation)

    def _publish(self, generation: int) -> None:
        """Announce a committed change to every process: replace the generation file. Only after
        the commit, so whoever sees the new file reads the new rows. Until it succeeds, each
        refresh tries again."""
        self._unannounced = True
        temporary = f"{self._generation_path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w") as out:
                out.write(f"{generation}\n")
            os.replace(temporary, self._generation_path)
        except OSError:
            # A folder that takes no new file (full, or read-only for us) may still let the file
            # there be touched, and a new modification time is what readers look at.
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            os.utime(self._generation_path)
        self._unannounced = False

    @contextmanager
    def _page_cache(self, kib: int | None) -> Iterator[None]:
        """A larger page cache for a large refresh: inserting thousands of rows into the indexes
        in random key order otherwise evicts and re-reads the same pages. Given back after, so
        serving workers stay small."""
        if kib is None:
            yield
            return
        db = self._db
        (usual,) = db.execute("PRAGMA cache_size").fetchone()
        db.execute(f"PRAGMA cache_size = {-kib}")
        try:
            yield
        finally:
            db.execute(f"PRAGMA cache_size = {int(usual)}")

    def _apply(self, document: Loaded, index: IndexState, report: Report) -> None:
        seed, article = document.seed, document.article
        problem, retry = document.problem, RETRY_ON_RESCAN if document.retry else 0
        if article is not None:
            problem, retry = None, 0
            # Of two copies (one id, or one text), the file whose name sorts first is published,
            # whichever arrived first: a node that indexed the folder whole (in name order) and
            # one that saw the copies arrive publish the same one (issue 14: nodes agree). Not
            # the older file: an edit, or a save, would hand the article to the other copy.
            holders = index.holders(article)
            first = min(holders, default=None)
            if first is not None and first < seed.name:
                problem = _duplicate(article.id, first, holders[first])
                retry = RETRY_AFTER_CHANGES
            else:
                for name, held in holders.items():
                    self._hand_over(name, held, article, index, report)
        previous_id = index.file_article.get(seed.name)
        if previous_id and (article is None or problem or previous_id != article.id):
            self._delete_article(previous_id, index, report)
        if article is not None and problem is None:
            self._save_article(document, index, report)
        else:
            report.skipped.append(Problem(seed.name, problem or "unknown"))
        article_id = None if problem or article is None else article.id
        index.file_article[seed.name] = article_id
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                seed.name,
                seed.size,
                seed.mtime_ns,
                article_id,
                problem,
                article.warnings if article else "[]",
                retry,
            ),
        )

    def _hand_over(
        self, name: str, held: str, article: Filed, index: IndexState, report: Report
    ) -> None:
        """The file ``name`` gives up its article (id ``held``) to ``article``, whose file name
        sorts before it: it becomes a skipped copy, published again if ``article`` goes. A file
        this refresh has yet to apply (changed too) is left to its own turn, which knows what it
        holds now: told here, it would be said skipped twice, or removed and skipped though its
        new text is no copy."""
        if name in index.pending:
            if held == article.id:
                index.file_article[name] = None  # the id's row is the new copy's from now on
            index.handed[name] = (held, article)  # done after all if its turn is put off
            return
        if held != article.id:
            self._delete_article(held, index, report)
        # (One id: the row stays until the new copy replaces it, as a change of that article.)
        problem = _duplicate(held, article.file_name, article.id)
        index.file_article[name] = None
        self._db.execute(
            "UPDATE files SET article_id = NULL, problem = ?, retry = ? WHERE name = ?",
            (problem, RETRY_AFTER_CHANGES, name),
        )
        report.skipped.append(Problem(name, problem))

    def _save_article(self, document: Loaded, index: IndexState, report: Report) -> None:
        article = document.article
        assert article is not None and document.row is not None
        updated_ts = lastmod.entry_updated_ts(article.published.timestamp(), document.seed.mtime_ns)
        old = index.articles.get(article.id)
        if old is None:
            report.added.append(article.id)
        else:
            if (old.content_hash, old.updated_ts, old.file_name) == (
                article.content_hash, updated_ts, article.file_name
            ):  # fmt: skip
                return  # the same bytes under the same time: nothing a reader could see moved
            report.changed.append(article.id)
            if previous := self._delete_article(article.id, index, None):
                report.touched.append((previous.agency_slug, previous.city_slug))
        if article.published.timestamp() <= time.time():  # a held one is told at its release
            report.touched.append((article.agency_slug, article.city_slug))
        else:
            report.held[article.id] = article.published
        report.names[article.id] = article.file_name
        cursor = self._db.execute(
            f"INSERT INTO articles ({rows.ENCODED_COLUMNS}, updated_ts) "
            f"VALUES ({','.join('?' * (len(document.row) + 1))})",
            (*document.row, updated_ts),
        )
        rowid = cursor.lastrowid
        assert rowid is not None  # always set after an INSERT
        # Indexed from the row just written: exactly the values a later 'delete' will give.
        self._db.execute(
            "INSERT INTO articles_fts (rowid, headline, paragraphs, agency, city) "
            "SELECT rowid, headline, paragraphs, agency, city FROM articles WHERE rowid = ?",
            (rowid,),
        )
        index.add(article, rowid, updated_ts)

    def _forget_file(self, name: str, index: IndexState, report: Report) -> None:
        article_id = index.file_article.pop(name, None)
        if article_id:
            self._delete_article(article_id, index, report)
        self._db.execute("DELETE FROM files WHERE name = ?", (name,))

    def _delete_article(
        self, article_id: str, index: IndexState, report: Report | None
    ) -> Indexed | None:
        """Delete an article's rows; the old version is returned for change notifications."""
        if article_id not in index.articles:
            return None
        old = index.articles[article_id]
        rowid = index.remove(article_id)
        # An external-content index forgets a row given the very values it indexed.
        self._db.execute(
            "INSERT INTO articles_fts (articles_fts, rowid, headline, paragraphs, agency, city) "
            "SELECT 'delete', rowid, headline, paragraphs, agency, city FROM articles "
            "WHERE rowid = ?",
            (rowid,),
        )
        self._db.execute("DELETE FROM articles WHERE rowid = ?", (rowid,))
        if report is not None:
            report.removed.append(article_id)
            report.touched.append((old.agency_slug, old.city_slug))
            report.removed_names[article_id] = old.file_name
        return old


def _duplicate(own_id: str, other_name: str, other_id: str) -> str:
    """Why a file is skipped as a copy of ``other_name`` (whose article has ``other_id``)."""
    if own_id == other_id:
        return f"id {own_id} is already used by {other_name}"
    return f"same document as {other_name}"


def _file_times(db: sqlite3.Connection, now_ns: int) -> tuple[int | None, int | None]:
    """The content time's facts from the files (lastmod.py): the newest modification time no
    later than ``now_ns``, and the earliest one after it (a file dated in the future)."""
    newest, upcoming = db.execute(
        "SELECT (SELECT max(mtime_ns) FROM files WHERE mtime_ns <= ?),"
        " (SELECT min(mtime_ns) FROM files WHERE mtime_ns > ?)",
        (now_ns, now_ns),
    ).fetchone()
    return newest, upcoming


class _Batches:
    """The commits of one refresh. Each that changed what readers see is a generation of its
    own, announced at once when the refresh writes the index being served."""

    def __init__(
        self,
        db: sqlite3.Connection,
        report: Report,
        announce: Callable[[int, frozenset[str]], None] | None,
    ):
        self._db, self._report, self._announce = db, report, announce
        self._counted = (0, 0, 0)  # of report.added, changed and removed, at the last commit

    def commit(self, *, final: bool = False) -> None:
        report = self._report
        lists = (report.added, report.changed, report.removed)
        counted = (len(report.added), len(report.changed), len(report.removed))
        moved = counted != self._counted or (final and report.times_changed)
        if moved:
            self._db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
            )
        self._db.execute("COMMIT")
        ids = frozenset(
            i for found, start in zip(lists, self._counted, strict=True) for i in found[start:]
        )
        self._counted = counted
        if moved and self._announce is not None:
            (generation,) = self._db.execute(
                "SELECT value FROM meta WHERE key = 'generation'"
            ).fetchone()
            self._announce(int(generation), ids)


@dataclass(frozen=True)
class Settling:
    """Which documents a refresh holds back, their articles kept (EDIT_SETTLE_SECONDS)."""

    on: bool = True
    # Documents held once already, with the (size, mtime_ns) they had: the same again, judged.
    settled: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def holds(self, document: Loaded, index: IndexState) -> bool:
        """Whether a published document now unreadable or unparseable is held. (A new document
        that cannot be parsed is reported at once: nothing is withdrawn, and once written in
        full it changes again.)"""
        if not self.on or document.problem is None or document.seed.problem is not None:
            return False  # parsed, or refused for what it is (its name, its kind, its size)
        if not index.file_article.get(document.seed.name):
            return False
        return self.settled.get(document.seed.name) != document.seed.signature


# The article fields a listing may be narrowed by, and their slug columns.
FACET_COLUMNS = {"agency": "agency_slug", "city": "city_slug"}


def search_expression(query: str) -> str | None:
    """An FTS5 query for what a search box's text asks: every word (the last one typed may be
    the start of a word), ``a OR b`` either word, ``-word`` without it, as people type them
    into search engines; None when no word is asked for (only ``-word``s match nothing
    apart). Each word is a quoted string, so FTS5's syntax in the text ("AND", "*", "col:",
    "NEAR") is plain words; of words and exclusions, the first MAX_SEARCH_TERMS count."""
    groups: list[list[str]] = []  # each, one of its words (OR); together, all of them
    excluded: list[str] = []
    either = False  # an "OR" joins the next word to the last group
    last_is_prefix = False
    for minus, word in search_words(query)[:MAX_SEARCH_TERMS]:
        if word == "OR" and not minus and groups and not either:
            either = True
            continue
        if minus:
            excluded.append(f'"{word}"')
            last_is_prefix = False
            continue
        term = f'"{word}"'
        if either:
            groups[-1].append(term)
        else:
            groups.append([term])
        either, last_is_prefix = False, True
    if either:  # a last "OR" with nothing after it: the word itself
        groups.append(['"OR"'])
        last_is_prefix = True
    if not groups:
        return None
    if last_is_prefix:
        groups[-1][-1] += "*"
    # (FTS5 joins two phrases by a space, but a bracket only by an explicit AND.)
    expression = " AND ".join(g[0] if len(g) == 1 else f"({' OR '.join(g)})" for g in groups)
    return "".join([expression, *(f" NOT {term}" for term in excluded)])


def search_words(query: str) -> list[tuple[bool, str]]:
    """The words of a search box's text, each with whether a ``-`` before it excludes it.

    NFKC first: a decomposed accent ("u" + U+0308) would otherwise split a word in two. The
    tokenizer's separators (punctuation, "_") split words here too, because this index has no
    positions to match a phrase of several tokens with (detail=none): a phrase in quotes is
    its words. A hyphen inside a word ("covid-19") excludes nothing."""
    text = unicodedata.normalize("NFKC", query)
    return [(bool(minus), word) for minus, word in _SEARCH_WORD.findall(text)]


# A word, after a "-" that follows a space or opens the text ("-concert"), or not.
_SEARCH_WORD = re.compile(r"(?:(?<!\S)(-))?([^\W_]+)")


# The rows of the articles a search expression matches.
_MATCHING = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"


@dataclass
class IndexState:
    """What a refresh needs to know about the index, read once instead of once per file.

    A large refresh reads all of it; a small one (a document or two while serving a large
    archive) reads only the rows those documents can touch.
    """

    file_article: dict[str, str | None]
    articles: dict[str, Indexed]
    by_hash: dict[str, str]
    # The files this refresh has yet to apply: each gives its own verdict when its turn comes.
    pending: set[str] = field(default_factory=set)
    # Of those, the ones a copy sorting first took an article from: (its id, the copy).
    handed: dict[str, tuple[str, Filed]] = field(default_factory=dict)

    @classmethod
    def read(cls, db: sqlite3.Connection, names: list[str], loaded: list[Loaded]) -> IndexState:
        ids: list[str] = []
        hashes: list[str] = []
        if len(names) > SMALL_REFRESH:
            files = "SELECT name, article_id FROM files"
            where, args = "", []
        else:
            marks = ",".join("?" * len(names))
            files, args = f"SELECT name, article_id FROM files WHERE name IN ({marks})", names
            ids = [d.article.id for d in loaded if d.article]
            hashes = [d.article.content_hash for d in loaded if d.article]
            where = (
                f"WHERE id IN ({','.join('?' * len(ids))}) OR content_hash IN "
                f"({','.join('?' * len(hashes))}) OR file_name IN ({marks})"
            )
        file_article = dict(db.execute(files, args))
        row_args = (*ids, *hashes, *names) if where else ()
        articles = {
            row[1]: Indexed(row[0], *row[2:])
            for row in db.execute(
                "SELECT rowid, id, file_name, content_hash, updated_ts, agency_slug, city_slug "
                f"FROM articles {where}",
                row_args,
            )
        }
        return cls(
            file_article=file_article,
            articles=articles,
            by_hash={a.content_hash: article_id for article_id, a in articles.items()},
        )

    def holders(self, article: Filed) -> dict[str, str]:
        """The other files whose articles ``article`` conflicts with: the one holding its id,
        and the one holding its text under another id; file name -> that article's id."""
        found = {}
        holder = self.articles.get(article.id)
        if holder is not None and holder.file_name != article.file_name:
            found[holder.file_name] = article.id
        same = self.by_hash.get(article.content_hash)
        if same is not None and same != article.id:
            found[self.articles[same].file_name] = same
        return found

    def add(self, article: Filed, rowid: int, updated_ts: float) -> None:
        self.articles[article.id] = Indexed(
            rowid, article.file_name, article.content_hash, updated_ts,
            article.agency_slug, article.city_slug,
        )  # fmt: skip
        self.by_hash[article.content_hash] = article.id

    def remove(self, article_id: str) -> int:
        gone = self.articles.pop(article_id)
        if self.by_hash.get(gone.content_hash) == article_id:
            del self.by_hash[gone.content_hash]
        return gone.rowid


@dataclass(frozen=True)
class Indexed:
    """What a refresh knows of an indexed article without reading it."""

    rowid: int
    file_name: str
    content_hash: str
    updated_ts: float
    agency_slug: str | None
    city_slug: str | None
