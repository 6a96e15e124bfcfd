"""Time-zone abbreviations in date lines: the documented table, its ambiguous and unknown
entries, and the same time for the same line on every host, whatever its TZ variable says."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc import zones
from feedsvc.dates import DateError, parse_date_line

ROOT = Path(__file__).resolve().parent.parent


def _hours(text: str) -> timedelta:
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return sign * timedelta(hours=int(hours), minutes=int(minutes or 0))


@pytest.mark.parametrize(
    ("line", "offset"),
    [
        ("Apr 12, 2021 3:45 PM ET", "-4"),
        ("Dec 12, 2021 3:45 PM ET", "-5"),
        ("Jan 12, 2021 3:45 PM EST", "-5"),
        ("Jul 12, 2021 3:45 PM EDT", "-4"),
        ("Jul 12, 2021 3:45 PM CT", "-5"),
        ("Jan 12, 2021 3:45 PM CT", "-6"),
        ("Jan 12, 2021 3:45 PM PT", "-8"),
        ("Jul 12, 2021 3:45 PM PT", "-7"),
        ("Jul 12, 2021 3:45 PM GMT", "0"),
        ("Jan 12, 2021 3:45 PM CET", "+1"),
        ("Jul 12, 2021 3:45 PM CEST", "+2"),
        ("Jan 12, 2021 3:45 PM EET", "+2"),
        ("Jul 12, 2021 3:45 PM MSK", "+3"),
        # Moscow kept UTC+4 all year from 2011 to 2014: the database knows, the table need not.
        ("Jan 12, 2013 3:45 PM MSK", "+4"),
        ("Jan 12, 2021 3:45 PM PKT", "+5"),
        ("Jan 12, 2021 3:45 PM WIB", "+7"),
        ("Jan 12, 2021 3:45 PM SGT", "+8"),
        ("Jan 12, 2021 3:45 PM HKT", "+8"),
        ("Jan 12, 2021 3:45 PM JST", "+9"),
        ("Jan 12, 2021 3:45 PM KST", "+9"),
        ("Jul 12, 2021 3:45 PM AEST", "+10"),
        ("Jan 12, 2021 3:45 PM AEDT", "+11"),
        ("Jan 12, 2021 3:45 PM SAST", "+2"),
        ("Jan 12, 2021 3:45 PM BRT", "-3"),
        # The same abbreviations where dateutil reads the line.
        ("12 Apr 2021 14:30 ET", "-4"),
        ("Mon 12 Apr 2021 09.30 JST", "+9"),
        ("Tuesday, 12 January 2021 09:30 AEDT", "+11"),
    ],
)
def test_the_table_reads_each_abbreviation_in_its_zone(line: str, offset: str) -> None:
    parsed = parse_date_line(line, default_tz="Asia/Tokyo")
    assert parsed.when.utcoffset() == _hours(offset)
    assert parsed.has_time
    assert parsed.warnings == ()
    assert parsed.zone_label == line.split()[-1]
    # The clock time is the one written, in that offset.
    assert (parsed.when.hour, parsed.when.minute) in ((15, 45), (14, 30), (9, 30))


@pytest.mark.parametrize(
    ("line", "offset", "chosen", "not_chosen"),
    [
        ("Apr 12, 2021 3:45 PM IST", "+5:30", "India Standard Time", "Irish Standard Time"),
        ("Mon 12 Apr 2021 09.30 BST", "+1", "British Summer Time", "Bangladesh"),
        ("Jan 12, 2021 3:45 PM CST", "-6", "US Central Standard Time", "China Standard Time"),
    ],
)
def test_an_ambiguous_abbreviation_is_read_by_the_documented_choice_with_a_warning(
    line: str, offset: str, chosen: str, not_chosen: str
) -> None:
    parsed = parse_date_line(line)
    assert parsed.when.utcoffset() == _hours(offset)
    (warning,) = parsed.warnings
    assert "ambiguous" in warning and chosen in warning and not_chosen in warning


@pytest.mark.parametrize("line", ["Apr 12, 2021 3:45 PM XYZ", "12 Apr 2021 15:45 QQT"])
@pytest.mark.parametrize(("zone", "offset"), [("UTC", "0"), ("Asia/Tokyo", "+9")])
def test_an_unknown_abbreviation_is_read_in_the_configured_zone_with_a_warning(
    line: str, zone: str, offset: str
) -> None:
    parsed = parse_date_line(line, default_tz=zone)
    assert parsed.when.utcoffset() == _hours(offset)
    assert (parsed.when.hour, parsed.when.minute) == (15, 45)
    (warning,) = parsed.warnings
    abbreviation = line.split()[-1]
    assert f"unknown time-zone abbreviation {abbreviation!r}" in warning
    assert zone in warning and "FEEDSVC_TIMEZONE" in warning
    assert parsed.zone_label == abbreviation  # as written: the page shows what the line said


def test_a_standard_time_abbreviation_in_summer_is_read_as_written_with_a_warning() -> None:
    parsed = parse_date_line("Jul 12, 2021 3:45 PM EST")
    assert parsed.when.utcoffset() == timedelta(hours=-5)
    (warning,) = parsed.warnings
    assert "'EST'" in warning and "daylight-saving" in warning and "UTC-05:00" in warning


@pytest.mark.parametrize(
    ("line", "default_zone", "utc", "said"),
    [
        # The clocks of New York went forward at 2:00 on 8 March 2026 and back at 2:00 on
        # 1 November: 2:30 that March night never happened, 1:30 that November night twice.
        ("Mar 8, 2026 2:30 AM ET", "UTC", "2026-03-08T07:30:00+00:00", "never happened"),
        ("March 8, 2026 02:30", "America/New_York", "2026-03-08T07:30:00+00:00", "never happened"),
        ("Nov 1, 2026 1:30 AM ET", "UTC", "2026-11-01T05:30:00+00:00", "happened twice"),
        ("Nov 1, 2026 1:30 AM", "America/New_York", "2026-11-01T05:30:00+00:00", "happened twice"),
        ("Nov 1, 2026 1:30 AM XYZ", "America/New_York", "2026-11-01T05:30:00+00:00",
         "happened twice"),
        # An abbreviation that names the kind of time settles which reading: nothing to say.
        ("Nov 1, 2026 1:30 AM EST", "UTC", "2026-11-01T06:30:00+00:00", None),
        ("Nov 1, 2026 1:30 AM EDT", "UTC", "2026-11-01T05:30:00+00:00", None),
        ("Mar 8, 2026 2:30 AM EDT", "UTC", "2026-03-08T06:30:00+00:00", None),
        ("Mar 8, 2026 3:30 AM ET", "UTC", "2026-03-08T07:30:00+00:00", None),
    ],
)  # fmt: skip
def test_a_time_the_clocks_skipped_or_repeated_is_read_with_a_warning(
    line: str, default_zone: str, utc: str, said: str | None
) -> None:
    parsed = parse_date_line(line, default_tz=default_zone)
    assert parsed.when.astimezone(UTC).isoformat() == utc
    clock = [w for w in parsed.warnings if "clocks went" in w]
    if said is None:
        assert parsed.warnings == ()
    else:
        (warning,) = clock
        assert said in warning and "America/New_York" in warning, warning
        # The warning names the offset the time was read with.
        offset = parsed.when.utcoffset()
        assert offset is not None
        hours = int(offset.total_seconds()) // 3600
        assert warning.endswith(f"UTC{hours:+03d}:00"), warning


def test_a_line_without_a_zone_has_no_label() -> None:
    assert parse_date_line("12 Apr 2021 09:30 UTC+5:30").zone_label is None
    assert parse_date_line("12 Apr 2021").zone_label is None


def test_every_zone_in_the_table_exists_in_the_time_zone_database() -> None:
    for abbreviation, entry in zones.ABBREVIATIONS.items():
        assert abbreviation.isupper() and 1 <= len(abbreviation) <= 5
        zones.zone(entry.zone)  # raises when tzdata does not know it
        assert entry.kind in (zones.IN_FORCE, zones.STANDARD, zones.DAYLIGHT)


def test_the_readme_lists_the_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- zones:begin -->")[1].split("<!-- zones:end -->")[0]
    assert section.strip() == zones.describe()


# -- the same document, the same bytes, on every host --------------------------------------------

_HOST_PROBE = """
import sys
from pathlib import Path
from feedsvc import create_app
app = create_app({"SEEDS_DIR": sys.argv[1], "INDEX_PATH": sys.argv[2],
                  "SITE_URL": "https://news.example.test", "WATCH": "false"})
app.extensions["feedsvc"].store.refresh()
client = app.test_client()
for path in ("/feed.atom", "/feed.rss", "/feed.json"):
    sys.stdout.buffer.write(client.get(path).data)
"""


def test_the_host_time_zone_never_changes_what_a_feed_says(tmp_path: Path) -> None:
    # dateutil reads an abbreviation it was not given as the host's zone when it matches the
    # TZ variable: "IST" under Asia/Kolkata, "XYZ" under the POSIX zone XYZ-3.
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for number, stamp in enumerate(
        ["12 Apr 2021 14:30 IST", "12 Apr 2021 14:30 XYZ", "Apr 12, 2021 3:45 PM XYZ"], 1
    ):
        (seeds / f"{number:03d}_{number:016x}.txt").write_text(
            f"Story {number}\n\n{stamp}\n\nNEW DELHI (Reuters) - Text of story {number}.\n"
        )
    outputs = {}
    for host_zone in ("UTC", "Asia/Kolkata", "XYZ-3"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
        env["TZ"] = host_zone
        index = tmp_path / host_zone.replace("/", "-") / "index.sqlite3"
        done = subprocess.run(
            [sys.executable, "-c", _HOST_PROBE, str(seeds), str(index)],
            env=env,
            capture_output=True,
            check=True,
            cwd=ROOT,
            timeout=120,
        )
        outputs[host_zone] = done.stdout
    assert b"2021-04-12T14:30:00+05:30" in outputs["UTC"]  # IST is India, from the table
    assert b"2021-04-12T14:30:00+00:00" in outputs["UTC"]  # XYZ: FEEDSVC_TIMEZONE, warned
    assert outputs["Asia/Kolkata"] == outputs["UTC"]
    assert outputs["XYZ-3"] == outputs["UTC"]


# -- no text crashes the zone reader --------------------------------------------------------------

_abbreviations = st.one_of(
    st.sampled_from(sorted(zones.ABBREVIATIONS)),
    st.text(alphabet=st.characters(min_codepoint=0x41, max_codepoint=0x5A), max_size=6),
    st.text(max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(abbreviation=_abbreviations, local=st.datetimes())
def test_any_abbreviation_at_any_time_gives_an_aware_time(
    abbreviation: str, local: datetime
) -> None:
    reading = zones.read(abbreviation, local, "America/New_York")
    assert reading.when.utcoffset() is not None
    assert reading.when.replace(tzinfo=None) == local
    assert all(isinstance(w, str) and w for w in reading.warnings)


@settings(max_examples=400, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2025, 12, 31)),
    zone=_abbreviations,
    shape=st.sampled_from(
        ["{:%b %d, %Y %I:%M %p} {}", "{:%d %b %Y %H:%M} {}", "{:%Y-%m-%d %H:%M} {}"]
    ),
)
def test_any_zone_token_after_a_time_gives_a_date_or_a_date_error(
    when: datetime, zone: str, shape: str
) -> None:
    try:
        parsed = parse_date_line(shape.format(when, zone))
    except DateError:
        return
    assert parsed.when.utcoffset() is not None
    assert parsed.when.date() == when.date() or zone not in zones.ABBREVIATIONS
