"""The document format: bytes of one seed file -> an Article. Pure: no I/O, no Flask.

A document is a headline line, a date line, then paragraphs separated by blank lines. The first
paragraph usually opens with a dateline and agency (``WASHINGTON (Reuters) -``); a byline
(``By Jane Doe``) may stand before or after it. Scraped junk (widget headings, ads, related
headlines) is removed from the body and kept with the article.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from . import bylines
from .boilerplate import is_emoticon_line, is_junk_line, is_photo_caption, junk_reason
from .dates import DateError, parse_date_line
from .slugs import headline_slug, slugify

# "000_5e300edb8a850530.txt": a sequence number, then the 16-hex-digit id.
FILE_NAME = re.compile(r"^(\d{1,9})_([0-9a-f]{16})\.txt$")
# What parse() makes of a document, as one number: raised whenever some document's Article or
# skip reason changes (a rule fixed or added), so that an index made by an earlier parser is
# built again (store.OTHER_PARSER) and the fix reaches the documents already indexed, not only
# those edited since. tests/test_parser_version.py fails when the test documents' outputs
# change under the same number.
# 2: a file neither UTF-8 nor Windows-1252 text is skipped, not published as mojibake.
# 3: UTF-8 with more pasted Windows-1252 bytes than UTF-8 letters stays UTF-8; bylines with a
#    serial comma, semicolons, "By:" or "/ Agency"; dates after 9998 (UTC) refused; a
#    zero-width space between two characters kept, not made a space; UTF-16 or UTF-32 without
#    a byte-order mark named as such.
# 4: an outlet after a byline's comma or slash ("/ CNN Business", ", NBC Sports") is not a writer;
#    a headline of only invisible characters, an impossible numeric date (0/10/2025) and a date
#    line over 200 characters refused.
# 5: a lead repeating the headline kept; a wrapped "by Jane Doe" line not a byline; junk glued
#    by a single newline removed; pasted no-break spaces and signs read; "NATO (North ...)" not
#    a dateline; a stray NUL removed; sentences shaped like junk kept; a byline before the date
#    line; "—" and "(2045 GMT)" in date lines; datelines "(Reuters) -", "Türkiye", "2025",
#    full-width brackets, "_"; "a.m." in summaries; outlets after a
#    byline's comma or glued to the name no writers; dash, "for", bracket and dated bylines;
#    credit lines keep reporters beside a newsroom, an "at" or "City, Region" place; date
#    lines with the month in French, German, Spanish, Italian, Portuguese, Dutch or Russian,
#    or in Chinese figures; a byline at the story's end.
PARSER_VERSION = 5
MAX_HEADLINE_CHARS = 300
SUMMARY_CHARS = 280
# The longest line that may be only emoticon words ("heart heart heart").
MAX_EMOTICON_LINE_CHARS = 40
# A line before the dateline this short, and not a sentence, is a kicker or section label.
MAX_LABEL_CHARS = 60
MAX_LABEL_WORDS = 6
_SENTENCE_ENDINGS = tuple('.!?:;"”’)')
# How many of the first blocks may hold a byline glued to the dateline by a single newline.
BYLINE_BLOCKS = 4
# NUL bytes at the start of a file that are strays in text (a copy that went wrong), removed
# with the other control characters; more control bytes make it binary (a PNG holds 16 NULs
# in its first KB).
MAX_STRAY_NULS = 4
_TEXT_BYTES = b"\t\n\r" + bytes(range(0x20, 0x100))
# Where an undecodable byte was dropped, said for at most this many of them.
SHOWN_POSITIONS = 5

# XML 1.0 forbids C0 controls other than tab/newline/CR; C1 controls and the non-characters
# U+FFFE/U+FFFF are legal in places but rejected by validators and many feed readers.
_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_C1_CONTROL = re.compile("[\x80-\x9f]")
# Undecodable bytes, as "surrogateescape" decodes them: found, said where, and dropped.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
# What plain ASCII text may hold: seeing nothing else, decode() skips its two regular-expression
# passes over the whole text (most documents, and a tenth of the cost of parsing them).
_PLAIN_ASCII = b"\t\n" + bytes(range(0x20, 0x7F))
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Read as Windows-1252, Western European text has a few letters beyond ASCII (French,
# Portuguese, German: 2-10 % of them); text in another legacy encoding of a non-Latin script
# (Russian in Windows-1251, Greek in ISO-8859-7) has nearly all its letters there, and would be
# published as mojibake ("Ìîñêâà"), as would random bytes. Beyond this share it is refused.
# Central European text in Windows-1250 (Czech, Polish) has too few such letters to be told
# apart this way: it is still read as Windows-1252, with the warning that says so.
MAX_LEGACY_NON_ASCII_SHARE = 0.3
_BLANK_LINES = re.compile(r"\n\s*\n")
_DATELINE = re.compile(
    r"""^(?:(?P<city>[^\W\d_][^\n(),（）]{0,40}?)       # city, in capitals (checked below)
        (?:,\s*(?P<region>[^\W\d_](?:[^\W\d_]|[.'’\ ]){1,30}?))?  # ", Ill." / ", Türkiye"
        (?:,\s*(?P<when>[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:,\s*\d{4})?))?  # ", June 3, 2025"
        \s*)?                                     # "(Reuters) - Oil prices ...": no city
        [(（](?P<agency>[^\W\d_](?:[^\W\d_]|[.&'’\-\ ]){0,39})[)）]  # "(Reuters)", "（新华社）"
        \s*(?P<dash>-{2,3}|[-—–‑−_])?\s*""",  # "--", "—", old AP archives' "_"
    re.VERBOSE,
)
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[\"“‘(]?[A-Z0-9])")
# A full stop that does not end a sentence: titles, months, company suffixes ("Gov. Maria
# Alvarez", "Jan. 6", "Acme Inc. said"), initials ("U.S. Senate", "John F. Kennedy") and the
# time of day ("until 3 a.m. EST Tuesday").
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Gov|Sen|Rep|Gen|Lt|Col|Maj|Capt|Cmdr|Adm|Sgt|Rev|Hon|Pres|Supt"
    r"|Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec|St|Mt|Ft|Jr|Sr|Inc|Corp|Co|Ltd|Bros|No|Nos|vs"
    r"|approx|est|Calif|Fla|Ill|Mass|Mich|Minn|Okla|Penn|Tenn|Wash|Wis)"
    r"|(?<![\w.])(?:[A-Z]\.)*[A-Z]|(?<![\w.])[ap]\.m)\.$"
)


class DocumentError(ValueError):
    """A document that cannot be published; ``reason`` is plain words for the operator."""

    def __init__(self, file_name: str, reason: str):
        super().__init__(f"{file_name}: {reason}")
        self.file_name = file_name
        self.reason = reason


@dataclass(frozen=True)
class Removed:
    text: str
    reason: str


@dataclass(frozen=True)
class ParseOptions:
    timezone: str = "UTC"
    date_order: str = "mdy"


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
    # The writers, from the byline and the credit line; empty when the document names none.
    authors: tuple[str, ...] = ()
    # The dateline as written, without its dash: "TOKYO, June 3 (Reuters)".
    dateline: str | None = None
    # The date line's zone abbreviation as written ("ET"): ``published`` carries its offset.
    zone_label: str | None = None
    content_hash: str = field(default="", compare=False)
    # Set by the store: when the content last really changed (the publication date at first).
    updated: datetime | None = field(default=None, compare=False)

    @property
    def last_change(self) -> datetime:
        return self.updated or self.published

    @property
    def slug(self) -> str:
        return headline_slug(self.headline)

    @property
    def byline(self) -> str | None:
        """The writers as a byline names them: ``Jane Doe, John Roe and Ann Poe``."""
        if not self.authors:
            return None
        return " and ".join(filter(None, (", ".join(self.authors[:-1]), self.authors[-1])))

    @property
    def lead(self) -> str | None:
        """What opens the first paragraph as printed, page and feeds alike:
        ``WASHINGTON (Reuters) —``; None without a dateline."""
        return f"{self.dateline} —" if self.dateline else None

    @property
    def story(self) -> tuple[str, ...]:
        """The paragraphs as printed: the first one led by the dateline."""
        if not self.lead:
            return self.paragraphs
        return (f"{self.lead} {self.paragraphs[0]}", *self.paragraphs[1:])

    @property
    def city_slug(self) -> str | None:
        return slugify(self.city) if self.city else None

    @property
    def agency_slug(self) -> str | None:
        return slugify(self.agency) if self.agency else None


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
    """Bytes -> clean text (LF line endings, no XML-illegal characters) and warnings.

    UTF-8 (with or without BOM) is expected. Bytes that are not UTF-8 are read as Windows-1252
    when nothing in the file looks like UTF-8; in a file that is mostly UTF-8, the bytes that
    cannot be decoded are dropped, and the warning says at which byte offsets and lines. Raises
    ValueError for a binary file, or one in a legacy encoding other than Windows-1252.
    """
    warnings = []
    sample = raw[:8192]
    if 0 in sample and not raw.startswith(_UTF16_BOMS) and _binary(sample):
        if _wide_text(raw[:8192]):
            raise ValueError(
                "UTF-16 or UTF-32 text without a byte-order mark, not read: convert it to UTF-8"
            )
        raise ValueError("binary file (contains NUL bytes), not a text document")
    if raw.startswith(_UTF16_BOMS):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError("starts like UTF-16 but is not valid UTF-16 text") from None
    else:
        bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        text, decode_warnings = _decode_bytes(raw[bom:], bom)
        warnings.extend(decode_warnings)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Unicode's own line and paragraph separators mean what a newline and a blank line mean here.
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    if text.isascii() and not text.encode("ascii").translate(None, _PLAIN_ASCII):
        return text, warnings  # nothing to clean, and ASCII is already NFC
    text, count = (text, 0) if text.isascii() else _C1_CONTROL.subn(_c1_as_cp1252, text)
    if count:
        warnings.append(f"{count} C1 control character(s) read as Windows-1252 punctuation")
    cleaned, count = _ILLEGAL_CHARS.subn(_drop_control, text)
    if count:
        warnings.append(f"removed {count} control character(s)")
        if count > max(32, len(text) // 10):
            raise ValueError("binary file (mostly control characters), not a text document")
    if "\ufffd" in cleaned:
        lines = _lines_of(cleaned, "\ufffd")
        cleaned = cleaned.replace("\ufffd", "")
        warnings.append(
            f"removed {len(lines)} U+FFFD replacement character(s), left where an earlier "
            f"conversion lost a character, on line {_list_of(lines)}"
        )
    return unicodedata.normalize("NFC", cleaned), warnings


def _binary(sample: bytes) -> bool:
    """Whether bytes holding a NUL are binary rather than text with a stray NUL in it: more
    than MAX_STRAY_NULS control bytes (other than tab, newline and carriage return), or more
    than one in fifty bytes (a short file)."""
    controls = len(sample.translate(None, _TEXT_BYTES))
    return controls > MAX_STRAY_NULS or controls * 50 > len(sample)


def _decode_bytes(raw: bytes, offset: int) -> tuple[str, list[str]]:
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    # "surrogateescape" keeps each undecodable byte as a lone surrogate, to be found and dropped.
    escaped = raw.decode("utf-8", errors="surrogateescape")
    damaged = len(_UNDECODABLE.findall(escaped))
    intact = sum(1 for char in escaped if char > "\x7f") - damaged
    codec, warnings = "utf-8", []
    readings = None  # each undecodable byte's place and Windows-1252 reading, once known
    if intact <= damaged and (readings := _mixed_utf8(escaped)) is None:  # a legacy file
        codec, warnings = "cp1252", ["not UTF-8; read as Windows-1252"]
        escaped = raw.decode("cp1252", errors="surrogateescape")
        printed = len(escaped) - sum(escaped.count(space) for space in " \t\r\n")
        beyond = sum(1 for char in escaped if char > "\x7f")
        if beyond > MAX_LEGACY_NON_ASCII_SHARE * printed:
            raise ValueError(
                f"neither UTF-8 nor Windows-1252 text: read as Windows-1252, {beyond:,} of its "
                f"{printed:,} characters are beyond ASCII (another legacy encoding, or not "
                "text at all); convert it to UTF-8"
            )
    if _UNDECODABLE.search(escaped) is None:
        return escaped, warnings
    return _drop_undecodable(escaped, codec, offset, warnings, readings)


def _wide_text(sample: bytes) -> bool:
    """Whether bytes with NULs are Latin text in UTF-16 or UTF-32 (no BOM says which): every
    character's high byte is NUL, so the bytes at even or at odd offsets are nearly all NULs,
    and the others are not."""
    if len(sample) < 8:
        return False
    # (UTF-32: half the bytes at even offsets are NULs too. A file of NULs is no text at all.)
    shares = sorted(half.count(0) / len(half) for half in (sample[0::2], sample[1::2]))
    return shares[1] >= 0.9 and shares[0] <= 0.6


def _mixed_utf8(escaped: str) -> list[tuple[int, str]] | None:
    r"""When a file with more undecodable bytes than UTF-8 characters is still UTF-8 into which
    Windows-1252 was pasted ("Z\xc3\xbcrich talks \x93stall\x94"), each undecodable byte's place
    and Windows-1252 reading; else None. It is, when it holds a character whose UTF-8 bytes no
    Windows-1252 text holds (_UTF8_MARK), and every undecodable byte is one the
    pasted-character rule reads (_pasted_cp1252), so that nothing would be dropped."""
    if not any(_marks_utf8(escaped, found.start()) for found in _UTF8_MARK.finditer(escaped)):
        return None
    readings = []
    for match in _UNDECODABLE.finditer(escaped):
        char = _pasted_cp1252(escaped, match.start())
        if char is None:
            return None
        readings.append((match.start(), char))
    return readings


# Characters whose UTF-8 bytes, read as Windows-1252, are text no Windows-1252 file holds:
# general punctuation ("’" is E2 80 99, "â€™"), Latin-1 signs ("°" is "Â°") and letters ("é" is
# "Ã©"). Except a letter whose second byte reads as what can end a word, a closing quotation
# mark, dash, ellipsis, no-break space, guillemet or °, where a capital letter comes before it
# and no letter after: "CIDADÃ” em", Portuguese in Windows-1252, is the UTF-8 of "CIDADÔ em"
# (but "Voilà" and "KÖLN" are UTF-8).
_UTF8_MARK = re.compile("[\x80-\xff\u2000-\u2fff]")
_AFTER_A_WORD = frozenset(b"\x85\x92\x94\x96\x97\xa0\xb0\xbb")


def _marks_utf8(escaped: str, at: int) -> bool:
    """Whether the character at ``at`` (one _UTF8_MARK finds) shows the text is UTF-8."""
    code = ord(escaped[at])
    if code > 0xFF or code < 0xC0 or 0x80 | code & 0x3F not in _AFTER_A_WORD:
        return True
    # "CIDADÃ” em": a capital, then "Ã" and a closing mark, then no letter. ("KÃ–LN", a dash
    # between letters, is the UTF-8 "KÖLN".)
    before = escaped[at - 1] if at else ""
    after = escaped[at + 1] if at + 1 < len(escaped) else ""
    return not (before.isupper() and not after.isalpha())


def _drop_undecodable(
    escaped: str,
    codec: str,
    offset: int,
    warnings: list[str],
    readings: Sequence[tuple[int, str | None]] | None = None,
) -> tuple[str, list[str]]:
    """``escaped`` without its undecodable bytes, each said where. In a UTF-8 file, one that
    stands alone in a word is a Windows-1252 letter pasted in (a scraper's mix): it is read as
    one ("Jos\xe9" is "José", not "Jos"), as is a lone quotation mark, dash, €, £ or °;
    the rest (what is left of a cut UTF-8 sequence, stray binary) is dropped. ``readings``:
    each byte's place in ``escaped`` and its reading (None: dropped), when _mixed_utf8 made
    them already."""
    if readings is None:
        readings = [
            (found.start(), _pasted_cp1252(escaped, found.start()) if codec == "utf-8" else None)
            for found in _UNDECODABLE.finditer(escaped)
        ]
    kept = [(at, char) for at, char in readings if char is not None]
    dropped = [at for at, char in readings if char is None]
    name = "UTF-8" if codec == "utf-8" else "Windows-1252"
    if kept:
        where = _places(escaped, [at for at, _ in kept], codec, offset)
        warnings.append(f"read {len(kept)} byte(s) that are not UTF-8 as Windows-1252: {where}")
    if dropped:
        where = _places(escaped, dropped, codec, offset)
        warnings.append(f"dropped {len(dropped)} byte(s) that are not {name}: {where}")
    read = dict(kept)
    return _UNDECODABLE.sub(lambda m: read.get(m.start(), ""), escaped), warnings


# The first bytes of most cut UTF-8 sequences (accented Latin letters, punctuation): read as
# Windows-1252 (Â, Ã, â) only inside a word, as in "S\xc3O PAULO".
_CUT_UTF8_LEADS = frozenset({0xC2, 0xC3, 0xE2})
# Windows-1252's quotation marks, dashes, ellipsis, no-break space and the signs news text
# holds (€, £, °, ½, º, ®, ™, «), as Word and web pages paste them. (Without the no-break space,
# "10\xa0percent" was published as "10percent"; without the signs, a file holding more of
# them than UTF-8 letters was read whole as Windows-1252: "ZÃ¼rich".)
_PASTED_PUNCTUATION = frozenset(
    "\u2018\u2019\u201a\u201c\u201d\u201e\u2039\u203a\u00ab\u00bb\u2013\u2014\u2026\u2022\u00b7"
    "\u00a0\u20ac\u00a3\u00a2\u00a5\u00b0\u00bd\u00bc\u00be\u00b9\u00b2\u00b3\u00ba\u00aa"
    "\u00ae\u00a9\u2122\u00a7\u00b1\u00d7\u00f7\u00a1\u00bf"
)


def _pasted_cp1252(escaped: str, at: int) -> str | None:
    """The Windows-1252 character of the undecodable byte at ``at``, if it stands alone (no
    undecodable byte beside it) and is a letter beside a letter, or a quotation mark or dash."""
    before = escaped[at - 1] if at else " "
    after = escaped[at + 1] if at + 1 < len(escaped) else " "
    if _UNDECODABLE.match(before) or _UNDECODABLE.match(after):
        return None
    try:
        char = bytes([ord(escaped[at]) - 0xDC00]).decode("cp1252")
    except UnicodeDecodeError:  # one of its five undefined bytes
        return None
    if char in _PASTED_PUNCTUATION:
        return char
    if ord(escaped[at]) - 0xDC00 in _CUT_UTF8_LEADS:  # "caf\xc3" is "café" cut short
        return char if before.isalpha() and after.isalpha() else None
    return char if char.isalpha() and (before.isalpha() or after.isalpha()) else None


def _places(escaped: str, found: list[int], codec: str, offset: int) -> str:
    """Where the characters at ``found`` (indexes) came from: byte offsets and lines."""
    places = []
    for at in found[:SHOWN_POSITIONS]:
        byte = offset + len(escaped[:at].encode(codec, "surrogateescape"))
        places.append(f"byte {byte} (line {escaped.count(chr(10), 0, at) + 1})")
    more = f" and {len(found) - len(places)} more" if len(found) > len(places) else ""
    return ", ".join(places) + more


def _lines_of(text: str, char: str) -> list[int]:
    """The line number of each occurrence of ``char``."""
    lines, line, position = [], 1, 0
    while (found := text.find(char, position)) >= 0:
        line += text.count("\n", position, found)
        lines.append(line)
        position = found + 1
    return lines


def _list_of(numbers: list[int]) -> str:
    unique = list(dict.fromkeys(numbers))
    shown = ", ".join(map(str, unique[:SHOWN_POSITIONS]))
    more = len(unique) - SHOWN_POSITIONS
    return shown + (f" and {more} more" if more > 0 else "")


def _c1_as_cp1252(match: re.Match[str]) -> str:
    # U+0080-U+009F in decoded text is nearly always Windows-1252 punctuation that a scraper
    # read as Latin-1: U+0092 is a right single quote, U+0097 an em dash.
    try:
        return bytes([ord(match.group())]).decode("cp1252")
    except UnicodeDecodeError:
        return match.group()  # undefined in Windows-1252 too: removed with the other controls


def _drop_control(match: re.Match[str]) -> str:
    # Word writes a soft line break as a vertical tab and a page break as a form feed: removing
    # them outright would glue two words or sentences together.
    return " " if match.group() in "\x0b\x0c" else ""


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

    blocks = [
        _fold_spaces(part)
        for number, block in enumerate(_BLANK_LINES.split(text))
        for part in _lines_apart(block, byline=number < BYLINE_BLOCKS)
    ]
    lines = _first_lines(text, 3)
    if not lines:
        raise DocumentError(file_name, "empty document")
    headline = _headline(lines[0], warnings)
    if not any(unicodedata.category(ch)[0] not in "CZ" for ch in headline):
        # Only marks such as U+200F: an entry with nothing to click, a page with an empty <h1>.
        raise DocumentError(file_name, "the headline has no visible character")
    if len(lines) < 2:
        raise DocumentError(file_name, "no date line after the headline")
    # A byline may stand between the headline and the date line, as scraped pages put it.
    byline = bylines.read_byline(lines[1]) if bylines.opens_byline(lines[1]) else None
    top = lines[:3] if byline and len(lines) > 2 else lines[:2]
    try:
        date = parse_date_line(top[-1], default_tz=options.timezone, date_order=options.date_order)
    except DateError as exc:
        where = "line after the byline" if len(top) == 3 else "second line"
        raise DocumentError(file_name, f"{where} is not a usable date: {exc}") from None
    warnings.extend(date.warnings)

    head = _split_head(_body_blocks(blocks, top), headline)
    head.authors[:0] = [name for name in byline or () if name not in head.authors]
    paragraphs, removed = _clean(head.body, headline, head.lead)
    removed = [Removed(label, "label before the dateline") for label in head.labels] + removed
    if not paragraphs:
        raise DocumentError(file_name, "no body text after the headline and date")
    removed, late = _late_bylines(removed, head.body[-1] if head.body else "")
    authors = _with_credits(
        [*head.authors, *(n for n in late if n not in head.authors)], paragraphs
    )
    return Article(
        id=article_id,
        file_name=file_name,
        seq=seq,
        headline=headline,
        # A date without a time is published as that date, midnight in FEEDSVC_TIMEZONE: the
        # store orders a day's articles by sequence number, no clock time is made up for it.
        published=date.when,
        has_time=date.has_time,
        city=head.city,
        agency=head.agency,
        paragraphs=tuple(paragraphs),
        summary=summarize(paragraphs[0]),
        removed=tuple(removed),
        warnings=tuple(warnings),
        authors=authors,
        dateline=head.dateline,
        zone_label=date.zone_label,
        content_hash=content_hash(
            headline,
            date.when,
            head.city,
            head.agency,
            paragraphs,
            (*authors, head.dateline or "", date.zone_label or ""),
        ),
    )


# A zero-width space where it separates nothing: at either end, or beside a space. The second
# branch takes a whole run (from its first, possessively) or none: "\u200b+(?!\S)" retried
# from every position of a long run before a letter, quadratic in the run (a 192 KB document
# took 45 s, all of it holding the serving worker's interpreter lock).
_IDLE_ZERO_WIDTH = re.compile(r"(?<!\S)\u200b+|(?<!\u200b)\u200b++(?!\S)")


def _fold_spaces(text: str) -> str:
    """Runs of any whitespace (no-break, thin, ideographic, newlines) -> one space. A zero-width
    space between two characters stays as written (Thai, Khmer and Burmese mark word breaks with
    it; in "Zero\u200bwidth" it shows none): a space there would add one. One that separates
    nothing goes with the spaces beside it, and a line of only such is empty."""
    # Most paragraphs need nothing: every whitespace character but the ASCII space is
    # unprintable, so printable text without a double, leading or trailing space is already
    # folded, and checking that is several times cheaper than splitting and joining it.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    # str.split() knows every Unicode space (the zero-width one is none), and is far faster
    # than a regular expression on the hot path of indexing.
    if "\u200b" in text:
        text = _IDLE_ZERO_WIDTH.sub(" ", text)
    return " ".join(text.split())


def _lines_apart(block: str, *, byline: bool) -> list[str]:
    """The block, with any photo caption, emoticon, widget line ("Advertisement", "Read more:
    ...") and (when ``byline``) byline on a line of its own split off as a block of its own.

    A scraper may glue a caption, a widget's line or an editor's emoticon to the paragraph
    above or below it with a single newline; folded together, the paragraph would be removed
    with the caption, or published with the junk run into it. A byline glued to the dateline
    would hide both.
    """
    if "\n" not in block:
        return [block]
    parts: list[str] = []
    text_lines: list[str] = []
    lines = block.split("\n")
    split = False  # the line before was split off
    for number, line in enumerate(lines):
        split = (
            (("/" in line or "Photo" in line) and is_photo_caption(_fold_spaces(line)))
            or (
                len(line) <= MAX_EMOTICON_LINE_CHARS
                and line.lstrip()[:1].islower()
                and is_emoticon_line(_fold_spaces(line))
            )
            or (
                byline
                and bylines.opens_byline(line.lstrip())
                and _between_sentences(lines, number, split, strict=False)
                and bylines.is_byline(line)
            )
            or (is_junk_line(line) and _between_sentences(lines, number, split, strict=True))
        )
        if split:
            if text_lines:
                parts.append("\n".join(text_lines))
                text_lines = []
            parts.append(line)
        else:
            text_lines.append(line)
    if text_lines:
        parts.append("\n".join(text_lines))
    return parts


def _between_sentences(lines: list[str], number: int, after_split: bool, *, strict: bool) -> bool:
    """Whether line ``number`` of a block may stand apart from the lines around it. In copy
    wrapped at a fixed width, "... filed last year" / "by Jane Doe and John Roe" / "against the
    city ..." is one sentence: the line before ended none (``after_split``: the line before was
    split off itself), and the next one goes on in lower case. A line that opens with a capital
    ("By Jane Doe" / "updated 5:30 PM") stands apart unless both say so; ``strict`` (a
    widget's word such as "Home"): only after a sentence's end, and before a capital."""
    following = lines[number + 1].lstrip()[:1] if number + 1 < len(lines) else ""
    previous = lines[number - 1].rstrip() if number else ""
    ended = not previous or after_split or previous.endswith(_SENTENCE_ENDINGS)
    if strict or not lines[number].lstrip()[:1].isupper():
        return ended and not following.islower()
    return ended or not following.islower()


def _first_lines(text: str, count: int) -> list[str]:
    """The first ``count`` non-blank lines, spaces folded."""
    found = []
    for line in text.split("\n"):
        if folded := _fold_spaces(line):
            found.append(folded)
            if len(found) == count:
                break
    return found


def _headline(line: str, warnings: list[str]) -> str:
    headline = _fold_spaces(line)
    if len(headline) > MAX_HEADLINE_CHARS:
        warnings.append(f"headline of {len(headline)} characters shortened to {MAX_HEADLINE_CHARS}")
        headline = _shorten_words(headline, MAX_HEADLINE_CHARS)
    return headline


def _body_blocks(blocks: list[str], top: list[str]) -> list[str]:
    # The headline and date (and a byline between them) usually stand alone, but a scraper may
    # glue them to the body with a single newline; drop exactly those lines and keep whatever
    # shares their block.
    body: list[str] = []
    to_skip = [_fold_spaces(line) for line in top]
    for block in blocks:
        while to_skip and block.startswith(to_skip[0]):
            block = block[len(to_skip.pop(0)) :].strip()
        if block:
            body.append(block)
    return body


@dataclass
class _Head:
    """What opens the story: the dateline's parts, the byline's names, and the body without
    them (the first paragraph without its dateline)."""

    body: list[str]
    city: str | None = None
    agency: str | None = None
    dateline: str | None = None
    authors: list[str] = field(default_factory=list)
    # A kicker or section label on a line of its own before the dateline ("By the numbers",
    # "Analysis"): page furniture, listed as removed.
    labels: list[str] = field(default_factory=list)
    # Index in ``body`` of the paragraph the dateline opened: the story's lead, not judged by
    # its capitals (boilerplate.junk_reason).
    lead: int | None = None


def _split_head(body: list[str], headline: str) -> _Head:
    # The dateline opens the first real paragraph; junk (an ad, a widget heading) may come
    # first. A byline may stand before the dateline, after it, or after the first paragraph.
    head = _Head(body=[])
    story_at = None  # index in head.body of the first story paragraph, once seen
    for index, paragraph in enumerate(body):
        if story_at is not None and len(head.body) > story_at + 1:
            head.body.extend(body[index:])
            break
        names = bylines.read_byline(paragraph) if bylines.opens_byline(paragraph) else None
        if names:
            head.authors.extend(name for name in names if name not in head.authors)
            continue
        label_first = story_at is not None and len(head.body) == story_at + 1
        label_first = label_first and _is_label(head.body[-1])
        first = head.dateline is None and (story_at is None or label_first)
        match = _DATELINE.match(paragraph) if first else None
        if match and _is_dateline(match, paragraph):
            if label_first:
                head.labels.append(head.body.pop())
                story_at = None
            head.city = (match.group("city") or "").strip() or None
            head.agency = match.group("agency").strip()
            head.dateline = paragraph[: match.end("agency") + 1]
            paragraph = paragraph[match.end() :].strip()
            if not paragraph:
                continue  # a dateline on a line of its own; the story follows
        elif story_at is None and junk_reason(paragraph, headline, lead=head.dateline is not None):
            head.body.append(paragraph)
            continue
        if story_at is None:
            story_at = len(head.body)
        head.body.append(paragraph)
    if head.dateline is not None:
        head.lead = story_at
    return head


def _with_credits(byline: list[str], paragraphs: list[str]) -> tuple[str, ...]:
    """The byline's writers, then those a wire credit line names (reporters, not editors)."""
    authors = list(byline)
    for paragraph in paragraphs:
        if paragraph[:1] not in bylines.CREDIT_FIRST:
            continue  # most paragraphs: spare them a call
        for name in bylines.read_credits(paragraph) or ():
            if name not in authors:
                authors.append(name)
    return tuple(authors)


def _late_bylines(removed: list[Removed], last: str) -> tuple[list[Removed], list[str]]:
    """A byline that ends the story (``last``, its last block: "By Jane Doe", as some sites
    print it), which the junk rules remove as a heading: said removed as a byline, and its
    writers. It was removed, and the writer's name lost. Only there: a heading within the
    story shaped like one ("By Popular Demand") is no writer."""
    names: list[str] = []
    kept = []
    for item in removed:
        found = None
        if item.text == last and bylines.opens_byline(item.text):
            found = bylines.read_byline(item.text)
        if found and item.reason == "heading or widget text":
            names.extend(name for name in found if name not in names)
            item = Removed(item.text, "byline")
        kept.append(item)
    return kept, names


def _is_label(paragraph: str) -> bool:
    """A kicker or section label: a few words, no sentence ("By the numbers", "Analysis")."""
    return (
        len(paragraph) <= MAX_LABEL_CHARS
        and len(paragraph.split()) <= MAX_LABEL_WORDS
        and not paragraph.endswith(_SENTENCE_ENDINGS)
        and not paragraph[:1].islower()
    )


def _is_dateline(match: re.Match[str], paragraph: str) -> bool:
    if match.group("city") is None:
        # "(Reuters) - Oil prices rose ...", as Reuters opens market stories: a known agency and
        # a dash. Another bracket that opens a paragraph is an aside or a ticker ("(Updated) -",
        # "(Corrects a date)", "(AAPL) -").
        known = match.group("agency").strip().lower() in bylines.OUTLETS
        return known and bool(match.group("dash"))
    city = match.group("city").strip()
    if city != city.upper() or not any(c.isalpha() for c in city):
        return False
    region = match.group("region")
    if region and not region[0].isupper():
        return False
    if _spells_out(city, match.group("agency")):
        return False
    # "UNICEF (United Nations Children's Fund) said ..." is a sentence, not a dateline: without a
    # dash, a dateline is followed by the start of a sentence.
    rest = paragraph[match.end() :]
    return bool(match.group("dash")) or not rest[:1].islower()


def _spells_out(city: str, agency: str) -> bool:
    """Whether the bracket after a one-word "city" spells it out: "NATO (North Atlantic Treaty
    Organization)", "UNICEF (United Nations Children's Fund)" open a sentence about the
    organisation. Its capitalised words' initials are the acronym's letters, in order, from the
    first two ("PARIS (Agence France-Presse)": A, F, P is not; "SANAA (Saba News Agency)": S, N
    is not S, A)."""
    initials = [word[0] for word in re.split(r"[\s\-]+", agency) if word[:1].isupper()]
    if " " in city or len(initials) < 2 or initials[:2] != list(city[:2]):
        return False
    letters = iter(city)
    return all(initial in letters for initial in initials)


def _clean(body: list[str], headline: str, lead: int | None) -> tuple[list[str], list[Removed]]:
    """The paragraphs of ``body`` that are not junk, and those that are, with why; ``lead``
    (an index, the paragraph the dateline opened) is not judged by its capitals."""
    paragraphs, removed = [], []
    for index, paragraph in enumerate(body):
        reason = junk_reason(paragraph, headline, lead=index == lead)
        if reason:
            removed.append(Removed(paragraph, reason))
        else:
            paragraphs.append(paragraph)
    return paragraphs, removed


def summarize(lead: str, limit: int = SUMMARY_CHARS) -> str:
    """The lead shortened to whole sentences within ``limit`` characters (or words, if must)."""
    if len(lead) <= limit:
        return lead
    cut = 0
    for boundary in _SENTENCE_END.finditer(lead):
        if boundary.start() > limit:
            break
        # An abbreviation is the last word before the boundary (no match holds a space):
        # looking only there keeps a long lead from being rescanned at every sentence end.
        last_word = lead.rfind(" ", 0, boundary.start()) + 1
        if not _ABBREVIATION.search(lead, last_word, boundary.start()):
            cut = boundary.start()
    return lead[:cut] if cut else _shorten_words(lead, limit)


def _shorten_words(text: str, limit: int) -> str:
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def content_hash(
    headline: str,
    dated: datetime,
    city: str | None,
    agency: str | None,
    paragraphs: list[str],
    more: tuple[str, ...] = (),
) -> str:
    # ``dated`` is the date line's own value: the same text under two file names (two sequence
    # numbers) must hash alike, so that the copy is recognised. ``more``: any other field the
    # document gives (authors, dateline, zone), so that editing it is a change.
    digest = hashlib.sha256()
    for part in (headline, dated.isoformat(), city or "", agency or "", *paragraphs, *more):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()
