"""Reading seed files into Articles for the store, and what a refresh tracks while it writes.

Parsing is the costly part of indexing and needs no database, so it runs here, on every core
for large batches; the store then applies the results in one transaction.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import NamedTuple

from . import seedfiles
from .document import Article, DocumentError, ParseOptions, parse

# Below this many files to parse, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 400
# Up to this many files, a refresh reads only the index rows they can touch.
SMALL_REFRESH = 200


# The articles table's columns as encode() fills them; the store appends updated_ts.
ARTICLE_COLUMNS = (
    "id, file_name, seq, headline, published, published_ts, has_time, city, city_slug, agency, "
    "agency_slug, summary, paragraphs, removed, warnings, content_hash"
)


class Filed(NamedTuple):
    """What the store looks at to file a parsed article; the rest travels encoded in a row."""

    id: str
    file_name: str
    content_hash: str
    published: datetime
    headline: str
    agency_slug: str | None
    city_slug: str | None
    warnings: str  # JSON, as the files table keeps them


class Loaded(NamedTuple):
    """One seed file read and parsed: the article's facts and encoded row, or the problem.

    Large batches are parsed in worker processes and sent back pickled, so this carries the
    article once, encoded, rather than the Article object beside its encoding.
    """

    seed: seedfiles.SeedFile
    article: Filed | None
    problem: str | None = None
    retry: bool = False  # the same bytes may be publishable later
    row: tuple | None = None  # ARTICLE_COLUMNS, encoded where the parsing ran


_ROW = [name.strip() for name in ARTICLE_COLUMNS.split(",")]
ROW_PARAGRAPHS, ROW_WARNINGS = _ROW.index("paragraphs"), _ROW.index("warnings")
ROW_AGENCY_SLUG, ROW_CITY_SLUG = _ROW.index("agency_slug"), _ROW.index("city_slug")


# One encoder for every row: json.dumps() with any option builds a new encoder per call.
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def join_paragraphs(paragraphs: tuple[str, ...]) -> str:
    """Paragraphs as the store keeps them, one per line: parsing folds every run of whitespace,
    newlines included, into one space, so no paragraph holds a newline. A join is twenty times
    cheaper than JSON for the text that makes most of every row."""
    return "\n".join(paragraphs)


def split_paragraphs(stored: str) -> tuple[str, ...]:
    return tuple(stored.split("\n"))


def encode(article: Article) -> tuple:
    """The article as a row of ARTICLE_COLUMNS (JSON for the lists but paragraphs)."""
    return (
        article.id, article.file_name, article.seq, article.headline,
        article.published.isoformat(), article.published.timestamp(), int(article.has_time),
        article.city, article.city_slug, article.agency, article.agency_slug, article.summary,
        join_paragraphs(article.paragraphs),
        _to_json([[r.text, r.reason] for r in article.removed]),
        _to_json(article.warnings), article.content_hash,
    )  # fmt: skip


def load_document(
    folder: Path, seed: seedfiles.SeedFile, max_bytes: int, options: ParseOptions
) -> Loaded:
    """Read, parse and encode one seed file (in a worker process for large batches)."""
    if seed.problem is not None:
        return Loaded(seed, None, seed.problem)
    try:
        article = parse(seedfiles.read(folder, seed.name, max_bytes), seed.name, options)
    except DocumentError as exc:
        return Loaded(seed, None, exc.reason, exc.retry)
    except (OSError, ValueError) as exc:
        return Loaded(seed, None, f"cannot read the file: {getattr(exc, 'strerror', None) or exc}")
    row = encode(article)
    filed = Filed(
        article.id, article.file_name, article.content_hash, article.published,
        article.headline, row[ROW_AGENCY_SLUG], row[ROW_CITY_SLUG], row[ROW_WARNINGS],
    )  # fmt: skip
    return Loaded(seed, filed, row=row)


def load_documents(
    folder: Path, seeds: list[seedfiles.SeedFile], max_bytes: int, options: ParseOptions
) -> Iterator[Loaded]:
    """Read and parse many files, on every core when there are many and it is safe to fork."""
    load = partial(load_document, folder, max_bytes=max_bytes, options=options)
    cores = os.cpu_count() or 1
    # fork() is only safe while this process runs one thread (the CLI, not a serving worker,
    # whose rare large refreshes run in the watcher thread and stay sequential).
    if len(seeds) < PARALLEL_THRESHOLD or cores < 2 or threading.active_count() > 1:
        yield from map(load, seeds)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(cores) as pool:
        yield from pool.imap(load, seeds, chunksize=64)


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
