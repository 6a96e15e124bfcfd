"""Every setting, driven through the real `feedsvc` command with each class of bad value.

A bad value must end the command with one line naming the variable and the rule, exit status 1,
no traceback and nothing left behind; the edge values that are fine must give a working service.
The commands run as subprocesses, a few at a time, once per session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import feedparser
import pytest

from feedsvc import create_app
from feedsvc.config import SETTINGS, describe

from .conftest import BUNDLED_SEEDS

ROOT = Path(__file__).resolve().parent.parent
# (variable, value, words the message must contain). "{tmp}" is a scratch folder of the session.
BAD = [
    ("SEEDS_DIR", "", "must not be empty"),
    ("SEEDS_DIR", "{tmp}/missing", "does not exist"),
    ("SEEDS_DIR", "{tmp}/a-file", "is not a folder"),
    ("INDEX_PATH", "", "must not be empty"),
    ("INDEX_PATH", "{tmp}", "is a folder: it must be a file path"),
    ("INDEX_PATH", "{tmp}/new/", "is a folder"),
    ("INDEX_PATH", "{tmp}/a-file/index.sqlite3", "a-file is a file, not a folder"),
    ("INDEX_PATH", "/proc/1/index.sqlite3", "cannot be written"),
    ("INDEX_PATH", "/proc/x/y.sqlite3", "FEEDSVC_INDEX_PATH"),  # root may "write" to /proc
    ("INDEX_PATH", "/dev/null", "is not a regular file"),
    ("INDEX_PATH", "{tmp}/a-file", "cannot use the index"),  # a file that is not an index
    ("SITE_URL", "", "must be an absolute http:// or https:// URL"),
    ("SITE_URL", "news.example", "must be an absolute http:// or https:// URL"),
    ("SITE_URL", "ftp://news.example", "must be an absolute http:// or https:// URL"),
    ("SITE_URL", "http://[::1", "must be an absolute http:// or https:// URL"),
    ("SITE_URL", "http://exa mple.com", "without spaces"),
    ("SITE_URL", "http://news.example\t", "without spaces or control characters"),
    ("SITE_URL", "https://nëws.example", "written in ASCII"),
    ("SITE_URL", "http://news.example:99999", "port that is not a number from 1 to 65535"),
    ("SITE_URL", "https://user:secret@news.example", "must not carry a user name or password"),
    ("SITE_URL", "https://news.example/?page=1", "must not carry a query"),
    ("SITE_URL", "https://news.example/#top", "or a fragment"),
    ("TITLE", "", "must not be empty"),
    ("TITLE", "   ", "must not be empty"),
    ("TITLE", "Two\nlines", "without line breaks or control characters"),
    ("TITLE", "Bell\x07", "without line breaks or control characters"),
    ("TITLE", "x" * 201, "is 201 characters long: it must be one line of 1 to 200 characters"),
    ("SUBTITLE", "", "must not be empty"),
    ("SUBTITLE", "x" * 501, "one line of 1 to 500 characters"),
    ("LANGUAGE", "klingon!!", "must be a BCP 47 language tag"),
    ("LANGUAGE", "", "must be a BCP 47 language tag"),
    ("TAG_AUTHORITY", "example,2026", "must name a domain you hold"),
    ("TAG_AUTHORITY", "news.example.com,2026-02-30", "has a date that does not exist"),
    ("FEED_SIZE", "abc", "must be a whole number from 1 to 1,000"),
    ("FEED_SIZE", "", "must be a whole number from 1 to 1,000"),
    ("FEED_SIZE", "0", "must be a whole number from 1 to 1,000"),
    ("FEED_SIZE", "-1", "must be a whole number from 1 to 1,000"),
    ("FEED_SIZE", "1.5", "must be a whole number from 1 to 1,000"),
    ("FEED_SIZE", "1_0", "must be a whole number from 1 to 1,000"),
    ("FEED_SIZE", "99999999999999999999", "must be a whole number from 1 to 1,000"),
    ("FEED_SIZE", "9" * 5000, "must be a whole number from 1 to 1,000"),
    ("MAX_LIMIT", "1001", "must be a whole number from 1 to 1,000"),
    ("CACHE_MAX_AGE", "-1", "whole number of seconds from 0 to 31,536,000"),
    ("CACHE_MAX_AGE", "31536001", "whole number of seconds from 0 to 31,536,000"),
    ("ARCHIVE_MAX_AGE", "1e3", "whole number of seconds from 0 to 31,536,000"),
    ("MAX_DOCUMENT_BYTES", "0", "whole number of bytes from 1 to 67,108,864"),
    ("MAX_DOCUMENT_BYTES", "99999999999", "whole number of bytes from 1 to 67,108,864"),
    ("POLL_INTERVAL", "inf", "must be a number of seconds from 0.1 to 3600"),
    ("POLL_INTERVAL", "nan", "must be a number of seconds from 0.1 to 3600"),
    ("POLL_INTERVAL", "0", "must be a number of seconds from 0.1 to 3600"),
    ("POLL_INTERVAL", "-1", "must be a number of seconds from 0.1 to 3600"),
    ("POLL_INTERVAL", "1e3", "must be a number of seconds from 0.1 to 3600"),
    ("POLL_INTERVAL", "3601", "must be a number of seconds from 0.1 to 3600"),
    ("TIMEZONE", "", "must be an IANA time zone name"),
    ("TIMEZONE", "Mars/Olympus_Mons", "must be an IANA time zone name"),
    ("TIMEZONE", "../../etc/passwd", "must be an IANA time zone name"),
    ("DATE_ORDER", "ymd", "must be mdy or dmy"),
    ("DATE_ORDER", "", "must be mdy or dmy"),
    ("WATCH", "maybe", "must be true or false"),
    ("WATCH", "", "must be true or false"),
    ("WEBSUB_HUB", "hub.example", "must be an absolute http:// or https:// URL"),
    ("WEBSUB_HUB", "https://hub.example/a b", "without spaces"),
    ("WEBSUB_REFRESH_URL", "http://10.0.0.5:8080/feed.atom", "must name a server only"),
    ("WEBSUB_REFRESH_URL", "10.0.0.5:8080", "must be an absolute http:// or https:// URL"),
    ("ACCESS_LOG", "", "must be on (with the other log lines), off, or the path of a file"),
    ("ACCESS_LOG", "{tmp}", "is not a file in a writable folder"),
    ("ACCESS_LOG", "{tmp}/missing/access.log", "is not a file in a writable folder"),
    ("SEED_DIR", "seeds", "FEEDSVC_SEED_DIR is not a feedsvc setting"),  # a typo
]
# Values at the edges of what is allowed: the service must work with them.
GOOD = [
    ("FEED_SIZE", "1000"),
    ("FEED_SIZE", "1"),
    ("MAX_LIMIT", "1"),
    ("CACHE_MAX_AGE", "0"),
    ("ARCHIVE_MAX_AGE", "31536000"),
    ("MAX_DOCUMENT_BYTES", "67108864"),
    ("POLL_INTERVAL", "0.1"),
    ("POLL_INTERVAL", "3600"),
    ("TITLE", "  Ünïcode & <b>news</b>  "),
    ("TITLE", "x" * 200),
    ("SITE_URL", "https://example.org/news/"),
    ("SITE_URL", "http://[2001:db8::1]:8080"),
    ("WEBSUB_HUB", ""),
    ("WEBSUB_REFRESH_URL", "http://10.0.0.5:8080/"),
    ("TIMEZONE", "America/New_York"),
    ("LANGUAGE", "pt_br"),
    ("TAG_AUTHORITY", "desk@example.org,2019-03"),
    ("DATE_ORDER", "DMY"),
    ("WATCH", "no"),
    ("ACCESS_LOG", "off"),
    ("ACCESS_LOG", "{tmp}/access.log"),
]


def _case_id(case: tuple[str, ...]) -> str:
    name, value = case[0], case[1]
    return f"{name}={value[:20]!r}"


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("settings")
    (folder / "a-file").write_text("not an index\n")
    return folder


@pytest.fixture(scope="session")
def outcomes(scratch: Path) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """`feedsvc index` under every bad value, a few processes at a time."""

    def index(name: str, value: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
        env["FEEDSVC_SEEDS_DIR"] = str(BUNDLED_SEEDS)
        env["FEEDSVC_INDEX_PATH"] = str(scratch / f"index-{abs(hash((name, value)))}.sqlite3")
        env[f"FEEDSVC_{name}"] = value.replace("{tmp}", str(scratch))
        return subprocess.run(
            [sys.executable, "-m", "feedsvc", "index"],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = {(n, v): pool.submit(index, n, v) for n, v, _ in BAD}
        return {case: future.result() for case, future in runs.items()}


@pytest.mark.parametrize(("name", "value", "words"), BAD, ids=map(_case_id, BAD))
def test_a_bad_value_is_one_clear_line(
    outcomes: dict[tuple[str, str], subprocess.CompletedProcess[str]],
    scratch: Path,
    name: str,
    value: str,
    words: str,
) -> None:
    result = outcomes[(name, value)]
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    # Refused when read, or (what only trying shows, e.g. root in /proc) when used.
    assert lines[0].startswith(
        (f"Error: FEEDSVC_{name}", "Error: cannot use the index", "Error: cannot read or write")
    ), lines[0]
    assert f"FEEDSVC_{name}" in lines[0] and words in lines[0], lines[0]
    assert "invalid literal" not in lines[0] and "Traceback" not in result.stderr
    # Nothing left behind: no lock file beside a folder given as the index, no stray "..lock".
    assert not (scratch.parent / f"{scratch.name}.lock").exists()
    assert not list(scratch.glob("*..lock")) and not list(scratch.glob(".lock"))
    assert not (scratch / "missing").exists()


@pytest.mark.parametrize(("name", "value"), GOOD, ids=map(_case_id, GOOD))
def test_an_edge_value_gives_a_working_service(
    tmp_path: Path, seeds: Path, name: str, value: str
) -> None:
    value = value.replace("{tmp}", str(tmp_path))
    settings = {
        "SEEDS_DIR": str(seeds),
        "INDEX_PATH": str(tmp_path / "index" / "index.sqlite3"),
        "WATCH": "false",
        name: value,
    }
    app = create_app(settings)
    app.extensions["feedsvc"].store.refresh()
    client = app.test_client()
    for path in ("/feed.atom", "/feed.rss", "/feed.json", "/", "/feeds.opml", "/sitemap.xml"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.data[:300])
    feed = feedparser.parse(client.get("/feed.atom").data)
    assert not feed.bozo and len(feed.entries) == 1


def test_readme_lists_every_setting_with_its_rule() -> None:
    readme = (ROOT / "README.md").read_text()
    assert describe() in readme
    for setting in SETTINGS:
        assert setting.allowed, f"FEEDSVC_{setting.name} does not say which values it allows"
