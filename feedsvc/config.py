"""The settings table: every setting with its default, type and help, validated once at start-up.

Settings come from ``FEEDSVC_<NAME>`` environment variables (read only by :func:`from_environ`,
called at the process entry point) or from a mapping passed to ``create_app``. Nothing else in the
package reads the environment.
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import langcodes

from .urls import check_tag_authority

ENV_PREFIX = "FEEDSVC_"


class ConfigError(ValueError):
    """A setting has a value feedsvc cannot use; the message names the setting and the fix."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be a whole number of at least 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a number above 0")
    return value


def _site_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            "must be an absolute http:// or https:// URL, such as https://news.example"
        )
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or a fragment")
    return text.rstrip("/")


def _optional_url(text: str) -> str:
    return _site_url(text) if text else ""


def _timezone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("must be an IANA time zone name such as UTC or America/New_York") from exc
    return text


def _language(text: str) -> str:
    # RFC 5646 section 2.1.1: subtags are case-insensitive, and written language lower case,
    # script title case, region upper case. "en_US" is the POSIX locale spelling of en-US.
    subtags = text.strip().replace("_", "-").split("-")
    cased = [subtags[0].lower()]
    for subtag in subtags[1:]:
        if len(cased[-1]) == 1:  # after a singleton (-x-, -u-): private or extension, lower
            cased.append(subtag.lower())
        elif len(subtag) == 4 and subtag.isalpha():
            cased.append(subtag.title())
        elif len(subtag) == 2 and subtag.isalpha():
            cased.append(subtag.upper())
        else:
            cased.append(subtag.lower())
    tag = "-".join(cased)
    try:
        valid = langcodes.tag_is_valid(tag)
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(
            "must be a BCP 47 language tag built from registered subtags, such as en, en-US, "
            "pt-BR or zh-Hant"
        )
    return tag


def _date_order(text: str) -> str:
    value = text.lower()
    if value not in ("mdy", "dmy"):
        raise ValueError("must be mdy (09/06/2022 is 6 September) or dmy (9 June)")
    return value


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SEEDS_DIR", "seeds", Path, "Folder of news documents (*.txt) to publish."),
    Setting(
        "INDEX_PATH",
        ".feedsvc/index.sqlite3",
        Path,
        "SQLite index file. Safe to delete: it is rebuilt from the documents.",
    ),
    Setting(
        "SITE_URL",
        "http://127.0.0.1:8000",
        _site_url,
        "Public base URL. Every absolute URL in feeds and pages is built from it, never from "
        "the request's Host header.",
    ),
    Setting("TITLE", "feedsvc news", str, "Publication title, used by every feed and page."),
    Setting(
        "SUBTITLE",
        "The latest news from the wires",
        str,
        "One-line description of the publication (feed subtitle/description).",
    ),
    Setting(
        "LANGUAGE",
        "en",
        _language,
        "Language of the articles, as a BCP 47 tag (en, en-US, pt-BR; en_US is read as en-US).",
    ),
    Setting(
        "TAG_AUTHORITY",
        "",
        check_tag_authority,
        "Whose entry and feed ids these are: a domain you hold and a date you held it on, as "
        "in news.example.com,2026 (RFC 4151 tag URIs). Empty: the host of FEEDSVC_SITE_URL "
        "and 2026. Keep it when the site moves: it is what keeps the ids.",
    ),
    Setting(
        "FEED_SIZE",
        "50",
        _positive_int,
        "Articles in each feed; an archive month holding more goes by day, and a day holding "
        "more is split into pages of this many.",
    ),
    Setting(
        "MAX_LIMIT",
        "200",
        _positive_int,
        "Largest ?limit= a client may ask of a feed; larger values are clamped.",
    ),
    Setting(
        "CACHE_MAX_AGE",
        "300",
        _non_negative_int,
        "Seconds clients and proxies may reuse a feed or page (Cache-Control max-age); "
        "also the feed's ttl in minutes, rounded up.",
    ),
    Setting(
        "ARCHIVE_MAX_AGE",
        "86400",
        _non_negative_int,
        "Cache-Control max-age, in seconds, of archive pages of periods that are over, which "
        "change only when a document of theirs is added, edited or removed.",
    ),
    Setting(
        "TIMEZONE",
        "UTC",
        _timezone,
        "Time zone for date lines that name none; a date without a time means midnight there.",
    ),
    Setting(
        "DATE_ORDER",
        "mdy",
        _date_order,
        "How to read an ambiguous numeric date such as 09/06/2022: mdy or dmy. "
        "Each ambiguous date is reported as a warning.",
    ),
    Setting(
        "MAX_DOCUMENT_BYTES",
        "1048576",
        _positive_int,
        "Documents larger than this many bytes are skipped and reported.",
    ),
    Setting(
        "POLL_INTERVAL",
        "1.0",
        _positive_float,
        "Seconds between rescans of the seeds folder where file-system notifications are "
        "unavailable; otherwise changes are picked up as they happen.",
    ),
    Setting(
        "WATCH",
        "true",
        _boolean,
        "Watch the seeds folder while serving; false serves the index as it is.",
    ),
    Setting(
        "WEBSUB_HUB",
        "",
        _optional_url,
        "WebSub hub URL. When set, feeds advertise it and every change is published to it.",
    ),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Config:
    """Validated settings; one instance per app, passed to whoever needs it."""

    seeds_dir: Path
    index_path: Path
    site_url: str
    title: str
    subtitle: str
    language: str
    tag_authority: str
    feed_size: int
    max_limit: int
    cache_max_age: int
    archive_max_age: int
    timezone: str
    date_order: str
    max_document_bytes: int
    poll_interval: float
    watch: bool
    websub_hub: str

    def replace(self, **changes: Any) -> Config:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Config(**values)


def load(overrides: Mapping[str, Any] | None = None) -> Config:
    """Build a Config from defaults and ``overrides`` (setting name -> value, str or typed)."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"unknown setting {', '.join(unknown)}; known: {', '.join(_BY_NAME)}")
    values = {}
    for setting in SETTINGS:
        raw = overrides.get(setting.name, setting.default)
        values[setting.name.lower()] = _parse(setting, raw)
    return Config(**values)


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``FEEDSVC_*`` variables of ``environ`` as setting overrides; unknown names are errors."""
    environ = os.environ if environ is None else environ
    overrides = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :]
        if name not in _BY_NAME:
            raise ConfigError(f"{key} is not a feedsvc setting (known: {', '.join(_BY_NAME)})")
        overrides[name] = value
    return overrides


def _parse(setting: Setting, raw: Any) -> Any:
    if not isinstance(raw, str):
        raw = str(raw)
    try:
        return setting.parse(raw)
    except ValueError as exc:
        reason = str(exc) if setting.parse not in (int, float, Path, str) else "is not valid"
        raise ConfigError(f"{ENV_PREFIX}{setting.name}={raw!r}: {reason}") from None


def describe() -> str:
    """The settings table as Markdown, for the README (a test keeps the two in step)."""
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        lines.append(f"| `{ENV_PREFIX}{s.name}` | {default} | {s.help} |")
    return "\n".join(lines)
