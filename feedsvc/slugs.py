"""The one slug rule: a headline, agency or city name in any script -> a URL path segment.

``SÃO PAULO`` -> ``sao-paulo``, ``Москва`` -> ``moskva``, ``東京`` -> ``dong-jing``, by
python-slugify's transliteration (text-unidecode's tables, unchanged since 2019), so every
agency and city has a page and a feed, and a Russian headline a readable permalink. A name with
nothing to transliterate (emoji alone) gets a stable slug from its hash, never an empty one.
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata

from slugify import slugify as _transliterated

MAX_SLUG_CHARS = 80
# Enough digits that two names without letters do not meet in practice.
_HASH_CHARS = 12
# Pages and feeds slugify the same few agency and city names, and each headline, again and again
# (a static build of 1,000 documents asked for 98,000 slugs); the answer never changes. Bounded:
# at most this many recent texts (a few MiB).
SLUG_CACHE_ENTRIES = 8192


@functools.lru_cache(maxsize=SLUG_CACHE_ENTRIES)
def slugify(text: str, max_length: int = MAX_SLUG_CHARS) -> str:
    """Lower-case ASCII words joined by hyphens, cut at a whole word within ``max_length``.

    Empty only for blank text. The same text always gives the same slug (text is compared in
    Unicode's NFC form, so a composed and a decomposed "é" give one slug).
    """
    text = unicodedata.normalize("NFC", text)
    slug = _transliterated(text, max_length=max_length, word_boundary=True)
    if slug or not text.strip():
        return slug
    digest = hashlib.sha256(text.strip().encode("utf-8", "surrogatepass")).hexdigest()
    return f"u-{digest[:_HASH_CHARS]}"


def headline_slug(headline: str) -> str:
    """The slug of an article's permalink; never empty, so a permalink always has one."""
    return slugify(headline) or "article"
