"""The W3C Feed Validation Service over every feed served for the bundled seed and for a
hostile corpus, through scripts/validate_feeds.py (which starts a real ``feedsvc serve``).

Zero errors and zero warnings, but the two classes the README accepts: "looks like HTML" on a
headline that literally contains markup, and entries sharing an updated time (documents of one
day that give no time, files written in the same second). The validator is
../shared/tools/feedvalidator beside the project (an unmodified copy of
github.com/w3c/feedvalidator); without it these tests are skipped, saying so.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import corpus
from scripts.validate_feeds import is_accepted

from .conftest import BUNDLED_SEEDS, ROOT

HOSTILE_DOCUMENTS = 150  # three archive pages at the default feed size, ~90 feeds, ~10 s


def _validator() -> Path | None:
    """``../shared/tools/feedvalidator`` from the project's root; from a git worktree, also
    beside the main checkout the worktree belongs to."""
    candidates = [ROOT.parent / "shared" / "tools" / "feedvalidator"]
    git = ROOT / ".git"
    if git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        gitdir = Path(git.read_text().split(":", 1)[1].strip())
        candidates.append(gitdir.parents[2].parent / "shared" / "tools" / "feedvalidator")
    return next((c for c in candidates if (c / "feedvalidator" / "__init__.py").is_file()), None)


VALIDATOR = _validator()
needs_validator = pytest.mark.skipif(
    VALIDATOR is None,
    reason="the W3C feed validator is not at ../shared/tools/feedvalidator",
)


def validate(seeds: Path) -> tuple[str, list[str]]:
    """Run the script; its output, and each accepted warning's line."""
    done = subprocess.run(
        [sys.executable, "scripts/validate_feeds.py", "--validator", str(VALIDATOR), str(seeds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    accepted = re.findall(r"^    accepted: (\w+) ", done.stdout, re.MULTILINE)
    return done.stdout, accepted


@needs_validator
def test_the_seed_feeds_have_no_errors_and_no_warnings() -> None:
    out, accepted = validate(BUNDLED_SEEDS)
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(r"(\d+) feeds, 0 with errors or warnings, 0 accepted warnings", summary)
    assert int(summary.split()[0]) >= 10  # main, source, place, limit and search, both formats
    assert accepted == []


@needs_validator
def test_a_hostile_corpus_has_no_errors_and_only_the_accepted_warnings(tmp_path: Path) -> None:
    # As the generator writes it: many files in one second, so entries share updated times.
    corpus.write(tmp_path / "hostile", HOSTILE_DOCUMENTS, hostile=True)
    out, accepted = validate(tmp_path / "hostile")
    summary = out.strip().splitlines()[-1]
    feeds = int(summary.split()[0])
    assert feeds >= 60 and ", 0 with errors or warnings," in summary
    # Every archive page of the main feed, by month or day (RFC 5005, channels.py).
    assert re.search(r"/archives/\d{4}-\d{2}(-\d{2})?(/\d+)?/feed\.atom", out)
    assert re.search(r"/archives/\d{4}-\d{2}(-\d{2})?(/\d+)?/feed\.rss", out)
    # The corpus has headlines with markup in them: the accepted class shows up, on titles.
    assert {"ContainsHTML", "ContainsUndeclaredHTML"} <= set(accepted)
    assert set(accepted) <= {"ContainsHTML", "ContainsUndeclaredHTML", "DuplicateUpdated"}


# -- what is accepted, exactly --------------------------------------------------------------------


HEADLINES = ["Tom & Jerry <b>bold</b> move", "Profits rose &amp; fell", "Plain words"]


@pytest.mark.parametrize(
    ("rule", "params", "accepted"),
    [
        ("ContainsHTML", {"parent": "item", "element": "title", "value": "b"}, True),
        ("ContainsUndeclaredHTML", {"parent": "entry", "element": "title", "value": "B"}, True),
        ("ContainsHTML", {"parent": "item", "element": "title", "value": "&amp;"}, True),
        # Markup no headline holds, a title that is not a headline, another element.
        ("ContainsHTML", {"parent": "item", "element": "title", "value": "i"}, False),
        ("ContainsHTML", {"parent": "channel", "element": "title", "value": "b"}, False),
        ("ContainsHTML", {"parent": "item", "element": "description", "value": "b"}, False),
        ("CharacterData", {"parent": "item", "element": "title", "value": "b"}, False),
        ("BadCharacters", {"parent": "item", "element": "title"}, False),
        ("DuplicateUpdated", {"value": "2021-04-12T00:00:00+00:00"}, True),
        ("DuplicateUpdated", {"value": "2021-04-12T15:45:07-04:00"}, True),
        ("DuplicateUpdated", {"value": "2021-04-12T15:45:07"}, False),  # no zone: not ours
        ("DuplicateUpdated", {"value": "not a date"}, False),
        ("ImplausibleDate", {"value": "1975-03-06T00:00:00+00:00"}, True),
        ("ImplausibleDate", {"value": "Thu, 01 Jan 1970 00:00:00 GMT"}, True),
        ("ImplausibleDate", {"value": "2999-01-01T00:00:00+00:00"}, False),  # never ours
        ("ImplausibleDate", {"value": "1990-01-01T00:00:00+00:00"}, False),
        ("ImplausibleDate", {"value": "1975-03-06T00:00:00"}, False),
    ],
)
def test_only_the_documented_warnings_are_accepted(rule: str, params: dict, accepted: bool) -> None:
    assert is_accepted(rule, params, HEADLINES) is accepted
