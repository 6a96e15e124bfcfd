"""What templates may call: dates and names in plain words, page numbers, asset URLs, and
schema.org data. Every rule for how a page words something for a person lives here."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import Blueprint, current_app

from .channels import Channel, article_channels
from .dates import rfc3339
from .document import Article

bp = Blueprint("templating", __name__)

FORMAT_NAMES = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
# What one feed in each format is called in a sentence: JSON Feed names itself a feed already.
FEED_NOUNS = {"rss": "RSS feed", "atom": "Atom feed", "json": "JSON Feed"}

# Lower-case joining words inside place names: "Rio de Janeiro", "Port-au-Prince",
# "Frankfurt am Main", "Dar es Salaam", "Stratford-upon-Avon", "Sharm el-Sheikh".
_JOINING_WORDS = frozenset((
    "al", "am", "an", "and", "au", "aux", "d", "da", "das", "de", "del", "della", "der", "des",
    "di", "do", "dos", "du", "el", "en", "es", "la", "le", "les", "of", "on", "sur", "the", "upon",
    "van", "von", "y",
))  # fmt: skip
_INITIALS = re.compile(r"(?:\w\.){2,}")  # "U.S.", "D.C.": kept as written
_PIECES = re.compile(r"(\s+|-)")


@bp.app_template_filter("published_text")
def published_text(article: Article) -> str:
    """'6 March 2022', or '30 December 2025, 11:36 AM ET' with the zone as the document wrote it."""
    moment = article.published
    text = f"{moment.day} {moment:%B %Y}"
    if not article.has_time:
        return text
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    zone = article.zone_label or _offset_label(moment)
    return f"{text}, {hour}:{moment.minute:02d} {half} {zone}"


def _offset_label(moment: datetime) -> str:
    """'UTC', 'UTC−5', 'UTC+5:30': for a time whose document named no zone."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    if not minutes:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'+' if minutes > 0 else '−'}{hours}" + (f":{rest:02d}" if rest else "")


@bp.app_template_filter("place_name")
def place_name(name: str) -> str:
    """A dateline city as a heading would write it: 'SÃO PAULO' -> 'São Paulo'.

    Only names written all in capitals change. Initials stay ('U.S.'), joining words inside a
    name are lower-cased ('Rio de Janeiro'), and a single letter before an apostrophe keeps its
    capital ('L'Aquila'). A twin dateline is two names ('KYIV/LVIV' -> 'Kyiv/Lviv')."""
    if any(char.islower() for char in name):
        return name
    return "/".join(_title_name(part) for part in name.split("/"))


def _title_name(name: str) -> str:
    pieces = _PIECES.split(name)
    return "".join(_title_word(piece, first=not index) for index, piece in enumerate(pieces))


def _title_word(word: str, *, first: bool) -> str:
    if not word or not word[0].isalpha() or _INITIALS.fullmatch(word):
        return word
    if not first and word.lower() in _JOINING_WORDS:
        return word.lower()
    head, apostrophe, tail = word.partition("'")
    if apostrophe and len(head) == 1 and tail:
        return f"{head}'{tail[0]}{tail[1:].lower()}"
    # The first letter is already a capital; lower() on it could change it ("İ" -> "i̇").
    return word[0] + word[1:].lower()


bp.add_app_template_filter(rfc3339, "w3c")


@bp.app_template_filter("rfc822")
def rfc822_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


# Explicit embeddings, overrides and isolates (Unicode Bidirectional Algorithm, UAX #9 2.1-2.4):
# the marks with which a document's text can reorder whatever follows it on the same line.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@bp.app_template_filter("isolate")
def isolate(text: str) -> str:
    """``text`` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE (UAX #9 2.7) when it
    holds a bidi control, else unchanged: for plain-text places such as ``<title>``, where
    ``<bdi>`` cannot keep a stray U+202E from turning the site's name around after it. Text
    without controls is left exact, so a copied title is the headline."""
    if BIDI_CONTROLS.isdisjoint(text):
        return text
    return f"\u2068{text}\u2069"


# Where the right-to-left scripts' letters are (Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan,
# Mandaic, their supplements and presentation forms, and the right-to-left blocks beyond the
# BMP): a quick look before counting, for the many texts that hold none.
_RIGHT_TO_LEFT = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
_LETTER = re.compile(r"[^\W\d_]")  # not digits (Arabic-Indic digits are no strong letters)
_NOT_LETTERS = re.compile(r"[\W\d_]+")
_RIGHT_TO_LEFT_RUNS = re.compile(_RIGHT_TO_LEFT.pattern + "+")


def _strong_letters(text: str) -> tuple[int, int]:
    """(right-to-left, left-to-right) letters in ``text`` (UAX #9 3.2: Bidi_Class R or AL,
    and L), counted by what regular expressions take away: a loop over the characters in
    Python made an Arabic article's page half as slow again."""
    letters = _NOT_LETTERS.sub("", text)
    left = len(_RIGHT_TO_LEFT_RUNS.sub("", letters))
    return len(letters) - left, left


def _majority(right: int, left: int, default: str) -> str:
    if right == left:
        return default
    return "rtl" if right > left else "ltr"


@bp.app_template_filter("direction")
def direction(text: str, default: str = "auto") -> str:
    """An element's ``dir`` for ``text``: "rtl" when most of its strong letters are
    right-to-left, "ltr" when most are left-to-right, and ``default`` when it has none ("25 %")
    or as many of each, so that it takes its container's.

    Not ``dir="auto"``, which goes by the first strong letter only (HTML 3.2.6.4): an Arabic
    headline that opens with "iPhone 17" would be laid out left to right."""
    if not _RIGHT_TO_LEFT.search(text):
        return "ltr" if _LETTER.search(text) else default
    return _majority(*_strong_letters(text), default)


def block_directions(blocks: list[str]) -> tuple[str, list[str]]:
    """The ``dir`` of a container of ``blocks`` (an article, a summary) by all their letters,
    "ltr" when they have none or as many of each; and each block's (``direction``, its
    container's where it has no majority of its own). Each block is read once."""
    if not any(_RIGHT_TO_LEFT.search(block) for block in blocks):
        return "ltr", ["ltr"] * len(blocks)
    counts = [_strong_letters(block) for block in blocks]
    container = _majority(sum(r for r, _ in counts), sum(left for _, left in counts), "ltr")
    return container, [_majority(right, left, container) for right, left in counts]


@bp.app_template_filter("count")
def count_text(number: int, noun: str = "article", plural: str | None = None) -> str:
    """'1 article', '1,586 articles'; ``plural`` where adding an s is wrong ('agencies')."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def channel_name(channel: Channel, name: str | None = None) -> str:
    """What a channel is called in a sentence: the site's title, 'Reuters', 'São Paulo', the
    search “oil”. ``name`` is the agency's or city's name as the store has it; looked up when
    not given."""
    if channel.kind == "main":
        return current_app.extensions["feedsvc"].config.title
    if channel.kind == "search":
        return f"the search “{isolate(channel.key)}”"
    if name is None:
        assert channel.facet is not None
        store = current_app.extensions["feedsvc"].store
        facet = store.facet(channel.facet.field, channel.key)
        name = facet.name if facet else channel.key
    return place_name(name) if channel.kind == "place" else name


def channel_heading(channel: Channel, name: str | None = None) -> str:
    """A channel's heading in plain words: 'Latest news', 'From Reuters', 'São Paulo'."""
    if channel.kind == "main":
        return "Latest news"
    if channel.kind == "search":
        return f"Search: {channel.key}"
    shown = channel_name(channel, name)
    return f"From {shown}" if channel.kind == "source" else shown


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The page links to show: the first, the last and ``around`` either side of ``page``;
    None where pages are left out. page_numbers(7, 41) -> [1, None, 5, 6, 7, 8, 9, None, 41]."""
    shown = {1, pages, *range(max(1, page - around), min(pages, page + around) + 1)}
    numbers: list[int | None] = []
    previous = 0
    for number in sorted(shown):
        if number - previous > 1:
            numbers.append(None)
        numbers.append(number)
        previous = number
    return numbers


def page_path(path: str, page: int) -> str:
    """``path`` (a listing's path, query included) at ``page``; page 1 has no page parameter."""
    if page == 1:
        return path
    return f"{path}{'&' if '?' in path else '?'}page={page}"


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {
        "Channel": Channel,
        "article_channels": _article_channels,
        "block_directions": block_directions,
        "channel_heading": channel_heading,
        "channel_name": channel_name,
        "json_ld": _json_ld,
        "page_numbers": page_numbers,
        "page_path": page_path,
        "static_url": _static_url,
    }


def _static_url(name: str) -> str:
    svc = current_app.extensions["feedsvc"]
    return svc.site.url(svc.assets.path(name))


def _article_channels(article: Article) -> list[tuple[Channel, str]]:
    """(channel, name) of every feed an article appears in, the site's own first."""
    found = [(Channel("main"), channel_name(Channel("main")))]
    for channel in article_channels(article):
        assert channel.facet is not None
        found.append((channel, channel_name(channel, getattr(article, channel.facet.field))))
    return found


def _json_ld(article: Article) -> dict[str, Any]:
    svc = current_app.extensions["feedsvc"]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.headline,
        "description": article.summary,
        "datePublished": rfc3339(article.published),
        "dateModified": rfc3339(article.last_change),
        "mainEntityOfPage": svc.site.permalink(article),
        "url": svc.site.permalink(article),
        "publisher": {"@type": "Organization", "name": svc.config.title},
        "articleBody": "\n\n".join(article.story),
    }
    if article.authors:
        data["author"] = [{"@type": "Person", "name": name} for name in article.authors]
    elif article.agency:
        data["author"] = {"@type": "Organization", "name": article.agency}
    if article.agency:
        # The agency the writers filed for: schema.org's sourceOrganization.
        data["sourceOrganization"] = {"@type": "Organization", "name": article.agency}
    if article.city:
        data["dateline"] = article.city
        data["contentLocation"] = {"@type": "Place", "name": place_name(article.city)}
    return data
