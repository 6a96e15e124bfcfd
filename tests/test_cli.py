"""The feedsvc command as an operator runs it: output, exit codes, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import BUNDLED_SEEDS, hex_id, write_document


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
        "1 documents read, 0 skipped",
    ):
        assert expected in out
    assert not (tmp_path / ".feedsvc").exists()  # check never touches the real index


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
    result = run("check", str(seeds), cwd=tmp_path)
    assert result.returncode == 1
    assert "SKIPPED:" in result.stdout and "bad.txt" in result.stdout
    assert "WARNING: ambiguous numeric date '09/06/2022'" in result.stdout
    assert "2 documents read, 1 skipped" in result.stdout
    assert "Traceback" not in result.stderr


def test_index_is_incremental(tmp_path: Path, seeds: Path) -> None:
    env = {"FEEDSVC_SEEDS_DIR": str(seeds), "FEEDSVC_INDEX_PATH": str(tmp_path / "i.sqlite3")}
    first = run("index", cwd=tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert "1 added" in first.stdout
    second = run("index", cwd=tmp_path, **env)
    assert "0 added, 0 changed, 0 removed, 1 unchanged" in second.stdout


def test_bad_settings_give_a_clear_message(tmp_path: Path) -> None:
    result = run("index", cwd=tmp_path, FEEDSVC_FEED_SIZE="-1")
    assert result.returncode != 0
    assert "FEEDSVC_FEED_SIZE" in result.stderr and "Traceback" not in result.stderr
    result = run("index", cwd=tmp_path, FEEDSVC_SEED_DIR="typo")
    assert "FEEDSVC_SEED_DIR is not a feedsvc setting" in result.stderr
    result = run("check", str(tmp_path / "missing"), cwd=tmp_path)
    assert result.returncode != 0 and "does not exist" in result.stderr


def test_serve_rejects_a_bad_bind(tmp_path: Path) -> None:
    result = run("serve", "--bind", "nonsense", cwd=tmp_path)
    assert result.returncode != 0
    assert "HOST:PORT" in result.stderr and "Traceback" not in result.stderr


def test_index_shows_progress_on_large_folders(tmp_path: Path, seeds: Path) -> None:
    from feedsvc.cli import PROGRESS_THRESHOLD

    for n in range(1, PROGRESS_THRESHOLD + 1):
        write_document(seeds, n, hex_id(n), headline=f"Story {n}")
    env = {"FEEDSVC_SEEDS_DIR": str(seeds), "FEEDSVC_INDEX_PATH": str(tmp_path / "i.sqlite3")}
    result = run("index", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "Indexing" in result.stderr
    assert f"{PROGRESS_THRESHOLD + 1} articles" in result.stdout
