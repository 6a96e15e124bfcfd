"""Reading seed files into encoded article rows for the store, on every core for large batches.

Parsing is the costly part of indexing and needs no database, so it runs here, apart from the
store, which applies the results. Nothing here touches SQLite.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import NamedTuple

from . import rows, seedfiles, stopsignals
from .document import DocumentError, ParseOptions, parse

# Below this many files to parse, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 400
# prctl(2): the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
# Files handed to the parser processes at a time. The parsers outrun the store's writer, and
# what they have parsed waits in the calling process until it is written: handed out all at
# once, a first index of a million documents held most of them there, parsed (3 GB). Two
# windows are out at a time, so the parsers never wait for the writer to finish one.
WINDOW_FILES = 5000
CHUNK_FILES = 64


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
    row: tuple | None = None  # rows.ENCODED_COLUMNS, encoded where the parsing ran
    # The file could not be read (permissions, an I/O error, a file growing as it was read):
    # that may pass with nothing about the file changing, so it is read again.
    retry: bool = False


def load_document(
    folder: Path, seed: seedfiles.SeedFile, max_bytes: int, options: ParseOptions
) -> Loaded:
    """Read, parse and encode one seed file (in a worker process for large batches)."""
    if seed.problem is not None:
        return Loaded(seed, None, seed.problem)
    try:
        raw = seedfiles.read(folder, seed.name, max_bytes)
    except (OSError, ValueError) as exc:
        reason = f"cannot read the file: {getattr(exc, 'strerror', None) or exc}"
        return Loaded(seed, None, reason, retry=True)
    try:
        article = parse(raw, seed.name, options)
    except DocumentError as exc:
        return Loaded(seed, None, exc.reason)
    except ValueError as exc:
        # A value the parser's checks let through (a bug): the same bytes fail the same way,
        # so reported once like a document's fault, not read again and again as a read error.
        return Loaded(seed, None, f"cannot parse the document: {exc}")
    row = rows.encode(article)
    filed = Filed(
        article.id, article.file_name, article.content_hash, article.published,
        article.headline, row[rows.AGENCY_SLUG], row[rows.CITY_SLUG], row[rows.WARNINGS],
    )  # fmt: skip
    return Loaded(seed, filed, row=row)


def load_documents(
    folder: Path,
    seeds: list[seedfiles.SeedFile],
    max_bytes: int,
    options: ParseOptions,
    *,
    parallel: bool = False,
) -> Iterator[Loaded]:
    """Read and parse many files, in order; with ``parallel``, on every core when there are many.

    ``parallel`` forks worker processes, which is only safe while the calling process runs one
    thread: the CLI may ask for it, a serving worker (whose watcher thread refreshes) must not.
    """
    load = partial(load_document, folder, max_bytes=max_bytes, options=options)
    cores = os.cpu_count() or 1
    if not parallel or len(seeds) < PARALLEL_THRESHOLD or cores < 2:
        yield from map(load, seeds)
        return
    context = multiprocessing.get_context("fork")
    with contextlib.ExitStack() as stack:
        with stopsignals.held_while_forking():  # the pool forks its parsers as it starts
            pool = context.Pool(cores, initializer=_parser_process, initargs=(os.getpid(),))
            stack.enter_context(pool)  # a Ctrl-C delivered as the hold ends terminates it
        windows = (
            seeds[start : start + WINDOW_FILES] for start in range(0, len(seeds), WINDOW_FILES)
        )
        parsing = pool.imap(load, next(windows), chunksize=CHUNK_FILES)
        for window in windows:
            following = pool.imap(load, window, chunksize=CHUNK_FILES)
            yield from parsing
            parsing = following
        yield from parsing


def _parser_process(command: int) -> None:
    """In each forked parser. Ctrl-C, sent to the whole process group, is the command's to
    handle: its KeyboardInterrupt leaves the pool's ``with``, whose terminate() ends the
    parsers; a parser that took its own would print a traceback each. And when the command dies
    without that (SIGTERM or SIGKILL to it alone, the OOM killer), its parsers die with it
    (Linux's PR_SET_PDEATHSIG, prctl(2)) instead of each finding its pipe closed mid-write."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopsignals.released()  # forked with them held (load_documents)
    die_with(command)  # elsewhere (not Linux), orphans end on their closed pipe


def die_with(parent: int, signum: int = signal.SIGKILL) -> None:
    """Have this process sent ``signum`` (by default killed) when ``parent``, the process that
    started it, dies (Linux's PR_SET_PDEATHSIG, prctl(2); nothing elsewhere); exits at once if
    it already has. Linux sends it when the *thread* that started this process ends: that
    thread must wait for this process (as rescan.scan_apart's does)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return
    prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent:  # it died before prctl: nobody will say so
        os._exit(0)
