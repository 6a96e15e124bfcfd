"""Time-zone abbreviations as date lines write them (``3:45 PM ET``, ``09.30 BST``).

Each abbreviation names an IANA zone and says which of its offsets it means; the offsets come
from the time-zone database (``zoneinfo``, with the ``tzdata`` package where the system has
none) at the document's own date, never from numbers written here, so that historical changes
(Moscow kept UTC+4 from 2011 to 2014) come out right. An abbreviation with several meanings is
read by the choice this table documents, with a warning; one missing from the table is read in
``FEEDSVC_TIMEZONE``, with a warning, and never as the host's own zone or silently as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

# What an abbreviation means in its zone: the local time in force at that date (``ET``), or
# only the standard (``EST``) or only the daylight-saving (``EDT``) offset, as written, even on
# a date when the zone kept the other one.
IN_FORCE = "in force"
STANDARD = "standard"
DAYLIGHT = "daylight"


@dataclass(frozen=True)
class Abbreviation:
    name: str  # what it stands for
    zone: str  # the IANA zone whose rules give the offset
    kind: str = STANDARD
    also: str = ""  # other meanings, not chosen: the abbreviation is ambiguous when set


ABBREVIATIONS: dict[str, Abbreviation] = {
    "UTC": Abbreviation("Coordinated Universal Time", "Etc/UTC"),
    "UT": Abbreviation("Universal Time", "Etc/UTC"),
    "Z": Abbreviation("Zulu time (UTC)", "Etc/UTC"),
    "GMT": Abbreviation("Greenwich Mean Time", "Etc/UTC"),
    "ET": Abbreviation("US Eastern Time", "America/New_York", IN_FORCE),
    "EST": Abbreviation("US Eastern Standard Time", "America/New_York"),
    "EDT": Abbreviation("US Eastern Daylight Time", "America/New_York", DAYLIGHT),
    "CT": Abbreviation("US Central Time", "America/Chicago", IN_FORCE),
    "CST": Abbreviation(
        "US Central Standard Time",
        "America/Chicago",
        also="China Standard Time (UTC+08:00) or Cuba Standard Time (UTC-05:00)",
    ),
    "CDT": Abbreviation("US Central Daylight Time", "America/Chicago", DAYLIGHT),
    "MT": Abbreviation("US Mountain Time", "America/Denver", IN_FORCE),
    "MST": Abbreviation("US Mountain Standard Time", "America/Denver"),
    "MDT": Abbreviation("US Mountain Daylight Time", "America/Denver", DAYLIGHT),
    "PT": Abbreviation("US Pacific Time", "America/Los_Angeles", IN_FORCE),
    "PST": Abbreviation("US Pacific Standard Time", "America/Los_Angeles"),
    "PDT": Abbreviation("US Pacific Daylight Time", "America/Los_Angeles", DAYLIGHT),
    "AKST": Abbreviation("Alaska Standard Time", "America/Anchorage"),
    "AKDT": Abbreviation("Alaska Daylight Time", "America/Anchorage", DAYLIGHT),
    "HST": Abbreviation("Hawaii Standard Time", "Pacific/Honolulu"),
    "AST": Abbreviation(
        "Atlantic Standard Time",
        "America/Halifax",
        also="Arabia Standard Time (UTC+03:00)",
    ),
    "ADT": Abbreviation("Atlantic Daylight Time", "America/Halifax", DAYLIGHT),
    "BRT": Abbreviation("Brasília Time", "America/Sao_Paulo"),
    "ART": Abbreviation("Argentina Time", "America/Argentina/Buenos_Aires"),
    "WET": Abbreviation("Western European Time", "Europe/Lisbon"),
    "WEST": Abbreviation("Western European Summer Time", "Europe/Lisbon", DAYLIGHT),
    "BST": Abbreviation(
        "British Summer Time",
        "Europe/London",
        DAYLIGHT,
        also="Bangladesh Standard Time (UTC+06:00)",
    ),
    "CET": Abbreviation("Central European Time", "Europe/Paris"),
    "CEST": Abbreviation("Central European Summer Time", "Europe/Paris", DAYLIGHT),
    "EET": Abbreviation("Eastern European Time", "Europe/Athens"),
    "EEST": Abbreviation("Eastern European Summer Time", "Europe/Athens", DAYLIGHT),
    "MSK": Abbreviation("Moscow Time", "Europe/Moscow"),
    "TRT": Abbreviation("Turkey Time", "Europe/Istanbul"),
    "SAST": Abbreviation("South Africa Standard Time", "Africa/Johannesburg"),
    "WAT": Abbreviation("West Africa Time", "Africa/Lagos"),
    "CAT": Abbreviation("Central Africa Time", "Africa/Maputo"),
    "EAT": Abbreviation("East Africa Time", "Africa/Nairobi"),
    "GST": Abbreviation("Gulf Standard Time", "Asia/Dubai"),
    "PKT": Abbreviation("Pakistan Standard Time", "Asia/Karachi"),
    "IST": Abbreviation(
        "India Standard Time",
        "Asia/Kolkata",
        also="Irish Standard Time (UTC+01:00) or Israel Standard Time (UTC+02:00)",
    ),
    "NPT": Abbreviation("Nepal Time", "Asia/Kathmandu"),
    "ICT": Abbreviation("Indochina Time", "Asia/Bangkok"),
    "WIB": Abbreviation("Western Indonesia Time", "Asia/Jakarta"),
    "SGT": Abbreviation("Singapore Time", "Asia/Singapore"),
    "MYT": Abbreviation("Malaysia Time", "Asia/Kuala_Lumpur"),
    "PHT": Abbreviation("Philippine Time", "Asia/Manila"),
    "HKT": Abbreviation("Hong Kong Time", "Asia/Hong_Kong"),
    "JST": Abbreviation("Japan Standard Time", "Asia/Tokyo"),
    "KST": Abbreviation("Korea Standard Time", "Asia/Seoul"),
    "AWST": Abbreviation("Australian Western Standard Time", "Australia/Perth"),
    "ACST": Abbreviation("Australian Central Standard Time", "Australia/Adelaide"),
    "ACDT": Abbreviation("Australian Central Daylight Time", "Australia/Adelaide", DAYLIGHT),
    "AEST": Abbreviation("Australian Eastern Standard Time", "Australia/Sydney"),
    "AEDT": Abbreviation("Australian Eastern Daylight Time", "Australia/Sydney", DAYLIGHT),
    "NZST": Abbreviation("New Zealand Standard Time", "Pacific/Auckland"),
    "NZDT": Abbreviation("New Zealand Daylight Time", "Pacific/Auckland", DAYLIGHT),
}
# What "daylight" adds where a zone kept no daylight-saving time in the document's year.
DEFAULT_DAYLIGHT_SAVING = timedelta(hours=1)


@dataclass(frozen=True)
class ZoneReading:
    """A wall-clock time placed in a zone: the aware time, and what the operator should know."""

    when: datetime
    warnings: tuple[str, ...] = ()


@lru_cache(maxsize=128)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; raises ``zoneinfo.ZoneInfoNotFoundError`` or ``ValueError``."""
    return ZoneInfo(name)


def read(abbreviation: str, local: datetime, default_zone: str) -> ZoneReading:
    """``local`` (a naive wall-clock time) in the zone ``abbreviation`` names.

    Returns an aware datetime with a fixed UTC offset. An abbreviation missing from
    ABBREVIATIONS is read in ``default_zone`` (an IANA name, FEEDSVC_TIMEZONE) with a warning;
    an ambiguous one by the table's choice with a warning, and so is a standard-time
    abbreviation written on a date its zone kept daylight-saving time, or the reverse.
    """
    entry = ABBREVIATIONS.get(abbreviation)
    if entry is None:
        when = local.replace(tzinfo=zone(default_zone))
        unknown = (
            f"unknown time-zone abbreviation {abbreviation!r}: the time is read in "
            f"{default_zone} (FEEDSVC_TIMEZONE), {utc_offset_text(when.utcoffset())}"
        )
        return ZoneReading(when, (unknown, *wall_clock_warnings(local, default_zone)))
    offset, in_force = _offset(entry, local)
    warnings = list(wall_clock_warnings(local, entry.zone)) if entry.kind == IN_FORCE else []
    if entry.also:
        warnings.append(
            f"ambiguous time-zone abbreviation {abbreviation!r} read as {entry.name} "
            f"({utc_offset_text(offset)}), not {entry.also}"
        )
    if in_force is not None:
        warnings.append(
            f"{abbreviation!r} ({entry.name}) on a date when {entry.zone} keeps {in_force} time: "
            f"read as written, {utc_offset_text(offset)}"
        )
    return ZoneReading(local.replace(tzinfo=timezone(offset)), tuple(warnings))


def wall_clock_warnings(local: datetime, zone_name: str) -> tuple[str, ...]:
    """A warning when the naive wall-clock time ``local`` never happened in ``zone_name`` (its
    clocks went forward over it) or happened twice (they went back): either way it is read
    with the offset in force before the change (``fold=0``, PEP 495), and the operator should
    know that the document's time is a guess. Empty otherwise."""
    before = local.replace(tzinfo=zone(zone_name), fold=0)
    after = local.replace(tzinfo=zone(zone_name), fold=1)
    if before.utcoffset() == after.utcoffset():
        return ()
    shown = f"{local:%Y-%m-%d %H:%M}"
    offset = utc_offset_text(before.utcoffset())
    if before.astimezone(UTC).astimezone(zone(zone_name)).replace(tzinfo=None) != local:
        return (
            f"{shown} never happened in {zone_name} (the clocks went forward): read as {offset}",
        )
    return (
        f"{shown} happened twice in {zone_name} (the clocks went back): "
        f"read as the first, {offset}",
    )


def _offset(entry: Abbreviation, local: datetime) -> tuple[timedelta, str | None]:
    """The abbreviation's UTC offset at ``local``, and the kind of time the zone really kept
    then when the abbreviation names the other kind (else None)."""
    placed = local.replace(tzinfo=zone(entry.zone))
    offset, saving = placed.utcoffset(), placed.dst()
    assert offset is not None and saving is not None  # a ZoneInfo always knows both
    if entry.kind == IN_FORCE:
        return offset, None
    # Around a change of the clocks a wall-clock time has two readings (PEP 495 fold): when one
    # of them is the kind of time the abbreviation names (1:30 EST on the night the clocks go
    # back is the second 1:30), nothing needs saying.
    later = local.replace(tzinfo=zone(entry.zone), fold=1)
    later_saving = later.dst()
    if entry.kind == STANDARD:
        return offset - saving, ("daylight-saving" if saving and later_saving else None)
    if saving:
        return offset, None
    if later_saving:
        later_offset = later.utcoffset()
        assert later_offset is not None
        return later_offset, None
    return offset + _daylight_saving(entry.zone, local.year), "standard"


def _daylight_saving(zone_name: str, year: int) -> timedelta:
    """How much the zone's clocks went forward in ``year`` (an hour where they did not)."""
    for month in range(1, 13):
        saving = datetime(year, month, 15, 12, tzinfo=zone(zone_name)).dst()
        if saving:
            return saving
    return DEFAULT_DAYLIGHT_SAVING


def utc_offset_text(offset: timedelta | None) -> str:
    """``UTC+05:30`` for an offset of five and a half hours."""
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def describe() -> str:
    """The table as Markdown, for the README (a test keeps the two in step)."""
    lines = ["| Abbreviation | Read as | Zone (offsets from tzdata) |", "| --- | --- | --- |"]
    for abbreviation, entry in ABBREVIATIONS.items():
        meaning = entry.name
        if entry.kind == IN_FORCE:
            meaning += ", standard or daylight time as in force"
        elif entry.kind == DAYLIGHT:
            meaning += " (daylight-saving offset)"
        if entry.also:
            meaning += f"; **ambiguous**, a warning; not {entry.also}"
        lines.append(f"| `{abbreviation}` | {meaning} | `{entry.zone}` |")
    return "\n".join(lines)
