"""Reading seed files into Articles for the store, and what a refresh tracks while it writes.

Parsing is the costly part of indexing and needs no database, so it runs here, on every core
for large batches; the store then applies the results in one transaction.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from . import seedfiles
from .document import Article, DocumentError, ParseOptions, parse

# Below this many files to parse, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 400


Loaded = tuple[seedfiles.SeedFile, Article | None, str | None, bool]


def load_document(
    folder: Path, seed: seedfiles.SeedFile, max_bytes: int, options: ParseOptions
) -> Loaded:
    """Read and parse one seed file: (seed, article or None, problem, retry later?)."""
    if seed.problem is not None:
        return seed, None, seed.problem, False
    try:
        raw = seedfiles.read(folder, seed.name, max_bytes)
        return seed, parse(raw, seed.name, options), None, False
    except DocumentError as exc:
        return seed, None, exc.reason, exc.retry
    except (OSError, ValueError) as exc:
        return seed, None, f"cannot read the file: {getattr(exc, 'strerror', None) or exc}", False


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
    """What a refresh needs to know about the index, read once instead of once per file."""

    file_article: dict[str, str | None]
    articles: dict[str, Indexed]
    by_hash: dict[str, str]

    @classmethod
    def read(cls, db: sqlite3.Connection) -> IndexState:
        articles = {
            article_id: Indexed(rowid, file_name, content_hash,
                                 datetime.fromtimestamp(updated_ts, UTC))
            for rowid, article_id, file_name, content_hash, updated_ts in db.execute(
                "SELECT rowid, id, file_name, content_hash, updated_ts FROM articles"
            )
        }  # fmt: skip
        return cls(
            file_article=dict(db.execute("SELECT name, article_id FROM files")),
            articles=articles,
            by_hash={a.content_hash: article_id for article_id, a in articles.items()},
        )

    def duplicate_of(self, article: Article) -> tuple[str | None, bool]:
        holder = self.articles.get(article.id)
        if holder is not None and holder.file_name != article.file_name:
            return f"id {article.id} is already used by {holder.file_name}", True
        same = self.by_hash.get(article.content_hash)
        if same is not None and same != article.id:
            return f"same document as {self.articles[same].file_name}", True
        return None, False

    def add(self, article: Article, rowid: int) -> None:
        updated = article.updated or article.published
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
