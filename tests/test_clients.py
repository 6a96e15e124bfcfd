"""The client matrix: feed readers nobody on this project wrote read the feeds a real
``feedsvc serve`` serves, and every entry's title, authors, date and text are the document's.

Corpora: the bundled seed, the document cases (tests/data/documents), a generated corpus and
its hostile variant (``python -m benchmarks.corpus DIR N [--hostile]``: markup, control
characters, bylines, credit lines, datelines in five scripts, named zones, emoticons). Clients:
feedparser (Python), newsboat and sfeed (Debian packages; newsboat's cache is read after
``newsboat -x reload``), and the npm parsers rss-parser and feedsmith (tests/clients, installed
by ``npm ci`` there). A client whose tool is missing is skipped, saying which and how to get it.

What the document says is what feedsvc.document.parse() reads in it (tests/test_document.py
holds the parser to the cases): the headline; the writers a byline or credit line names, else
the agency; the date line's instant; the story as printed, the dateline leading the first
paragraph. A client that keeps one author per item shows the one its model keeps: every reader
gets RSS's single dc:creator naming all writers; sfeed and rss-parser keep the first of Atom's
authors, newsboat joins them with commas.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest

from benchmarks import corpus
from feedsvc.document import Article, DocumentError, ParseOptions, parse

from .conftest import BUNDLED_SEEDS, DATA, start_server, stop_server

# Small enough that the module runs in well under a minute, large enough that every hostile
# shape (and a same-day pair) turns up.
GENERATED_DOCUMENTS = 40
HOSTILE_DOCUMENTS = 60
LIMIT = 200  # FEEDSVC_MAX_LIMIT's default: every entry of these corpora in one feed
CLIENTS_DIR = Path(__file__).resolve().parent / "clients"
FORMATS = {"rss": "rss", "atom": "atom", "json": "json"}


@dataclass(frozen=True)
class Entry:
    """What a client reports for one entry."""

    id: str
    title: str
    authors: tuple[str, ...]
    when: datetime | None
    text: str


@dataclass
class Served:
    """One corpus, indexed and served by ``feedsvc serve``, and its feeds as files."""

    name: str
    url: str
    articles: dict[str, Article]  # by id
    files: dict[str, Path]  # format -> the served feed's bytes on disk


# -- the corpora, each served by a real feedsvc serve ---------------------------------------------


def _documents(folder: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(folder.glob("*.txt")):
        yield path.name, path.read_bytes()


def _expected(folder: Path) -> dict[str, Article]:
    articles = {}
    now = datetime.now(UTC)
    for name, raw in _documents(folder):
        try:
            article = parse(raw, name, ParseOptions())
        except DocumentError:
            continue  # the server skips it too; the store tests cover skipping
        if article.published > now:
            continue  # dated in the future: held until then (tests/test_embargo.py)
        articles[article.id] = article
    return articles


def _make_corpus(name: str, root: Path) -> Path:
    if name == "seed":
        return BUNDLED_SEEDS
    folder = root / name
    if name == "cases":
        folder.mkdir()
        for path in (DATA / "documents").rglob("*.txt"):
            shutil.copy(path, folder)
    else:
        corpus.write(folder, GENERATED_DOCUMENTS if name == "generated" else HOSTILE_DOCUMENTS,
                     hostile=name == "hostile")  # fmt: skip
    return folder


@pytest.fixture(scope="module", params=["seed", "cases", "generated", "hostile"])
def served(request, tmp_path_factory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp(f"clients-{request.param}")
    folder = _make_corpus(request.param, root)
    server = start_server(root, folder, WATCH="false")
    try:
        files = {}
        for fmt in FORMATS:
            with urllib.request.urlopen(f"{server.url}/feed.{fmt}?limit={LIMIT}") as reply:
                files[fmt] = root / f"feed.{fmt}"
                files[fmt].write_bytes(reply.read())
        yield Served(request.param, server.url, _expected(folder), files)
    finally:
        stop_server(server)


# -- what each client reports ---------------------------------------------------------------------


def _text(content_html: str) -> str:
    """An entry's HTML content as the words a reader shows: feedsvc's content is paragraphs of
    escaped text, so dropping the <p> tags and reading the references gives the text."""
    return " ".join(html.unescape(re.sub(r"</?p>", " ", content_html)).split())


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = parsedate_to_datetime(text)
    return moment.astimezone(UTC)


def _tag_id(value: str) -> str:
    return value.rsplit("articles/", 1)[-1]


def read_feedparser(served: Served, fmt: str) -> list[Entry]:
    feed = feedparser.parse(served.files[fmt].read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    return [
        Entry(
            _tag_id(entry.id),
            entry.title,
            tuple(a.get("name", "") for a in entry.get("authors", [])),
            datetime(*entry.published_parsed[:6], tzinfo=UTC),
            _text(entry.content[0].value),
        )
        for entry in feed.entries
    ]


def read_newsboat(served: Served, fmt: str) -> list[Entry]:
    # One cache per format: newsboat keeps one item per guid across all its feeds.
    work = served.files[fmt].parent / f"newsboat-{fmt}"
    work.mkdir(exist_ok=True)
    (work / "urls").write_text(f"{served.url}/feed.{fmt}?limit={LIMIT}\n")
    (work / "config").write_text("")
    cache = work / "cache.db"
    subprocess.run(
        ["newsboat", "-u", str(work / "urls"), "-c", str(cache), "-C", str(work / "config"),
         "-x", "reload"],
        env={"HOME": str(work), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with sqlite3.connect(cache) as db:
        rows = db.execute("SELECT guid, title, author, pubDate, content FROM rss_item").fetchall()
    return [
        Entry(_tag_id(guid), title, (author,) if author else (),
              datetime.fromtimestamp(published, UTC), _text(content))
        for guid, title, author, published, content in rows
    ]  # fmt: skip


def read_sfeed(served: Served, fmt: str) -> list[Entry]:
    done = subprocess.run(
        ["sfeed"], input=served.files[fmt].read_bytes(), capture_output=True, check=True,
        timeout=60,
    )  # fmt: skip
    entries = []
    for line in done.stdout.decode("utf-8").split("\n"):
        if not line:
            continue
        stamp, title, _link, content, _type, guid, author, *_ = line.split("\t")
        # sfeed(1): in the content field, "\t", "\n" and "\\" stand for a tab, a newline, "\".
        content = re.sub(r"\\([tn\\])", lambda m: {"t": "\t", "n": "\n"}.get(m[1], "\\"), content)
        entries.append(
            Entry(_tag_id(guid), title, (author,) if author else (),
                  datetime.fromtimestamp(int(stamp), UTC) if stamp else None, _text(content))
        )  # fmt: skip
    return entries


def _node_reader(script: str) -> Callable[[Served, str], list[Entry]]:
    def read(served: Served, fmt: str) -> list[Entry]:
        done = subprocess.run(
            ["node", str(CLIENTS_DIR / script), str(served.files[fmt])],
            capture_output=True, check=True, timeout=120, cwd=CLIENTS_DIR,
        )  # fmt: skip
        [feed] = json.loads(done.stdout)
        return [
            Entry(_tag_id(item["id"]), item["title"], tuple(item["authors"]),
                  _instant(item["date"]), _text(item["html"] or ""))
            for item in feed["items"]
        ]  # fmt: skip

    return read


@dataclass(frozen=True)
class Client:
    name: str
    read: Callable[[Served, str], list[Entry]]
    formats: tuple[str, ...]
    missing: Callable[[], str | None]  # why it cannot run here, or None
    # How the client reports Atom's several authors: "all", "first", or "joined" (", ").
    atom_authors: str = "all"


def _command(name: str, package: str) -> Callable[[], str | None]:
    def missing() -> str | None:
        if shutil.which(name) is None:
            return f"{name} is not installed (Debian: apt-get install {package})"
        return None

    return missing


def _npm(package: str) -> Callable[[], str | None]:
    def missing() -> str | None:
        if shutil.which("node") is None:
            return "node is not installed (Debian: apt-get install nodejs npm)"
        if not (CLIENTS_DIR / "node_modules" / package / "package.json").is_file():
            return f"the npm package {package} is not installed (run: npm ci in tests/clients)"
        return None

    return missing


CLIENTS = [
    Client("feedparser", read_feedparser, ("rss", "atom"), lambda: None),
    Client("newsboat", read_newsboat, ("rss", "atom"), _command("newsboat", "newsboat"),
           atom_authors="joined"),
    Client("sfeed", read_sfeed, ("rss", "atom"), _command("sfeed", "sfeed"),
           atom_authors="first"),
    Client("rss-parser", _node_reader("rss-parser.mjs"), ("rss", "atom"), _npm("rss-parser"),
           atom_authors="first"),
    Client("feedsmith", _node_reader("feedsmith.mjs"), ("rss", "atom", "json"),
           _npm("feedsmith")),
]  # fmt: skip


# -- what the document says -----------------------------------------------------------------------


def expected_authors(article: Article, client: Client, fmt: str) -> tuple[str, ...]:
    writers = article.authors or ((article.agency,) if article.agency else ())
    if not writers:
        return ()
    if fmt == "rss":  # one dc:creator, naming every writer as the byline does
        return (article.byline or writers[0],)
    model = client.atom_authors if fmt == "atom" else "all"
    if model == "first":
        return writers[:1]
    if model == "joined":
        return (", ".join(writers),)
    return writers


def expected_entry(article: Article, client: Client, fmt: str) -> Entry:
    return Entry(
        article.id,
        article.headline,
        expected_authors(article, client, fmt),
        article.published.astimezone(UTC),
        " ".join(" ".join(article.story).split()),
    )


@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.name)
def test_every_entry_reads_as_the_document_says(served: Served, client: Client) -> None:
    if reason := client.missing():
        pytest.skip(f"{client.name}: {reason}")
    problems = []
    for fmt in client.formats:
        reported = {entry.id: entry for entry in client.read(served, fmt)}
        assert set(reported) == set(served.articles), f"{client.name} {fmt}: entries differ"
        for article_id, article in served.articles.items():
            expected = expected_entry(article, client, fmt)
            got = reported[article_id]
            for field in ("title", "authors", "when", "text"):
                if getattr(got, field) != getattr(expected, field):
                    problems.append(
                        f"{fmt} {article.file_name} {field}: {getattr(got, field)!r:.300} "
                        f"!= {getattr(expected, field)!r:.300}"
                    )
    assert not problems, f"{client.name} on {served.name}:\n" + "\n".join(problems[:20])


def test_the_corpora_hold_what_the_matrix_is_for(served: Served) -> None:
    """The matrix shows something only if the corpora carry the shapes: check they do."""
    articles = list(served.articles.values())
    if served.name in ("cases", "hostile"):
        assert any(len(a.authors) > 1 for a in articles)  # several writers
        assert any(not a.authors and a.agency for a in articles)  # the agency as author
        assert any(a.zone_label for a in articles)
        assert any(re.search(r"[<&]", a.headline) for a in articles) or served.name == "cases"
    if served.name == "hostile":
        assert any(not a.city.isascii() for a in articles if a.city)  # another script
        assert any(re.search(r"</?[a-z]+>", a.headline) for a in articles)
