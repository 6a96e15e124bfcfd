"""Who wrote a story: bylines (``By Jane Doe``) and wire-service credit lines.

A byline is a line of its own: ``By Jane Doe``, ``By Jane Doe and John Roe``, ``By Jane Doe,
John Roe, and Ann Poe``, ``By Jane Doe; John Roe``, ``By: Jane Doe``, ``By Jane Doe, Reuters``,
``By Jane Doe / Reuters``, ``By Jane Doe - Reuters``, ``By Jane Doe for The Guardian``, ``By
Jane Doe (Reuters)``, ``By Jane Doe on March 4, 2025``, ``BY JANE DOE``. A credit line ends a
wire story: ``(Reporting by Jane Doe in Caracas; Editing by John Roe)``; it stays in the text,
and its reporters and writers (not its editors) are the story's writers too. Both are read by
their whole shape, never by their first word, so a sentence (``By the end of the week, ...``,
``By Monday, officials had ...``) is never taken for a byline: every name needs two or more
capitalised words, and nothing else may be on the line but an affiliation or a date.
"""

from __future__ import annotations

import re

from .dates import MONTHS, DateError, parse_date_line

MAX_BYLINE_CHARS = 160
MAX_NAME_WORDS = 5
_BY = re.compile(r"^by:?\s+", re.IGNORECASE)  # "By Jane Doe", "By: Jane Doe"
# Words of a name: capitalised words, initials ("J.", "J.R."), hyphens and apostrophes
# (Jean-Paul, O'Neill).
_NAME_WORD = re.compile(r"^(?:[^\W\d_](?:[\w'’\-]*[^\W_])?\.?|(?:[^\W\d_]\.){2,})$")
# Words in _NOT_NAMES that Vietnamese and Chinese names hold first or last ("By Nguyen Van An",
# "By To Lam"), never between two others as in "By Rail To Paris".
_NAMES_AT_ENDS = frozenset({"an", "to"})
# Lower-case words inside a name: "Ursula von der Leyen", "Luiz Inácio Lula da Silva".
_PARTICLES = frozenset(
    "van von der den de del della di da das dos du la le al el bin ibn ter ten y".split()  # noqa: SIM905
)
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())  # noqa: SIM905
# Capitalised words no name is made of: "By Tuesday Evening", "By Order Of The Court".
_NOT_NAMES = _WEEKDAYS | frozenset(
    """january february march july september october november december today tomorrow
    yesterday morning afternoon evening night noon midnight week weekend month year the of and
    or for to a an in on at with from by this that then now end order staff bureau desk agency
    newsroom television tv news reporters correspondents reporting additional photos photo
    photographs pictures video graphics editing edited writing""".split()  # noqa: SIM905 - a word list reads better as text
)
# "By Jane Doe, Reuters", "By Jane Doe, Staff Writer": what follows the last comma is where the
# writer works when it is one word or says what it is.
_AFFILIATION_WORDS = frozenset(
    """staff writer writers reporter reporters correspondent correspondents editor editors
    bureau news press presse agence agency agentur service wire times post journal herald
    tribune contributor columnist analyst desk journalist journalists producer photographer
    photojournalist reporting chief business sports media network radio magazine
    broadcasting independent gazette chronicle telegraph observer mail express mirror
    monitor""".split()  # noqa: SIM905
)
# News agencies and outlets by name (lower case, without a leading "the"): the one list of them.
# It serves where no shape tells an outlet from a writer: a name glued on without a separator
# ("By Jane Doe Reuters"), two capitalised words after a comma ("By Jane Doe, Deutsche
# Welle"), and an outlet's name opening an affiliation ("Reuters TV", "Politico Europe").
OUTLETS = frozenset(
    name.strip()
    for name in """reuters|thomson reuters|associated press|ap|afp|agence france-presse
    |agence france presse|bloomberg|xinhua|kyodo|yonhap|dpa|efe|ansa|tass|interfax|anadolu
    |pti|upi|bernama|antara
    |al jazeera|bbc|cnn|npr|nbc|cbs|abc|politico|axios|deutsche welle|dw|france 24|euronews
    |daily mail|kyiv independent|usa today|propublica|rappler|nikkei|guardian|economist
    |financial times|wall street journal|new york times|washington post|le monde|le figaro
    |les echos|libération|el país|el mundo|der spiegel|die zeit|die welt|la repubblica
    |la stampa|la nación|al arabiya|al-monitor|al-ahram""".split("|")  # noqa: SIM905
)
# What a page puts between a byline and the rest of its line (agency, reading time, date).
_SEPARATOR = re.compile(r"\s+[|•·]\s+")
# "By Jane Doe / Reuters", "By Jane Doe / John Roe": between names, or before an affiliation.
_SLASH = re.compile(r"\s+/\s+")
# Between names: "and", "&", "with", a comma, a semicolon, and both ("Jane Doe, John Roe, and
# Ann Poe").
_AND = re.compile(r"\s*[,;]\s*(?:(?:and|AND|&|with|WITH)\s+)?|\s+(?:and|AND|&|with|WITH)\s+")
# What may end a byline's line after its names, kept out when it names where the writers work:
# "(Reuters)", " - Reuters", " — Associated Press", " for The Guardian", ", Special to The
# Globe and Mail".
_OUTLET_TAIL = re.compile(
    r"\s*\((?P<bracketed>[^()]+)\)$|(?:\s+(?:--?|[—–]|for|FOR)|,?\s+(?:special|Special|SPECIAL)"
    r"\s+(?:to|TO))\s+(?P<tail>[^,()]+)$"
)
# What may stand between a byline's names and a date after them: "By Jane Doe on March 4, 2025".
_BEFORE_DATE = re.compile(r"(?:\s+(?:on|ON|[-—–|·•])|,)$")
# " in Caracas", " at the United Nations": where a reporter filed from.
_PLACE = re.compile(r"\s+(?:in|at)\s+[^\W\d_][\w'’.\- ]*$")
# _AND, keeping what it splits at: a credit line tells a place's region ("in Kyiv, Ukraine")
# from a name by the comma before it.
_AND_KEPT = re.compile(f"({_AND.pattern})")
# A credit for no person, skipped among the names: "the Caracas newsroom", "Reuters TV", "the
# Bangkok bureau". Short, so that "Reporting by Jane Doe and the team showed ..." stays a
# sentence.
_NEWSROOM_WORDS = frozenset(
    "newsroom newsrooms bureau bureaus desk staff team tv television".split()  # noqa: SIM905
)
MAX_NEWSROOM_WORDS = 4
# Reuters' page footer, which a scraper glues into or after the credit line's brackets.
_STANDARDS = re.compile(r"[;,]?\s*Our Standards:\s*The Thomson Reuters Trust Principles\.?", re.I)
# A credit line's parts: "Reporting by ...; Editing by ...", also joined by commas before a role.
# What a credit line's first character can be: "(", "[", or a role's first letter.
CREDIT_FIRST = frozenset("([RrWwAaCc")
_CREDIT_OPEN = re.compile(r"^[(\[]?\s*(?:additional\s+)?(?:reporting|writing)\s+by\s", re.I)
_CREDIT_PART = re.compile(r"^(?P<role>[A-Za-z][A-Za-z\- ]{1,40}?)\s+by\s+(?P<names>.+)$", re.I)
_CREDIT_SPLIT = re.compile(
    r"\s*;\s*|\s*,\s*(?=(?:additional\s+)?[a-z\-]+(?:\s[a-z\-]+)?\s+by\s)", re.I
)
# USA Today's credit at a story's end: "Contributing: Jane Doe, John Roe; The Associated Press".
_CONTRIBUTING = re.compile(r"^contributing\s*:\s*(?P<names>\S.*)$", re.I)
# Credits that name a story's writers; editors, translators and producers are not.
WRITER_ROLES = frozenset(
    {"reporting", "additional reporting", "writing", "written", "compiled", "text"}
)


def read_byline(line: str) -> tuple[str, ...] | None:
    """The writers a byline line names, or None when the line is not a byline.

    Names in capitals (``BY JANE DOE``) are given in name case (``Jane Doe``); a trailing
    affiliation (``, Reuters``, ``, Al Jazeera``, ``, Staff Writer``) and a known agency glued
    to the last name (``By Jane Doe Reuters``) are left out: the agency is the article's source.
    """
    text = " ".join(line.split())
    if len(text) > MAX_BYLINE_CHARS or not (match := _BY.match(text)):
        return None
    # "By Jane Doe | Reuters", "By Jane Doe · 3 min read": a page's separator ends the names.
    names_part = _SEPARATOR.split(text[match.end() :], maxsplit=1)[0]
    names_part = _without_outlet_tail(_without_date(names_part))
    # "By Jane Doe / John Roe, Staff Writers", "By Jane Doe, Staff Writer / AP": each part
    # between slashes is read as a byline's names are, its own affiliation left out; a part
    # after a slash may be an affiliation alone.
    names: list[str] = []
    for position, segment in enumerate(_SLASH.split(names_part)):
        found = _segment_names(segment)
        if position == 0 and not found:
            return None
        if position and (not found or _is_affiliation(segment.split(",")[0])):
            continue  # "/ AP", "/ Staff Writer, Reuters", "/ The Guardian": where, not who
        names.extend(name for name in found or () if name not in names)
    if not names:
        return None
    return tuple(_name_case(name) if name.isupper() else name for name in names)


def _without_date(text: str) -> str:
    """``Jane Doe on March 4, 2025`` -> ``Jane Doe``: ``text`` without a whole date (one
    dates.parse_date_line reads, year and all) that ends it after two or more words."""
    words = text.split(" ")
    for start in range(2, len(words)):
        key = words[start].lower().rstrip(".,")
        if key not in MONTHS and key not in _WEEKDAYS:
            continue  # a date here opens with its month or weekday; no name holds either
        try:
            parse_date_line(" ".join(words[start:]))
        except DateError:
            continue
        return _BEFORE_DATE.sub("", " ".join(words[:start]))
    return text


def _without_outlet_tail(text: str) -> str:
    """``Jane Doe (Reuters)``, ``Jane Doe - Reuters``, ``Jane Doe for The Guardian`` ->
    ``Jane Doe``; ``text`` as it is when what ends it is not an affiliation."""
    match = _OUTLET_TAIL.search(text)
    if match and _is_affiliation(match.group("bracketed") or match.group("tail")):
        return text[: match.start()]
    return text


def _segment_names(text: str) -> list[str] | None:
    """The names of ``Jane Doe, John Roe, Senior Reporters, NBC News``: its last parts left out
    while they are affiliations (what or where the writers are), or None (see _names)."""
    parts = text.split(",")
    while len(parts) > 1 and _is_affiliation(parts[-1]):
        parts.pop()
    text = ",".join(parts)
    # "By JANE DOE and JOHN ROE Associated Press", "By Jane Doe Reuters": a scraper dropped
    # the separator before the agency; the name it is glued to is the writer's without it.
    return _names(_without_glued_outlet(text)) or _names(text)


def _without_glued_outlet(text: str) -> str:
    """``Jane Doe Reuters`` -> ``Jane Doe``: ``text`` without a known outlet (OUTLETS) that
    ends it, when two or more words stay; else ``text``."""
    words = text.split()
    for count in (3, 2, 1):
        if len(words) - count >= 2 and " ".join(words[-count:]).lower() in OUTLETS:
            if words[-count - 1].endswith("."):
                return text  # "Michael R. Bloomberg": an initial before it, a surname
            return " ".join(words[:-count])
    return text


def opens_byline(text: str) -> bool:
    """Whether ``text`` begins as a byline can ("By ", "By:"): a cheap look before read_byline,
    for every line of every document."""
    return text[:3].lower() in ("by ", "by:", "by\t")


def is_byline(line: str) -> bool:
    """Whether ``line`` is a byline (see read_byline)."""
    return read_byline(line) is not None


def read_credits(paragraph: str) -> tuple[str, ...] | None:
    """The reporters and writers a wire credit line names (not its editors), or None when
    the paragraph is not a credit line: ``Reporting by Jane Doe in Caracas; Editing by John
    Roe``, in brackets or not, or ``Contributing: Jane Doe, John Roe``."""
    # Every paragraph of every document comes here: look at its first character before
    # anything else, and fold its spaces only once it opens like a credit line.
    if paragraph[:1] not in CREDIT_FIRST or len(paragraph) > 4 * MAX_BYLINE_CHARS:
        return None
    if contributing := _CONTRIBUTING.match(paragraph):
        return _contributors(" ".join(contributing.group("names").split()).rstrip("."))
    if not _CREDIT_OPEN.match(paragraph):
        return None
    text = _STANDARDS.sub("", " ".join(paragraph.split()))
    inner = text.strip("()[] .")
    writers: list[str] = []
    for part in _CREDIT_SPLIT.split(inner):
        match = _CREDIT_PART.match(part.strip())
        if not match:
            return None
        names = _credited_names(match.group("names"))
        if names is None:
            return None
        if " ".join(match.group("role").lower().split()) in WRITER_ROLES:
            writers.extend(name for name in names if name not in writers)
    return tuple(writers)


def _contributors(text: str) -> tuple[str, ...] | None:
    """The writers of ``Jane Doe, USA TODAY; John Roe; The Associated Press``, each part read
    as a byline's names are (its affiliation left out), an outlet alone skipped; None when a
    part is neither."""
    writers: list[str] = []
    for part in text.split(";"):
        names = _segment_names(part)
        if names is None:
            if _is_newsroom(part.strip()):
                continue
            return None
        writers.extend(name for name in names if name not in writers)
    return tuple(writers)


def _credited_names(text: str) -> list[str] | None:
    """The people ``Jane Doe in Kyiv, Ukraine, John Roe and the Kyiv newsroom`` names, its
    places and newsrooms left out; None when a part is neither (a sentence, not a credit)."""
    pieces = _AND_KEPT.split(text.strip())
    names: list[str] = []
    after_place = False
    for index in range(0, len(pieces), 2):
        part = pieces[index]
        bare = _PLACE.sub("", part)
        # "in Washington, D.C.", "in Seoul, South Korea": after a place and a comma, a part
        # with no place of its own is the place's region when it is no name or ends the list
        # (two reporters in one place are "Jane Doe and John Roe in Seoul").
        region = after_place and bare == part and pieces[index - 1].strip() == ","
        # ... and is one word, initials or a place's name ("Ukraine", "D.C.", "South Korea"):
        # "in Caracas, John Roe" names a second reporter.
        region = region and _is_region(bare)
        after_place = bare != part
        if region and (index == len(pieces) - 1 or not _is_name(bare)):
            continue
        if _is_name(bare) and bare.lower() not in OUTLETS:
            names.append(bare)
        elif not _is_newsroom(bare):
            return None
    return names


# First words of two-word places after a comma ("in Seoul, South Korea", "in Riyadh, Saudi
# Arabia"): a person's name does not open with them.
_PLACE_FIRST_WORDS = frozenset(
    """north south east west new saudi united hong sri costa puerto san santa sierra papua
    burkina czech dominican central el""".split()  # noqa: SIM905 - a word list reads better as text
)


def _is_region(text: str) -> bool:
    """Whether ``text`` after a place and a comma is its region: ``Ukraine``, ``D.C.``, ``South
    Korea``; not ``John Roe``."""
    words = text.split()
    if len(words) == 1 or re.fullmatch(r"(?:[A-Z]\.)+", text):
        return True
    return words[0].lower() in _PLACE_FIRST_WORDS


def _is_newsroom(text: str) -> bool:
    """``the Caracas newsroom``, ``Reuters TV``, ``Reuters``: a credit for no person."""
    words = text.split()
    if not 1 <= len(words) <= MAX_NEWSROOM_WORDS:
        return False
    if text.lower() in OUTLETS or _is_outlet(words):
        return True
    return any(word.lower() in _NEWSROOM_WORDS for word in words)


def _names(text: str, *, places: bool = True) -> list[str] | None:
    """The names of ``Jane Doe, John Roe and Ann Poe``, or None if any part is not a name."""
    names = []
    for part in _AND.split(text.strip()):
        if places:
            part = _PLACE.sub("", part)
        # "By Al Jazeera", "By Deutsche Welle": shaped like a writer's name, an outlet's.
        if not _is_name(part) or part.lower() in OUTLETS:
            return None
        names.append(part)
    return names


def _is_name(text: str) -> bool:
    words = text.split()
    if len(words) < 2:
        return False
    # Particles do not count toward the limit: "Ana María Pérez de la Cruz" is four names long.
    if sum(word not in _PARTICLES for word in words) > MAX_NAME_WORDS:
        return False
    last = len(words) - 1
    for position, word in enumerate(words):
        if word in _PARTICLES and 0 < position < last:
            continue
        if not (_NAME_WORD.match(word) and word[0].isupper()):
            return False
        lowered = word.lower().strip(".")
        if lowered in _NOT_NAMES and not (lowered in _NAMES_AT_ENDS and position in (0, last)):
            return False
    return True


def _is_affiliation(text: str) -> bool:
    """Where or what the writers are, not who: one capitalised word (``Reuters``), a word that
    says so (``Staff Writer``, ``Daily Mail``), or an outlet (see _is_outlet)."""
    words = text.split()
    if len(words) == 1:
        return bool(_NAME_WORD.match(words[0]) and words[0][0].isupper())
    return _is_outlet(words) or any(
        w.lower() in _AFFILIATION_WORDS for w in re.split(r"[\s\-]+", text.strip())
    )


def _is_outlet(words: list[str]) -> bool:
    """Whether capitalised ``words`` name a news outlet: a known one (OUTLETS), one opening with
    an article (``The Guardian``, ``Le Monde``), or a known one's name first (``Reuters TV``,
    ``Politico Europe``)."""
    if len(words) < 2 or not all(word[:1].isupper() for word in words):
        return False
    lowered = [word.lower() for word in words]
    # "The Guardian": no one's name opens with "the". Other articles are also given names
    # ("Al Roker", "Les Carpenter", "La Toya"): those open an outlet's name only when known.
    if lowered[0] == "the":
        return True
    return any(" ".join(lowered[:count]) in OUTLETS for count in range(1, len(words) + 1))


def _name_case(name: str) -> str:
    """``JANE DOE`` -> ``Jane Doe``, ``MARY O'NEILL-MCDONALD`` -> ``Mary O'Neill-McDonald``."""
    words = []
    for position, word in enumerate(name.split()):
        lowered = word.lower()
        if position and lowered in _PARTICLES:
            words.append(lowered)
            continue
        cased = re.sub(r"(^|[\-'’.])([^\W\d_])", lambda m: m.group(1) + m.group(2).upper(), lowered)
        words.append(re.sub(r"\bMc([a-z])", lambda m: "Mc" + m.group(1).upper(), cased))
    return " ".join(words)
