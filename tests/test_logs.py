"""What `feedsvc serve` logs: one timestamped format, an access log, each document change once."""

from __future__ import annotations

import os
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from feedsvc import config
from feedsvc.cli import DEFAULT_THREADS
from feedsvc.store import Store

from .conftest import (
    SITE_URL,
    LiveServer,
    hex_id,
    settings_for,
    start_server,
    stop_server,
    write_document,
)
from .test_e2e import entry_ids, raw_get, wait_for

# 2026-11-30 12:00:14,644 [15115] INFO feedsvc.cli: message
LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[(?P<pid>\d+)\] (?P<level>DEBUG|INFO|WARNING|ERROR) "
    r"(?P<logger>[\w.]+): (?P<message>.*)"
)
# The Combined Log Format: host ident user [time] "request" status bytes "referer" "user-agent".
COMBINED = re.compile(
    r"(?P<host>\S+) - - \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>[^"]*)" '
    r'"(?P<agent>[^"]*)"'
)


def log_lines(text: str) -> list[re.Match[str]]:
    """Every line of a server's log, each of which must be in the one format."""
    matches = []
    for line in text.splitlines():
        match = LINE.fullmatch(line)
        assert match, f"not in the log format: {line!r}"
        matches.append(match)
    return matches


def access_lines(text: str) -> list[re.Match[str]]:
    found = []
    for line in log_lines(text):
        if line["logger"] == "feedsvc.access":
            access = COMBINED.fullmatch(line["message"])
            assert access, line["message"]
            found.append(access)
    return found


def request(server: LiveServer, path: str, method: str = "GET", **headers: str) -> int:
    req = urllib.request.Request(server.url + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return len(response.read())
    except urllib.error.HTTPError as error:
        return len(error.read())


def test_every_line_has_one_format_and_every_request_one_access_line(
    tmp_path: Path, seeds: Path
) -> None:
    server = start_server(tmp_path, seeds)
    try:
        headers = {"User-Agent": 'Reader "1.0"', "Referer": "https://ref.example/"}
        feed_bytes = request(server, "/feed.atom?x=1", **headers)
        missing_bytes = request(server, "/no/such%0Apage")
        request(server, "/feed.rss", method="HEAD")
        # The lines are written once the response is sent: wait for the last one.
        wait_for(lambda: "HEAD /feed.rss" in server.log(), 5.0)
        serving = log_lines(server.log())  # up to here: the start and the requests
    finally:
        stop_server(server)
    lines = log_lines(server.log())
    loggers = {line["logger"] for line in lines}
    assert {"feedsvc.cli", "granian", "feedsvc.access"} <= loggers
    # The workers' lines ("Started worker-1"): granian.serve (granian.wsgi.serve in 2.0-2.2).
    assert loggers & {"granian.serve", "granian.wsgi.serve"}
    assert len({line["pid"] for line in lines}) == 3  # the server and its two workers
    requests = {a["request"]: a for a in access_lines(server.log())}
    feed = requests["GET /feed.atom?x=1 HTTP/1.1"]
    assert (feed["status"], feed["bytes"]) == ("200", str(feed_bytes))
    assert feed["referer"] == "https://ref.example/"
    assert feed["agent"] == r"Reader \x221.0\x22"  # a client cannot close the quotes
    missing = requests["GET /no/such%0Apage HTTP/1.1"]  # nor start a line of its own
    assert (missing["status"], missing["bytes"]) == ("404", str(missing_bytes))
    head = requests["HEAD /feed.rss HTTP/1.1"]
    assert (head["status"], head["bytes"]) == ("200", "-")
    assert "watchfiles" not in loggers  # "1 change detected" says nothing useful
    # A clean start on good documents warns of nothing (granian's advice on thread counts
    # included: feedsvc's count is chosen, and said in its own line), and names each address once.
    assert [line["message"] for line in serving if line["level"] != "INFO"] == []
    [start] = [line["message"] for line in lines if line["message"].startswith("serving http")]
    listening = server.url.rstrip("/")
    assert start == (
        f"serving {SITE_URL} on {listening} with 2 workers of up to {DEFAULT_THREADS} threads each"
    )


def test_the_access_log_goes_to_a_file_or_nowhere(tmp_path: Path, seeds: Path) -> None:
    access_file = tmp_path / "access.log"
    to_file = start_server(tmp_path, seeds, ACCESS_LOG=str(access_file))
    try:
        request(to_file, "/feed.json")
        wait_for(lambda: access_file.exists() and "/feed.json" in access_file.read_text(), 5.0)
    finally:
        stop_server(to_file)
    # A file holds the Combined Log Format alone, as log analysers expect it.
    written = access_file.read_text().splitlines()
    assert written and all(COMBINED.fullmatch(line) for line in written), written
    assert "feedsvc.access" not in to_file.log()

    (tmp_path / "off").mkdir()
    off = start_server(tmp_path / "off", seeds, ACCESS_LOG="off")
    try:
        request(off, "/feed.json")
    finally:
        stop_server(off)
    assert "feedsvc.access" not in off.log() and "/feed.json" not in off.log()


def changes_logged(server: LiveServer) -> list[str]:
    return [
        line["message"] for line in log_lines(server.log()) if line["logger"] == "feedsvc.changes"
    ]


def test_each_document_change_is_logged_by_file_name_once(live_server: LiveServer) -> None:
    seeds = live_server.seeds
    path = write_document(seeds, 1, hex_id(1), date="1 Jan 2025", headline="Breaking")
    wait_for(lambda: hex_id(1) in entry_ids(live_server), 5.0)
    path.write_text(path.read_text().replace("Breaking", "Breaking, updated"))
    wait_for(lambda: "changed" in " ".join(changes_logged(live_server)), 5.0)
    (seeds / "002_0000000000000002.txt").write_bytes(b"")
    wait_for(lambda: any("002_" in c for c in changes_logged(live_server)), 5.0)
    # An embargoed story: added to the index, in no feed until its time, and the log says when.
    write_document(seeds, 3, hex_id(3), date="1 Jan 2999 09:30 UTC", headline="Embargoed")
    wait_for(lambda: any("003_" in c for c in changes_logged(live_server)), 5.0)
    path.unlink()
    wait_for(lambda: hex_id(1) not in entry_ids(live_server), 5.0)
    wait_for(lambda: len(changes_logged(live_server)) == 5, 5.0)
    assert hex_id(3) not in entry_ids(live_server)
    assert changes_logged(live_server) == [
        f"added 001_{hex_id(1)}.txt",
        f"changed 001_{hex_id(1)}.txt",
        "skipped 002_0000000000000002.txt: empty document",
        f"added 003_{hex_id(3)}.txt (held until 2999-01-01T09:30:00+00:00)",
        f"removed 001_{hex_id(1)}.txt",
    ]


def test_a_file_name_cannot_write_a_log_line_of_its_own(live_server: LiveServer) -> None:
    # A fresh-user trial: anyone who can drop a file into the folder wrote whole lines into the
    # service's log (a forged "removed ..."), or drove the terminal with an escape sequence.
    forged = (
        "x.txt\n2026-12-01 20:00:00,000 [1] INFO feedsvc.changes: removed 000_5e300edb8a850530.txt"
    )
    (live_server.seeds / forged).write_bytes(b"")
    (live_server.seeds / "\x1b[2Jansi\u202e.txt").write_bytes(b"")
    wait_for(lambda: len(changes_logged(live_server)) == 2, 5.0)
    said = sorted(changes_logged(live_server))  # every line parsed in the one format
    assert said == [
        "skipped \\x1b[2Jansi\\u202e.txt: empty document",
        "skipped x.txt\\n2026-12-01 20:00:00,000 [1] INFO feedsvc.changes: removed "
        "000_5e300edb8a850530.txt: empty document",
    ], said


def test_skips_are_named_when_found_summarised_at_a_restart_and_not_repeated(
    tmp_path: Path, seeds: Path
) -> None:
    """The start that indexes names each document it skips, with why (a fresh-user trial: a
    one-line summary named five of ten, and no command but `check` and `index` the others);
    a restart on the same index sums them up in one line; the watcher's first rescan, which
    looks at the duplicate again, repeats neither."""
    (seeds / "empty.txt").write_bytes(b"")
    copy = seeds / f"009_{hex_id(9)}.txt"  # a duplicate: looked at again on every change
    copy.write_bytes((seeds / "000_5e300edb8a850530.txt").read_bytes())
    write_document(seeds, 8, hex_id(8), date="1 Jan 2999", headline="From the future")  # held
    for run in ("first start, which indexes", "restart on the same index"):
        server = start_server(tmp_path, seeds)
        try:
            raw_get(server, "/feed.atom")
            time.sleep(1.5)  # the watcher's first rescan, which looks at the duplicate again
        finally:
            stop_server(server)
        lines = log_lines(server.log())
        summaries = [line["message"] for line in lines if " skipped: " in line["message"]]
        named = sorted(line["message"] for line in lines if line["logger"] == "feedsvc.changes")
        if run.startswith("first"):
            assert summaries == [], summaries
            assert named[0].startswith("skipped 009_"), named
            assert "same document as 000_5e300edb8a850530.txt" in named[0], named
            assert len(named) == 2 and named[1] == "skipped empty.txt: empty document", named
        else:
            assert len(summaries) == 1 and named == [], (summaries, named)
            assert summaries[0].startswith("2 documents skipped: 009_"), summaries
            assert "empty.txt (empty document)" in summaries[0]


def test_a_duplicate_is_reported_once_per_change(tmp_path: Path, seeds: Path) -> None:
    store = Store(config.load(settings_for(tmp_path, seeds)))
    original = write_document(seeds, 1, hex_id(1))
    copy = seeds / f"002_{hex_id(2)}.txt"
    copy.write_bytes(original.read_bytes())
    assert [p.file_name for p in store.refresh().skipped] == [copy.name]
    write_document(seeds, 3, hex_id(3), headline="Other news")  # a change: the copy is retried
    assert store.refresh().skipped == []  # looked at again, same reason: not news
    assert [p.file_name for p in store.problems()] == [copy.name]  # still listed
    later = time.time() + 5
    os.utime(copy, (later, later))  # the copy itself changed: said again
    assert [p.file_name for p in store.refresh().skipped] == [copy.name]


def test_a_removed_seeds_folder_is_one_line_until_it_is_back(live_server: LiveServer) -> None:
    seeds = live_server.seeds
    away = seeds.with_name("seeds-away")
    seeds.rename(away)
    wait_for(lambda: "is missing" in live_server.log(), 5.0)
    time.sleep(1.0)  # several rescans while it is missing
    assert raw_get(live_server, "/feed.atom").status == 200  # the index is still served
    away.rename(seeds)
    wait_for(lambda: f"the seeds folder {seeds} is back" in live_server.log(), 5.0)
    write_document(seeds, 1, hex_id(1), date="1 Jan 2025")
    wait_for(lambda: hex_id(1) in entry_ids(live_server), 5.0)  # watched again
    log = live_server.log()
    assert log.count("is missing") == 1 and "Traceback" not in log


def test_a_seeds_folder_emptied_at_once_is_taken_for_one_not_mounted(
    live_server: LiveServer,
) -> None:
    """A share not mounted (or mounted late) leaves its mount point an empty folder: every
    article was withdrawn within seconds, the site emptied, with INFO lines only (a cache-tier
    trial). A folder that holds no document at all, where the index has articles, is taken for
    one that is not there: the index is served as it is, said once, until documents are back."""
    seeds = live_server.seeds
    before = entry_ids(live_server)
    assert before
    away = seeds.with_name("seeds-mounted")
    seeds.rename(away)
    seeds.mkdir()  # the mount point, left empty
    (seeds / "README").write_text("the share is mounted here")  # not a document either
    wait_for(lambda: "holds no documents, where the index has" in live_server.log(), 10.0)
    time.sleep(1.0)  # more scans meanwhile
    assert entry_ids(live_server) == before
    shutil.rmtree(seeds)
    away.rename(seeds)
    write_document(seeds, 1, hex_id(1), date="1 Jan 2025")
    wait_for(lambda: hex_id(1) in entry_ids(live_server), 10.0)
    log = live_server.log()
    assert log.count("holds no documents") == 1 and "Traceback" not in log
    assert "removed" not in log, log


def test_a_renamed_document_is_logged_under_its_old_and_new_names(
    tmp_path: Path, seeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from feedsvc.changes import log_report

    store = Store(config.load(settings_for(tmp_path, seeds)))
    old = write_document(seeds, 5, hex_id(5))
    store.refresh()
    new = old.rename(seeds / f"006_{hex_id(5)}.txt")  # the same id under a new sequence number
    with caplog.at_level("INFO", logger="feedsvc.changes"):
        log_report(store.refresh())
    assert sorted(caplog.messages) == [f"added {new.name}", f"removed {old.name}"]
