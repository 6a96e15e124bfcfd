"""The document format: bytes of one seed file -> an Article. Pure: no I/O, no Flask.

A document is a headline line, a date line, then paragraphs separated by blank lines. The first
paragraph usually opens with a dateline and agency (``WASHINGTON (Reuters) -``). Scraped junk
(widget headings, ads, related headlines) is removed from the body and kept with the article.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime

from .boilerplate import junk_reason
from .dates import DateError, FutureDateError, parse_date_line

# "000_5e300edb8a850530.txt": a sequence number, then the 16-hex-digit id.
FILE_NAME = re.compile(r"^(\d{1,9})_([0-9a-f]{16})\.txt$")
MAX_HEADLINE_CHARS = 300
SUMMARY_CHARS = 280

# XML 1.0 forbids C0 controls other than tab/newline/CR; C1 controls and the non-characters
# U+FFFE/U+FFFF are legal in places but rejected by validators and many feed readers.
_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n")
_DATELINE = re.compile(
    r"""^(?P<city>[^\W\d_][^\n(),]{0,40}?)       # city, in capitals (checked below)
        (?:,\s*(?P<region>[A-Z][A-Za-z.'’ ]{1,30}?))?   # ", Ill." / ", Venezuela"
        (?:,\s*(?P<when>[A-Z][a-z]{2,8}\.?\s+\d{1,2}))?  # ", June 3"
        \s*\((?P<agency>[A-Z][A-Za-z.&'’\- ]{0,39})\)    # "(Reuters)"
        \s*(?:--|[-—–])?\s*""",
    re.VERBOSE,
)
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[\"“‘(]?[A-Z0-9])")


class DocumentError(ValueError):
    """A document that cannot be published; ``reason`` is plain words for the operator."""

    def __init__(self, file_name: str, reason: str, *, retry: bool = False):
        super().__init__(f"{file_name}: {reason}")
        self.file_name = file_name
        self.reason = reason
        # True when the same bytes may become publishable later (a date in the future).
        self.retry = retry


@dataclass(frozen=True)
class Removed:
    text: str
    reason: str


@dataclass(frozen=True)
class ParseOptions:
    timezone: str = "UTC"
    date_order: str = "mdy"
    now: datetime | None = None


@dataclass(frozen=True)
class Article:
    id: str
    file_name: str
    seq: int | None
    headline: str
    published: datetime
    has_time: bool
    city: str | None
    agency: str | None
    paragraphs: tuple[str, ...]
    summary: str
    removed: tuple[Removed, ...] = ()
    warnings: tuple[str, ...] = ()
    content_hash: str = field(default="", compare=False)
    # Set by the store: when the content last really changed (the publication date at first).
    updated: datetime | None = field(default=None, compare=False)

    @property
    def last_change(self) -> datetime:
        return self.updated or self.published

    @property
    def slug(self) -> str:
        return slugify(self.headline) or "article"  # urls.permalink_path uses the same rule

    @property
    def city_slug(self) -> str | None:
        return slugify(self.city) if self.city else None

    @property
    def agency_slug(self) -> str | None:
        return slugify(self.agency) if self.agency else None


def slugify(text: str, max_length: int = 80) -> str:
    """Lower-case ASCII words joined by hyphens: 'SÃO PAULO' -> 'sao-paulo'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    return slug or (words[0][:max_length] if words else "")


def identify(file_name: str) -> tuple[str, int | None, str | None]:
    """The article id and sequence number a file name gives, and a warning for odd names.

    ``NNN_<16 hex>.txt`` gives the hex as id and NNN as sequence number. Any other name gives the
    first 16 hex digits of the SHA-256 of the name, so the id is still stable while the file keeps
    its name.
    """
    if match := FILE_NAME.match(file_name):
        return match.group(2), int(match.group(1)), None
    digest = hashlib.sha256(file_name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return digest, None, "file name does not follow NNN_<16 hex digits>.txt; id taken from the name"


def decode(raw: bytes) -> tuple[str, list[str]]:
    """Bytes -> clean text (LF line endings, no XML-illegal characters) and warnings."""
    warnings = []
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError("binary file (contains NUL bytes), not a text document")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raw = raw.decode("utf-16").encode("utf-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = _decode_legacy(raw)
        if text is None:
            text = raw.decode("utf-8", errors="replace")
            warnings.append(f"invalid UTF-8 bytes (first at byte {exc.start}) replaced with �")
        else:
            warnings.append("not UTF-8; read as Windows-1252")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cleaned = _ILLEGAL_CHARS.sub("", text)
    if len(cleaned) != len(text):
        warnings.append(f"removed {len(text) - len(cleaned)} control character(s)")
        if len(text) - len(cleaned) > max(32, len(text) // 10):
            raise ValueError("binary file (mostly control characters), not a text document")
    return unicodedata.normalize("NFC", cleaned), warnings


def _decode_legacy(raw: bytes) -> str | None:
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return None


def parse(raw: bytes, file_name: str, options: ParseOptions | None = None) -> Article:
    """Parse one document; raises DocumentError with a plain reason when it can't be published."""
    options = options or ParseOptions()
    try:
        text, warnings = decode(raw)
    except ValueError as exc:
        raise DocumentError(file_name, str(exc)) from None
    article_id, seq, name_warning = identify(file_name)
    if name_warning:
        warnings.append(name_warning)

    blocks = [_SPACES.sub(" ", " ".join(b.split("\n"))).strip() for b in _BLANK_LINES.split(text)]
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        raise DocumentError(file_name, "empty document")
    headline = _headline(lines[0], warnings)
    date_line = lines[1] if len(lines) > 1 else ""
    if not date_line:
        raise DocumentError(file_name, "no date line after the headline")
    try:
        date = parse_date_line(
            date_line, default_tz=options.timezone, date_order=options.date_order, now=options.now
        )
    except DateError as exc:
        retry = isinstance(exc, FutureDateError)
        reason = f"second line is not a usable date: {exc}"
        raise DocumentError(file_name, reason, retry=retry) from None
    if date.warning:
        warnings.append(date.warning)

    body = _body_blocks(blocks, lines[0], date_line)
    city, agency, body = _split_dateline(body)
    paragraphs, removed = _clean(body, headline)
    if not paragraphs:
        raise DocumentError(file_name, "no body text after the headline and date")
    article = Article(
        id=article_id,
        file_name=file_name,
        seq=seq,
        headline=headline,
        published=date.when,
        has_time=date.has_time,
        city=city,
        agency=agency,
        paragraphs=tuple(paragraphs),
        summary=summarize(paragraphs[0]),
        removed=tuple(removed),
        warnings=tuple(warnings),
    )
    return _with_hash(article)


def _headline(line: str, warnings: list[str]) -> str:
    headline = _SPACES.sub(" ", line).strip()
    if len(headline) > MAX_HEADLINE_CHARS:
        warnings.append(f"headline of {len(headline)} characters shortened to {MAX_HEADLINE_CHARS}")
        headline = _shorten_words(headline, MAX_HEADLINE_CHARS)
    return headline


def _body_blocks(blocks: list[str], headline_line: str, date_line: str) -> list[str]:
    # The headline and date usually stand alone, but a scraper may glue them to the body with a
    # single newline; drop exactly those two lines and keep whatever shares their block.
    body: list[str] = []
    to_skip = [_SPACES.sub(" ", headline_line).strip(), _SPACES.sub(" ", date_line).strip()]
    for block in blocks:
        while to_skip and block.startswith(to_skip[0]):
            block = block[len(to_skip.pop(0)) :].strip()
        if block:
            body.append(block)
    return body


def _split_dateline(body: list[str]) -> tuple[str | None, str | None, list[str]]:
    for index, paragraph in enumerate(body[:3]):
        match = _DATELINE.match(paragraph)
        if not match:
            continue
        city = match.group("city").strip()
        if city != city.upper() or not any(c.isalpha() for c in city):
            continue
        rest = paragraph[match.end() :].strip()
        remaining = body[:index] + ([rest] if rest else []) + body[index + 1 :]
        return city, match.group("agency").strip(), remaining
    return None, None, body


def _clean(body: list[str], headline: str) -> tuple[list[str], list[Removed]]:
    paragraphs, removed = [], []
    for paragraph in body:
        reason = junk_reason(paragraph, headline)
        if reason:
            removed.append(Removed(paragraph, reason))
        else:
            paragraphs.append(paragraph)
    return paragraphs, removed


def summarize(lead: str, limit: int = SUMMARY_CHARS) -> str:
    """The lead shortened to whole sentences within ``limit`` characters (or words, if must)."""
    if len(lead) <= limit:
        return lead
    summary = ""
    for sentence in _SENTENCE_END.split(lead):
        candidate = f"{summary} {sentence}".strip()
        if len(candidate) > limit:
            break
        summary = candidate
    return summary or _shorten_words(lead, limit)


def _shorten_words(text: str, limit: int) -> str:
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def _with_hash(article: Article) -> Article:
    digest = hashlib.sha256()
    for part in (
        article.headline,
        article.published.isoformat(),
        article.city or "",
        article.agency or "",
        *article.paragraphs,
    ):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return replace(article, content_hash=digest.hexdigest())
