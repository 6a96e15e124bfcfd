"""The settings table: every setting with its default, rule and help, validated once at start-up.

Settings come from ``FEEDSVC_<NAME>`` environment variables (read only by :func:`from_environ`,
called at the process entry point) or from a mapping passed to ``create_app``. Nothing else in the
package reads the environment. Each setting is checked for what the service needs from it, and a
bad value stops the command with one message naming the variable and the rule it breaks.
"""

from __future__ import annotations

import math
import os
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import langcodes

from .urls import check_tag_authority

ENV_PREFIX = "FEEDSVC_"
# Longer values are shown cut short in error messages.
SHOWN_VALUE_CHARS = 60
ONE_YEAR_SECONDS = 365 * 24 * 3600
MIB_BYTES = 1024 * 1024


class ConfigError(ValueError):
    """A setting has a value feedsvc cannot use; the message names the setting and the rule."""


# -- rules: each parses text into a value or raises ValueError with the rule in plain words ----


class WholeNumber:
    def __init__(self, low: int, high: int, unit: str = "") -> None:
        self.low, self.high = low, high
        self.rule = f"a whole number{f' of {unit}' if unit else ''} from {low:,} to {high:,}"

    def __call__(self, text: str) -> int:
        text = text.strip()
        # Digits only: int() would also take "1_000", " 12 " and other scripts' digits.
        if not re.fullmatch(r"[0-9]{1,20}", text) or not self.low <= int(text) <= self.high:
            raise ValueError(f"must be {self.rule}")
        return int(text)


class Decimal:
    def __init__(self, low: float, high: float, unit: str) -> None:
        self.low, self.high = low, high
        self.rule = f"a number of {unit} from {low:g} to {high:g}"

    def __call__(self, text: str) -> float:
        text = text.strip()
        # Plain decimals only: float() would also take "inf", "nan" and "1e400".
        if not re.fullmatch(r"[0-9]{1,20}(\.[0-9]{1,20})?|\.[0-9]{1,20}", text):
            raise ValueError(f"must be {self.rule}")
        value = float(text)
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise ValueError(f"must be {self.rule}")
        return value


class OneLine:
    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.rule = f"one line of 1 to {max_chars} characters"

    def __call__(self, text: str) -> str:
        text = text.strip()
        if not text:
            raise ValueError(f"must not be empty: {self.rule}")
        if len(text) > self.max_chars:
            raise ValueError(f"is {len(text)} characters long: it must be {self.rule}")
        # Feeds are XML: control characters (line breaks included) cannot appear in a title.
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
            raise ValueError(f"must be {self.rule}, without line breaks or control characters")
        return text


class HttpUrl:
    rule = "an absolute http:// or https:// URL without spaces, query or fragment"

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional
        if optional:
            self.rule = f"empty, or {self.rule}"

    def __call__(self, text: str) -> str:
        if self.optional and not text:
            return ""
        example = "such as https://news.example or https://example.org/news"
        if not text.isascii() or any(c.isspace() or not c.isprintable() for c in text):
            raise ValueError(
                "must be a URL without spaces or control characters, written in ASCII "
                f"(percent-encode other characters, use xn-- names for other scripts), {example}"
            )
        try:
            parts = urlsplit(text)
        except ValueError:  # an unclosed IPv6 bracket (http://[::1): urlsplit says only that
            raise ValueError(f"must be an absolute http:// or https:// URL, {example}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an absolute http:// or https:// URL, {example}")
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError:
            raise ValueError("has a port that is not a number from 1 to 65535") from None
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry a user name or password: it is published")
        if parts.query or parts.fragment or text.endswith(("?", "#")):
            raise ValueError("must not carry a query (?...) or a fragment (#...)")
        return text.rstrip("/")


class OriginUrl(HttpUrl):
    """An http:// or https:// URL of a server as a whole: scheme, host and port, no path."""

    def __init__(self, optional: bool = False) -> None:
        super().__init__(optional)
        self.rule = self.rule.replace("URL without", "URL without a path,")

    def __call__(self, text: str) -> str:
        url = super().__call__(text)
        if url and urlsplit(url).path:
            raise ValueError("must name a server only (such as http://10.0.0.5:8080), no path")
        return url


class ExistingFolder:
    rule = "a folder that exists and can be read"

    def __call__(self, text: str) -> Path:
        if not text.strip():
            raise ValueError(f"must not be empty: it must be {self.rule}")
        path = Path(text)
        if not path.exists():
            raise ValueError(f"does not exist: it must be {self.rule}")
        if not path.is_dir():
            raise ValueError(f"is not a folder: it must be {self.rule}")
        if not os.access(path, os.R_OK | os.X_OK):
            raise ValueError(f"cannot be read: it must be {self.rule}")
        return path


class IndexFile:
    rule = "a file path in a folder feedsvc may write to (the folder is created if missing)"

    def __call__(self, text: str) -> Path:
        if not text.strip():
            raise ValueError(f"must not be empty: it must be {self.rule}")
        path = Path(text)
        if text.endswith("/") or path.is_dir():
            raise ValueError(f"is a folder: it must be a file path, e.g. {path / 'index.sqlite3'}")
        if path.exists() and not path.is_file():
            raise ValueError("is not a regular file: it must be a file feedsvc may write to")
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # the nearest folder that exists: the rest is created
        if not folder.is_dir():
            raise ValueError(f"cannot be created: {folder} is a file, not a folder")
        # The lock files, the WAL and the index itself are all written beside the index.
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"cannot be written: feedsvc may not write to {folder}")
        return path


class Choice:
    def __init__(self, *choices: str, meaning: str = "") -> None:
        self.choices = choices
        self.rule = " or ".join(choices) + (f" ({meaning})" if meaning else "")

    def __call__(self, text: str) -> str:
        value = text.strip().lower()
        if value not in self.choices:
            raise ValueError(f"must be {self.rule}")
        return value


class Boolean:
    rule = "true or false (also yes/no, on/off, 1/0)"

    def __call__(self, text: str) -> bool:
        value = text.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"must be {self.rule}")


class TimeZone:
    rule = "an IANA time zone name such as UTC or America/New_York"

    def __call__(self, text: str) -> str:
        try:
            zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"must be {self.rule}") from None
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


class AccessLog:
    rule = "on (with the other log lines), off, or the path of a file to append to"

    def __call__(self, text: str) -> str:
        value = text.strip()
        if value.lower() in ("on", "off"):
            return value.lower()
        if not value:
            raise ValueError(f"must be {self.rule}")
        folder = Path(value).parent
        if Path(value).is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ValueError(f"must be {self.rule}: {value} is not a file in a writable folder")
        return value


# -- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    parse: Callable[[str], Any]  # raises ValueError saying the rule in plain words
    help: str
    rule: str = ""  # the values allowed, for the settings table; defaults to parse.rule

    @property
    def allowed(self) -> str:
        return self.rule or getattr(self.parse, "rule", "")


SETTINGS: tuple[Setting, ...] = (
    Setting("SEEDS_DIR", "seeds", ExistingFolder(), "Folder of news documents (*.txt) to publish."),
    Setting(
        "INDEX_PATH",
        ".feedsvc/index.sqlite3",
        IndexFile(),
        "SQLite index: a link to the current build, `<index>.<16 hex digits>`, beside it. Safe to"
        " delete, even while serving: it is rebuilt from the documents, and a damaged one is found"
        " and rebuilt (docs/faults.md). Rebuilt at the next start after `FEEDSVC_TIMEZONE` or"
        " `FEEDSVC_DATE_ORDER` changes, which change the times of documents already indexed."
        " Rebuilt too after an upgrade of feedsvc that reads documents otherwise (a parser fix"
        " must reach the documents indexed before it): `serve` serves the old index meanwhile,"
        " keeps indexing changes into it, and builds the new one beside it (`<index>.renewal`,"
        " as much disk again) at a low priority, putting it in place when it is complete;"
        " `index`, `build` and an unwatched `serve` rebuild it first.",
    ),
    Setting(
        "SITE_URL",
        "http://127.0.0.1:8000",
        HttpUrl(),
        "Public base URL. Every absolute URL in feeds and pages is built from it, never from "
        "the request's Host header. `feedsvc serve` without it uses its --bind address.",
    ),
    Setting(
        "TITLE", "feedsvc news", OneLine(200), "Publication title, used by every feed and page."
    ),
    Setting(
        "SUBTITLE",
        "The latest news from the wires",
        OneLine(500),
        "One-line description of the publication (feed subtitle/description).",
    ),
    Setting(
        "LANGUAGE",
        "en",
        _language,
        "Language of the articles, as a BCP 47 tag (en, en-US, pt-BR; en_US is read as en-US).",
        "a BCP 47 language tag built from registered subtags",
    ),
    Setting(
        "TAG_AUTHORITY",
        "",
        check_tag_authority,
        "Whose entry and feed ids these are: a domain you hold and a date you held it on, as "
        "in news.example.com,2026 (RFC 4151 tag URIs). Empty: the host of FEEDSVC_SITE_URL "
        "and 2026. Keep it when the site moves: it is what keeps the ids.",
        "empty, or a domain name or e-mail address, a comma and a date (news.example.com,2026)",
    ),
    Setting(
        "FEED_SIZE",
        "50",
        WholeNumber(1, 1000),
        "Articles in each feed; an archive month holding more goes by day, and a day holding "
        "more is split into pages of this many.",
    ),
    Setting(
        "MAX_LIMIT",
        "200",
        WholeNumber(1, 1000),
        "Largest ?limit= a client may ask of a feed; larger values are clamped.",
    ),
    Setting(
        "CACHE_MAX_AGE",
        "300",
        WholeNumber(0, ONE_YEAR_SECONDS, "seconds"),
        "Seconds clients and proxies may reuse a feed, and shared caches a page (Cache-Control "
        "max-age; s-maxage for pages, which browsers revalidate at every visit); also the "
        "feed's ttl in minutes, rounded up.",
    ),
    Setting(
        "ARCHIVE_MAX_AGE",
        "86400",
        WholeNumber(0, ONE_YEAR_SECONDS, "seconds"),
        "Cache-Control max-age, in seconds, of archive pages of periods that are over, which "
        "change only when a document of theirs is added, edited or removed.",
    ),
    Setting(
        "TIMEZONE",
        "UTC",
        TimeZone(),
        "Time zone for date lines that name none; a date without a time means midnight there.",
    ),
    Setting(
        "DATE_ORDER",
        "mdy",
        Choice("mdy", "dmy", meaning="09/06/2022 is 6 September, or 9 June"),
        "How to read an ambiguous numeric date such as 09/06/2022: mdy or dmy. "
        "Each ambiguous date is reported as a warning.",
    ),
    Setting(
        "MAX_DOCUMENT_BYTES",
        "1048576",
        WholeNumber(1, 64 * MIB_BYTES, "bytes"),
        "Documents larger than this many bytes are skipped and reported.",
    ),
    Setting(
        "POLL_INTERVAL",
        "1.0",
        Decimal(0.1, 3600, "seconds"),
        "Seconds between rescans of the seeds folder where file-system notifications are "
        "unavailable; otherwise changes are picked up as they happen.",
    ),
    Setting(
        "WATCH",
        "true",
        Boolean(),
        "Watch the seeds folder while serving; false serves the index as it is.",
    ),
    Setting(
        "SEARCH",
        "true",
        Boolean(),
        "Answer searches (/search and /search/feed.<fmt>) and show the search box; false "
        "answers them 404 and shows no box. `feedsvc build` always builds as with false: a "
        "static host cannot search.",
    ),
    Setting(
        "WEBSUB_HUB",
        "",
        HttpUrl(optional=True),
        "WebSub hub URL. When set, every change to the subscription feeds is published to it, "
        "and they alone advertise it (not search feeds, ?limit= feeds or archive pages). "
        "`feedsvc build` always builds as without it: nothing tells the hub what a build changed.",
    ),
    Setting(
        "WEBSUB_REFRESH_URL",
        "",
        OriginUrl(optional=True),
        "Behind the cache tier of docs/deploy.md: the tier's address as this node reaches it. "
        "Before the hub is told of a change, each changed feed is asked of the tier anew "
        "(`X-Feedsvc-Refresh: 1`, which the tier honours from its nodes' addresses only), so "
        "that the hub, fetching it through the tier, gets the new copy rather than the cached one.",
    ),
    Setting(
        "ACCESS_LOG",
        "on",
        AccessLog(),
        "Access log of `feedsvc serve`, one line per request in the Combined Log Format: "
        "on (among the other log lines, on standard error), off, or a file to append to "
        "(reopened when log rotation moves it).",
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
    search: bool
    websub_hub: str
    websub_refresh_url: str
    access_log: str

    def replace(self, **changes: Any) -> Config:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Config(**values)


def load(overrides: Mapping[str, Any] | None = None) -> Config:
    """Build a Config from defaults and ``overrides`` (setting name -> value, str or typed).

    Raises ConfigError, naming the variable and its rule, for the first value it cannot use.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"unknown setting {', '.join(unknown)}; known: {', '.join(_BY_NAME)}")
    values = {}
    for setting in SETTINGS:
        raw = overrides.get(setting.name, setting.default)
        values[setting.name.lower()] = _parse(setting, raw)
    return Config(**values)


def overrides_of(settings: Config) -> dict[str, str]:
    """``settings`` as the overrides (setting name -> text) that ``load`` turns back into them:
    for a process of feedsvc's own, which must read documents as the one that started it
    (a setting given only to that one, not in the environment, would be lost)."""
    return {s.name: str(getattr(settings, s.name.lower())) for s in SETTINGS}


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
    text = raw if isinstance(raw, str) else str(raw)
    try:
        return setting.parse(text)
    except ValueError as exc:
        shown = text if len(text) <= SHOWN_VALUE_CHARS else text[:SHOWN_VALUE_CHARS] + "..."
        reason = str(exc) if setting.parse not in (str, int, float, Path) else "is not valid"
        raise ConfigError(f"{ENV_PREFIX}{setting.name}={shown!r} {reason}") from None


def describe() -> str:
    """The settings table as Markdown, for the README (a test keeps the two in step)."""
    lines = ["| Variable | Default | Allowed | Meaning |", "| --- | --- | --- | --- |"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        lines.append(f"| `{ENV_PREFIX}{s.name}` | {default} | {s.allowed} | {s.help} |")
    return "\n".join(lines)
