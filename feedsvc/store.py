"""The article store: a SQLite index of the seeds folder, kept in step with it incrementally.

The documents are the source of truth; the index is a cache that can be deleted at any time.
One process at a time writes (a lock file), each refresh commits in one transaction, and readers
use WAL snapshots, so several worker processes can read while one re-indexes and never see a
half-done state. ``generation`` counts committed changes; caches compare it to know when to drop.
"""

from __future__ import annotations

import fcntl
import logging
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from . import rows, seedfiles
from .config import Config
from .document import Article, ParseOptions
from .indexing import Filed, Loaded, load_documents

log = logging.getLogger(__name__)

# Up to this many files, a refresh reads only the index rows they can touch.
SMALL_REFRESH = 200
# The page cache of a large refresh (a first index, a folder of new documents).
BULK_CACHE_KIB = 64 * 1024
# 6: authors, dateline and zone_label; slugs in every script (python-slugify).
# 7: agency and city in the full-text index, which folds accents (remove_diacritics 2).
SCHEMA_VERSION = "7"
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
CREATE INDEX IF NOT EXISTS articles_newest ON articles (published_ts DESC, seq DESC, id DESC);
CREATE INDEX IF NOT EXISTS articles_agency
    ON articles (agency_slug, published_ts DESC, seq DESC, id DESC);
CREATE INDEX IF NOT EXISTS articles_city
    ON articles (city_slug, published_ts DESC, seq DESC, id DESC);
CREATE INDEX IF NOT EXISTS articles_hash ON articles (content_hash);
CREATE INDEX IF NOT EXISTS articles_file ON articles (file_name);
-- Search needs matching rows, not phrases or ranking (results are newest first), and
-- detail=none with columnsize=0 builds the index about twice as fast. The text is indexed
-- from the articles table itself (external content, paragraphs one per line), and the index
-- keeps no second copy of every article. People type without capitals or accents: unicode61
-- folds case, and remove_diacritics 2 folds every accent ("zurich" finds "ZÜRICH").
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5 (
    headline, paragraphs, agency, city, content=articles, content_rowid=rowid, detail=none,
    columnsize=0, tokenize='unicode61 remove_diacritics 2'
);
"""
NEWEST_FIRST = "ORDER BY published_ts DESC, seq DESC, id DESC"
OLDEST_FIRST = "ORDER BY published_ts ASC, seq ASC, id ASC"
MAX_SEARCH_TERMS = 8
# Documents skipped for a reason that can pass (a future date, a duplicate whose original may be
# deleted) are looked at again on every refresh that changes something, and at least this often.
RETRY_SECONDS = 60.0


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

    @property
    def any_change(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass(frozen=True)
class Facet:
    """An agency or a dateline city with its article count."""

    slug: str
    name: str
    count: int


class Store:
    def __init__(self, config: Config):
        self.seeds_dir = config.seeds_dir
        self.index_path = config.index_path
        self.max_bytes = config.max_document_bytes
        self.parse_options = ParseOptions(timezone=config.timezone, date_order=config.date_order)
        self._local = threading.local()
        self._last_retry = 0.0
        self.index_path.parent.mkdir(parents=True, exist_ok=True)
        self._prepare_schema()
        self.generation = self.read_generation()

    # -- connections -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.index_path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must stay in their thread)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _prepare_schema(self) -> None:
        with self._write_lock():
            db = self._db
            version = None
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                version = row and row[0]
            except sqlite3.OperationalError:
                pass
            if version not in (None, SCHEMA_VERSION):
                log.info("index %s has an old schema; rebuilding it", self.index_path)
                db.executescript(
                    "DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS files;"
                    "DROP TABLE IF EXISTS articles; DROP TABLE IF EXISTS articles_fts;"
                )
            db.executescript(SCHEMA)
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('generation', '0'),"
                " ('changed_at', '0')",
                (SCHEMA_VERSION,),
            )

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        """One writer at a time across processes: an exclusive lock on a file beside the index."""
        with open(f"{self.index_path}.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    # -- reading ---------------------------------------------------------------------------

    def read_generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def sync_generation(self) -> bool:
        """Pick up changes committed by another process; True when there were some."""
        current = self.read_generation()
        changed = current != self.generation
        self.generation = current
        return changed

    def changed_at(self) -> datetime:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'changed_at'").fetchone()
        return datetime.fromtimestamp(float(row[0]), UTC)

    def count(self, *, facet: tuple[str, str] | None = None) -> int:
        """How many articles, or how many with ``facet`` = (field, slug), e.g. ("city", "paris")."""
        where, args = _facet_filter(facet)
        return self._db.execute(f"SELECT count(*) FROM articles {where}", args).fetchone()[0]

    def latest(
        self, limit: int, offset: int = 0, *, facet: tuple[str, str] | None = None
    ) -> list[Article]:
        """Newest first, optionally only those with ``facet`` = (field, slug)."""
        where, args = _facet_filter(facet)
        cursor = self._db.execute(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles {where} {NEWEST_FIRST} LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [rows.decode(row) for row in cursor]

    def oldest(self, limit: int, offset: int = 0) -> list[Article]:
        cursor = self._db.execute(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles {OLDEST_FIRST} LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [rows.decode(row) for row in cursor]

    def link_rows(self, limit: int, offset: int = 0) -> list[tuple[str, str, datetime]]:
        """(id, headline, last change) newest first: what a sitemap needs, without the text."""
        cursor = self._db.execute(
            f"SELECT id, headline, updated_ts FROM articles {NEWEST_FIRST} LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [(i, h, datetime.fromtimestamp(ts, UTC)) for i, h, ts in cursor]

    def published_since(self, since: datetime, limit: int) -> list[Article]:
        cursor = self._db.execute(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles WHERE published_ts >= ? {NEWEST_FIRST} "
            "LIMIT ?",
            (since.timestamp(), limit),
        )
        return [rows.decode(row) for row in cursor]

    def get(self, article_id: str) -> Article | None:
        row = self._db.execute(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return rows.decode(row) if row else None

    def search(self, query: str, limit: int, offset: int = 0) -> list[Article]:
        """Articles with every word of ``query`` in their headline, text, agency or city (the
        last word may be the start of a word), newest first; [] when it has no words."""
        match = search_expression(query)
        if match is None:
            return []
        cursor = self._db.execute(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles WHERE rowid IN "
            f"(SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?) {NEWEST_FIRST} "
            "LIMIT ? OFFSET ?",
            (match, limit, offset),
        )
        return [rows.decode(row) for row in cursor]

    def search_count(self, query: str) -> int:
        """How many articles ``search`` finds for ``query``, all pages together."""
        match = search_expression(query)
        if match is None:
            return 0
        return self._db.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", (match,)
        ).fetchone()[0]

    def neighbours(self, article: Article) -> tuple[Article | None, Article | None]:
        """(the next newer, the next older) article in the newest-first order of every list."""
        # Row values compare in the order of NEWEST_FIRST; a missing seq sorts as the lowest.
        key = (article.published.timestamp(), -1 if article.seq is None else article.seq)
        newer = self._db.execute(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles WHERE published_ts >= ? AND "
            "(published_ts, coalesce(seq, -1), id) > (?, ?, ?) "
            "ORDER BY published_ts ASC, seq ASC, id ASC LIMIT 1",
            (key[0], *key, article.id),
        ).fetchone()
        older = self._db.execute(
            f"SELECT {rows.DECODED_COLUMNS} FROM articles WHERE published_ts <= ? AND "
            f"(published_ts, coalesce(seq, -1), id) < (?, ?, ?) {NEWEST_FIRST} LIMIT 1",
            (key[0], *key, article.id),
        ).fetchone()
        return (rows.decode(newer) if newer else None, rows.decode(older) if older else None)

    def agencies(self) -> list[Facet]:
        return self._facets("agency")

    def cities(self) -> list[Facet]:
        return self._facets("city")

    def facet(self, kind: str, slug: str) -> Facet | None:
        return next((f for f in self._facets(kind) if f.slug == slug), None)

    def _facets(self, kind: str) -> list[Facet]:
        column = kind if kind in FACET_COLUMNS else None
        assert column is not None, kind
        # The most common spelling names the group ("Reuters" over "REUTERS").
        cursor = self._db.execute(
            f"SELECT {column}_slug, {column}, count(*) AS n FROM articles "
            f"WHERE {column}_slug IS NOT NULL AND {column}_slug != '' "
            f"GROUP BY {column}_slug, {column} ORDER BY {column}_slug, n DESC"
        )
        facets: dict[str, Facet] = {}
        for slug, name, n in cursor:
            known = facets.get(slug)
            facets[slug] = Facet(
                slug, known.name if known else name, n + (known.count if known else 0)
            )
        return sorted(facets.values(), key=lambda f: (-f.count, f.slug))

    def problems(self) -> list[Problem]:
        cursor = self._db.execute(
            "SELECT name, problem FROM files WHERE problem IS NOT NULL ORDER BY name"
        )
        return [Problem(name, reason) for name, reason in cursor]

    # -- writing ---------------------------------------------------------------------------

    def refresh(
        self,
        progress: Callable[[int, int], None] | None = None,
        names: Collection[str] | None = None,
        *,
        parallel: bool = False,
    ) -> Report:
        """Bring the index in step with the seeds folder; parses only new and changed files.

        ``names`` limits the look to those files (the ones the file system reported changed);
        by default the whole folder is scanned. ``parallel`` parses large batches in forked
        processes: only for a caller that runs a single thread (see indexing.load_documents).
        """
        # Listing a large folder is the slow part of a rescan: done before taking the lock, so
        # that it never holds up another process's refresh.
        listed = seedfiles.signatures(self.seeds_dir) if names is None else None
        with self._write_lock():
            report = self._refresh(progress, names, listed, parallel)
        self.generation = self.read_generation()
        return report

    def _refresh(
        self,
        progress: Callable[[int, int], None] | None,
        names: Collection[str] | None,
        listed: set[seedfiles.Signature] | None,
        parallel: bool,
    ) -> Report:
        db = self._db
        report = Report()
        if listed is not None:
            # Whole sets compared in C: at 100,000 files, comparing name by name in Python took
            # as long as listing the folder.
            on_record = set(db.execute("SELECT name, size, mtime_ns FROM files"))
            changed = [name for name, _, _ in listed - on_record]
            gone = []
            if changed or len(listed) != len(on_record):
                gone = sorted({name for name, _, _ in on_record} - {name for name, _, _ in listed})
            found = seedfiles.describe(self.seeds_dir, changed, self.max_bytes)
            todo = sorted(found)
            present = len(listed)
        else:
            names = list(names or ())
            found = seedfiles.describe(self.seeds_dir, names, self.max_bytes)
            marks = ",".join("?" * len(names))
            cursor = db.execute(
                f"SELECT name, size, mtime_ns FROM files WHERE name IN ({marks})", names
            )
            known = {name: (size, mtime_ns) for name, size, mtime_ns in cursor}
            gone = sorted(set(known) - set(found))
            todo = sorted(name for name, seed in found.items() if known.get(name) != seed.signature)
            present = len(found)
        # Files skipped for a passing reason (a duplicate whose original may be gone, a future
        # date) are looked at again whenever something else changed, and every RETRY_SECONDS.
        if todo or gone or (listed is not None and self._retry_due()):
            retry = [n for (n,) in db.execute("SELECT name FROM files WHERE retry = 1")]
            found.update(seedfiles.describe(self.seeds_dir, retry, self.max_bytes))
            todo = sorted(set(todo) | {name for name in retry if name in found})
        report.unchanged = present - len(todo)
        if not todo and not gone:
            return report

        now = datetime.now(UTC)
        options = replace(self.parse_options, now=now)
        seeds = [found[n] for n in todo]
        if len(todo) > SMALL_REFRESH:
            loaded: Iterable[Loaded] = load_documents(
                self.seeds_dir, seeds, self.max_bytes, options, parallel=parallel
            )
            index = IndexState.read(db, [*todo, *gone], [])
        else:
            loaded = list(load_documents(self.seeds_dir, seeds, self.max_bytes, options))
            index = IndexState.read(db, [*todo, *gone], loaded)
        with self._page_cache(BULK_CACHE_KIB if len(todo) > SMALL_REFRESH else None):
            db.execute("BEGIN IMMEDIATE")
            try:
                for name in gone:
                    self._forget_file(name, index, report)
                for done, document in enumerate(loaded, 1):
                    self._apply(document, index, now, report)
                    if progress:
                        progress(done, len(todo))
                if report.any_change:
                    self._bump_generation(now)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        for problem in report.skipped:
            log.warning("skipped %s: %s", problem.file_name, problem.reason)
        return report

    def _bump_generation(self, now: datetime) -> None:
        db = self._db
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        db.execute("UPDATE meta SET value = ? WHERE key = 'changed_at'", (now.timestamp(),))

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

    def _retry_due(self) -> bool:
        if time.monotonic() - self._last_retry < RETRY_SECONDS:
            return False
        self._last_retry = time.monotonic()
        return True

    def _apply(self, document: Loaded, index: IndexState, now: datetime, report: Report) -> None:
        seed, article = document.seed, document.article
        problem, retry = document.problem, document.retry
        if article is not None:
            problem, retry = index.duplicate_of(article)
        previous_id = index.file_article.get(seed.name)
        if previous_id and (article is None or problem or previous_id != article.id):
            self._delete_article(previous_id, index, report)
        if article is not None and problem is None:
            self._save_article(document, index, now, report)
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
                int(retry),
            ),
        )

    def _save_article(
        self, document: Loaded, index: IndexState, now: datetime, report: Report
    ) -> None:
        article = document.article
        assert article is not None and document.row is not None
        old = index.articles.get(article.id)
        if old is None:
            updated = article.published
            report.added.append(article.id)
        else:
            same = old.content_hash == article.content_hash
            updated = old.updated if same else max(now, article.published)
            report.changed.append(article.id)
            if previous := self._delete_article(article.id, index, None):
                report.touched.append((previous.agency_slug, previous.city_slug))
        report.touched.append((article.agency_slug, article.city_slug))
        cursor = self._db.execute(
            f"INSERT INTO articles ({rows.ENCODED_COLUMNS}, updated_ts) "
            f"VALUES ({','.join('?' * (len(document.row) + 1))})",
            (*document.row, updated.timestamp()),
        )
        rowid = cursor.lastrowid
        assert rowid is not None  # always set after an INSERT
        # Indexed from the row just written: exactly the values a later 'delete' will give.
        self._db.execute(
            "INSERT INTO articles_fts (rowid, headline, paragraphs, agency, city) "
            "SELECT rowid, headline, paragraphs, agency, city FROM articles WHERE rowid = ?",
            (rowid,),
        )
        index.add(article, rowid, updated)

    def _forget_file(self, name: str, index: IndexState, report: Report) -> None:
        article_id = index.file_article.pop(name, None)
        if article_id:
            self._delete_article(article_id, index, report)
        self._db.execute("DELETE FROM files WHERE name = ?", (name,))

    def _delete_article(
        self, article_id: str, index: IndexState, report: Report | None
    ) -> Article | None:
        """Delete an article's rows; the old version is returned for change notifications."""
        old = self.get(article_id)
        if old is None or article_id not in index.articles:
            return None
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
        return old


# The article fields a listing may be narrowed by, and their slug columns.
FACET_COLUMNS = {"agency": "agency_slug", "city": "city_slug"}


def search_expression(query: str) -> str | None:
    """An FTS5 query: each word of ``query`` as a quoted string, the last as a prefix; None when
    there is no word. Quoting keeps FTS5 syntax in the query ("AND", "*", "col:") plain words."""
    # NFKC first: a decomposed accent ("u" + U+0308) would otherwise split a word in two. The
    # tokenizer's separators (punctuation, "_") split words here too, because this index has
    # no positions to match a phrase of several tokens with (detail=none).
    words = re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", query))[:MAX_SEARCH_TERMS]
    if not words:
        return None
    return " ".join(f'"{word}"' for word in words) + "*"


def _facet_filter(facet: tuple[str, str] | None) -> tuple[str, tuple[str, ...]]:
    if facet is None:
        return "", ()
    field, slug = facet
    return f"WHERE {FACET_COLUMNS[field]} = ?", (slug,)


@dataclass
class IndexState:
    """What a refresh needs to know about the index, read once instead of once per file.

    A large refresh reads all of it; a small one (a document or two while serving a large
    archive) reads only the rows those documents can touch.
    """

    file_article: dict[str, str | None]
    articles: dict[str, Indexed]
    by_hash: dict[str, str]

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
            article_id: Indexed(rowid, file_name, content_hash,
                                datetime.fromtimestamp(updated_ts, UTC))
            for rowid, article_id, file_name, content_hash, updated_ts in db.execute(
                f"SELECT rowid, id, file_name, content_hash, updated_ts FROM articles {where}",
                row_args,
            )
        }  # fmt: skip
        return cls(
            file_article=file_article,
            articles=articles,
            by_hash={a.content_hash: article_id for article_id, a in articles.items()},
        )

    def duplicate_of(self, article: Filed) -> tuple[str | None, bool]:
        holder = self.articles.get(article.id)
        if holder is not None and holder.file_name != article.file_name:
            return f"id {article.id} is already used by {holder.file_name}", True
        same = self.by_hash.get(article.content_hash)
        if same is not None and same != article.id:
            return f"same document as {self.articles[same].file_name}", True
        return None, False

    def add(self, article: Filed, rowid: int, updated: datetime) -> None:
        self.articles[article.id] = Indexed(rowid, article.file_name, article.content_hash, updated)
        self.by_hash[article.content_hash] = article.id

    def remove(self, article_id: str) -> int:
        gone = self.articles.pop(article_id)
        if self.by_hash.get(gone.content_hash) == article_id:
            del self.by_hash[gone.content_hash]
        return gone.rowid


@dataclass(frozen=True)
class Indexed:
    rowid: int
    file_name: str
    content_hash: str
    updated: datetime
