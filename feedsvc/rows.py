"""The article row: how an Article is laid out in the index's ``articles`` table, both ways.

The one place that knows the columns. ``encode`` runs where documents are parsed (in worker
processes for large batches) and ``decode`` wherever the store reads articles back; the schema
itself is in store.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from .document import Article, Removed

# The columns encode() fills, in order; the store adds updated_ts, which only it knows.
ENCODED_COLUMNS = (
    "id, file_name, seq, headline, published, published_ts, has_time, city, city_slug, agency, "
    "agency_slug, summary, paragraphs, removed, warnings, content_hash, authors, dateline, "
    "zone_label"
)
# The columns decode() reads, in order.
DECODED_COLUMNS = (
    "id, file_name, seq, headline, published, has_time, updated_ts, city, agency, summary, "
    "paragraphs, removed, warnings, content_hash, authors, dateline, zone_label"
)

_ENCODED = [name.strip() for name in ENCODED_COLUMNS.split(",")]
PARAGRAPHS, WARNINGS = _ENCODED.index("paragraphs"), _ENCODED.index("warnings")
AGENCY_SLUG, CITY_SLUG = _ENCODED.index("agency_slug"), _ENCODED.index("city_slug")

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
    """The article as a row of ENCODED_COLUMNS (JSON for the lists but paragraphs)."""
    return (
        article.id, article.file_name, article.seq, article.headline,
        article.published.isoformat(), article.published.timestamp(), int(article.has_time),
        article.city, article.city_slug, article.agency, article.agency_slug, article.summary,
        join_paragraphs(article.paragraphs),
        _to_json([[r.text, r.reason] for r in article.removed]),
        _to_json(article.warnings), article.content_hash, _to_json(article.authors),
        article.dateline, article.zone_label,
    )  # fmt: skip


def decode(row: tuple) -> Article:
    """An Article from a row of DECODED_COLUMNS."""
    (article_id, file_name, seq, headline, published, has_time, updated_ts, city, agency,
     summary, paragraphs, removed, warnings, content_hash, authors, dateline,
     zone_label) = row  # fmt: skip
    return Article(
        id=article_id,
        file_name=file_name,
        seq=seq,
        headline=headline,
        published=datetime.fromisoformat(published),
        has_time=bool(has_time),
        city=city,
        agency=agency,
        paragraphs=split_paragraphs(paragraphs),
        summary=summary,
        removed=tuple(Removed(text, reason) for text, reason in json.loads(removed)),
        warnings=tuple(json.loads(warnings)),
        authors=tuple(json.loads(authors)),
        dateline=dateline,
        zone_label=zone_label,
        content_hash=content_hash,
        updated=datetime.fromtimestamp(updated_ts, UTC),
    )
