"""Saying what the index holds and what a refresh changed, in one place for the command line, the
server's start-up and the watcher: one line per document (added, changed, removed, or skipped and
why), bounded for bulk refreshes, and counts with their nouns in the right number.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line imports this module before it needs the store
    from .store import Problem, Report

log = logging.getLogger("feedsvc.changes")

# Per kind of change, at most this many documents are named one per line; the rest are counted.
MAX_LISTED = 20
# A start-up summary names at most this many skipped documents.
MAX_SUMMARISED = 5


def quantity(count: int, noun: str) -> str:
    """``quantity(1, "article")`` is "1 article", ``quantity(2000, "article")`` "2,000 articles"."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def log_report(report: Report) -> None:
    """Log each document a refresh added, changed, removed or skipped, by file name."""
    for kind, ids in (("added", report.added), ("changed", report.changed)):
        _log_names(logging.INFO, kind, [_named(report, i) for i in ids])
    _log_names(logging.INFO, "removed", [report.removed_names.get(i, i) for i in report.removed])
    log_skipped(report)


def log_skipped(report: Report) -> None:
    """Log each document a refresh skipped, with why (MAX_LISTED, then a count)."""
    _log_names(logging.WARNING, "skipped", [f"{p.file_name}: {p.reason}" for p in report.skipped])


def _named(report: Report, article_id: str) -> str:
    """A document's file name, and when it will be published if it is held (an embargo)."""
    name = report.names.get(article_id, article_id)
    if (release := report.held.get(article_id)) is not None:
        from .dates import rfc3339  # (dateutil: not for every import of this module)

        return f"{name} (held until {rfc3339(release)})"
    return name


def _log_names(level: int, kind: str, names: Sequence[str]) -> None:
    for name in names[:MAX_LISTED]:
        log.log(level, "%s %s", kind, name)
    if len(names) > MAX_LISTED:
        log.log(level, "... and %s more %s", f"{len(names) - MAX_LISTED:,}", kind)


def summarise_problems(problems: Sequence[Problem]) -> str | None:
    """One line naming the documents the index skips, or None when there are none."""
    if not problems:
        return None
    shown = "; ".join(f"{p.file_name} ({p.reason})" for p in problems[:MAX_SUMMARISED])
    more = len(problems) - MAX_SUMMARISED
    rest = f"; and {quantity(more, 'other')}" if more > 0 else ""
    return (
        f"{quantity(len(problems), 'document')} skipped: {shown}{rest} "
        "(`feedsvc check --problems` lists them all)"
    )
