"""The two settings that say who publishes and in what language: FEEDSVC_LANGUAGE (a BCP 47
tag) and FEEDSVC_TAG_AUTHORITY (whose ids these are)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from feedsvc import config
from feedsvc.config import ConfigError
from feedsvc.urls import tag_authority


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("en", "en"),
        ("en-US", "en-US"),
        ("en_US", "en-US"),  # the POSIX locale spelling
        ("EN-us", "en-US"),
        ("pt-br", "pt-BR"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("sr-Latn", "sr-Latn"),
        ("es-419", "es-419"),
        ("de-CH-1996", "de-CH-1996"),
    ],
)
def test_a_language_tag_is_read_in_its_canonical_case(given: str, used: str) -> None:
    assert config.load({"LANGUAGE": given}).language == used


@pytest.mark.parametrize("given", ["klingon!!", "english", "xx", "en-USA-", "", "en US", "e"])
def test_what_is_not_a_language_tag_is_refused_naming_the_setting(given: str) -> None:
    with pytest.raises(ConfigError, match="FEEDSVC_LANGUAGE") as caught:
        config.load({"LANGUAGE": given})
    assert "BCP 47" in str(caught.value) and "en-US" in str(caught.value)


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("news.example.com,2026", "news.example.com,2026"),
        ("News.Example.COM,2026-03", "news.example.com,2026-03"),
        ("desk@example.org,2019-02-28", "desk@example.org,2019-02-28"),
        ("", ""),
    ],
)
def test_a_tag_authority_is_a_domain_or_address_and_a_date(given: str, used: str) -> None:
    assert config.load({"TAG_AUTHORITY": given}).tag_authority == used


@pytest.mark.parametrize(
    "given",
    ["feedsvc", "feedsvc,2026", "news.example.com", "news.example.com,26",
     "news.example.com,2026-02-30", "http://news.example.com,2026", "news example.com,2026",
     "-news.example.com,2026"],
)  # fmt: skip
def test_a_tag_authority_that_is_not_the_publishers_is_refused(given: str) -> None:
    with pytest.raises(ConfigError, match="FEEDSVC_TAG_AUTHORITY") as caught:
        config.load({"TAG_AUTHORITY": given})
    assert "news.example.com,2026" in str(caught.value)


@pytest.mark.parametrize(
    ("site_url", "authority"),
    [
        ("https://news.example.com", "news.example.com,2026"),
        ("https://News.Example.com:8443/base", "news.example.com,2026"),
        ("http://127.0.0.1:8000", "127.0.0.1,2026"),  # the quick start's default
        ("http://[::1]:8000", "localhost,2026"),
    ],
)
def test_without_a_setting_the_authority_is_the_site_hosts(site_url: str, authority: str) -> None:
    assert tag_authority("", site_url) == authority
    assert tag_authority("desk@example.org,2019", site_url) == "desk@example.org,2019"


def test_a_bad_language_stops_the_command_with_one_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env["FEEDSVC_LANGUAGE"] = "klingon!!"
    env["FEEDSVC_SEEDS_DIR"] = str(tmp_path)  # every other setting fine: this one is reported
    done = subprocess.run(
        [sys.executable, "-m", "feedsvc", "index"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "FEEDSVC_LANGUAGE" in done.stderr and "Traceback" not in done.stderr
