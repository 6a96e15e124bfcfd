"""Recognise the scraped junk mixed into article bodies: widget headings, ads, related headlines.

Each rule answers with a short reason, so that what was removed can be shown to the operator
(``feedsvc check``) instead of silently disappearing. The rules look at the shape of a paragraph
(length, capitalisation, final punctuation) more than at exact phrases, because real corpora are
written by many scrapers; the phrase lists catch what shape alone cannot.
"""

from __future__ import annotations

import functools
import re

WIDGET_HEADINGS = frozenset(
    name.strip()
    for name in """
    recent article|recent articles|related|related article|related articles|related news
    |related stories|related content|related coverage|read more|read also|also read|see also
    |more on this|more from this author|advertisement|advertisements|advertising|ad|sponsored
    |sponsored content|promoted|share|share this|share this article|share this story
    |share on facebook|share on twitter|tweet|print|email|comments|trending|trending now
    |most read|most popular|top stories|latest news|popular posts|you may also like|recommended
    |recommended for you|subscribe|newsletter|sign up|continue reading|story continues below
    |story continues below advertisement|click here|photo gallery|video|watch|listen|loading
    |skip to content|menu|home|follow us|editor's picks|don't miss|breaking news
    """.replace("\n", "").split("|")
)
# A widget label followed by a separator: "Read more: ...", "Photo: AP", "WATCH - ...". Without
# the separator these words open real sentences ("Watch exports rose 7%.", "Related charges
# were dropped."), so the label alone is not enough.
_WIDGET_LABEL = re.compile(
    r"^(read more|read also|also read|more|related|related stories|see also|recommended|watch"
    r"|listen|image|images|photo|photos|picture|pictures|file photo|video|graphic|graphics|gallery"
    r"|factbox|explainer|opinion|advertisement|sponsored|trending|latest|breaking)"
    r"\s*(?::|\||»|>|[-—–]\s)",
    re.IGNORECASE,
)
# Calls to action: imperatives no news sentence opens with.
_CALL_TO_ACTION = re.compile(
    r"^(?:click here|tap here|subscribe to|sign up for|sign up to|follow us on|follow @"
    r"|download (?:the|our) app|get the latest|join our|like us on|listen to (?:the|our|this)"
    r"|watch (?:the|our|this) (?:video|clip|full))\b",
    re.IGNORECASE,
)
# "© Reuters", "Copyright 2021 The Associated Press", "(c) 2021 AFP", "... All rights
# reserved." - but not "Copyright law experts said ...".
_COPYRIGHT = re.compile(
    r"^(?:©|\(c\)\s*(?:\d{4}|copyright\b))|^copyright\s*(?:©|\(c\))?\s*(?:\d{4}|by\b)"
    r"|\ball rights reserved\b",
    re.IGNORECASE,
)
# "(c) Reuters", "(c) Bloomberg L.P., distributed by ...": a notice opens with a name or a year;
# "(c) the minister may revoke a licence ..." is the third item of a list.
_C_IN_BRACKETS = re.compile(r"^\([cC]\)\s+(?=[A-Z0-9])")
# The longest copyright notice: "(c) 2024 The Associated Press. All rights reserved. This
# material may not be published, broadcast, rewritten or redistributed." is 20 words.
MAX_NOTICE_WORDS = 25
BROKERS = frozenset(
    name.strip()
    for name in """
    ic markets|ic trading|etoro|plus500|xm|xm group|pepperstone|avatrade|fxtm|exness|ig|oanda
    |fxcm|admirals|admiral markets|libertex|hfm|hotforex|tickmill|fp markets|interactive brokers
    |saxo|saxo bank|cmc markets|city index|capital.com|trading 212|xtb|swissquote|forex.com
    |thinkmarkets|vantage|vantage markets|blackbull markets|roboforex|alpari|axi|octa|octafx|fbs
    |naga|skilling|markets.com|fusion markets|eightcap|ic markets global
    |fxpro|activtrades|ifc markets
    """.replace("\n", "").split("|")
)
_AD_WORDS = re.compile(
    r"\b(?:brokers?|trading guide|forex|cfds?|award-winning|open an account|free demo|bonus"
    r"|promo code|sponsored|casino|crypto signals|best rates?)\b",
    re.IGNORECASE,
)
# CKEditor's emoticon set, as its alt text: a scraper keeps the word where the picture was,
# alone on a line ("smiley", "broken heart") or glued around an ad ("enlightenedTop THREE
# Award-Winning Brokers in 2022 enlightened"). Only the editor's lower-case words count: a
# real one-word answer is written as prose ("No.", "\u201cYes,\u201d she said.").
EMOTICONS = (
    "smiley", "sad", "wink", "laugh", "frown", "cheeky", "blush", "surprise", "indecision",
    "angry", "angel", "cool", "devil", "crying", "enlightened", "no", "yes", "heart",
    "broken heart", "kiss", "mail",
)  # fmt: skip
_EMOTICON_WORD = "(?:" + "|".join(sorted(EMOTICONS, key=len, reverse=True)) + ")"
_EMOTICONS_ONLY = re.compile(rf"{_EMOTICON_WORD}(?: {_EMOTICON_WORD})*")
# Real prose never starts with a lowercase word glued to a capital.
_EMOTICON = re.compile(rf"^{_EMOTICON_WORD}(?=[A-Z0-9])")
# Or the words wrap the ad with spaces: "heart Best CFD Brokers 2022 heart".
_EMOTICON_WRAPPED = re.compile(rf"^{_EMOTICON_WORD} ?[A-Z0-9].*(?: |(?<![a-z])){_EMOTICON_WORD}$")
_CREDIT_LINE = re.compile(
    r"^[(\[]?(?:reporting|additional reporting|writing|editing|compiled|translated|produced)"
    r"(?: by)?\b|^contributing\s*:",  # USA Today's "Contributing: Jane Doe, John Roe"
    re.IGNORECASE,
)
# A photo caption ends with the photographer's credit, after a full stop ("... in Washington,
# March 4, 2022. REUTERS/Kevin Lamarque/File Photo") or in brackets ("(AP Photo/Evan Vucci)",
# "(Photo by Aris Messinis/AFP via Getty Images)"). Scraped pages put captions anywhere, before
# the dateline too. The credit's shape (an agency in capitals, a slash, a name) keeps "AC/DC
# played.", "... at NASA/Ames Research." and "(Paris Photo/Grand Palais)" in the text. The
# name's repeats are possessive: a hostile tail of capitals, hyphens and slashes must not make
# the search backtrack through every split.
_PHOTO_CREDIT = re.compile(
    r"(?:(?:^|[.!?\"”’]\s)\s*[A-Z]{2,}(?:[ -][A-Z]{2,})*(?: PHOTO| Photo)? ?/ ?"
    r"(?:Stringer|Staff|Handout|Pool"
    r"|[A-Z][^\W\d_]++(?:[ -](?:[A-Z][\w.'’-]*+|(?:van|von|de|der|den|da|di|du|del|la|le|al|el"
    r"|bin|ibn)(?= ))){1,4}"
    r"|[A-Z]{2,}(?: [A-Z]{2,}){1,3})(?: ?/ ?[A-Za-z ]{1,20})?"
    r"|\((?:[A-Z]{2,}(?:[ -][A-Z]{2,})* )?Photo(?:/| by | ?: ?)[^()\n]{1,80}\))\.?$"
)
# Only the end of a paragraph can hold the credit.
_CREDIT_TAIL = 120
_URL_ONLY = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)
# Words that title-case headline styles leave in lower case (short ones are not counted at all).
_HEADLINE_LOWERCASE = frozenset(
    {"with", "from", "into", "onto", "over", "upon", "amid", "than", "that", "after", "about"}
    | {"under", "between", "against", "during", "without", "through", "across", "before"}
    | {"since", "until", "while", "versus"}
)
# What title-case styles (AP, Chicago) leave in lower case among short words: articles,
# conjunctions, short prepositions. Any other short word in lower case ("won", "met", "is") is
# a sentence's.
_TITLE_SMALL_WORDS = frozenset(
    {"a", "an", "the", "and", "but", "or", "nor", "for", "so", "yet", "as", "at", "by", "in"}
    | {"of", "off", "on", "out", "per", "to", "up", "via", "vs", "v"}
)
# Labels an editor puts before a sentence of the story ("Latest: The death toll rose to 12,
# officials said."), where the other labels ("Photo:", "Read more:") are a widget's.
_EDITORIAL_LABELS = frozenset({"more", "latest", "opinion", "breaking", "explainer", "factbox"})
# A widget label's rest, as a sentence: "More: The company said it would cut 500 jobs."
MIN_LABELLED_SENTENCE_WORDS = 6
# The longest line the shape rules below consider (widget labels such as "Read more: <a
# headline>"); counting words is the costly part of the rules, so longer lines skip it.
MAX_JUNK_WORDS = 30
_TERMINAL = tuple(".!?:;\"”’')]…")
_WORD = re.compile(r"[^\W\d_][\w'’.\-]*")


def junk_reason(paragraph: str, headline: str = "", lead: bool = False) -> str | None:
    """Why ``paragraph`` is scraped junk rather than article text, or None to keep it. A
    ``lead`` (the paragraph a dateline opens) that ends as a sentence is not judged by its
    capitals: "MADRID (AFP) - Spain Wins World Cup Final." is a story, though its words read
    like a related headline ("Subscribe Now For Our Newsletter" is still an ad), nor taken for
    a copy of the headline."""
    text = paragraph.strip()
    if is_photo_caption(text):
        return "photo caption"
    if text.count(" ") >= MAX_JUNK_WORDS:
        # Most body paragraphs stop here: only these rules can match a line this long (a
        # credit line never starts like an emoticon).
        if text[:1].islower() and (_EMOTICON.match(text) or _EMOTICON_WRAPPED.match(text)):
            return "advertisement"
        if headline and not lead and _repeats(text, headline):
            return "repeats the headline"
        return None
    lowered = _key(text)
    if _CREDIT_LINE.match(text):
        return None
    if lowered in WIDGET_HEADINGS:
        return "widget heading"
    if text[:1].islower():  # every emoticon word is lower case; most paragraphs are not
        if is_emoticon_line(text):
            return "emoticon"
        if _EMOTICON.match(text) or _EMOTICON_WRAPPED.match(text):
            return "advertisement"
    if lowered in BROKERS:
        return "broker name"
    if _URL_ONLY.match(text):
        return "bare link"
    # The lead may repeat the headline (a wire flash: its one sentence is both); a copy of the
    # headline anywhere else is a scraper's repeated heading.
    if headline and not lead and lowered == _headline_key(headline):
        return "repeats the headline"
    words = _WORD.findall(text)
    if len(words) <= 14 and _AD_WORDS.search(text) and not text.endswith(_TERMINAL):
        return "advertisement"
    label = _WIDGET_LABEL.match(text) if len(words) <= MAX_JUNK_WORDS else None
    if label and not _labels_a_sentence(label.group(1), text[label.end() :]):
        return "widget text"
    if len(words) <= 14 and _CALL_TO_ACTION.match(text):
        return "widget text"
    if len(words) <= MAX_NOTICE_WORDS and (_COPYRIGHT.search(text) or _C_IN_BRACKETS.match(text)):
        return "copyright notice"
    if lead and text.endswith(_TERMINAL):
        return None
    if _is_title_case_headline(words):
        return "related headline"
    if len(words) <= 8 and not text.endswith(_TERMINAL) and _mostly_capitalised(words):
        return "heading or widget text"
    return None


def is_junk_line(line: str) -> bool:
    """Whether a line is junk by name, whatever surrounds it: a widget heading ("Advertisement",
    "Share this article"), a broker's name, or a widget label and its link ("Read more: ...").
    A scraper may glue such a line to the paragraph above or below with a single newline."""
    text = line.strip()
    if not text[:1].isupper():
        return False  # headings are capitalised; a wrapped sentence's "share." is not one
    lowered = _key(text)
    if lowered in WIDGET_HEADINGS or lowered in BROKERS:
        return True
    return _WIDGET_LABEL.match(text) is not None and text.count(" ") < MAX_JUNK_WORDS


def is_emoticon_line(text: str) -> bool:
    """Only the editor's emoticon words: ``smiley``, ``heart heart``, ``broken heart``.
    ``text`` has its spaces folded, as paragraphs have."""
    return _EMOTICONS_ONLY.fullmatch(text.strip()) is not None


def is_photo_caption(text: str) -> bool:
    """A photo caption, recognised by the credit that ends it."""
    start = max(0, len(text) - _CREDIT_TAIL)
    if text.find("/", start) < 0 and text.find("Photo", start) < 0:
        return False  # the usual paragraph: two scans of its tail, no copy, no regex
    return bool(_PHOTO_CREDIT.search(text, start))


def _key(text: str) -> str:
    """A line as the phrase rules compare it: lower case, without framing punctuation."""
    return text.lower().strip(" .:!-—–|>»")


# Every paragraph of a document is compared with the same headline.
_headline_key = functools.lru_cache(maxsize=64)(_key)


def _repeats(text: str, headline: str) -> bool:
    return _key(text) == _headline_key(headline)


def _is_title_case_headline(words: list[str]) -> bool:
    # A related-story headline capitalises every content word; a body sentence, however full of
    # names and titles, has a lowercase verb or noun ("..., Senate Leader Tom Hadley attended.",
    # "Putin met Maduro in Moscow."): only articles, conjunctions and short prepositions stay
    # in lower case in a title.
    if len(words) > 20:
        return False
    content = [w for w in words if len(w) >= 4]
    if len(content) < 3:
        return False
    return all(
        w[0].isupper()
        or w in _HEADLINE_LOWERCASE
        or (len(w) < 4 and (len(w) < 2 or w in _TITLE_SMALL_WORDS))  # "(c)", "a"
        for w in words
    )


def _labels_a_sentence(label: str, rest: str) -> bool:
    """Whether what follows a widget label ("More: ", "Latest: ") is a sentence of the story
    rather than a linked headline: it ends as a sentence, in six words or more, and is not in
    title case. ("Latest: The death toll rose to 12, officials said." is text; "Read more: Oil
    prices jump as Ukraine war rages" is a link.)"""
    rest = rest.strip()
    if not rest.endswith(_TERMINAL) or len(rest.split()) < MIN_LABELLED_SENTENCE_WORDS:
        return False
    if label.lower() not in _EDITORIAL_LABELS:
        return False  # "Photo: ...", "Read more: ...", "Sponsored: ...": a widget's, always
    return not _is_title_case_headline(_WORD.findall(rest))


def _mostly_capitalised(words: list[str]) -> bool:
    if not words:
        return True
    return sum(1 for w in words if w[0].isupper()) * 2 >= len(words)
