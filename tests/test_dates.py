"""The one date parser: every date-line shape newsrooms and scrapers write, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.dates import DateError, parse_date_line


@pytest.mark.parametrize(
    ("line", "iso", "has_time"),
    [
        ("12 Apr 2021", "2021-04-12T00:00:00+00:00", False),
        ("April 12, 2021", "2021-04-12T00:00:00+00:00", False),
        ("2021-04-12", "2021-04-12T00:00:00+00:00", False),
        ("019, Aug 2021", "2021-08-19T00:00:00+00:00", False),
        ("006, Mar 2022", "2022-03-06T00:00:00+00:00", False),
        ("Apr. 12, 2021", "2021-04-12T00:00:00+00:00", False),
        ("Sept. 5, 2021", "2021-09-05T00:00:00+00:00", False),
        ("12th April 2021", "2021-04-12T00:00:00+00:00", False),
        ("Monday, June 7, 2021", "2021-06-07T00:00:00+00:00", False),
        ("Posted on April 12, 2021", "2021-04-12T00:00:00+00:00", False),
        ("Published: 12 April 2021", "2021-04-12T00:00:00+00:00", False),
        ("13/06/2022", "2022-06-13T00:00:00+00:00", False),  # only one reading possible
        ("2021/04/12", "2021-04-12T00:00:00+00:00", False),
        # Eastern time follows daylight saving: EDT in April, EST in December.
        ("Apr 12, 2021 3:45 PM ET", "2021-04-12T15:45:00-04:00", True),
        ("Dec 12, 2021 3:45 PM ET", "2021-12-12T15:45:00-05:00", True),
        ("April 12, 2021, 3:45 PM EDT", "2021-04-12T15:45:00-04:00", True),
        ("12 Apr 2021 14:30 GMT", "2021-04-12T14:30:00+00:00", True),
        ("2021-04-12T08:15:00Z", "2021-04-12T08:15:00+00:00", True),
        ("2021-04-12 08:15", "2021-04-12T08:15:00+00:00", True),
        ("Sat 6 Mar 2022 14:05 CET", "2022-03-06T14:05:00+01:00", True),
        ("Mar 6, 2022 at 2:05 p.m.", "2022-03-06T14:05:00+00:00", True),
        ("Updated 4:12 p.m. EDT, Tue June 8, 2021", "2021-06-08T16:12:00-04:00", True),
        # "GMT+1" is one hour ahead of Greenwich, not behind it (dateutil reads it POSIX-style).
        ("June 3, 2021 10:02 AM GMT+1", "2021-06-03T10:02:00+01:00", True),
        ("12 Apr 2021 09:30 UTC+5:30", "2021-04-12T09:30:00+05:30", True),
        ("12 Apr 2021 09:30 UTC-03:00", "2021-04-12T09:30:00-03:00", True),
        # The Guardian's style: a dot between hours and minutes.
        ("Mon 12 Apr 2021 09.30 GMT", "2021-04-12T09:30:00+00:00", True),
        # Scrapers join date and time with a bar or a middle dot.
        ("April 12, 2021 | 3:45 PM ET", "2021-04-12T15:45:00-04:00", True),
        ("12 Apr 2021 · 09:30 GMT", "2021-04-12T09:30:00+00:00", True),
        # A newsroom's own language: the month's name, its joining words, Chinese and
        # Japanese figures (each was refused, and with it the story).
        ("3 mars 2025", "2025-03-03T00:00:00+00:00", False),
        ("4 août 2022", "2022-08-04T00:00:00+00:00", False),
        ("3. März 2025", "2025-03-03T00:00:00+00:00", False),
        ("3 de marzo de 2025", "2025-03-03T00:00:00+00:00", False),
        ("3 dicembre 2024 10:30 CET", "2024-12-03T10:30:00+01:00", True),
        ("1 de maio de 2024", "2024-05-01T00:00:00+00:00", False),
        ("3 maart 2025", "2025-03-03T00:00:00+00:00", False),
        ("3 марта 2025", "2025-03-03T00:00:00+00:00", False),
        ("2025年3月3日", "2025-03-03T00:00:00+00:00", False),
        ("2025年3月3日 14:05", "2025-03-03T14:05:00+00:00", True),
        # Two-digit years: up to 69 this century, from 70 the last (dates before 1970 are
        # refused, so a pivot below 70 would refuse "3/25/55").
        ("3/25/69", "2069-03-25T00:00:00+00:00", False),
        ("3/25/70", "1970-03-25T00:00:00+00:00", False),
        # Or a dash between spaces; Reuters adds the time in GMT after the local one.
        ("March 3, 2025 — 3:45 PM ET", "2025-03-03T15:45:00-05:00", True),
        ("March 3, 2025 – 3:45 PM ET", "2025-03-03T15:45:00-05:00", True),
        ("March 3, 2025 3:45 PM EST (2045 GMT)", "2025-03-03T15:45:00-05:00", True),
    ],
)
def test_date_shapes(line: str, iso: str, has_time: bool) -> None:
    parsed = parse_date_line(line)
    expected = datetime.fromisoformat(iso)
    assert parsed.when == expected
    assert parsed.when.utcoffset() == expected.utcoffset()
    assert parsed.has_time is has_time
    assert parsed.warnings == ()


def test_a_date_without_time_is_midnight_in_the_configured_zone() -> None:
    parsed = parse_date_line("12 Apr 2021", default_tz="Europe/London")
    assert parsed.when.isoformat() == "2021-04-12T00:00:00+01:00"
    assert parsed.has_time is False


def test_an_explicit_zone_wins_over_the_configured_zone() -> None:
    parsed = parse_date_line("Apr 12, 2021 3:45 PM ET", default_tz="Asia/Tokyo")
    assert parsed.when.utcoffset() == timedelta(hours=-4)


@pytest.mark.parametrize(
    ("line", "order", "iso", "reading"),
    [
        ("09/06/2022", "mdy", "2022-09-06", "6 September"),
        ("09/06/2022", "dmy", "2022-06-09", "9 June"),
        ("09/06/22", "mdy", "2022-09-06", "6 September"),
        ("04-05-2021", "mdy", "2021-04-05", "5 April"),
    ],
)
def test_an_ambiguous_numeric_date_follows_the_policy_and_says_so(
    line: str, order: str, iso: str, reading: str
) -> None:
    parsed = parse_date_line(line, date_order=order)
    assert parsed.when.date().isoformat() == iso
    (warning,) = parsed.warnings
    assert "ambiguous" in warning and reading in warning
    assert f"FEEDSVC_DATE_ORDER={order}" in warning


@pytest.mark.parametrize("order", ["mdy", "dmy"])
@pytest.mark.parametrize(
    ("line", "iso"), [("12.04.2021", "2021-04-12T00:00"), ("12.04.2021 15:45", "2021-04-12T15:45")]
)
def test_a_dotted_date_is_day_first_whatever_the_policy(order: str, line: str, iso: str) -> None:
    """Dots are written day first wherever they are used (de, ru, nordic): no ambiguity."""
    parsed = parse_date_line(line, date_order=order)
    assert parsed.when.isoformat(timespec="minutes").startswith(iso)
    assert parsed.warnings == ()


@pytest.mark.parametrize(
    "line",
    [
        "April 12, 2021 / 3:45 PM / Updated 2 hours ago",
        "April 12, 2021 3:45 PM / Updated April 12, 2021 4:10 PM",
        "April 12, 2021 | 3:45 PM | Last updated 12 minutes ago",
        "Published April 12, 2021 3:45 PM, updated April 13, 2021",
        "April 12, 2021 3:45 PM (Updated: April 13, 2021)",
    ],
)
def test_a_wire_stamp_with_an_update_is_read_as_its_publication(line: str) -> None:
    parsed = parse_date_line(line)
    assert parsed.when.isoformat() == "2021-04-12T15:45:00+00:00"
    assert parsed.has_time


def test_a_line_that_only_says_updated_is_still_a_date() -> None:
    assert parse_date_line("Updated: April 12, 2021").when.date().isoformat() == "2021-04-12"
    with pytest.raises(DateError):
        parse_date_line("Updated 2 hours ago")


@pytest.mark.parametrize(("order", "iso"), [("mdy", "2021-12-04"), ("dmy", "2021-04-12")])
def test_an_ambiguous_numeric_date_with_a_time_follows_the_same_policy(
    order: str, iso: str
) -> None:
    parsed = parse_date_line("12/04/2021 09:30", date_order=order)
    assert parsed.when.date().isoformat() == iso
    assert (parsed.when.hour, parsed.when.minute) == (9, 30) and parsed.has_time
    (warning,) = parsed.warnings
    assert "ambiguous" in warning


@pytest.mark.parametrize("line", ["13/06/2022", "06/13/2022", "07/07/2022"])
@pytest.mark.parametrize("order", ["mdy", "dmy"])
def test_an_unambiguous_numeric_date_has_no_warning(line: str, order: str) -> None:
    parsed = parse_date_line(line, date_order=order)
    assert parsed.warnings == ()
    assert parsed.when.year == 2022


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Yesterday afternoon", "not a date"),
        ("1 hour ago", "not a date"),
        ("Reuters", "not a date"),
        ("The mayor said on April 12, 2021 that he would resign.", "not a date"),
        ("3:45 PM ET", "no year"),
        ("April 2021", "no day"),
        ("2021", "no day"),
        ("Feb 30, 2021", "not a real calendar date"),
        ("31/31/2021", "not a real calendar date"),
        ("0/10/2025", "not a real calendar date"),
        ("10/0/2025", "not a real calendar date"),
        ("0.10.2025", "not a real calendar date"),
        ("12." * 340_000, "a date line has 200 at most"),
        ("July 20, 1969", "before 1970"),
        ("31 Dec 1969", "before 1970"),
    ],
)
def test_what_is_not_a_usable_date(line: str, message: str) -> None:
    with pytest.raises(DateError, match=message):
        parse_date_line(line)


def test_a_date_in_the_future_is_a_date_like_any_other() -> None:
    # An embargo: the store holds the article back until then (tests/test_store.py).
    assert parse_date_line("12 Apr 2999").when.year == 2999


def test_the_epoch_itself_is_accepted() -> None:
    assert parse_date_line("1 Jan 1970").when == datetime(1970, 1, 1, tzinfo=UTC)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_any_line_gives_an_aware_date_or_a_date_error(line: str) -> None:
    try:
        parsed = parse_date_line(line)
    except DateError:
        return
    assert parsed.when.utcoffset() is not None
    assert datetime(1970, 1, 1, tzinfo=UTC) <= parsed.when


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2024, 12, 31)))
def test_dates_written_the_common_ways_read_back(when: datetime) -> None:
    for line in (
        when.strftime("%d %b %Y"),
        when.strftime("%B %d, %Y"),
        when.strftime("%Y-%m-%d"),
        f"{when.day:03d}, {when:%b %Y}",
    ):
        parsed = parse_date_line(line)
        assert parsed.when.date() == when.date(), line
        assert not parsed.has_time


@pytest.mark.parametrize(
    "line",
    ["Apr 12, 2021 3:45 PM ET", "March 5, 2023 12:05 AM EST", "Dec 1 2022 12:30 pm PT",
     "Jan 9, 2024, 7:00 a.m. GMT", "July 4, 2021 11:59 PM CDT"],
)  # fmt: skip
def test_wire_stamp_fast_path_agrees_with_dateutil(line: str) -> None:
    from feedsvc.dates import _parse_general

    assert parse_date_line(line) == _parse_general(line, "UTC")
