"""The store: incremental indexing, lookups, and bad input reported without hiding the rest."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc import config, lastmod, renewal, rescan, seedfiles, watch
from feedsvc import store as store_module
from feedsvc.indexfile import ForeignIndex
from feedsvc.store import BATCH_DOCUMENTS, Facet, Problem, Store, renewal_path, search_expression
from feedsvc.watch import Watcher

from .conftest import document_text, hex_id, set_mtime, settings_for, wait_for, write_document

SEED_ID = "5e300edb8a850530"


def counts_seen_during(refresh: Callable[[], object], open_reader: Callable[[], Store]) -> set[int]:
    """Every article count a reader of its own (another thread, another connection) saw while
    ``refresh`` ran."""
    counts: list[int] = []
    stop = threading.Event()

    def read() -> None:
        reader = open_reader()
        while not stop.is_set():
            counts.append(reader.count())
        reader.close()

    thread = threading.Thread(target=read)
    thread.start()
    refresh()
    stop.set()
    thread.join()
    return set(counts)


def make_store(tmp_path: Path, seeds: Path, **overrides: object) -> Store:
    return Store(config.load(settings_for(tmp_path, seeds, **overrides)))


@pytest.fixture
def store(tmp_path: Path, seeds: Path) -> Store:
    store = make_store(tmp_path, seeds)
    store.refresh()
    return store


def test_bundled_seed_is_indexed_with_its_metadata(store: Store) -> None:
    article = store.get(SEED_ID)
    assert article is not None
    assert article.headline == "U.S. officials travel to Venezuela, a Russian ally, for talks."
    assert article.published.date().isoformat() == "2022-03-06"
    assert (article.city, article.agency) == ("WASHINGTON", "Reuters")
    assert len(article.paragraphs) == 15
    assert [r.text for r in article.removed] == [
        "Recent Article",
        "Day Trading Guide for Beginners",
        "Ukraine Crisis Puts Euro On Course For Worst Week In Two Years.",
        "enlightenedTop THREE Award-Winning Brokers in 2022 enlightened",
        "IC Markets",
    ]


def test_lookups_by_agency_city_and_full_text(store: Store, seeds: Path) -> None:
    write_document(seeds, 1, hex_id(1), dateline="PARIS (AFP) —", headline="Strike in Paris")
    store.refresh()
    assert [a.id for a in store.latest(10, facet=("agency", "afp"))] == [hex_id(1)]
    assert [a.id for a in store.latest(10, facet=("city", "washington"))] == [SEED_ID]
    assert [a.id for a in store.search("Maduro sanctions", 10)] == [SEED_ID]
    assert [a.id for a in store.search("negotiat", 10)] == [hex_id(1)]  # prefix of last word
    assert store.search('"unbalanced ( AND OR', 10) == []  # hostile query syntax is harmless
    assert {f.slug for f in store.agencies()} == {"reuters", "afp"}


def test_newest_first_with_sequence_breaking_ties(store: Store, seeds: Path) -> None:
    write_document(seeds, 7, hex_id(7), date="2 May 2023")
    write_document(seeds, 8, hex_id(8), date="2 May 2023", headline="Later the same day")
    write_document(seeds, 9, hex_id(9), date="1 May 2023", headline="The day before")
    store.refresh()
    assert [a.id for a in store.latest(4)] == [hex_id(8), hex_id(7), hex_id(9), SEED_ID]


def test_restart_with_unchanged_documents_parses_nothing(tmp_path: Path, seeds: Path) -> None:
    make_store(tmp_path, seeds).refresh()
    again = make_store(tmp_path, seeds).refresh()
    assert (again.added, again.changed, again.unchanged) == ([], [], 1)


def test_a_changed_date_setting_rebuilds_the_index_with_it(
    tmp_path: Path, seeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The times of documents already indexed follow FEEDSVC_TIMEZONE and FEEDSVC_DATE_ORDER
    after a restart: no edit of a file would ever correct them otherwise."""
    write_document(seeds, 1, hex_id(1), date="12 Apr 2021")  # midnight where?
    write_document(seeds, 2, hex_id(2), date="09/06/2022")  # which month?

    def dates(**settings: str) -> tuple[str, str]:
        store = Store(config.load(settings_for(tmp_path, seeds, **settings)))
        store.refresh()
        found = {a.id: a.published.isoformat() for a in store.latest(10)}
        store.close()
        return found[hex_id(1)], found[hex_id(2)]

    assert dates() == ("2021-04-12T00:00:00+00:00", "2022-09-06T00:00:00+00:00")
    with caplog.at_level(logging.INFO, logger="feedsvc.store"):
        moved = dates(TIMEZONE="America/New_York", DATE_ORDER="dmy")
    assert moved == ("2021-04-12T00:00:00-04:00", "2022-06-09T00:00:00-04:00")
    assert any("other date settings" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="feedsvc.store"):
        assert dates(TIMEZONE="America/New_York", DATE_ORDER="dmy") == moved  # as it is
    assert not any("other date settings" in r.getMessage() for r in caplog.records)


def made_by_an_earlier_parser(index_path: Path) -> None:
    """Record in the index that an earlier document parser made it (store.OTHER_PARSER)."""
    with contextlib.closing(sqlite3.connect(index_path)) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'parser'")
        db.commit()


def test_an_index_of_an_earlier_parser_is_kept_in_step_until_a_command_builds_it_again(
    tmp_path: Path, seeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A fix of the parser reaches the documents indexed before it (document.PARSER_VERSION):
    a command's refresh builds such an index again; the service's (``renew=False``) keeps it
    in step with the folder, read as it is, until then (renewal.py does it beside serving)."""
    write_document(seeds, 1, hex_id(1), headline="Talks resume in Geneva")
    make_store(tmp_path, seeds).refresh()
    settings = config.load(settings_for(tmp_path, seeds))
    made_by_an_earlier_parser(settings.index_path)
    with contextlib.closing(sqlite3.connect(settings.index_path)) as db:
        db.execute("UPDATE articles SET headline = 'As Read Before' WHERE id = ?", (hex_id(1),))
        db.commit()

    serving = Store(settings, renew=False)
    assert serving.ready() and serving.renewal_owed()
    write_document(seeds, 2, hex_id(2), date="13 Apr 2021", headline="Second")
    serving.refresh()
    headlines = {a.id: a.headline for a in serving.latest(10)}
    assert headlines[hex_id(1)] == "As Read Before" and headlines[hex_id(2)] == "Second"
    assert serving.renewal_owed()

    with caplog.at_level(logging.INFO, logger="feedsvc.store"):
        Store(settings).refresh()
    assert any("earlier version of the document parser" in r.getMessage() for r in caplog.records)
    serving.version()  # as every request does: the reader follows the renewed index
    headlines = {a.id: a.headline for a in serving.latest(10)}
    assert headlines[hex_id(1)] == "Talks resume in Geneva" and headlines[hex_id(2)] == "Second"
    assert not serving.renewal_owed()


def test_a_renewal_says_what_the_new_parser_refuses(
    tmp_path: Path, seeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A document the earlier parser published and this one refuses leaves the site when the
    renewal puts the new index in place: the renewal says which and why (it said nothing)."""
    good = b"Talks resume\n\n12 Apr 2021\n\nPARIS (AFP) - Officials met.\n"
    refused = "\u200f\n\n12 Apr 2021\n\nPARIS (AFP) - Officials met.\n".encode()
    refused += b" " * (len(good) - len(refused))  # the same size: read as before until renewed
    path = seeds / f"001_{hex_id(1)}.txt"
    path.write_bytes(good)
    make_store(tmp_path, seeds).refresh()
    written = path.stat()
    path.write_bytes(refused)
    os.utime(path, ns=(written.st_atime_ns, written.st_mtime_ns))
    settings = config.load(settings_for(tmp_path, seeds))
    made_by_an_earlier_parser(settings.index_path)
    store = Store(settings, renew=False)
    assert store.get(hex_id(1)) is not None
    with caplog.at_level(logging.INFO, logger="feedsvc.store"):
        store.renew()
    said = [r.getMessage() for r in caplog.records]
    assert any("is built again: 1 article in" in line for line in said), said  # the new index's
    assert any(
        f"001_{hex_id(1)}.txt (the headline has no visible character)" in line for line in said
    ), said


def test_a_renewal_that_keeps_failing_is_tried_less_and_less_often(
    tmp_path: Path, seeds: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Each renewal reads the whole folder (minutes at a million documents) before a lasting
    cause stops it: after each failure in a row the leader waits twice as long, up to an hour,
    and says why once. It started one every 60 s, for ever."""
    assert [renewal.retry_after(n) for n in (1, 2, 3, 7, 8, 200)] == [
        60, 120, 240, 3600, 3600, 3600]  # fmt: skip
    write_document(seeds, 1, hex_id(1))
    make_store(tmp_path, seeds).refresh()
    settings = config.load(settings_for(tmp_path, seeds))
    made_by_an_earlier_parser(settings.index_path)
    # The renewal cannot take its own index's lock: it fails, as it would on a full disk.
    Path(f"{renewal_path(settings.index_path)}.lock").mkdir()
    waits: list[int] = []  # the failures in a row each wait was asked for

    def retry_after(failures: int) -> float:
        waits.append(failures)
        return failures * 0.2

    monkeypatch.setattr(renewal, "retry_after", retry_after)
    watcher = Watcher(Store(settings, renew=False), 0.05).start()
    try:
        wait_for(lambda: len(waits) >= 3, 30)
    finally:
        watcher.stop()
    assert waits[:3] == [1, 2, 3]
    said = capfd.readouterr().err  # the renewal processes write to the service's stderr
    assert said.count("could not build the index") == 1, said


def test_a_folder_with_no_document_left_is_taken_for_one_not_mounted(
    tmp_path: Path, seeds: Path
) -> None:
    """An empty folder indexes as an empty site the first time; once the index has articles,
    a folder that holds no document at all (a share's mount point before it is mounted) is
    refused by every whole-folder comparison, and the index kept: it was emptied."""
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = make_store(tmp_path / "first", empty)
    assert nothing.refresh().added == [] and nothing.count() == 0  # a first index of nothing
    for path in seeds.iterdir():
        path.unlink()
    write_document(seeds, 1, hex_id(1))
    store = make_store(tmp_path, seeds)
    store.refresh()
    for path in seeds.iterdir():
        path.unlink()
    (seeds / "notes.md").write_text("not a document")
    with pytest.raises(seedfiles.NoDocuments, match="holds no documents"):
        store.refresh()
    with pytest.raises(seedfiles.NoDocuments):
        store.scan()  # the watcher's comparison without the lock
    with pytest.raises(seedfiles.NoDocuments):  # a rebuild (other date settings) reads none
        make_store(tmp_path, seeds, TIMEZONE="Europe/Paris").refresh()
    assert store.count() == 1
    write_document(seeds, 2, hex_id(2), headline="Back")
    assert store.refresh().removed == [hex_id(1)] and store.count() == 1


def test_new_changed_and_deleted_documents(store: Store, seeds: Path) -> None:
    path = write_document(seeds, 1, hex_id(1))
    report = store.refresh()
    assert report.added == [hex_id(1)]
    generation = store.generation

    path.write_text(path.read_text().replace("two-week", "three-week"))
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse file systems
    report = store.refresh()
    assert report.changed == [hex_id(1)]
    assert "three-week" in store.get(hex_id(1)).paragraphs[0]
    assert store.generation > generation

    path.unlink()
    assert store.refresh().removed == [hex_id(1)]
    assert store.get(hex_id(1)) is None


def test_search_follows_edits_and_deletions(store: Store, seeds: Path) -> None:
    def found(words: str) -> list[str]:
        return [a.id for a in store.search(words, 10)]

    path = write_document(seeds, 1, hex_id(1), paragraphs=('A "quoted" zeppelin landed.',))
    store.refresh()
    assert found("quoted zeppelin") == [hex_id(1)]

    path.write_text(path.read_text().replace("zeppelin", "dirigible"))
    os.utime(path, ns=(1, 1))
    store.refresh()
    assert found("zeppelin") == []
    assert found("dirigible") == [hex_id(1)]

    # A new article may take the deleted one's row number: the old words must not find it.
    path.unlink()
    store.refresh()
    write_document(seeds, 2, hex_id(2), paragraphs=("An airship story.",))
    store.refresh()
    assert found("dirigible") == []
    assert found("airship") == [hex_id(2)]


def test_updated_is_the_later_of_the_date_and_the_file_time(store: Store, seeds: Path) -> None:
    path = write_document(seeds, 1, hex_id(1), date="12 Apr 2021")
    set_mtime(path, datetime(2021, 4, 1, tzinfo=UTC))  # written before its date (an embargo)
    store.refresh()
    first = store.get(hex_id(1))
    assert first.updated == first.published == datetime(2021, 4, 12, tzinfo=UTC)

    edited = datetime(2023, 5, 6, 7, 8, 9, 987654, tzinfo=UTC)
    path.write_text(path.read_text().replace("Monday", "Tuesday"))
    set_mtime(path, edited)
    assert store.refresh().changed == [hex_id(1)]
    assert store.get(hex_id(1)).updated == edited.replace(microsecond=0)

    # Only what is in the folder counts: a rebuilt index gives the same times.
    rebuilt = make_store(tmp_path := seeds.parent / "rebuilt", seeds)
    rebuilt.refresh()
    assert rebuilt.get(hex_id(1)) == store.get(hex_id(1))
    assert rebuilt.get(hex_id(1)).updated == store.get(hex_id(1)).updated
    assert tmp_path.exists()


def test_id_survives_headline_edit_and_index_rebuild(tmp_path: Path, seeds: Path) -> None:
    path = write_document(seeds, 1, hex_id(1), headline="First headline")
    store = make_store(tmp_path, seeds)
    store.refresh()
    path.write_text(path.read_text().replace("First headline", "Corrected headline"))
    os.utime(path, ns=(3, 3))
    store.refresh()
    assert store.get(hex_id(1)).headline == "Corrected headline"
    store.close()
    for leftover in (tmp_path / "index").iterdir():
        leftover.unlink()
    rebuilt = make_store(tmp_path, seeds)
    rebuilt.refresh()
    assert rebuilt.get(hex_id(1)).headline == "Corrected headline"


BAD_INPUTS = {
    "empty.txt": b"",
    "blank.txt": b"   \n\n  \t\n",
    "headline_only.txt": b"Just a headline\n",
    "binary.txt": bytes(range(256)) * 4,
    "bad_date.txt": b"Headline\n\nsometime last week\n\nBody text here.\n",
    "old.txt": b"Headline\n\n1969-07-20\n\nBody text here.\n",
    "notes.md": b"not a document",
}


def test_bad_documents_are_reported_and_hide_nothing(store: Store, seeds: Path) -> None:
    for name, raw in BAD_INPUTS.items():
        (seeds / name).write_bytes(raw)
    (seeds / "huge.txt").write_bytes(b"Headline\n\n1 Jan 2021\n\n" + b"x " * 600_000)
    report = store.refresh()
    reasons = {p.file_name: p.reason for p in report.skipped}
    assert set(reasons) == {*BAD_INPUTS, "huge.txt"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "no body" in reasons["headline_only.txt"] or "date" in reasons["headline_only.txt"]
    assert "not a date" in reasons["bad_date.txt"]
    assert "before 1970" in reasons["old.txt"]
    assert "over the limit" in reasons["huge.txt"]
    assert ".txt" in reasons["notes.md"]
    assert store.get(SEED_ID) is not None
    assert {p.file_name for p in store.problems()} == set(reasons)


def test_skipped_documents_come_from_their_own_index_added_in_place_to_an_older_index(
    tmp_path: Path, seeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Summarised at every start: read from the whole `files` table, that is 0.1 s of every
    # restart at a million files. An index of this version made before files_problem existed
    # gets it at the next start, without the rebuild a new version costs (14 min there).
    caplog.set_level(logging.INFO, logger="feedsvc")
    for name, raw in BAD_INPUTS.items():
        (seeds / name).write_bytes(raw)
    index = tmp_path / "index" / "index.sqlite3"

    def plan(store: Store) -> str:
        rows = store._db.execute("EXPLAIN QUERY PLAN " + store_module.PROBLEMS_SQL).fetchall()
        return " | ".join(row[-1] for row in rows)

    writer = make_store(tmp_path, seeds)
    writer.refresh()
    skipped = writer.problems()
    assert {p.file_name for p in skipped} == set(BAD_INPUTS)
    assert "USING COVERING INDEX files_problem" in plan(writer)  # its rows alone
    writer.release()
    build = os.readlink(index)
    db = sqlite3.connect(index)
    db.execute("DROP INDEX files_problem")
    db.close()

    store = make_store(tmp_path, seeds)
    assert "files_problem" not in plan(store)
    store.release()
    caplog.clear()
    assert store.verify(starting=True) is None
    assert "USING COVERING INDEX files_problem" in plan(store)
    assert store.problems() == skipped
    assert os.readlink(index) == build  # the same build: not rebuilt
    said = [r.getMessage() for r in caplog.records if "added the index" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"added the index files_problem to {index}"), said
    caplog.clear()
    assert store.verify(starting=True) is None
    assert not [r for r in caplog.records if "added the index" in r.getMessage()]


def test_symlinks_out_of_the_folder_and_fifos_are_skipped(
    store: Store, seeds: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret\n\n1 Jan 2021\n\nDo not publish.\n")
    (seeds / "001_0000000000000001.txt").symlink_to(outside)
    os.mkfifo(seeds / "002_0000000000000002.txt")
    report = store.refresh()  # must not hang on the FIFO
    reasons = {p.file_name: p.reason for p in report.skipped}
    assert "outside the seeds folder" in reasons["001_0000000000000001.txt"]
    assert "not a regular file" in reasons["002_0000000000000002.txt"]
    assert store.count() == 1


def test_same_document_under_two_names_is_published_once(store: Store, seeds: Path) -> None:
    original = seeds / "000_5e300edb8a850530.txt"
    (seeds / "001_aaaaaaaaaaaaaaaa.txt").write_bytes(original.read_bytes())
    report = store.refresh()
    assert [p.reason for p in report.skipped] == ["same document as 000_5e300edb8a850530.txt"]
    assert store.count() == 1
    # When the original goes, the copy takes its place.
    original.unlink()
    store.refresh()
    assert [a.id for a in store.latest(5)] == ["aaaaaaaaaaaaaaaa"]


def published(store: Store) -> dict[str, tuple[str, str]]:
    """Every published article: id -> (file name, headline)."""
    return {a.id: (a.file_name, a.headline) for a in store.latest(store.count())}


@pytest.mark.parametrize("same", ["text", "id"])
def test_of_two_copies_the_first_by_name_is_published_whichever_came_first(
    tmp_path: Path, seeds: Path, same: str
) -> None:
    # Issue 14: every node publishes the same copy. One that saw the copies arrive (the later
    # one's name sorting first) and one that indexed the folder whole must agree.
    later = write_document(seeds, 5, hex_id(5), headline="First take")
    live = make_store(tmp_path / "live", seeds)
    live.refresh()
    if same == "text":
        first = seeds / f"002_{hex_id(2)}.txt"
        first.write_bytes(later.read_bytes())
        held, kept, reason = hex_id(5), hex_id(2), f"same document as {first.name}"
    else:
        first = write_document(seeds, 2, hex_id(5), headline="Second take")
        held, kept, reason = hex_id(5), hex_id(5), f"id {hex_id(5)} is already used by {first.name}"
    report = live.refresh(names={first.name})
    assert report.skipped == [Problem(later.name, reason)]
    if held != kept:
        assert report.removed == [held] and report.added == [kept]
    else:
        assert report.changed == [kept]
    whole = make_store(tmp_path / "whole", seeds)
    whole.refresh()
    assert published(live) == published(whole)
    assert published(live)[kept][0] == first.name
    assert live.problems() == whole.problems()
    # Saving the published copy again does not hand the article back (it did with "older wins").
    os.utime(first, ns=(time.time_ns(), time.time_ns()))
    live.refresh(names={first.name})
    assert published(live)[kept][0] == first.name
    # When the first copy goes, the other is published again, on either node.
    first.unlink()
    live.refresh(names={first.name})
    whole.refresh()
    assert published(live) == published(whole)
    assert published(live)[hex_id(5)][0] == later.name


def test_a_copy_that_conflicts_with_an_earlier_name_stays_skipped(
    tmp_path: Path, seeds: Path
) -> None:
    # 004 holds a text; 006 holds id 7. A newcomer 005 with 004's text and id 7 yields to 004,
    # so 006 keeps id 7: what a whole index in name order publishes.
    four = write_document(seeds, 4, hex_id(4), headline="Four")
    six = write_document(seeds, 6, hex_id(7), headline="Six")
    live = make_store(tmp_path / "live", seeds)
    live.refresh()
    five = seeds / f"005_{hex_id(7)}.txt"
    five.write_bytes(four.read_bytes())
    report = live.refresh(names={five.name})
    assert report.skipped == [Problem(five.name, f"same document as {four.name}")]
    whole = make_store(tmp_path / "whole", seeds)
    whole.refresh()
    assert published(live) == published(whole)
    assert published(live)[hex_id(7)][0] == six.name


def test_a_copy_taken_over_while_it_changes_too_is_told_once_by_its_own_turn(
    tmp_path: Path, seeds: Path
) -> None:
    # A reviewer's cases: the file losing the article is in the same refresh (one watcher
    # tick, a restart's scan). It was said skipped twice; or, given a new text that is no
    # copy, said removed and skipped though it stayed published.
    later = write_document(seeds, 5, hex_id(5), headline="First take")
    live = make_store(tmp_path / "live", seeds)
    live.refresh()
    first = write_document(seeds, 2, hex_id(5), headline="Second take")
    os.utime(later, ns=(time.time_ns(), time.time_ns()))  # saved again, in the same tick
    report = live.refresh(names={first.name, later.name})
    copy = Problem(later.name, f"id {hex_id(5)} is already used by {first.name}")
    assert report.skipped == [copy]
    assert published(live)[hex_id(5)] == (first.name, "Second take")

    four = write_document(seeds, 4, hex_id(4), headline="Four")
    six = write_document(seeds, 6, hex_id(6), headline="Six")
    live.refresh()
    four.write_bytes(six.read_bytes())  # 004 takes 006's text ...
    write_document(seeds, 6, hex_id(6), headline="Seven")  # ... while 006 gets a new one
    report = live.refresh(names={four.name, six.name})
    assert published(live)[hex_id(6)] == (six.name, "Seven")
    assert published(live)[hex_id(4)] == (four.name, "Six")
    assert report.skipped == [] and live.problems() == [copy]
    assert sorted(report.changed) == [hex_id(4), hex_id(6)] and report.removed == []
    whole = make_store(tmp_path / "whole", seeds)
    whole.refresh()
    assert published(live) == published(whole)


def test_a_copy_taken_over_while_it_is_being_written_is_published_once(
    tmp_path: Path, seeds: Path
) -> None:
    # A reviewer's case: its own turn is put off (settling: an emptied file may be being
    # written), and both files published the one text until it came.
    six = write_document(seeds, 6, hex_id(6), headline="Six")
    live = make_store(tmp_path / "live", seeds)
    live.refresh()
    four = seeds / f"004_{hex_id(4)}.txt"
    four.write_bytes(six.read_bytes())  # a copy whose name sorts first arrives ...
    six.write_bytes(b"")  # ... while 006 is being rewritten (empty for now)
    report = live.refresh(names={four.name, six.name})
    assert list(report.unsettled) == [six.name]
    assert published(live)[hex_id(4)] == (four.name, "Six") and hex_id(6) not in published(live)
    assert report.removed == [hex_id(6)] and report.added == [hex_id(4)]
    # Written in full, as the copy it was: still the copy's.
    six.write_bytes(four.read_bytes())
    live.refresh(names={six.name})
    assert published(live)[hex_id(4)] == (four.name, "Six") and hex_id(6) not in published(live)
    whole = make_store(tmp_path / "whole", seeds)
    whole.refresh()
    assert published(live) == published(whole)


def test_absurd_headline_is_shortened_not_rejected(store: Store, seeds: Path) -> None:
    (seeds / "003_0000000000000003.txt").write_text(
        "Breaking " * 1200 + "\n\n1 Jan 2021\n\nBODY (AP) -- The body.\n"
    )
    store.refresh()
    article = store.get("0000000000000003")
    assert len(article.headline) <= 300
    assert any("shortened" in w for w in article.warnings)


def test_readers_never_see_a_half_done_refresh(tmp_path: Path, seeds: Path) -> None:
    writer = make_store(tmp_path, seeds)
    writer.refresh()
    for n in range(1, 301):
        write_document(seeds, n, hex_id(n), headline=f"Story number {n}")
    counts = counts_seen_during(writer.refresh, lambda: make_store(tmp_path, seeds))
    assert set(counts) <= {1, 301}


def test_watcher_elects_one_leader_and_followers_see_changes(tmp_path: Path, seeds: Path) -> None:
    leader_store, follower_store = make_store(tmp_path, seeds), make_store(tmp_path, seeds)
    leader, follower = Watcher(leader_store, 0.1), Watcher(follower_store, 0.1)
    leader.poll_once()
    follower.poll_once()
    assert leader.is_leader and not follower.is_leader
    write_document(seeds, 1, hex_id(1))
    leader.poll_once()
    # The follower learns of the leader's commit by itself, from the generation file.
    assert follower_store.version() == leader_store.version()
    assert follower_store.get(hex_id(1)) is not None
    leader.stop()
    follower.poll_once()
    assert follower.is_leader  # the kernel released the lock; the follower takes over
    follower.stop()


def test_index_with_an_old_schema_is_rebuilt(tmp_path: Path, seeds: Path) -> None:
    store = make_store(tmp_path, seeds)
    store.refresh()
    store.close()
    with sqlite3.connect(tmp_path / "index" / "index.sqlite3") as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    rebuilt = make_store(tmp_path, seeds)
    rebuilt.refresh()
    assert rebuilt.get(SEED_ID) is not None


def test_parallel_and_sequential_indexing_agree(tmp_path: Path, seeds: Path) -> None:
    from feedsvc import indexing

    for n in range(1, indexing.PARALLEL_THRESHOLD + 50):
        write_document(seeds, n, hex_id(n), headline=f"Story {n}", date=f"{n % 28 + 1} Mar 2021")
    (seeds / "bad.txt").write_bytes(b"")
    parallel = make_store(tmp_path / "p", seeds)
    parallel_report = parallel.refresh(parallel=True)
    sequential = make_store(tmp_path / "s", seeds)
    sequential_report = sequential.refresh()
    assert parallel_report.added == sequential_report.added
    assert parallel_report.skipped == sequential_report.skipped
    total = parallel.count()
    assert parallel.latest(total) == sequential.latest(total)


def test_refreshing_only_the_files_reported_changed(store: Store, seeds: Path) -> None:
    path = write_document(seeds, 1, hex_id(1))
    other = write_document(seeds, 2, hex_id(2), headline="Not reported yet")
    assert store.refresh(names={path.name}).added == [hex_id(1)]
    assert store.get(hex_id(2)) is None  # only what was named is looked at
    copy = seeds / "003_0000000000000003.txt"
    copy.write_bytes(path.read_bytes())
    report = store.refresh(names={copy.name, other.name})
    assert report.added == [hex_id(2)]
    assert [p.file_name for p in report.skipped] == [copy.name]  # a duplicate of 001
    path.unlink()
    report = store.refresh(names={path.name})  # the copy takes over when the original goes
    assert report.removed == [hex_id(1)] and report.added == ["0000000000000003"]


def test_a_commit_made_during_a_render_is_seen_after_it(tmp_path: Path, seeds: Path) -> None:
    reader, writer = make_store(tmp_path, seeds), make_store(tmp_path, seeds)
    writer.refresh()
    before = reader.version()
    with reader.reading():
        assert reader.count() == 1  # the render's snapshot starts here
        write_document(seeds, 1, hex_id(1))
        writer.refresh()
        reader.version()  # a request in another thread of this worker notices the commit
        assert reader.count() == 1  # the render goes on with the state it started with
    assert reader.version() != before
    assert reader.count() == 2


def test_every_process_sees_a_commit_through_the_generation_file(
    tmp_path: Path, seeds: Path
) -> None:
    serving, indexing = make_store(tmp_path, seeds), make_store(tmp_path, seeds)
    indexing.refresh()
    seen = serving.version()
    assert serving.version() == seen  # nothing changed: one stat() says so
    write_document(seeds, 1, hex_id(1))
    indexing.refresh()  # another process, e.g. `feedsvc index` from cron
    assert serving.version() != seen
    assert serving.get(hex_id(1)) is not None


def test_a_deleted_index_is_rebuilt_aside_while_readers_keep_the_old_one(
    tmp_path: Path, seeds: Path
) -> None:
    writer, reader = make_store(tmp_path, seeds), make_store(tmp_path, seeds)
    writer.refresh()
    write_document(seeds, 1, hex_id(1))
    writer.refresh()
    before = reader.version()
    index = tmp_path / "index" / "index.sqlite3"
    with reader.reading():
        assert reader.count() == 2  # the render's snapshot of the first build
        for path in index.parent.glob("index.sqlite3*"):  # rm index.sqlite3*
            path.unlink()
        assert not writer.index_present()
        writer.refresh()  # rebuilt aside, and put in place
        reader.version()  # another request notices the new build
        assert reader.count() == 2  # this render goes on reading the old one, whole
    assert index.is_symlink() and reader.version() != before
    assert reader.count() == 2 and reader.get(hex_id(1)) is not None


def test_an_index_file_of_an_older_version_is_replaced_by_a_build(
    tmp_path: Path, seeds: Path
) -> None:
    index = tmp_path / "index" / "index.sqlite3"
    index.parent.mkdir()
    with sqlite3.connect(index) as db:  # as versions before builds had files of their own
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema', '8'), ('generation', '7')")
    store = make_store(tmp_path, seeds)
    assert not store.ready()
    store.refresh()
    assert index.is_symlink() and store.get(SEED_ID) is not None
    assert not (tmp_path / "index" / "index.sqlite3-wal").exists()


def test_a_file_that_is_not_an_index_is_never_overwritten(tmp_path: Path, seeds: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an index\n" * 100)
    store = make_store(tmp_path, seeds, INDEX_PATH=str(notes))
    with pytest.raises(sqlite3.DatabaseError):
        store.refresh()
    assert notes.read_text() == "not an index\n" * 100 and not notes.is_symlink()
    # Nor a file the index path links to that feedsvc did not make.
    link = tmp_path / "linked.sqlite3"
    link.symlink_to(notes)
    with pytest.raises(ForeignIndex):
        make_store(tmp_path, seeds, INDEX_PATH=str(link)).refresh()
    assert notes.read_text() == "not an index\n" * 100


def test_a_published_document_found_empty_is_held_once_then_withdrawn(
    store: Store, seeds: Path
) -> None:
    path = seeds / "000_5e300edb8a850530.txt"
    path.write_text("")  # an editor's truncation, before it writes
    report = store.refresh(names=[path.name])
    assert list(report.unsettled) == [path.name] and not report.removed
    assert store.get(SEED_ID) is not None  # still published
    report = store.refresh(names=[path.name], settled=report.unsettled)  # the same, later
    assert report.removed == [SEED_ID] and store.get(SEED_ID) is None


def test_a_large_refresh_commits_in_batches_readers_see_whole(tmp_path: Path, seeds: Path) -> None:
    writer = make_store(tmp_path, seeds)
    writer.refresh()
    added = 2 * BATCH_DOCUMENTS + 100
    for n in range(1, added + 1):
        write_document(seeds, n, hex_id(n), headline=f"Story number {n}")
    counts = counts_seen_during(writer.refresh, lambda: make_store(tmp_path, seeds))
    assert set(counts) <= {1, 1 + BATCH_DOCUMENTS, 1 + 2 * BATCH_DOCUMENTS, 1 + added}
    assert writer.count() == 1 + added


def test_the_watchers_delays_leave_every_change_dated_right() -> None:
    # The last write of a document is committed within lastmod.SETTLE_SECONDS (watch.py).
    delay = watch.QUIET_SECONDS + watch.TICK_SECONDS + watch.MIN_COMMIT_INTERVAL_SECONDS
    assert delay < lastmod.SETTLE_SECONDS


@pytest.mark.parametrize("damage", ["truncated", "garbage_in_the_middle", "not_a_database"])
def test_an_index_damaged_while_stopped_is_found_and_rebuilt_at_start(
    tmp_path: Path, seeds: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(1, 200):
        write_document(seeds, n, hex_id(n), headline=f"Story number {n}")
    first = make_store(tmp_path, seeds)
    first.refresh()
    first.close()
    index = tmp_path / "index" / "index.sqlite3"
    build = index.parent / os.readlink(index)
    size = build.stat().st_size
    with open(build, "r+b") as out:
        if damage == "truncated":
            out.truncate(4096)
        else:
            out.seek(size // 2 if damage == "garbage_in_the_middle" else 0)
            out.write(os.urandom(4096 if damage == "garbage_in_the_middle" else 100))
    store = make_store(tmp_path, seeds)  # what `feedsvc serve` does before its workers start
    assert not store.ready() or damage == "garbage_in_the_middle"  # only a full check sees it
    report = store.verify()
    assert report is not None and report.rebuilt is not None
    assert report.rebuilt.startswith("is damaged (")
    assert store.count() == 200 and store.get(hex_id(150)) is not None
    assert os.readlink(index) != build.name and not build.exists()
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(said) == 1 and said[0].startswith(f"the index {index} is damaged"), said
    assert store.verify() is None  # sound now: nothing more to do


def test_the_record_of_a_clean_stop_spares_one_start_its_whole_check_and_no_write_keeps_it(
    tmp_path: Path, seeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedsvc")
    index = tmp_path / "index" / "index.sqlite3"
    mark = index.with_name(f"{index.name}.clean")

    def at_start() -> str:
        """What a start does about the whole-file check: "skipped", "checked" (before serving)
        or "owed" (made while serving, by check_whole)."""
        caplog.clear()
        store = make_store(tmp_path, seeds)
        assert store.verify(starting=True) is None
        checked = any(r.getMessage().startswith("checked the whole index") for r in caplog.records)
        assert not (checked and store.check_owed)
        return "checked" if checked else "owed" if store.check_owed else "skipped"

    writer = make_store(tmp_path, seeds)
    writer.refresh()
    assert writer.mark_clean_stop() and mark.exists()
    assert at_start() == "skipped"  # trusted once: the start that took it may write
    assert not mark.exists()
    # No record: the service that took it crashed. A crash leaves an SQLite file whole.
    assert at_start() == "owed"

    # Written by feedsvc after the record, even within the same clock tick: no record either.
    assert writer.mark_clean_stop()
    write_document(seeds, 2, hex_id(2), headline="A story written after the stop")
    writer.refresh()
    assert not mark.exists()
    assert at_start() == "owed"

    # A record the index no longer matches, one of another build (the index rebuilt by another
    # version, then put back) or one that cannot be read: written while stopped, checked first.
    assert writer.mark_clean_stop()
    build = index.parent / os.readlink(index)
    os.utime(build)  # its change time moves, as with any write
    assert at_start() == "checked"
    assert writer.mark_clean_stop()
    mark.write_text(mark.read_text().replace('"schema": "', '"schema": "old-'))
    assert at_start() == "checked"
    mark.write_text("{not json")
    assert at_start() == "checked"


def test_the_check_a_crash_left_owed_reads_the_whole_index_and_rebuilds_a_damaged_one(
    tmp_path: Path, seeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedsvc")
    for n in range(1, 200):
        write_document(seeds, n, hex_id(n), headline=f"Story number {n}")
    index = tmp_path / "index" / "index.sqlite3"
    writer = make_store(tmp_path, seeds)
    writer.refresh()
    writer.close()
    store = make_store(tmp_path, seeds)
    assert store.verify(starting=True) is None and store.check_owed  # no record: a crash
    assert store.check_whole() is None  # sound
    assert "checked the whole index" in caplog.text

    # Damaged after the crash, where only a whole read sees it (PRAGMA quick_check).
    build = index.parent / os.readlink(index)
    with open(build, "r+b") as out:
        out.seek(build.stat().st_size // 2)
        out.write(os.urandom(4096))
    store = make_store(tmp_path, seeds)
    assert store.verify(starting=True) is None and store.check_owed  # serving goes on
    report = store.check_whole()
    assert report is not None and report.rebuilt is not None
    assert report.rebuilt.startswith("is damaged (")
    assert os.readlink(index) != build.name
    assert store.count() == 200 and store.get(hex_id(150)) is not None


def test_a_watcher_whose_changes_keep_waiting_says_so_and_when_it_caught_up(
    tmp_path: Path, seeds: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "BEHIND_WARNING_SECONDS", 1.0)  # 10 s in service
    caplog.set_level(logging.INFO, logger="feedsvc")
    store = make_store(tmp_path, seeds)
    store.refresh()
    index = tmp_path / "index" / "index.sqlite3"
    build = os.readlink(index)
    watcher = Watcher(store, 0.1).start()
    try:
        wait_for(lambda: watcher.is_leader, 10)
        # The index path made to lead elsewhere (a file feedsvc did not make): no refresh can
        # be done, and the change below waits.
        foreign = tmp_path / "index" / "elsewhere.sqlite3"
        foreign.write_text("not an index\n")
        index.unlink()
        index.symlink_to(foreign.name)
        write_document(seeds, 1, hex_id(1), headline="Waiting to be indexed")
        wait_for(lambda: "is more than 1 s behind" in caplog.text, 15)
        assert store.get(hex_id(1)) is None  # the last good state is still what is read
        index.unlink()
        index.symlink_to(build)
        wait_for(lambda: store.get(hex_id(1)) is not None, 40)  # retried, with back-off
        wait_for(lambda: f"the index has caught up with {seeds}" in caplog.text, 10)
    finally:
        watcher.stop()
    assert caplog.text.count("behind") == 1 and "Traceback" not in caplog.text
    assert caplog.text.count("cannot refresh the index") == 1  # however often it was retried


def test_counts_facets_and_days_follow_every_kind_of_change(store: Store, seeds: Path) -> None:
    # Counts, facet lists and archive plans are read from per-day totals the index keeps as
    # articles come and go: they must always say what counting the articles themselves says.
    def counted() -> tuple[object, ...]:
        articles = store.latest(1000)
        days = Counter(int(a.published.timestamp() // 86_400) for a in articles)
        facets = {field: Counter((getattr(a, f"{field}_slug"), getattr(a, field))
                                 for a in articles if getattr(a, f"{field}_slug"))
                  for field in ("agency", "city")}  # fmt: skip
        return len(articles), sorted(days.items()), facets

    def kept() -> tuple[object, ...]:
        facets = {}
        for field in ("agency", "city"):
            listed = store.agencies() if field == "agency" else store.cities()
            assert [store.facet(field, f.slug) for f in listed] == listed
            for f in listed:
                assert store.count(facet=(field, f.slug)) == f.count
            facets[field] = {f.slug: f.count for f in listed}
        return store.count(), store.day_counts(), facets

    def check() -> None:
        expected_total, expected_days, expected = counted()
        total, days, facets = kept()
        assert (total, days) == (expected_total, expected_days)
        for field, spellings in expected.items():
            by_slug: Counter[str] = Counter()
            for (slug, _), n in spellings.items():
                by_slug[slug] += n
            assert facets[field] == dict(by_slug)

    check()
    paris = write_document(seeds, 1, hex_id(1), dateline="PARIS (AFP) —", date="3 Mar 2022")
    write_document(seeds, 2, hex_id(2), dateline="PARÍS (AFP) —", date="3 Mar 2022",
                   headline="Another day in Paris")  # fmt: skip
    store.refresh()
    check()
    assert store.facet("city", "paris") == Facet("paris", "PARIS", 2)
    # An edit that moves the article to another day, agency and city.
    paris.write_text(document_text(dateline="LONDON (Reuters) -", date="9 Sep 2021"))
    store.refresh()
    check()
    assert store.facet("city", "paris") == Facet("paris", "PARÍS", 1)
    # A removal; then a document held until a moment two seconds from now.
    paris.unlink()
    release = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    write_document(seeds, 3, hex_id(3), dateline="OSLO (AP) -",
                   date=f"{release:%Y-%m-%d %H:%M:%S} UTC")  # fmt: skip
    store.refresh()
    check()
    assert store.facet("city", "oslo") is None and store.facet("agency", "ap") is None
    while datetime.now(UTC) < release + timedelta(seconds=0.1):
        time.sleep(0.05)
    check()
    assert store.facet("city", "oslo") == Facet("oslo", "OSLO", 1)


def test_a_full_scan_in_small_batches_finds_every_change(
    store: Store, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full scan compares the folder with the index a batch at a time (store.SCAN_BATCH): every
    # kind of change must be found wherever it falls among the batches.
    monkeypatch.setattr(store_module, "SCAN_BATCH", 3)
    paths = [write_document(seeds, n, hex_id(n), headline=f"Story {n}") for n in range(1, 11)]
    assert len(store.refresh().added) == 10
    paths[2].write_text(document_text(headline="Story 3, revised"))
    paths[5].unlink()
    paths[7].unlink()
    paths[7].mkdir()  # a folder under a document's old name: not a document, reported
    (seeds / paths[8].name).unlink()
    (seeds / paths[8].name).symlink_to(seeds / "nowhere.txt")  # broken: listed, skipped
    write_document(seeds, 11, hex_id(11), headline="Story 11")
    report = store.refresh()
    assert report.added == [hex_id(11)] and report.changed == [hex_id(3)]
    assert sorted(report.removed) == [hex_id(6), hex_id(8), hex_id(9)]
    assert sorted(p.file_name for p in report.skipped) == [paths[7].name, paths[8].name]
    assert store.refresh().any_change is False


def test_deep_pages_skip_whole_days_and_find_the_same_articles(
    store: Store, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Beyond store.SEEK_FROM, listings (newest first) and sitemaps (oldest first) start from
    # the day counts instead of stepping over every row before: the same articles, in the same
    # order, at every offset.
    cities = ("PARIS (AFP) —", "LONDON (Reuters) -")
    # Several a day, over a few days; one held until 2100; one published a moment ago and one
    # held for a minute, today (a day that ends after now: reads stop at now, not at its end).
    moment = datetime.now(UTC)
    just_now, soon = (f"{moment + timedelta(seconds=s):%Y-%m-%d %H:%M:%S} UTC" for s in (-5, 60))
    for n in range(1, 27):
        date = {24: "1 Jan 2100", 25: just_now, 26: soon}.get(n, f"{n % 5 + 1} Mar 2022")
        write_document(seeds, n, hex_id(n), headline=f"Story {n}", date=date,
                       dateline=cities[n % 2])  # fmt: skip
    store.refresh()
    with store.reading():
        everything = {facet: [a.id for a in store.latest(100, facet=facet)]
                      for facet in (None, ("city", "paris"))}  # fmt: skip
        links = [row[0] for row in store.link_rows(100)]
    assert hex_id(24) not in everything[None] and links == everything[None][::-1]
    assert everything[None][0] == hex_id(25) and hex_id(26) not in everything[None]
    monkeypatch.setattr(store_module, "SEEK_FROM", 0)
    with store.reading():
        for facet, ids in everything.items():
            for offset in range(len(ids) + 2):
                assert [a.id for a in store.latest(3, offset, facet=facet)] == ids[offset:][:3]
        for offset in range(len(links) + 2):
            assert [row[0] for row in store.link_rows(4, offset)] == links[offset:][:4]


def test_a_slow_safety_rescan_holds_up_no_reported_change(
    tmp_path: Path, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At a million files a safety rescan takes many seconds: it runs beside the watcher, which
    # keeps indexing what the file system reports, and what the rescan finds (a change the
    # notifications missed) is indexed when it is done.
    store = make_store(tmp_path, seeds)
    store.refresh()
    monkeypatch.setattr(watch, "SAFETY_RESCAN_SECONDS", 1.0)
    monkeypatch.setattr(watch, "SAFETY_RESCAN_MAX_SHARE", 1.0)  # not 60 s after a 3 s scan
    scans: list[int] = []  # the priority of each scan begun
    real_scan = watch.scan_apart

    def slow_scan(seeds_dir: Path, index_path: Path, stop: threading.Event, nice: int) -> list[str]:
        scans.append(nice)
        time.sleep(3)
        return real_scan(seeds_dir, index_path, stop, nice)

    monkeypatch.setattr(watch, "scan_apart", slow_scan)
    watcher = Watcher(store, 0.1)
    missed = write_document(seeds, 1, hex_id(1), headline="Missed by notifications")
    ignored = {missed.name}
    real_names = watch.changed_names
    monkeypatch.setattr(watch, "changed_names", lambda folder, changes: {
        name for name in real_names(folder, changes) or () if name not in ignored})  # fmt: skip
    # The watcher's first look (a scan apart too) indexes everything; once a safety rescan is
    # under way, the missed file is rewritten unseen, and another document is written.
    watcher.start()
    try:
        wait_for(lambda: store.get(hex_id(1)) is not None, 10)
        wait_for(lambda: len(scans) == 2, 10)
        assert scans == [rescan.START_SCAN_NICE, rescan.LOWEST_PRIORITY_NICE]
        missed.write_text(document_text(headline="Edited, and missed again"))
        reported = time.monotonic()
        write_document(seeds, 2, hex_id(2), headline="Reported at once")
        wait_for(lambda: store.get(hex_id(2)) is not None, 10)
        assert time.monotonic() - reported < 2.5  # the rescan has not finished
        assert store.get(hex_id(1)).headline == "Missed by notifications"  # type: ignore[union-attr]
        wait_for(lambda: store.get(hex_id(1)).headline == "Edited, and missed again", 10)  # type: ignore[union-attr]
    finally:
        watcher.stop()


def _rescans_niceness() -> set[int]:
    """The nice values of this process's children that are safety rescans (from /proc)."""
    found = set()
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        try:
            pids = children.read_text().split()
        except FileNotFoundError:
            continue  # a thread that ended since the listing
        for pid in pids:
            try:
                if b"feedsvc.rescan" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    # Field 19 of stat, the 17th after the command's closing parenthesis.
                    found.add(int(Path(f"/proc/{pid}/stat").read_text().rsplit(")")[1].split()[16]))
            except (OSError, IndexError):
                continue  # ended meanwhile
    return found


def test_a_safety_rescan_runs_in_a_process_of_its_own_at_the_lowest_priority(
    tmp_path: Path, seeds: Path
) -> None:
    # It stats every file: as a thread of the serving worker, it took the interpreter lock and
    # a full share of the CPU from the requests (rescan.py). Apart, it finds the same changes.
    store = make_store(tmp_path, seeds)
    edited = write_document(seeds, 1, hex_id(1), headline="Before")
    gone = write_document(seeds, 2, hex_id(2), headline="Gone")
    store.refresh()
    edited.write_text(document_text(headline="After, and longer"))
    gone.unlink()
    # Enough new files that the scanning process is seen while it scans.
    added = [f"{n:06d}_{hex_id(n)}.txt" for n in range(3, 5003)]
    for name in added:
        (seeds / name).write_text(document_text(headline=name))
    found: list[list[str]] = []
    scan = threading.Thread(
        target=lambda: found.append(rescan.scan_apart(seeds, store.index_path, threading.Event()))
    )
    niceness: set[int] = set()
    scan.start()
    while scan.is_alive():
        niceness |= _rescans_niceness()
    scan.join()
    assert rescan.LOWEST_PRIORITY_NICE in niceness
    assert found == [sorted([edited.name, gone.name, *added])]
    assert store.get(hex_id(2)) is not None  # it only read: the leader indexes what it names


def test_what_changed_while_stopped_is_found_by_a_scan_apart_from_the_leader(
    tmp_path: Path, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A restart's first look at the folder: as a full refresh in the leading worker's thread it
    # held the interpreter lock its first responses waited for (0.30 s against 0.08 s to the
    # first feed at a million). Now a process scans, and the leader indexes what it names.
    store = make_store(tmp_path, seeds)
    edited = write_document(seeds, 1, hex_id(1), headline="Before the stop")
    gone = write_document(seeds, 2, hex_id(2), headline="Removed while stopped")
    store.refresh()
    store.release()
    edited.write_text(document_text(headline="Edited while stopped"))
    gone.unlink()
    added = write_document(seeds, 3, hex_id(3), headline="Written while stopped")
    scans: list[int] = []
    real_scan = watch.scan_apart

    def scan(seeds_dir: Path, index_path: Path, stop: threading.Event, nice: int) -> list[str]:
        scans.append(nice)
        return real_scan(seeds_dir, index_path, stop, nice)

    monkeypatch.setattr(watch, "scan_apart", scan)
    leader = make_store(tmp_path, seeds)
    asked: list[object] = []
    real_refresh = leader.refresh
    monkeypatch.setattr(
        leader, "refresh", lambda **kw: asked.append(kw.get("names")) or real_refresh(**kw)
    )
    watcher = Watcher(leader, 0.1).start()
    try:
        wait_for(lambda: store.get(hex_id(3)) is not None, 10)
        wait_for(lambda: store.get(hex_id(2)) is None, 10)
        assert store.get(hex_id(1)).headline == "Edited while stopped"  # type: ignore[union-attr]
    finally:
        watcher.stop()
    assert scans[:1] == [rescan.START_SCAN_NICE]
    assert asked and None not in asked  # never the whole folder in the leader's own thread
    assert set().union(*asked) == {edited.name, gone.name, added.name}  # type: ignore[arg-type]


def test_a_scan_apart_dies_with_the_worker_that_started_it(tmp_path: Path, seeds: Path) -> None:
    # A scan still running when the service stopped closed its connection after the record of
    # the clean stop was written: the -wal it changed made the next start check the whole
    # index (4.7 s at a million documents, seen in benchmarks.million). rescan.main takes the
    # worker's death as its own (indexing.die_with).
    worker = subprocess.Popen(
        [sys.executable, "-c", (
            "import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import os, time\\n"
            "from feedsvc.indexing import die_with\\n"
            "die_with(os.getppid())\\n"
            "print(os.getpid(), flush=True)\\n"
            "time.sleep(60)'])\n"
            "time.sleep(60)\n"
        )],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        wait_for(lambda: not Path(f"/proc/{child}").exists() or _zombie(child), 10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.communicate()
    # A scan whose worker is already gone when it starts ends at once, and says nothing.
    store = make_store(tmp_path, seeds)
    store.refresh()
    write_document(seeds, 1, hex_id(1), headline="Would be found")
    gone = subprocess.run(
        [sys.executable, "-m", "feedsvc.rescan", str(seeds), str(store.index_path), "19", "1"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert (gone.returncode, gone.stdout, gone.stderr) == (0, b"", b"")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_safety_rescan_that_cannot_read_the_index_says_why_in_one_line(
    tmp_path: Path, seeds: Path
) -> None:
    with pytest.raises(rescan.RescanFailed) as failed:
        rescan.scan_apart(seeds, tmp_path / "never-built.sqlite3", threading.Event())
    assert str(failed.value) and "\n" not in str(failed.value)
    assert "Traceback" not in str(failed.value)


def test_a_link_swapped_in_after_the_scan_cannot_lead_out_of_the_folder(
    seeds: Path, tmp_path: Path
) -> None:
    """seedfiles.read judges a symbolic link where it opens it, as the scan does: one that
    replaced a scanned file before the read cannot publish a file outside the folder. A link
    to a document in the folder is still read."""
    from feedsvc import seedfiles

    outside = tmp_path / "secret.txt"
    outside.write_text("Secret\n\n1 Jan 2021\n\nDo not publish.\n")
    (seeds / "001_0000000000000001.txt").symlink_to(outside)
    with pytest.raises(ValueError, match="outside the seeds folder"):
        seedfiles.read(seeds, "001_0000000000000001.txt", 1 << 20)
    (seeds / "002_0000000000000002.txt").symlink_to(seeds / "000_5e300edb8a850530.txt")
    assert (
        seedfiles.read(seeds, "002_0000000000000002.txt", 1 << 20)
        == (seeds / "000_5e300edb8a850530.txt").read_bytes()
    )


def test_a_folder_swapped_for_a_link_between_the_check_and_the_open_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link into a folder of the seeds folder, that folder swapped for a link out of it in
    the moment between seedfiles.read's check and its open (simulated there): the file opened
    is judged, and refused."""
    from feedsvc import seedfiles

    seeds = tmp_path / "seeds"
    (seeds / "sub").mkdir(parents=True)
    (seeds / "sub" / "doc.txt").write_text("Inside\n\n1 Jan 2021\n\nFine.\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "doc.txt").write_text("Secret\n\n1 Jan 2021\n\nDo not publish.\n")
    (seeds / "001_0000000000000001.txt").symlink_to("sub/doc.txt")
    judged = seedfiles._inside

    def then_swapped(root: Path, path: Path) -> bool:
        verdict = judged(root, path)
        os.rename(seeds / "sub", tmp_path / "sub-away")
        (seeds / "sub").symlink_to(outside)
        return verdict

    monkeypatch.setattr(seedfiles, "_inside", then_swapped)
    with pytest.raises(ValueError, match="outside the seeds folder"):
        seedfiles.read(seeds, "001_0000000000000001.txt", 1 << 20)


_FTS = sqlite3.connect(":memory:", check_same_thread=False)
_FTS.execute("CREATE VIRTUAL TABLE t USING fts5(x, detail=none)")


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(["oil", "-oil", "OR", "or", "-", '"', "(", "NEAR", "*", "x-y", "é"])
        | st.text(max_size=6),
        max_size=12,
    )
)
def test_any_search_text_is_a_valid_fts5_query(words: list[str]) -> None:
    """A search box's text, "-" and "OR" included, never makes an FTS5 syntax error: the store
    would take one for an unreadable index and answer 503."""
    expression = search_expression(" ".join(words))
    if expression is not None:
        _FTS.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()
