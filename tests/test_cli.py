"""The feedsvc command as an operator runs it: output, exit codes, no tracebacks."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedsvc.version import __version__

from .conftest import BUNDLED_SEEDS, DATA, hex_id, set_mtime, write_document


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    return subprocess.run(
        [sys.executable, "-m", "feedsvc", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The whole output of a refused command: exit status 1 and one line, no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def test_check_on_the_bundled_seeds(tmp_path: Path) -> None:
    result = run("check", str(BUNDLED_SEEDS), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in (
        "headline:  U.S. officials travel to Venezuela, a Russian ally, for talks.",
        "published: 2022-03-06",
        "dateline:  WASHINGTON (Reuters)",
        "place:     WASHINGTON",
        "agency:    Reuters",
        "authors:   (none; feeds name Reuters)",
        "paragraphs (15):",
        "removed junk (5):",
        "'Recent Article'",
        "'Day Trading Guide for Beginners'",
        "'Ukraine Crisis Puts Euro On Course For Worst Week In Two Years.'",
        "'enlightenedTop THREE Award-Winning Brokers in 2022 enlightened'",
        "'IC Markets'",
        "1 document read, 0 skipped",
    ):
        assert expected in out
    assert not (tmp_path / ".feedsvc").exists()  # check never touches the real index
    assert result.stderr == ""


def test_check_shows_the_authors_it_found(tmp_path: Path, seeds: Path) -> None:
    write_document(seeds, 1, hex_id(1), date="Apr 12, 2021 3:45 PM ET",
                   dateline="By JANE DOE and John Roe, Reuters\n\nTOKYO, June 3 (Reuters) -",
                   paragraphs=("Officials said on Thursday that talks would resume.",
                               "(Reporting by Ann Poe in Tokyo; Editing by Bob Loe)"))  # fmt: skip
    result = run("check", str(seeds), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = result.stdout.split(f"== 001_{hex_id(1)}.txt")[1].split("\n== ")[0]
    assert "  authors:   Jane Doe; John Roe; Ann Poe\n" in report
    assert "  dateline:  TOKYO, June 3 (Reuters)\n" in report
    assert "  published: 2021-04-12T15:45:00-04:00 (ET)\n" in report
    assert "By JANE DOE" not in report  # the byline is not a paragraph, nor junk
    assert "Bob Loe" in report  # the credit line stays in the text; the editor is no author


def test_check_reports_skips_and_exits_1(tmp_path: Path, seeds: Path) -> None:
    (seeds / "bad.txt").write_bytes(b"Headline only\n")
    write_document(seeds, 1, hex_id(1), date="09/06/2022")
    (seeds / "README.md").write_text("How we file stories\n\n12 Apr 2021\n\nBy noon.\n")
    result = run("check", str(seeds), cwd=tmp_path)
    assert result.returncode == 1
    assert "SKIPPED:" in result.stdout and "bad.txt" in result.stdout
    assert "WARNING: ambiguous numeric date '09/06/2022'" in result.stdout
    assert "== README.md\n  SKIPPED: not a .txt file" in result.stdout
    # The README is said, but it is no document read.
    assert "3 documents read, 1 skipped; 1 other entry not read\n" in result.stdout
    assert result.stderr == ""  # each skip is said once, in the report


def test_documents_in_a_sub_folder_are_reported_not_lost_in_silence(
    tmp_path: Path, seeds: Path
) -> None:
    # An operator who files documents by year must hear that the year folders are not read.
    (seeds / "2026").mkdir()
    write_document(seeds / "2026", 1, hex_id(1))
    result = run("check", str(seeds), cwd=tmp_path)
    assert result.returncode == 1
    assert "== 2026\n  SKIPPED: a folder: documents are read only directly in the seeds" in (
        result.stdout
    )
    hidden = seeds / ".git"
    hidden.mkdir()
    assert ".git" not in run("check", str(seeds), cwd=tmp_path).stdout  # hidden ones stay quiet


def test_check_problems_shows_only_warnings_and_skips(tmp_path: Path, seeds: Path) -> None:
    (seeds / "bad.txt").write_bytes(b"Headline only\n")
    write_document(seeds, 1, hex_id(1), date="09/06/2022")
    result = run("check", "--problems", str(seeds), cwd=tmp_path)
    assert result.returncode == 1
    blocks = [block for block in result.stdout.split("\n\n") if block.startswith("== ")]
    assert [block.splitlines()[0] for block in blocks] == [
        f"== 001_{hex_id(1)}.txt",
        "== bad.txt",
    ]
    assert "headline:" not in result.stdout  # the clean document is not shown
    assert "3 documents read, 1 with warnings, 1 skipped" in result.stdout


def test_check_one_file(tmp_path: Path) -> None:
    good = run("check", str(BUNDLED_SEEDS / "000_5e300edb8a850530.txt"), cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "== 000_5e300edb8a850530.txt" in good.stdout
    assert "1 document read, 0 skipped" in good.stdout
    bad = run("check", str(DATA / "bad" / "headline_only.txt"), cwd=tmp_path)
    assert bad.returncode == 1
    assert "== headline_only.txt\n  SKIPPED: " in bad.stdout
    assert "1 document read, 1 skipped" in bad.stdout
    missing = run("check", str(tmp_path / "nothing.txt"), cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_index_is_incremental_and_lists_skips_every_run(tmp_path: Path, seeds: Path) -> None:
    (seeds / "empty.txt").write_bytes(b"")
    env = {"FEEDSVC_INDEX_PATH": str(tmp_path / "i.sqlite3")}
    first = run("index", str(seeds), cwd=tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "SKIPPED empty.txt: empty document",
        f"1 added, 0 changed, 0 removed, 0 files unchanged; 1 article in {tmp_path / 'i.sqlite3'}, "
        "1 document skipped",
    ]
    assert first.stderr == ""  # said once, not again as a log line
    second = run("index", str(seeds), cwd=tmp_path, **env)
    assert second.stdout.splitlines()[0] == "SKIPPED empty.txt: empty document"
    assert "0 added, 0 changed, 0 removed, 2 files unchanged; 1 article in" in second.stdout


def test_index_and_check_print_a_file_name_on_one_line(tmp_path: Path, seeds: Path) -> None:
    # A name with a newline printed a forged line of its own ("removed 000_..."), one with an
    # escape sequence cleared the terminal.
    (seeds / "x.txt\nremoved 000_5e300edb8a850530.txt").write_bytes(b"")
    (seeds / "\x1b[2J.txt").write_bytes(b"\xff\x00\x01")
    env = {"FEEDSVC_INDEX_PATH": str(tmp_path / "i.sqlite3")}
    index = run("index", str(seeds), cwd=tmp_path, **env)
    assert index.stdout.splitlines()[:2] == [
        "SKIPPED \\x1b[2J.txt: binary file (contains NUL bytes), not a text document",
        "SKIPPED x.txt\\nremoved 000_5e300edb8a850530.txt: empty document",
    ], index.stdout
    check = run("check", "--problems", str(seeds), cwd=tmp_path, **env)
    assert "== x.txt\\nremoved 000_5e300edb8a850530.txt\n  SKIPPED: empty document" in check.stdout
    assert "\x1b" not in check.stdout + check.stderr + index.stdout + index.stderr


def test_index_and_serve_take_a_folder_like_check(tmp_path: Path, seeds: Path) -> None:
    env = {"FEEDSVC_INDEX_PATH": str(tmp_path / "i.sqlite3"), "FEEDSVC_SEEDS_DIR": "/nowhere"}
    # The argument wins over FEEDSVC_SEEDS_DIR, which is then not needed.
    assert run("index", str(seeds), cwd=tmp_path, **env).returncode == 0
    for command in ("index", "serve", "check"):
        result = run(command, str(tmp_path / "missing"), cwd=tmp_path)
        assert result.returncode == 2 and "does not exist" in result.stderr, command
        assert "Traceback" not in result.stderr


def test_bad_settings_give_a_clear_message(tmp_path: Path, seeds: Path) -> None:
    result = run("index", str(seeds), cwd=tmp_path, FEEDSVC_FEED_SIZE="-1")
    assert "FEEDSVC_FEED_SIZE='-1' must be a whole number from 1 to 1,000" in one_line_error(result)
    result = run("index", cwd=tmp_path, FEEDSVC_SEED_DIR="typo")
    assert "FEEDSVC_SEED_DIR is not a feedsvc setting" in one_line_error(result)


def test_version_and_help(tmp_path: Path) -> None:
    version = run("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"feedsvc, version {__version__}"
    helped = run("--help", cwd=tmp_path)
    assert helped.returncode == 0
    from feedsvc.config import SETTINGS

    text = " ".join(helped.stdout.split())  # help text is wrapped
    for setting in SETTINGS:
        assert f"FEEDSVC_{setting.name}" in helped.stdout
        assert " ".join(setting.allowed.split()) in text
    for command in ("serve", "index", "check"):
        assert run(command, "--help", cwd=tmp_path).returncode == 0


def test_index_shows_progress_on_large_folders(tmp_path: Path, seeds: Path) -> None:
    from feedsvc.cli import PROGRESS_THRESHOLD

    for n in range(1, PROGRESS_THRESHOLD + 1):
        write_document(seeds, n, hex_id(n), headline=f"Story {n}")
    env = {"FEEDSVC_SEEDS_DIR": str(seeds), "FEEDSVC_INDEX_PATH": str(tmp_path / "i.sqlite3")}
    # At a terminal: a bar that fills up.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "feedsvc", "index"],
        cwd=tmp_path,
        env={**clean, **env, "COLUMNS": "100"},
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    ) as process:
        os.close(terminal)
        shown = b""
        while chunk := _read_pty(controller):
            shown += chunk
        stdout, _ = process.communicate(timeout=120)
    os.close(controller)
    assert process.returncode == 0, shown
    assert b"Indexing" in shown and b"100%" in shown, shown
    assert f"{PROGRESS_THRESHOLD + 1} articles" in stdout
    # In a pipe or a log: no bar and no bare label, only the summary.
    (tmp_path / "i.sqlite3").unlink()
    result = run("index", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"{PROGRESS_THRESHOLD + 1} articles" in result.stdout


def _read_pty(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other end is closed
        return b""


def test_check_warns_once_of_a_file_modified_after_now(tmp_path: Path, seeds: Path) -> None:
    # A writer whose clock is ahead: lastmod.py dates the entry by its publication until the
    # file's time comes, and the site sends no Last-Modified; the operator hears it once.
    ahead = write_document(seeds, 1, hex_id(1), headline="Ahead")
    write_document(seeds, 2, hex_id(2), headline="In time")
    set_mtime(ahead, datetime.now(UTC) + timedelta(hours=2, minutes=30))
    for args in (("check",), ("check", "--problems")):
        result = run(*args, str(seeds), cwd=tmp_path)
        assert result.returncode == 0, result.stderr  # a warning, as the others
        blocks = {b.splitlines()[0]: b for b in result.stdout.split("\n\n") if b.startswith("==")}
        warned = [line for line in blocks[f"== {ahead.name}"].splitlines() if "clock" in line]
        assert len(warned) == 1 and warned[0].startswith("  WARNING: the file is modified at ")
        assert "2 h 29 min after this machine's now" in warned[0]
        assert "dated by its publication" in warned[0] and "no Last-Modified" in warned[0]
        assert result.stdout.count("clock ahead") == 1
    assert "1 with warnings" in result.stdout
    assert f"== 002_{hex_id(2)}.txt" not in result.stdout  # --problems: the other is clean
