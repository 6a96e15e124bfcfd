"""`feedsvc build OUT`: the same bytes as the service, every URL, incremental and atomic."""

from __future__ import annotations

import contextlib
import errno
import functools
import gzip
import html.parser
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import brotli
import pytest
from click.testing import CliRunner

from benchmarks import corpus
from feedsvc import assets, build, config, indexfile, inventory, staticconf
from feedsvc.build import Builder, BuildError, _check_unique_files
from feedsvc.cli import main
from feedsvc.outtree import Entry, OutTree
from feedsvc.staticconf import UnmappableURL, file_path
from feedsvc.store import SCHEMA_VERSION

from .conftest import SITE_URL, hex_id, indexed_app, start_server, stop_server, write_document
from .test_e2e import raw_get

FEED_SIZE = "10"  # small pages, so a small corpus has archives and paged listings


def build_env(tmp_path: Path, seeds: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(
        FEEDSVC_SEEDS_DIR=str(seeds),
        FEEDSVC_INDEX_PATH=str(tmp_path / "live-index" / "index.sqlite3"),
        FEEDSVC_SITE_URL=SITE_URL,
        FEEDSVC_FEED_SIZE=FEED_SIZE,
    )
    env.update({f"FEEDSVC_{k}": v for k, v in settings.items()})
    return env


def run_build(tmp_path: Path, seeds: Path, out: Path, *args: str, **settings: str) -> str:
    finished = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", str(out), *args],
        env=build_env(tmp_path, seeds, **settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


def builder(tmp_path: Path, seeds: Path, out: Path, **settings: str) -> Builder:
    values = {
        "SEEDS_DIR": str(seeds),
        "INDEX_PATH": str(tmp_path / "live-index" / "index.sqlite3"),
        "SITE_URL": SITE_URL,
        "FEED_SIZE": FEED_SIZE,
        **settings,
    }
    made = Builder(config.load(values), out, jobs=1)
    made.svc.store.refresh()
    return made


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """40 generated documents: several agencies and cities, archive pages, paged listings."""
    folder = tmp_path / "many"
    corpus.write(folder, 40, seed=3)
    return folder


def tree_state(out: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under OUT: (bytes, modification time in ns, inode)."""
    found = {}
    for path in sorted(out.rglob("*")):
        if path.is_file():
            info = path.stat()
            found[str(path.relative_to(out))] = (path.read_bytes(), info.st_mtime_ns, info.st_ino)
    return found


# -- the URL list ------------------------------------------------------------------------------


def test_a_build_on_an_index_of_an_earlier_parser_builds_the_index_again_first(
    tmp_path: Path, seeds: Path
) -> None:
    """A build reads documents as this version's parser does (document.PARSER_VERSION): an
    index an earlier one made is built again before anything is rendered (a review found the
    build rebuilding it under its own reads, then failing with "unable to open database")."""
    out = tmp_path / "site"
    run_build(tmp_path, seeds, out)
    with contextlib.closing(sqlite3.connect(tmp_path / "live-index" / "index.sqlite3")) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'parser'")
        db.execute("UPDATE articles SET headline = 'As Read Before'")
        db.commit()
    run_build(tmp_path, seeds, out)
    feed = (out / "feed.atom").read_text(encoding="utf-8")
    assert "As Read Before" not in feed and "U.S. officials travel to Venezuela" in feed


def test_a_build_that_changes_the_server_configuration_says_to_reload_nginx(
    tmp_path: Path, seeds: Path
) -> None:
    """nginx reads the generated configuration when reloaded: a new article's short address,
    a renamed one's old addresses need it. A fresh-user trial's plain build said nothing."""
    out = tmp_path / "site"
    reload = f"The server configuration in {tmp_path / 'site.feedsvc' / 'nginx'} changed"
    assert reload in run_build(tmp_path, seeds, out)
    assert reload not in run_build(tmp_path, seeds, out)  # nothing changed
    write_document(seeds, 2, hex_id(2), date="1 Jan 2026", headline="A second story")
    assert reload in run_build(tmp_path, seeds, out)


def test_every_get_route_declares_how_its_urls_are_listed(tmp_path: Path, seeds: Path) -> None:
    app = indexed_app(tmp_path, seeds)
    assert inventory.undeclared_rules(app) == []
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    declared = {*inventory.ENUMERATORS, *inventory.PATTERN_REDIRECTS, *inventory.EXCLUDED}
    assert declared - rules == set(), "declarations for routes that no longer exist"


def test_a_new_route_without_a_declaration_stops_the_build(tmp_path: Path, seeds: Path) -> None:
    app = indexed_app(tmp_path, seeds)
    app.add_url_rule("/brand-new", "brand_new", lambda: "new")
    with pytest.raises(inventory.UndeclaredRoute, match="/brand-new"):
        inventory.check_routes(app)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/", "index.html"),
        ("/feed.atom", "feed.atom"),
        ("/archives/3/feed.json", "archives/3/feed.json"),
        ("/sources/reuters", "sources/reuters.html"),
        ("/sources/reuters/feed.rss", "sources/reuters/feed.rss"),
        ("/articles/5e300edb8a850530/a-b", "articles/5e300edb8a850530/a-b.html"),
        ("/?page=2", "index/page/2.html"),
        ("/places/sao-paulo?page=12", "places/sao-paulo/page/12.html"),
        ("/sitemaps/2.xml", "sitemaps/2.xml"),
    ],
)
def test_url_to_file(url: str, path: str) -> None:
    assert file_path(url) == path


@pytest.mark.parametrize(
    "url", ["/search?q=oil", "/a/../b", "/?page=x", "//x", "/?page=1&a=2", "/?page=02", "/?page=0"]
)
def test_urls_without_a_file_are_refused(url: str) -> None:
    with pytest.raises(UnmappableURL):
        file_path(url)


# -- the same bytes as the service ---------------------------------------------------------------


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "href" and value and value.startswith(SITE_URL):
                self.found.add(value[len(SITE_URL) :] or "/")


def test_build_writes_what_serve_answers_for_every_url(tmp_path: Path, many: Path) -> None:
    # A static host cannot search: the build is what the service renders without search.
    server = start_server(tmp_path, many, FEED_SIZE=FEED_SIZE, SEARCH="false")
    try:
        out = tmp_path / "out"
        run_build(tmp_path, many, out)
        made = Builder(config.load(_settings(tmp_path, many)), out)
        entries = made.tree.entries()
        made.close()
        assert len(entries) > 250
        for url, entry in entries.items():
            served = raw_get(server, url)
            assert served.status == entry.status, url
            if entry.file is None:
                assert served.getheader("Location") == dict(entry.headers)["Location"]
                continue
            body = (out / entry.file).read_bytes()
            assert served.body == body, url  # type: ignore[attr-defined]
            assert served.getheader("Content-Type") == dict(entry.headers)["Content-Type"], url
            if "gz" in entry.encodings:
                zipped = raw_get(server, url, **{"Accept-Encoding": "gzip"})
                assert zipped.body == (out / f"{entry.file}.gz").read_bytes(), url  # type: ignore[attr-defined]
            if "br" in entry.encodings:
                assert brotli.decompress((out / f"{entry.file}.br").read_bytes()) == body
        # Every same-site link on every page and in every feed leads to a built URL: no search
        # box or link leads a reader to a 404.
        linked: set[str] = set()
        for entry in entries.values():
            if entry.file and entry.file.endswith((".html", ".atom", ".opml")):
                text = (out / entry.file).read_text()
                assert 'role="search"' not in text, entry.file
                parser = _Links()
                parser.feed(text)
                linked |= parser.found
        assert linked - set(entries) == set()
        assert raw_get(server, "/search?q=oil").status == 404
        assert {"/?page=2", "/sources/reuters/feed.json"} <= set(entries)
        archives = [url for url in entries if "/archives/" in url]
        assert any(url.startswith("/sources/reuters/archives/") for url in archives)
        assert any(url.startswith("/archives/") and url.endswith(".atom.html") for url in archives)
    finally:
        stop_server(server)


def _settings(tmp_path: Path, seeds: Path) -> dict[str, str]:
    return {
        k.removeprefix("FEEDSVC_"): v
        for k, v in build_env(tmp_path, seeds).items()
        if k.startswith("FEEDSVC_")
    }


def test_compressed_copies_decompress_to_the_file(tmp_path: Path, many: Path) -> None:
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    gz = sorted(out.rglob("*.gz"))
    br = sorted(out.rglob("*.br"))
    assert len(gz) > 100 and len(br) > 50
    for path in gz:
        assert gzip.decompress(path.read_bytes()) == path.with_suffix("").read_bytes()
    for path in br:
        original = path.with_suffix("").read_bytes()
        assert brotli.decompress(path.read_bytes()) == original
        assert path.stat().st_size < path.with_suffix(".gz").stat().st_size  # only where it pays
        assert path.stat().st_mtime == path.with_suffix("").stat().st_mtime
    made.close()


# -- incremental ---------------------------------------------------------------------------------


def _full_build(tmp_path: Path, seeds: Path, name: str) -> dict[str, bytes]:
    """A build from scratch into a new folder, from the same index."""
    out = tmp_path / name
    made = builder(tmp_path, seeds, out)
    made.build()
    made.close()
    return {name: data for name, (data, _, _) in tree_state(out).items()}


@pytest.mark.parametrize("change", ["edit", "add", "backfill", "delete", "new agency"])
def test_a_rebuild_writes_exactly_the_files_whose_bytes_changed(
    tmp_path: Path, many: Path, change: str
) -> None:
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    before = tree_state(out)
    time.sleep(1.1)  # so a rewritten file could not keep its modification time by chance
    files = sorted(many.glob("*.txt"))
    if change == "edit":
        path = files[20]
        path.write_text(path.read_text().replace("\n\n", "\n\nAn added sentence.\n\n", 1))
    elif change == "add":
        write_document(many, 999, hex_id(999), date="1 Jan 2026", headline="Newest story")
    elif change == "backfill":
        write_document(many, 998, hex_id(998), date="3 Mar 2019", headline="An old story")
    elif change == "delete":
        files[7].unlink()
    else:
        write_document(many, 997, hex_id(997), date="2 Jan 2026", dateline="OSLO (NTB) -")
    made.svc.store.refresh()
    report = made.build()
    made.close()
    after = tree_state(out)
    # The same tree as a build from scratch of the changed index ...
    fresh = _full_build(tmp_path, many, "fresh")
    assert {name: data for name, (data, _, _) in after.items()} == fresh
    # ... reached by writing exactly the files whose bytes changed, and removing the gone ones.
    differs = {n for n in after if n not in before or before[n][0] != after[n][0]}
    assert set(report.written) & set(after) == differs
    assert set(report.removed) == set(before) - set(after)
    for name in set(after) - differs:
        assert after[name][1:] == before[name][1:], f"{name} was rewritten with the same bytes"
    for name in differs & set(before):
        assert after[name][1] > before[name][1], f"{name} changed but kept its time"
    assert differs, "the change changed nothing"


@pytest.mark.parametrize("change", ["add", "delete"])
def test_a_watching_build_writes_the_listing_pages_a_change_shifted_after_the_rest(
    tmp_path: Path, many: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new or deleted article shifts every page of each listing it is in (2,500 pages at
    100,000 articles): a watching build writes everything else at once (the feeds, the pages,
    the first and last page of each listing) and those between after, a batch at a time."""
    monkeypatch.setattr(build, "DEFERRED_BATCH_URLS", 1)  # a small site has few such pages
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    before = tree_state(out)
    if change == "add":
        write_document(many, 999, hex_id(999), date="1 Jan 2026", headline="Newest story")
    else:
        sorted(many.glob("*.txt"))[7].unlink()
    made.svc.store.refresh()
    first = made.build(defer=True)
    at_once = {name: data for name, (data, _, _) in tree_state(out).items()}
    fresh = _full_build(tmp_path, many, "fresh")
    behind = {name for name in fresh if at_once.get(name) != fresh[name]}
    # Behind: only pages between the first and the last of a listing, still as they were, and
    # the configuration (Netlify's files here; nginx's beside OUT), written after them.
    assert "index/page/2.html" in behind
    assert set(staticconf.HOST_FILES) <= behind
    for name in behind - set(staticconf.HOST_FILES):
        assert "/page/" in name and at_once[name] == before[name][0], name
        assert not any(name.startswith(f"{last}.html") for last in _last_pages(fresh)), name
    assert set(at_once) == set(fresh)
    pages = {name.split(".html")[0] for name in behind - set(staticconf.HOST_FILES)}
    assert first.deferred == made.deferred == len(pages) + 1
    batches = []
    while made.deferred:
        batches.append(made.write_deferred(most=1))
    assert len(batches) == first.deferred >= 2 and all(batch.written for batch in batches)
    assert {name: data for name, (data, _, _) in tree_state(out).items()} == fresh
    # A second change before the first one's pages are all written: each page ends as the
    # index has it, those the second change shifted again and those it left alone.
    write_document(many, 990, hex_id(990), date="1 Jan 2026", headline="An older story")
    made.svc.store.refresh()
    made.build(defer=True)
    made.write_deferred(most=1)
    write_document(many, 991, hex_id(991), date="2 Jan 2026", headline="Newer still")
    made.svc.store.refresh()
    made.build(defer=True)
    while made.deferred:
        made.write_deferred(most=1)
    made.close()
    again = {name: data for name, (data, _, _) in tree_state(out).items()}
    assert again == _full_build(tmp_path, many, "fresh-again")


def test_a_watching_build_that_failed_lists_everything_next_and_puts_off_nothing_stale(
    tmp_path: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build that raises half-way (a full disk, a render process killed) commits nothing: the
    pages it meant to put off must not be written later as of the change it did not finish. A
    reviewer's sequence: that build fails, the watch writes what was put off, the change is
    undone; three listing pages showed the undone article for good."""
    monkeypatch.setattr(build, "DEFERRED_BATCH_URLS", 1)
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    added = write_document(many, 999, hex_id(999), date="1 Jan 2026", headline="Newest story")
    made.svc.store.refresh()
    _build_on_a_full_disk(made, monkeypatch)
    assert made.deferred == 0
    added.unlink()
    made.svc.store.refresh()
    report = made.build(defer=True)
    while made.deferred:
        made.write_deferred()
    made.close()
    assert report.inventory == "listed every URL: the last build did not finish"
    built = {name: data for name, (data, _, _) in tree_state(out).items()}
    assert built == _full_build(tmp_path, many, "fresh")


def test_the_configuration_put_off_is_written_after_a_build_that_failed(
    tmp_path: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A review: after a failed build the watch's writes of what was put off did nothing, and
    # said so 20 times a second, while the configuration stayed owed.
    out = tmp_path / "out"
    made, _ = _new_story_put_off(tmp_path, many, out, monkeypatch)
    sorted(many.glob("*.txt"))[3].unlink()
    made.svc.store.refresh()
    _build_on_a_full_disk(made, monkeypatch)
    assert made.deferred == 1  # the configuration, owed since the first change
    report = made.write_deferred()
    assert made.deferred == 0 and report.config_changed
    made.close()
    assert "out.feedsvc/nginx/permalinks.map" in [
        Path(name).as_posix().removeprefix("../") for name in report.written
    ]


def _build_on_a_full_disk(made: Builder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A watching build of ``made`` that fails as a full disk fails it (each render raises)."""

    def full_disk(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(build, "render", full_disk)
        with pytest.raises(OSError):
            made.build(defer=True)


def _new_story_put_off(
    tmp_path: Path, folder: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Builder, build.BuildReport]:
    """A watching build of ``folder`` into ``out`` after a new newest story (id 999), with
    every shifted page put off (DEFERRED_BATCH_URLS 1): the builder and that build's report."""
    monkeypatch.setattr(build, "DEFERRED_BATCH_URLS", 1)
    made = builder(tmp_path, folder, out)
    made.build()
    write_document(folder, 999, hex_id(999), date="1 Jan 2026", headline="Newest story")
    made.svc.store.refresh()
    return made, made.build(defer=True)


def test_what_a_stopped_watch_put_off_is_written_by_the_next_build(
    tmp_path: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped with shifted pages and the configuration still to write, OUT is finished by the
    next `feedsvc build`: the manifest says the configuration waits (the pages' entries say
    their old inputs)."""
    out = tmp_path / "out"
    made, _ = _new_story_put_off(tmp_path, many, out, monkeypatch)
    permalinks = out.with_name("out.feedsvc") / "nginx" / "permalinks.map"
    assert made.deferred > 1 and hex_id(999) not in permalinks.read_text()
    made.close()  # as Ctrl-C ends a watch
    again = builder(tmp_path, many, out)
    report = again.build()
    again.close()
    assert set(staticconf.HOST_FILES) <= set(report.written)
    assert hex_id(999) in permalinks.read_text()
    built = {name: data for name, (data, _, _) in tree_state(out).items()}
    assert built == _full_build(tmp_path, many, "fresh")


def test_changes_that_keep_coming_do_not_put_pages_off_for_ever(
    tmp_path: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With changes faster than the pages they shift can be written, every build would put
    them off again: the first build DEFERRED_MAX_SECONDS after writes them all."""
    out = tmp_path / "out"
    made, first = _new_story_put_off(tmp_path, many, out, monkeypatch)
    assert first.deferred > 1
    monkeypatch.setattr(build, "DEFERRED_MAX_SECONDS", 0.0)
    write_document(many, 998, hex_id(998), date="2 Jan 2026", headline="Newer story")
    made.svc.store.refresh()
    report = made.build(defer=True)
    assert report.deferred == made.deferred == 0
    made.close()
    built = {name: data for name, (data, _, _) in tree_state(out).items()}
    assert built == _full_build(tmp_path, many, "fresh")


def _last_pages(files: dict[str, bytes]) -> set[str]:
    """The last page of each paged listing among ``files`` (``index/page/4``)."""
    pages: dict[str, int] = {}
    for name in files:
        folder, marker, number = name.partition("/page/")
        if marker and number.endswith(".html"):
            pages[folder] = max(pages.get(folder, 0), int(number.removesuffix(".html")))
    return {f"{folder}/page/{number}" for folder, number in pages.items()}


def test_a_file_rewritten_within_its_second_is_never_dated_after_it_appears(
    tmp_path: Path, seeds: Path
) -> None:
    # Two edits of the same size within a second (build --watch): the second one's files are
    # dated a second on, so that nginx's ETag (time and size) changes, and must not be in OUT
    # before that second, where nginx would send a Last-Modified later than its Date.
    path = write_document(seeds, 5, hex_id(5), date="2 Jan 2025", headline="Story A")
    out = tmp_path / "out"
    made = builder(tmp_path, seeds, out)
    for before, after in (("Story A", "Story B"), ("Story B", "Story C")):
        made.build()
        path.write_text(path.read_text().replace(before, after))
        made.svc.store.refresh()
    report = made.build()
    done = time.time()
    made.close()
    assert report.written and b"Story C" in (out / "feed.atom").read_bytes()
    for name in report.written:
        assert (out / name).stat().st_mtime <= done, name


@pytest.mark.parametrize("kept_builder", [False, True], ids=["new build", "watching build"])
def test_a_same_size_rewrite_within_a_second_changes_what_nginx_validates_by(
    tmp_path: Path, seeds: Path, kept_builder: bool
) -> None:
    """nginx's ETag is a file's modification time and size, its Last-Modified the time (RFC
    9110 8.8: validators change with the bytes). Two edits of the same size within one second
    (Story B, then Story C; ``build`` run twice, or ``build --watch``) rewrite files of the same
    size, dated by the same content time: they must be dated a second on, or a reader
    revalidating gets 304 and keeps Story B for good."""
    path = write_document(seeds, 5, hex_id(5), date="2 Jan 2025", headline="Story A")
    second = int(time.time()) - 60  # whole seconds a minute ago: settled times (lastmod.py)

    def date(target: Path, seconds: int, nanoseconds: int = 0) -> None:
        ns = seconds * 1_000_000_000 + nanoseconds
        os.utime(target, ns=(ns, ns))

    date(path, second - 10)
    date(seeds, second - 10)
    out = tmp_path / "out"
    made = builder(tmp_path, seeds, out)
    states = []
    try:
        made.build()
        # Within ``second``: B at .1 s, C at .6 s (the index tells them by the time in ns).
        for before, after, nanoseconds in (("Story A", "Story B", 100_000_000),
                                           ("Story B", "Story C", 600_000_000)):  # fmt: skip
            path.write_text(path.read_text().replace(before, after))
            date(path, second, nanoseconds)
            if kept_builder:
                made.svc.store.refresh()
            else:
                made.close()
                made = builder(tmp_path, seeds, out)
            report = made.build()
            assert report.written
            # What nginx serves: the files under OUT (not the configuration beside it).
            served = [name for name in report.written if not name.startswith("../")]
            states.append({name: (int((out / name).stat().st_mtime), (out / name).stat().st_size)
                           for name in served})  # fmt: skip
    finally:
        made.close()
    assert b"Story C" in (out / "feed.atom").read_bytes()
    with_b, with_c = states
    rewritten = set(with_b) & set(with_c)
    assert "feed.atom" in rewritten
    for name in rewritten:
        assert with_c[name] != with_b[name], name  # nginx's ETag: "<mtime hex>-<size hex>"
        assert with_c[name][0] <= time.time(), name  # never dated after it appears


@pytest.mark.parametrize("kept_builder", [False, True], ids=["new build", "watching build"])
def test_a_rebuild_puts_back_what_was_removed_or_changed_in_out(
    tmp_path: Path, many: Path, kept_builder: bool
) -> None:
    # `rm -rf public` to start clean, a file deleted or edited by hand: the next build writes
    # them again, as a build from scratch. A watching build trusts what it wrote (a stat() of
    # every file per change would cost more than the change) but sees OUT removed.
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    fresh = _full_build(tmp_path, many, "fresh")
    damages = [
        lambda: (out / "feed.atom").unlink(),
        lambda: (out / "feed.rss").write_bytes(b"garbage"),
        lambda: next(out.rglob("*.html.gz")).unlink(),
        lambda: shutil.rmtree(out),
    ]
    if kept_builder:
        damages = damages[-1:]
    try:
        for damage in damages:
            damage()
            if not kept_builder:
                made.close()
                made = builder(tmp_path, many, out)
            report = made.build()
            assert report.written, "nothing written"
            assert {name: data for name, (data, _, _) in tree_state(out).items()} == fresh
    finally:
        made.close()


def test_a_rebuild_after_a_removal_links_the_archive_page_the_service_links(
    tmp_path: Path, seeds: Path
) -> None:
    """A removal that makes a month split into days one page again moves the page the
    subscription feed names prev-archive (the one before the page still filling): the rebuild
    writes the feed again, as the service sends it, not a link to a day page gone from OUT."""
    (seeds / "000_5e300edb8a850530.txt").unlink()
    for number, day in enumerate([1, 2, 3, 4], start=1):  # 4 > 3: November goes by day
        write_document(seeds, number, hex_id(number), date=f"{day} Nov 2025",
                       headline=f"Nov {day}")  # fmt: skip
    write_document(seeds, 9, hex_id(9), date="1 Dec 2025", headline="Dec 1")
    out = tmp_path / "out"
    made = builder(tmp_path, seeds, out, FEED_SIZE="3")
    try:
        made.build()
        assert "/archives/2025-11-04/feed.atom" in (out / "feed.atom").read_text()
        (seeds / f"001_{hex_id(1)}.txt").unlink()  # November holds 3: one page again
        made.svc.store.refresh()
        made.build()
        served = made.app.test_client().get("/feed.atom").get_data(as_text=True)
        assert "/archives/2025-11/feed.atom" in served
        assert (out / "feed.atom").read_text() == served
        assert (out / "archives/2025-11/feed.atom").exists()
    finally:
        made.close()


def test_a_rebuild_after_a_release_that_changed_the_stylesheet_keeps_it(
    tmp_path: Path, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade whose stylesheet changed: /static/site.css?v=<new> takes static/site.css over
    from ?v=<old>, which is gone. The file is written anew, not removed with the old URL (an
    upgrade trial's site was left without its stylesheet, and a watching build never put it
    back)."""
    out = tmp_path / "out"
    made = builder(tmp_path, seeds, out)
    made.build()
    made.close()
    release = tmp_path / "static"
    shutil.copytree(assets.FOLDER, release)
    stylesheet = (release / "site.css").read_bytes() + b"\n/* the next release */\n"
    (release / "site.css").write_bytes(stylesheet)
    monkeypatch.setattr(assets, "Assets", functools.partial(assets.Assets, release))
    # A release's code differs too (renderer_stamp digests the package): every page again.
    monkeypatch.setattr(build, "renderer_stamp", lambda settings: "the next release")
    made = builder(tmp_path, seeds, out)
    try:
        report = made.build()
        assert "static/site.css" not in report.removed
        assert (out / "static/site.css").read_bytes() == stylesheet
        assert gzip.decompress((out / "static/site.css.gz").read_bytes()) == stylesheet
        page = (out / "index.html").read_text()
        assert f"/static/site.css?v={assets.Assets().get('site.css').version}" in page
        assert made.build().written == []  # and it stays
    finally:
        made.close()


def test_a_rebuild_with_nothing_changed_renders_nothing(tmp_path: Path, many: Path) -> None:
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    first = made.build()
    second = made.build()
    assert first.rendered == first.urls > 250
    assert second.rendered == 0 and not second.changed
    made.close()


def test_a_removed_channel_takes_its_files_along(tmp_path: Path, seeds: Path) -> None:
    write_document(seeds, 5, hex_id(5), date="2 Jan 2025", dateline="OSLO (NTB) -")
    out = tmp_path / "out"
    made = builder(tmp_path, seeds, out)
    made.build()
    assert (out / "sources" / "ntb" / "feed.atom").exists()
    assert (out / "places" / "oslo.html").exists()
    next(seeds.glob(f"*{hex_id(5)}.txt")).unlink()
    made.svc.store.refresh()
    made.build()
    assert not (out / "sources" / "ntb").exists()
    assert not (out / "places" / "oslo.html").exists()
    assert not (out / "articles" / hex_id(5)).exists()
    made.close()


# -- atomic ---------------------------------------------------------------------------------------


def test_a_build_killed_half_way_leaves_the_previous_output_whole(
    tmp_path: Path, many: Path
) -> None:
    out = tmp_path / "out"
    run_build(tmp_path, many, out)
    before = tree_state(out)
    # A new title changes every page: a long build, killed while it renders.
    process = subprocess.Popen(
        [sys.executable, "-m", "feedsvc", "build", str(out), "--jobs", "1"],
        env=build_env(tmp_path, many, TITLE="Another title"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    staging = _wait_while_rendering(tmp_path, process, 60)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert tree_state(out) == before
    # The next build finishes the job, from the staged files' absence up.
    run_build(tmp_path, many, out, TITLE="Another title")
    assert tree_state(out) != before
    assert "Another title" in (out / "index.html").read_text()
    assert os.listdir(staging) == []


@pytest.mark.parametrize(
    ("signum", "to_group", "in_the_background"),
    [(signal.SIGINT, True, False), (signal.SIGINT, True, True), (signal.SIGTERM, True, False),
     (signal.SIGTERM, False, False)],
    ids=["ctrl-c", "ctrl-c-to-a-background-job", "sigterm-to-the-group", "sigterm-to-the-command"],
)  # fmt: skip
def test_a_build_stopped_half_way_says_what_out_holds_and_leaves_no_process(
    tmp_path: Path, many: Path, signum: int, to_group: bool, in_the_background: bool
) -> None:
    # Ctrl-C (SIGINT to the group), a service manager's stop (SIGTERM to the group) or `kill`:
    # one line that says what OUT holds, not click's bare "Aborted!" or a silent status 143;
    # the previous output whole, and no render process left behind. A script's `feedsvc build
    # &` starts it with SIGINT ignored (POSIX shells do that for background jobs); it stops all
    # the same, as `serve` does.
    out = tmp_path / "out"
    run_build(tmp_path, many, out)
    before = tree_state(out)
    process = subprocess.Popen(
        [sys.executable, "-m", "feedsvc", "build", str(out), "--jobs", "2"],
        env=build_env(tmp_path, many, TITLE="Another title"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if in_the_background
        else None,
    )
    try:
        staging = _wait_while_rendering(tmp_path, process, 60)
        assert process.poll() is None, "finished before the signal"
        (os.killpg if to_group else os.kill)(process.pid, signum)
        _, err = process.communicate(timeout=30)
        time.sleep(0.2)
        left = subprocess.run(["ps", "-o", "stat=", "-s", str(process.pid)],
                              capture_output=True, text=True).stdout.split()  # fmt: skip
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the session this test started
    assert process.returncode == 1, err
    said = err.splitlines()
    assert said[-1] == f"Stopped before the build was done; {out} is as the last build left it"
    assert "Traceback" not in err and "Aborted" not in err, err
    assert [state for state in left if not state.startswith("Z")] == [], "processes outlived it"
    assert tree_state(out) == before
    assert _count(staging) == 0, "what it had staged is left on the disk"


def test_a_first_build_stopped_half_way_says_out_holds_none_and_leaves_nothing_staged(
    tmp_path: Path, many: Path
) -> None:
    # A trial: "is as the last build left it" when there was none, and 94 MB left staged.
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "feedsvc", "build", str(out), "--jobs", "1"],
        env=build_env(tmp_path, many), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        staging = _wait_while_rendering(tmp_path, process, 60)
        assert process.poll() is None, "finished before the signal"
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 1, err
    assert (
        err.splitlines()[-1] == f"Stopped before the first build of {out} was done; it holds none"
    )
    assert _count(staging) == 0 and tree_state(out) == {}


def test_a_build_leaves_the_record_of_a_clean_stop_for_the_next_serve(
    tmp_path: Path, many: Path
) -> None:
    # `feedsvc build` writes the index as `feedsvc index` does: without the record, the next
    # `feedsvc serve` checked the whole index before serving (25 s at a million documents).
    run_build(tmp_path, many, tmp_path / "out")
    index = tmp_path / "live-index" / "index.sqlite3"
    assert index.with_name("index.sqlite3.clean").exists()
    # And one the next start trusts: no connection wrote the index after it was made.
    assert indexfile.take_clean_stop(indexfile.IndexFiles(index), SCHEMA_VERSION) == indexfile.CLEAN


# How long workers may outlive a killed build: the watch in build.py looks every fraction of a
# second; generous, for a loaded machine.
ORPHAN_EXIT_SECONDS = 10


def test_workers_of_a_killed_build_end_quietly(tmp_path: Path) -> None:
    # kill -9 of the build alone (an OOM killer, a container stop): its pool's workers, left
    # behind, stop within a bound and print nothing (no BrokenPipe traceback per worker).
    seeds = tmp_path / "seeds"
    corpus.write(seeds, 300, seed=7)
    out = tmp_path / "out"
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedsvc", "build", str(out), "--jobs", "2"],
            env=build_env(tmp_path, seeds),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        _wait_while_rendering(tmp_path, process, 120)
        workers = _children(process.pid)
        assert len(workers) == 2, "the build renders in two worker processes"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + ORPHAN_EXIT_SECONDS
        while any(_running(pid) for pid in workers):
            assert time.monotonic() < deadline, "workers outlived their build"
            time.sleep(0.05)
        text = errors.read_text(errors="replace")
        assert "Traceback" not in text and "Error" not in text, text
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the session this test started


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is still running (a zombie, left for its new parent to reap, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_while_rendering(tmp_path: Path, process: subprocess.Popen, seconds: float) -> Path:
    """Wait until the build ``process`` (OUT at ``tmp_path / "out"``) has staged 40 files, or
    ended; its staging folder."""
    staging = tmp_path / "out.feedsvc" / "staging"
    deadline = time.monotonic() + seconds
    while _count(staging) < 40 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return staging


def _count(folder: Path) -> int:
    try:
        return len(os.listdir(folder))
    except FileNotFoundError:  # between a build's clean-up and its first staged file
        return 0


def test_no_reader_sees_a_partial_file(tmp_path: Path, many: Path) -> None:
    """Every file is renamed into place: at every moment it is the old bytes or the new."""
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    old = (out / "feed.atom").read_bytes()
    made.close()
    write_document(many, 999, hex_id(999), date="1 Jan 2026", headline="Newest story")
    process = subprocess.Popen(
        [sys.executable, "-m", "feedsvc", "build", str(out)],
        env=build_env(tmp_path, many),
        stdout=subprocess.DEVNULL,
    )
    seen = set()
    while process.poll() is None:
        seen.add((out / "feed.atom").read_bytes())
    assert process.returncode == 0
    new = (out / "feed.atom").read_bytes()
    assert new != old and seen <= {old, new}


def test_build_refuses_an_unusable_folder(tmp_path: Path, seeds: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    finished = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", str(tmp_path / "file")],
        env=build_env(tmp_path, seeds),
        capture_output=True,
        text=True,
    )
    assert finished.returncode != 0
    assert "Traceback" not in finished.stderr


def test_build_refuses_to_write_into_the_documents(tmp_path: Path, seeds: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", str(seeds / "site")],
        env=build_env(tmp_path, seeds),
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 1
    assert "overlap" in finished.stderr and "Traceback" not in finished.stderr
    assert not (seeds / "site").exists()


def test_help_lists_the_build_command() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", "--help"], capture_output=True, text=True
    )
    assert finished.returncode == 0
    for word in ("OUT", "--watch", "--hook", "--jobs"):
        assert word in finished.stdout
    # What a kill at the worst moment leaves (test_a_build_killed_after_its_commit_point...).
    text = " ".join(finished.stdout.split())  # help text is wrapped
    assert "Ctrl-C during its final renames waits for them" in text
    assert "one killed during them leaves OUT a mix of old and new files" in text
    assert "until the next build finishes them" in text


def _netlify_rules(text: str) -> list[tuple[str, dict[str, str]]]:
    """_headers as Netlify and Cloudflare Pages read it: a path line, then indented headers."""
    rules: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("  "):
            name, _, value = line.strip().partition(": ")
            rules[-1][1][name] = value
        else:
            rules.append((line, {}))
    return rules


def test_headers_and_redirects_files_say_what_the_service_sends(tmp_path: Path, many: Path) -> None:
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    entries = made.tree.entries()
    made.close()
    rules = _netlify_rules((out / "_headers").read_text())
    assert "/articles/*" in [pattern for pattern, _ in rules], "one rule for a uniform folder"
    for entry in entries.values():
        if entry.file is None or entry.url == inventory.NOT_FOUND_URL:
            continue
        path = urllib.parse.urlsplit(entry.url).path
        matching = [
            headers
            for pattern, headers in rules
            if pattern == path or (pattern.endswith("/*") and path.startswith(pattern[:-1]))
        ]
        # Exactly one rule: hosts join the values of every matching rule.
        assert matching == [dict(entry.headers)], entry.url
    redirects = (out / "_redirects").read_text().splitlines()
    article = next(url for url in entries if url.startswith("/articles/"))
    short = "/".join(article.split("/")[:3])
    # Paths, not the site URL: Cloudflare Pages takes no http:// destination, and a deploy
    # preview's visitor stays on the preview.
    assert f"{short} {article} 301" in redirects
    assert "/rss.xml /feed.rss 301" in redirects
    assert not [line for line in redirects if "://" in line]
    assert "/ page=:page /index/page/:page.html 200!" in redirects


def test_headers_file_puts_the_rules_of_the_most_requested_files_first(
    tmp_path: Path, many: Path
) -> None:
    # Cloudflare Pages applies the first 100 rules and skips the rest: the front page, article
    # pages, static files and the site's feeds must be among them, not archive feeds.
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    made.close()
    patterns = [pattern for pattern, _ in _netlify_rules((out / "_headers").read_text())]
    assert len(patterns) > 100
    static = sorted(pattern for pattern in patterns if pattern.startswith("/static/"))
    assert static
    feeds = ["/feed.atom", "/feed.json", "/feed.rss", "/feeds.opml"]
    first = ["/", "/articles/*", *static, *feeds]
    assert patterns[: len(first)] == first
    assert patterns[len(first) :] == sorted(patterns[len(first) :])  # the rest in path order


def _readme_block(containing: str) -> str:
    """The README's shell block that holds ``containing``."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)
    return next(block for block in blocks if containing in block)


@pytest.mark.skipif(shutil.which("rsync") is None, reason="needs rsync")
def test_a_site_under_a_path_published_on_a_static_host_as_readme_says(
    tmp_path: Path, seeds: Path
) -> None:
    """Netlify and Cloudflare Pages read _headers and _redirects at the top of the published
    folder: README's steps put OUT under news/ and the two files above it. Every rule must then
    name a file there, as the host finds it (/news/x is news/x.html)."""
    for n in range(1, 13):
        write_document(seeds, n, hex_id(n), date=f"{n} Feb 2023", headline=f"Story {n}")
    made = builder(tmp_path, seeds, tmp_path / "public", SITE_URL="http://news.example.test/news")
    made.build()
    entries = made.tree.entries()
    made.close()
    subprocess.run(_readme_block("publish/news/"), shell=True, cwd=tmp_path, check=True)
    publish = tmp_path / "publish"

    def found(path: str) -> bool:
        return (publish / file_path(path)).is_file()

    assert {p.name for p in publish.iterdir()} == {"news", "_headers", "_redirects"}
    assert not [p for p in publish.rglob("*") if p.suffix in (".gz", ".br")]
    assert not (publish / "news" / "_headers").exists()
    for entry in entries.values():
        if entry.file is not None and "?" not in entry.url:  # ?page=N: a rewrite (below)
            assert found("/news" + entry.url), entry.url
    for pattern, _ in _netlify_rules((publish / "_headers").read_text()):
        assert pattern.startswith("/news/"), pattern
        folder = publish / pattern.removeprefix("/").removesuffix("/*")
        assert folder.is_dir() if pattern.endswith("/*") else found(pattern), pattern
    rules = [line.split() for line in (publish / "_redirects").read_text().splitlines()]
    for rule in (rule for rule in rules if rule and not rule[0].startswith("#")):
        source, target = rule[0], rule[-2]
        assert source.startswith("/news/") or source == "/news", rule
        if ":page" in target:  # the file of ?page=N: <listing>/page/N.html
            assert (publish / target.removeprefix("/").rsplit("/", 1)[0]).is_dir(), rule
        else:
            assert target.startswith("/news/") and found(target), rule


def _former_rules(out: Path) -> list[str]:
    """The _redirects lines from an article's former pages, in order."""
    lines = (out / "_redirects").read_text().splitlines()
    return [line for line in lines if re.match(r"/articles/[0-9a-f]{16}/", line)]


def _retitle(seeds: Path, article_id: str, headline: str) -> None:
    document = next(seeds.glob(f"*_{article_id}.txt"))
    lines = document.read_text(encoding="utf-8").split("\n")
    document.write_text("\n".join([headline, *lines[1:]]), encoding="utf-8")


def test_an_articles_former_addresses_redirect_on_static_hosts(tmp_path: Path, seeds: Path) -> None:
    """The service and nginx send /articles/<id>/<any other slug> to the article's page; on
    Netlify and Cloudflare Pages, _redirects must name each address a build published."""
    for n in range(1, 4):
        write_document(seeds, n, hex_id(n), date=f"{n} Mar 2024", headline=f"Story {n}")
    out = tmp_path / "out"
    made = builder(tmp_path, seeds, out)
    made.build()
    assert _former_rules(out) == []
    article = f"/articles/{hex_id(1)}"
    _retitle(seeds, hex_id(1), "Second headline")
    made.svc.store.refresh()
    made.build()
    assert not (out / f"{article[1:]}/story-1.html").exists()
    assert _former_rules(out) == [f"{article}/story-1 {article}/second-headline 301"]
    _retitle(seeds, hex_id(1), "Third headline")
    made.svc.store.refresh()
    made.build()
    expected = [f"{article}/second-headline {article}/third-headline 301",
                f"{article}/story-1 {article}/third-headline 301"]  # fmt: skip
    assert _former_rules(out) == expected
    # Before the short addresses: Cloudflare Pages reads the first 2,000 static rules.
    lines = (out / "_redirects").read_text().splitlines()
    assert lines.index(expected[-1]) < lines.index(f"{article} {article}/third-headline 301")
    made.close()
    # A build from an emptied OUT: what it published is remembered beside it (OUT.feedsvc).
    shutil.rmtree(out)
    run_build(tmp_path, seeds, out)
    assert _former_rules(out) == expected
    # A headline changed back: that address is the page again, the others lead to it.
    _retitle(seeds, hex_id(1), "Story 1")
    run_build(tmp_path, seeds, out)
    assert _former_rules(out) == [f"{article}/second-headline {article}/story-1 301",
                                  f"{article}/third-headline {article}/story-1 301"]  # fmt: skip
    # The article gone, its addresses go with it, and are forgotten.
    next(seeds.glob(f"*_{hex_id(1)}.txt")).unlink()
    run_build(tmp_path, seeds, out)
    assert hex_id(1) not in (out / "_redirects").read_text()
    tree = OutTree(out)
    assert tree.former_pages() == set()
    tree.close()


def test_a_watching_build_redirects_the_former_address_once_it_writes_the_configuration(
    tmp_path: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new article shifts listing pages, which a watching build writes after the rest, and
    # the configuration after them: an edit's old address removed meanwhile is not forgotten.
    monkeypatch.setattr(build, "DEFERRED_BATCH_URLS", 1)
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    page = next(url for url in made.tree.entries() if url.startswith("/articles/"))
    article_id = page.split("/")[2]
    _retitle(many, article_id, "Edited while another story came in")
    write_document(many, 999, hex_id(999), date="1 Jan 2026", headline="Newest story")
    made.svc.store.refresh()
    first = made.build(defer=True)
    assert first.deferred and not first.config_changed
    assert page not in made.tree.entries()
    while made.deferred:
        made.write_deferred(most=1)
    made.close()
    moved_to = f"/articles/{article_id}/edited-while-another-story-came-in"
    assert _former_rules(out) == [f"{page} {moved_to} 301"]


def test_a_build_by_another_feedsvc_writes_the_server_configuration_again(
    tmp_path: Path, many: Path
) -> None:
    # An upgrade that changes only the generated configuration (a fix to it) must reach the
    # operator's nginx: the first build of the new version writes it, though no page changed.
    out = tmp_path / "out"
    made = builder(tmp_path, many, out)
    made.build()
    server_conf = made.tree.state / "nginx" / "server.conf"
    current = server_conf.read_text()
    server_conf.write_text("# written by an older feedsvc\n")
    made.close()
    rebuilt = builder(tmp_path, many, out)
    assert rebuilt.build().config_changed is False  # the same feedsvc: nothing to write
    rebuilt.tree._db.execute("UPDATE meta SET value = 'older' WHERE key = 'stamp'")
    report = rebuilt.build()
    rebuilt.close()
    assert report.config_changed and report.written == ["../out.feedsvc/nginx/server.conf"]
    assert server_conf.read_text() == current


def test_a_hook_that_failed_or_was_not_given_is_run_by_the_next_build_with_one(
    tmp_path: Path, many: Path
) -> None:
    # A trial: a hook that failed (a sync cut off) was never run again while nothing changed,
    # and the mirror stayed behind; nor did the first build with --hook after builds without.
    out, runs = tmp_path / "out", tmp_path / "hook-runs"
    hook = f'echo "$BUILD_CONFIG_CHANGED" >> {runs}'
    run_build(tmp_path, many, out)  # no hook: OUT is not published
    failed = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", str(out), "--hook", "exit 7"],
        env=build_env(tmp_path, many), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert failed.returncode == 1, failed.stderr  # not for a cron job to miss
    assert "failed with exit status 7" in failed.stderr
    run_build(tmp_path, many, out, "--hook", hook)  # nothing changed: the hook is owed
    run_build(tmp_path, many, out, "--hook", hook)  # published: nothing to do
    assert runs.read_text().split() == ["1"]  # the configuration was never published
    write_document(many, 999, hex_id(999), date="1 Jan 2026", headline="Newest story")
    run_build(tmp_path, many, out, "--hook", hook)
    assert runs.read_text().split() == ["1", "1"]  # a new permalink in the configuration


def test_a_watch_runs_a_failed_hook_again_without_a_change(
    tmp_path: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedsvc import buildwatch

    monkeypatch.setattr(buildwatch, "HOOK_RETRY_SECONDS", 0.2)
    out, tries = tmp_path / "out", tmp_path / "tries"
    made = builder(tmp_path, many, out)
    made.build()
    # Fails twice: run again 0.2 s later, then 0.4 s after that, when it succeeds. A watch
    # starts with OUT unpublished (the build's own hook failed, or it had none): it publishes
    # at once, beside the watch, as the watch's loop does (poll at each wake).
    hook = f"date +%s.%N >> {tries}; [ $(wc -l < {tries}) -ge 3 ]"
    owed = buildwatch._Owed(hook, made.tree)
    owed.publish()
    deadline = time.monotonic() + 10
    while made.tree.unpublished():
        assert time.monotonic() < deadline
        owed.poll()
        if owed.retry_due():
            owed.publish(again=True)
        time.sleep(0.01)
    made.close()
    runs = [float(line) for line in tries.read_text().split()]
    assert len(runs) == 3 and owed.retry_at is None and owed.running is None
    assert runs[2] - runs[1] > (runs[1] - runs[0]) * 1.5  # backing off


@pytest.mark.parametrize("inside", ["out", "out/sub", "out.feedsvc"])
def test_build_refuses_an_index_inside_its_folders(
    tmp_path: Path, seeds: Path, inside: str
) -> None:
    """An index in OUT would be published with the site: refused, naming the setting, before
    anything is written (a fresh-user trial got "already holds files" about the index's own
    lock file, left behind)."""
    index = tmp_path / inside / "index.sqlite3"
    finished = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", str(tmp_path / "out")],
        env={**build_env(tmp_path, seeds), "FEEDSVC_INDEX_PATH": str(index)},
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 1
    assert f"FEEDSVC_INDEX_PATH {index} is inside" in finished.stderr, finished.stderr
    assert "Traceback" not in finished.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.feedsvc").exists()


def test_a_second_build_of_the_same_folder_is_refused(tmp_path: Path, seeds: Path) -> None:
    out = tmp_path / "out"
    first = builder(tmp_path, seeds, out)
    # With an index of its own to build: refused before it reads the folder into it (minutes
    # at a million documents), not after.
    index = tmp_path / "second" / "index.sqlite3"
    finished = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", str(out)],
        env={**build_env(tmp_path, seeds), "FEEDSVC_INDEX_PATH": str(index)},
        capture_output=True,
        text=True,
    )
    first.close()
    assert finished.returncode == 1
    assert "another `feedsvc build` is writing" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert not index.exists(), finished.stderr


def test_build_refuses_a_folder_of_other_files(tmp_path: Path, seeds: Path) -> None:
    """`feedsvc build ~` or into a web root: the site's index.html would replace the one
    there, and a hundred files land among the user's. A folder holding only hidden entries
    (a checkout of a Pages branch: .git) is fine."""
    out = tmp_path / "www"
    out.mkdir()
    (out / "index.html").write_text("the page that was there")
    finished = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", str(out)],
        env=build_env(tmp_path, seeds),
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 1
    assert f"{out} already holds files" in finished.stderr and "Traceback" not in finished.stderr
    assert [p.name for p in out.iterdir()] == ["index.html"]
    assert (out / "index.html").read_text() == "the page that was there"
    assert not (tmp_path / "www.feedsvc").exists()
    pages = tmp_path / "pages"
    (pages / ".git").mkdir(parents=True)
    run_build(tmp_path, seeds, pages)
    assert (pages / "feed.atom").exists() and (pages / ".git").is_dir()
    run_build(tmp_path, seeds, pages)  # and again: its own files


def test_a_url_the_app_cannot_answer_holds_back_nothing_else(
    tmp_path: Path, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    made = builder(tmp_path, seeds, out)
    made.build()
    broken = "/articles/ffffffffffffffff/withdrawn"  # answers 404
    rule = "/robots.txt"
    listed = inventory.ENUMERATORS[rule]
    monkeypatch.setitem(
        inventory.ENUMERATORS, rule, lambda snap: [*listed(snap), inventory.Target(broken, "")]
    )
    write_document(seeds, 5, hex_id(5), date="1 Jan 2026", headline="Written anyway")
    made.svc.store.refresh()
    report = made.build()
    assert report.failed == [f"{broken} answered 404; a static build expects 200"]
    assert b"Written anyway" in (out / "feed.atom").read_bytes()
    assert not (out / "articles" / "ffffffffffffffff").exists()
    # Its entry kept its old state: the next rebuild lists every URL, so it is tried again.
    report = made.build()
    made.close()
    assert report.inventory == "listed every URL: a URL failed in the last build"
    assert report.failed == [f"{broken} answered 404; a static build expects 200"]


def test_a_build_killed_after_its_commit_point_is_finished_by_the_next(
    tmp_path: Path, seeds: Path
) -> None:
    out = tmp_path / "out"
    tree = OutTree(out)
    (tree.staging / "a").write_bytes(b"new bytes")
    (out / "old.html").write_bytes(b"old page")
    entry = Entry("/a", "inputs", 200, "a.html", "digest", 0, "", ())
    tree.record([("a", out / "a.html")], [out / "old.html"], [entry], ["/old"], "stamp")
    tree.close()  # the process dies here: nothing is in place yet
    assert not (out / "a.html").exists() and (out / "old.html").exists()
    again = OutTree(out)
    assert again.recover()
    assert (out / "a.html").read_bytes() == b"new bytes"
    assert not (out / "old.html").exists()
    assert again.entries() == {"/a": entry} and again.stamp() == "stamp"
    assert not again.recover()  # done once, and only once
    again.close()


def _ctrl_c_at_rename(number: int, monkeypatch: pytest.MonkeyPatch) -> list[str | Path]:
    """Have outtree's renames send this process SIGINT at the ``number``-th: the list of the
    renames made, as they are made."""
    renamed: list[str | Path] = []

    def replace(source: str | Path, target: str | Path) -> None:
        os.rename(source, target)
        renamed.append(target)
        if len(renamed) == number:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr("feedsvc.outtree.os.replace", replace)
    return renamed


def test_a_stop_during_a_commit_is_acted_on_once_the_commit_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Ctrl-C while a build puts its files in place (seconds for a first build at 100,000
    # articles) left OUT part old, part new, while the command said it was as the last build
    # left it. The signal arrives here after the third of ten renames, as cli.py takes it.
    out = tmp_path / "out"
    tree = OutTree(out)
    for n in range(10):
        (tree.staging / f"s{n}").write_bytes(b"new %d" % n)
        (out / f"{n}.html").write_bytes(b"old")
    entries = [Entry(f"/{n}", "inputs", 200, f"{n}.html", "digest", 0, "", ()) for n in range(10)]
    _ctrl_c_at_rename(3, monkeypatch)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, stop)
    try:
        with pytest.raises(KeyboardInterrupt):
            moves = [(f"s{n}", out / f"{n}.html") for n in range(10)]
            tree.commit(moves, [], entries, [], "stamp")
        assert signal.getsignal(signal.SIGINT) is stop  # the command's own handler, again
    finally:
        signal.signal(signal.SIGINT, previous)
    new = [b"new %d" % n for n in range(10)]
    assert [(out / f"{n}.html").read_bytes() for n in range(10)] == new
    assert tree.stopped_in_commit
    assert "Stopping once the 10 staged files are in place" in caplog.text
    assert tree.entries() == {e.url: e for e in entries}
    assert not tree.recover()  # nothing was left for the next build to finish
    tree.close()


def test_a_commit_that_fails_after_a_stop_is_not_said_to_be_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A review: the stop was noted as it came, so a commit that then failed was said to be in
    # place while OUT was half old, half new (the next build finishes it).
    out = tmp_path / "out"
    tree = OutTree(out)
    for n in range(10):
        (tree.staging / f"s{n}").write_bytes(b"new")
    renamed = []

    def replace(source: str | Path, target: str | Path) -> None:
        renamed.append(target)
        if len(renamed) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        if len(renamed) == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        os.rename(source, target)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("feedsvc.outtree.os.replace", replace)
    previous = signal.signal(signal.SIGINT, stop)
    try:
        with pytest.raises(KeyboardInterrupt) as stopped:
            tree.commit([(f"s{n}", out / f"{n}.html") for n in range(10)], [], [], [], "stamp")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert isinstance(stopped.value.__context__, OSError)  # the failure, kept with the stop
    assert not tree.stopped_in_commit
    tree.close()  # keeps what the commit still needs
    monkeypatch.undo()
    again = OutTree(out)
    assert again.recover() and len(list(out.glob("*.html"))) == 10
    again.close()


def test_ctrl_c_during_the_renames_of_a_build_says_the_build_is_in_place(
    tmp_path: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command in this process (its handlers are the command's), the Ctrl-C at a rename.
    out = tmp_path / "out"
    run_build(tmp_path, many, out)
    renamed = _ctrl_c_at_rename(5, monkeypatch)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        marker = tmp_path / "hook-ran"
        result = CliRunner().invoke(
            main, ["build", str(out), "--jobs", "1", "--hook", f"touch {marker}"],
            env=build_env(tmp_path, many, TITLE="Another title"),
        )  # fmt: skip
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert result.exit_code == 1, result.output
    said = f"Stopped once the build was in place; {out} holds it; the hook runs with the next build"
    assert result.output.splitlines()[-1] == said
    assert not marker.exists()
    assert len(renamed) > 5  # every file, not the five before the stop
    assert "Another title" in (out / "index.html").read_text()
    assert "feedsvc news" not in (out / "feed.atom").read_text()
    assert list((tmp_path / "out.feedsvc").glob("staging/*")) == []


def test_closing_a_tree_drops_what_was_staged_and_never_committed(tmp_path: Path) -> None:
    # A stopped first build at 100,000 articles leaves gigabytes there; they are of no use.
    tree = OutTree(tmp_path / "out")
    (tree.staging / "never-committed").write_bytes(b"x" * 1000)
    tree.close()
    assert list((tmp_path / "out.feedsvc").glob("staging/*")) == []


def test_build_names_skipped_documents_and_a_missing_site_url(tmp_path: Path, seeds: Path) -> None:
    # Publishing a static site must not hide missing articles, nor links to 127.0.0.1.
    (seeds / "empty.txt").write_bytes(b"")
    env = build_env(tmp_path, tmp_path / "not-the-seeds")  # the folder comes as an argument
    del env["FEEDSVC_SITE_URL"]
    finished = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", str(tmp_path / "out"), str(seeds)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # as a terminal or a log shows them: in order
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout
    output = finished.stdout
    assert "FEEDSVC_SITE_URL is not set" in output
    assert "skipped empty.txt: empty document" in output
    # Before the line a script or a reader takes for the outcome.
    assert output.index("FEEDSVC_SITE_URL is not set") < output.index("Built ")
    assert (tmp_path / "out" / "feed.atom").exists()


def test_two_urls_never_share_a_file_and_a_file_freed_by_a_change_may_be_taken() -> None:
    # The check a rebuild makes before its commit (a route whose URLs map to one file would
    # otherwise write one over the other); it looks at the changed entries alone.
    def entry(url: str, file: str) -> Entry:
        return Entry(url, "", 200, file, "d", 1, "", ())

    owners = {"a.html": "/a", "b.html": "/b"}
    with pytest.raises(BuildError, match="/a and /c would share a.html"):
        _check_unique_files(owners, [entry("/c", "a.html")], [])
    with pytest.raises(BuildError, match="/c and /d would share c.html"):
        _check_unique_files(owners, [entry("/c", "c.html"), entry("/d", "c.html")], [])
    with pytest.raises(BuildError, match="/a and /b would share a.html"):  # /a keeps its file
        _check_unique_files(owners, [entry("/a", "a.html"), entry("/b", "a.html")], [])
    _check_unique_files(owners, [entry("/c", "a.html")], [entry("/a", "a.html")])  # /a is gone
    _check_unique_files(owners, [entry("/a", "b.html"), entry("/b", "a.html")], [])  # swapped
    _check_unique_files(owners, [entry("/a", "a.html"), entry("/c", "c.html")], [])


def test_a_kept_render_process_that_died_is_started_again(tmp_path: Path) -> None:
    # build --watch keeps its render processes between changes; one killed in between (the
    # OOM killer) must not hang the next rebuild or the stop: it is started again.
    seeds = tmp_path / "seeds"
    corpus.write(seeds, 30, seed=5)
    out = tmp_path / "out"
    builder = Builder(config.load(_settings(tmp_path, seeds)), out, jobs=2, keep_workers=True)
    try:
        builder.svc.store.refresh()
        builder.build()
        workers = _children(os.getpid())
        assert len(workers) >= 2, "the build rendered in kept worker processes"
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        time.sleep(1.1)  # a new second: the change is dated after the last build
        edited = sorted(seeds.glob("*.txt"))[10]
        edited.write_text("A headline written again\n" + edited.read_text().split("\n", 1)[1])
        builder.svc.store.refresh()
        report = builder.build()
        assert report.rendered >= 8 and not report.failed
        assert any(b"A headline written again" in (out / f).read_bytes() for f in report.written
                   if f.endswith(".atom"))  # fmt: skip
    finally:
        started = time.monotonic()
        builder.close()
        assert time.monotonic() - started < 10


def test_a_build_names_no_hub_since_none_is_told_what_it_changed(
    tmp_path: Path, many: Path
) -> None:
    # WebSub 4, 6: a feed that names a hub is a topic the hub MUST be told of on every change;
    # nothing tells one what a build changed.
    hub = "https://hub.example.test/publish"
    out = tmp_path / "out"
    made = builder(tmp_path, many, out, WEBSUB_HUB=hub)
    made.build()
    entries = made.tree.entries()
    made.close()
    feeds = [e for e in entries.values() if e.file is not None and "/feed." in e.url]
    assert feeds
    for entry in feeds:
        assert not any(hub in value for _, value in entry.headers), entry.url
        assert hub.encode() not in (out / str(entry.file)).read_bytes(), entry.url
    assert hub not in (out / "_headers").read_text()


def test_static_files_are_written_with_the_date_every_install_gives_them(
    tmp_path: Path, seeds: Path
) -> None:
    # nginx makes Last-Modified and ETag from a file's time: a build on any node, whenever
    # feedsvc was installed there, writes the static files with the same one (assets.py).
    out = tmp_path / "out"
    made = builder(tmp_path, seeds, out)
    made.build()
    made.close()
    for name in ("favicon.ico", *(f"static/{n}" for n in assets.Assets().names())):
        assert (out / name).stat().st_mtime == assets.CHANGED_AT.timestamp(), name
