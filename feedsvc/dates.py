"""The one date parser: a document's date line -> a timezone-aware datetime.

Newsrooms and scrapers write dates in many ways (``006, Mar 2022``, ``April 12, 2021``,
``2021-04-12``, ``Apr 12, 2021 3:45 PM ET``, ``09/06/2022``). The common shapes are matched by
regular expressions, which is both faster and stricter than a general parser; the rest go to
dateutil, which must consume the whole line, so prose is never mistaken for a date. Zone
abbreviations are read by ``zones`` alone: dateutil is never let near the host's own zone, so
the same document gives the same time on every host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from dateutil import parser as dateutil_parser

from . import zones

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

# Month names of the languages newsrooms most often date their copy in (French, German,
# Spanish, Italian, Portuguese, Dutch, Russian in the genitive that dates use), read as the
# English ones: no name means one month in a language and another in a second one. A
# document's date line in its own language ("3 mars 2025") was refused, and with it the story.
_FOREIGN_MONTHS = {
    name: english
    for english, names in (
        ("January", "janvier januar jänner enero gennaio janeiro januari января"),
        ("February", "février fevrier februar febrero febbraio fevereiro februari февраля"),
        ("March", "mars märz maerz marzo março marco maart марта"),
        ("April", "avril abril aprile апреля"),
        ("May", "mai mayo maggio maio mei мая"),
        ("June", "juin juni junio giugno junho июня"),
        ("July", "juillet juli julio luglio julho июля"),
        ("August", "août aout agosto augustus августа"),
        ("September", "septembre septiembre setiembre settembre setembro сентября"),
        ("October", "octobre oktober octubre ottobre outubro октября"),
        ("November", "novembre noviembre novembro ноября"),
        ("December", "décembre decembre dezember diciembre dicembre dezembro декабря"),
    )
    for name in names.split()
}
_FOREIGN_MONTH = re.compile(
    r"(?<!\w)(" + "|".join(sorted(_FOREIGN_MONTHS, key=len, reverse=True)) + r")(?!\w)",
    re.IGNORECASE,
)
# "3. März 2025" (German's ordinal dot), "3 de marzo de 2025" (Spanish, Portuguese).
_DAY_DOT = re.compile(r"^(\d{1,2})\.\s+(?=[^\W\d_])")
_OF = re.compile(r"(?<=\w)\s+(?:de|del|di)\s+(?=\w)", re.IGNORECASE)
# "2025年3月3日" (Chinese, Japanese), with a time after it or not.
_CJK_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*")

_PREFIX = re.compile(
    r"^(?:(?:published|posted|updated|last updated|date|dated)\s*(?:on|at)?\s*:?\s*)?"
    r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?",
    re.IGNORECASE,
)
# "006, Mar 2022", "12 Apr 2021", "019, Aug 2021": the scraper's zero-padded day, a month name.
_DAY_MONTH_YEAR = re.compile(r"^0*(\d{1,2})(?:st|nd|rd|th)?,?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})$")
# "April 12, 2021", "Apr 12 2021"
_MONTH_DAY_YEAR = re.compile(r"^([A-Za-z]{3,9})\.?\s+0*(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
# "Apr 12, 2021 3:45 PM ET", the wire services' stamp: common enough to skip dateutil for.
_MONTH_DAY_YEAR_TIME = re.compile(
    r"^([A-Za-z]{3,9})\.?\s+0*(\d{1,2}),?\s+(\d{4}),?\s+(?:at\s+)?(\d{1,2}):(\d{2})"
    r"\s*([AaPp])\.?[Mm]\.?\s+([A-Z]{1,5})$"
)
# "09/06/2022", "12.04.2021 09:30": day and month order is a policy (FEEDSVC_DATE_ORDER).
_NUMERIC = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?:,?\s+(.+))?$")
# Scrapers join date and time with a bar, a dot or a spaced slash: "April 12, 2021 | 3:45 PM",
# "April 12, 2021 / 3:45 PM" (a slash without spaces is a numeric date's: "09/06/2022").
_SEPARATOR = re.compile(r"\s*[|·•]\s*|\s+[/—–]\s+")
# Reuters gives the time in GMT after the local one: "March 3, 2025 3:45 PM EST (2045 GMT)".
_GMT_TAIL = re.compile(r"\s*\(\d{3,4}\s*GMT\)$")
# A wire page's stamp goes on to say when the story was updated: "April 12, 2021 3:45 PM EDT /
# Updated April 12, 2021 4:10 PM EDT", "... / Updated 2 hours ago". The publication comes first;
# the rest is dropped (an edit shows as the file's modification time, as for any document).
_UPDATED_TAIL = re.compile(r"(?<=\S)\s*(?:[|·•/,]\s*)?\(?(?:last\s+)?updated\b.*$", re.IGNORECASE)
# "GMT+1" means one hour ahead of Greenwich; dateutil reads it POSIX-style, as one hour behind.
_UTC_OFFSET = re.compile(r"\b(?:GMT|UTC|UT)\s*([+-])(\d{1,2})(?::?(\d{2}))?\b", re.IGNORECASE)
# The Guardian's "Mon 12 Apr 2021 09.30 BST": a dotted time right after the year.
_DOTTED_TIME = re.compile(r"(\d{4},?\s)(\d{1,2})\.(\d{2})\b")

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# The last instant a date may name: its UTC time, an embargo's Expires and the index's times
# all fit in a datetime (years to 9999). A "9999-12-31" placeholder west of UTC falls in 10000.
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class DateError(ValueError):
    """The date line is not a date feedsvc can publish; the message says why in plain words."""


@dataclass(frozen=True)
class ParsedDate:
    when: datetime
    has_time: bool
    warnings: tuple[str, ...] = ()
    # The zone abbreviation as the line wrote it ("ET"), when it named one.
    zone_label: str | None = None


def rfc3339(moment: datetime) -> str:
    """``2022-03-06T00:00:00+00:00``: RFC 3339 to the second, the offset the moment carries.

    The one formatter for every machine-readable date feedsvc writes outside feedgen (JSON Feed,
    sitemaps, JSON-LD, HTML ``<time>``). ``moment`` must be timezone-aware.
    """
    return moment.isoformat(timespec="seconds")


def _zone(name: str) -> tzinfo:
    return zones.zone(name)


# The longest date line read: "Published: Monday, September 12, 2022 11:36 AM EDT | Updated
# 2 hours ago" is 76 characters.
MAX_DATE_LINE_CHARS = 200


def parse_date_line(line: str, *, default_tz: str = "UTC", date_order: str = "mdy") -> ParsedDate:
    """Parse a date line; a date without a time means midnight in ``default_tz``.

    Raises DateError when the line is not a date, or is before 1970 or after 9998 (UTC), or is
    longer than MAX_DATE_LINE_CHARS. A date in the future is a date like any other: the store
    holds the article back until then (an embargo).
    """
    if len(line) > MAX_DATE_LINE_CHARS:
        # dateutil's reading grows faster than the line: a 1 MB line took two minutes.
        raise DateError(
            f"the line is {len(line):,} characters long; a date line has {MAX_DATE_LINE_CHARS}"
            " at most"
        )
    text = _PREFIX.sub("", " ".join(line.split())).strip(" .")
    text = _normalise(_GMT_TAIL.sub("", _UPDATED_TAIL.sub("", text)).strip(" ."))
    if not text:
        raise DateError("the date line is empty")
    parsed = _parse_common(text, default_tz, date_order) or _parse_general(text, default_tz)
    if parsed.when < _EARLIEST:
        raise DateError(f"the date {line.strip()!r} is before 1970")
    if parsed.when >= _LATEST:
        raise DateError(f"the date {line.strip()!r} is too far ahead: dates end with 9998 (UTC)")
    return parsed


def _in_english(text: str) -> str:
    """A date line in another language, its month names and joining words in English:
    "3 de marzo de 2025" -> "3 March 2025", "2025年3月3日" -> "2025-03-03"."""
    if match := _CJK_DATE.match(text):
        year, month, day = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d} {text[match.end() :]}".strip()
    if text.isascii() and not _FOREIGN_MONTH.search(text):
        return text  # most date lines
    text = _FOREIGN_MONTH.sub(lambda m: _FOREIGN_MONTHS[m.group(1).lower()], text)
    return _OF.sub(" ", _DAY_DOT.sub(r"\1 ", text))


def _normalise(text: str) -> str:
    text = _SEPARATOR.sub(" ", _in_english(text)).strip()
    text = _UTC_OFFSET.sub(
        lambda m: f"{m.group(1)}{int(m.group(2)):02d}:{m.group(3) or '00'}", text
    )
    return _DOTTED_TIME.sub(r"\1\2:\3", text)


def _parse_common(text: str, default_tz: str, date_order: str) -> ParsedDate | None:
    warnings: tuple[str, ...] = ()
    if match := _MONTH_DAY_YEAR_TIME.match(text):
        return _month_day_year_time(match, text, default_tz)
    if match := _DAY_MONTH_YEAR.match(text):
        day, month_name, year = match.groups()
        month = MONTHS.get(month_name.lower())
    elif match := _MONTH_DAY_YEAR.match(text):
        month_name, day, year = match.groups()
        month = MONTHS.get(month_name.lower())
    elif match := _ISO_DATE.match(text):
        year, month_text, day = match.groups()
        month = int(month_text)
    elif match := _NUMERIC.match(text):
        first, separator, second, year, time_part = match.groups()
        if len(year) == 2:
            year = f"20{year}" if int(year) < 70 else f"19{year}"
        shown = f"{first}{separator}{second}{separator}{match.group(4)}"
        # Dots are written day first wherever they are written (12.04.2021: 12 April; German,
        # Russian, Scandinavian usage), whatever the policy for slashes says.
        order = "dmy" if separator == "." else date_order
        day, month, warning = _numeric_day_month(int(first), int(second), shown, order)
        warnings = (warning,) if warning and separator != "." else ()
        if time_part:  # the policy decides the date; dateutil reads only the time and zone
            _calendar_date(int(year), month, day, text)
            general = _parse_general(f"{year}-{month:02d}-{day:02d} {time_part}", default_tz)
            return replace(general, warnings=warnings + general.warnings)
    else:
        return None
    if month is None:
        return None
    when = _calendar_date(int(year), int(month), int(day), text).replace(tzinfo=_zone(default_tz))
    return ParsedDate(when, has_time=False, warnings=warnings)


def _month_day_year_time(match: re.Match[str], text: str, default_tz: str) -> ParsedDate | None:
    month_name, day, year, hour, minute, half, zone = match.groups()
    month = MONTHS.get(month_name.lower())
    hour_24 = int(hour) % 12 + (12 if half in "Pp" else 0)
    if month is None or not 1 <= int(hour) <= 12 or int(minute) > 59:
        return None  # let dateutil have its say
    local = _calendar_date(int(year), month, int(day), text)
    return _in_zone(local.replace(hour=hour_24, minute=int(minute)), zone, default_tz)


def _in_zone(local: datetime, abbreviation: str, default_tz: str) -> ParsedDate:
    reading = zones.read(abbreviation, local, default_tz)
    return ParsedDate(reading.when, True, reading.warnings, zone_label=abbreviation)


def _calendar_date(year: int, month: int, day: int, text: str) -> datetime:
    try:
        return datetime(year, month, day)
    except ValueError:
        raise DateError(f"{text!r} is not a real calendar date") from None


def _numeric_day_month(
    first: int, second: int, text: str, date_order: str
) -> tuple[int, int, str | None]:
    month, day = (first, second) if date_order == "mdy" else (second, first)
    warning = None
    if month > 12 >= day:  # only one reading is possible, whatever the policy says
        month, day = day, month
    elif 1 <= first <= 12 and 1 <= second <= 12 and first != second:
        shown = datetime(2000, month, 1).strftime("%B")
        warning = (
            f"ambiguous numeric date {text!r} read as {day} {shown} "
            f"(FEEDSVC_DATE_ORDER={date_order})"
        )
    return day, month, warning


_DEFAULT_A = datetime(2000, 1, 1, 0, 0, 0)
_DEFAULT_B = datetime(2001, 2, 2, 23, 59, 59)


def _parse_general(text: str, default_tz: str) -> ParsedDate:
    # A zone name goes to zones.read() once the date is known (an abbreviation's offset depends
    # on it). Handing dateutil a function, not a mapping, also keeps it from reading a name that
    # matches the host's TZ variable as the host's zone: the same line, the same time anywhere.
    names: list[str] = []

    def zone_of(name: str | None, offset: int | None) -> tzinfo | None:
        if name:
            names.append(name)
            return None
        return None if offset is None else timezone(timedelta(seconds=offset))

    # Parsing against two different defaults shows which parts the line itself supplied.
    try:
        a = dateutil_parser.parse(text, default=_DEFAULT_A, tzinfos=zone_of)
        b = dateutil_parser.parse(text, default=_DEFAULT_B, tzinfos=zone_of)
    except (ValueError, OverflowError, TypeError):
        raise DateError(f"{text[:80]!r} is not a date") from None
    if a.year != b.year:
        raise DateError(f"the date {text[:80]!r} has no year")
    if (a.month, a.day) != (b.month, b.day):
        raise DateError(f"the date {text[:80]!r} has no day")
    # An hour without minutes ("3 PM") is a time: the minutes default to zero in ``a``.
    if a.hour != b.hour:
        return ParsedDate(a.replace(tzinfo=a.tzinfo or _zone(default_tz)), has_time=False)
    if names:
        return _in_zone(a, names[0], default_tz)
    if a.tzinfo:
        return ParsedDate(a, True)
    return ParsedDate(
        a.replace(tzinfo=_zone(default_tz)), True, zones.wall_clock_warnings(a, default_tz)
    )
