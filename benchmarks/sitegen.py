"""Static builds of the same documents: ``feedsvc build`` against Hugo and Pelican.

    python -m benchmarks.sitegen [--sizes 1000,10000,100000] [--rounds R] [--pelican PATH]

For each size, the generated corpus (benchmarks.corpus) is indexed once, then exported, from the
index, as Markdown with front matter (headline, date, agency as the category, city as the tag;
the text as paragraphs) for Hugo (Debian's ``hugo``) and for Pelican (``--pelican``: the
``pelican`` command of a venv of its own, ``python3 -m venv V && V/bin/pip install pelican
markdown``; benchmarks only, not a feedsvc dependency). Each generator then builds the whole
site into an empty folder, as a fresh process, in rounds that rotate which goes first:

- Hugo: a page per article, the home page and a list page per category and tag, paginated by
  20, each with a full-text RSS feed of its newest 50 (a minimal theme written here, since
  Hugo's own RSS template carries summaries), and the sitemap. Hugo uses every core.
- Pelican 4 (theme ``notmyidea``): a page per article, the index, category, tag, author and
  archive pages, paginated by 20, full-text Atom and RSS feeds of the newest 50, site-wide and
  per category and tag. One process.
- ``feedsvc build OUT``: every URL ``feedsvc serve`` answers (but search), with ``.gz`` and
  ``.br`` copies and the server configuration, from the index, which is up to date (the build
  still scans the folder first, as its command always does). It forks a renderer per core.

After each ``feedsvc build``, its floor (benchmarks.compressfloor, a fresh process): the bodies
the build compressed, read into memory, compressed again exactly as the build does (gzip at
``httpcache.GZIP_LEVEL``, the brotli attempt) in as many processes as the build forks; then
the same bodies and copies written into an empty folder, staged and renamed as the build does.
No renderer that also writes those copies can take less than the first.

Then, at each size, the incremental rebuild after one document changed (a paragraph added at
the end): ``feedsvc build OUT`` as a fresh process, and the rebuild inside one process that
stays up (what ``feedsvc build --watch`` does on each change), a few times each.

The machine is shared, so the figures that count are the ratios within a round. Prints a table;
writes ``sitegen.json`` into ``--out``. Outputs are deleted as soon as they are measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from . import corpus
from .harness import Processes, log
from .service import feedsvc_command, feedsvc_env

SITE_URL = "https://news.example.test"
PAGE_SIZE = 20
FEED_SIZE = 50
GENERATORS = ("feedsvc", "hugo", "pelican")

HUGO_CONFIG = f"""\
baseURL = "{SITE_URL}/"
title = "feedsvc news"
languageCode = "en"
paginate = {PAGE_SIZE}
disableKinds = ["robotsTXT", "404"]
[taxonomies]
  category = "categories"
  tag = "tags"
[services.rss]
  limit = {FEED_SIZE}
"""
HUGO_PAGE = """\
<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ .Title }} | {{ .Site.Title }}</title>
<link rel="alternate" type="application/rss+xml" href="{{ "index.xml" | absURL }}"></head>
<body><main><h1>{{ .Title }}</h1><p>
<time datetime="{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}">
{{- .Date.Format "2 January 2006" }}</time>
{{ range .Params.categories }} {{ . }}{{ end }}{{ range .Params.tags }} {{ . }}{{ end }}</p>
{{ .Content }}</main></body></html>
"""
HUGO_LIST = """\
<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ .Title }} | {{ .Site.Title }}</title></head>
<body><main><h1>{{ .Title }}</h1><ol>{{ range .Paginator.Pages }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a>
<time>{{ .Date.Format "2 January 2006" }}</time><p>{{ .Summary }}</p></li>{{ end }}</ol>
{{ template "_internal/pagination.html" . }}</main></body></html>
"""
HUGO_RSS = """\
{{- $pages := cond .IsHome .Site.RegularPages .RegularPages -}}
{{- $pages = $pages | first .Site.Config.Services.RSS.Limit -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\"?>" | safeHTML }}
<rss version="2.0"><channel><title>{{ .Title }}</title><link>{{ .Permalink }}</link>
<description>{{ .Site.Title }}</description>
{{ range $pages }}<item><title>{{ .Title }}</title><link>{{ .Permalink }}</link>
<guid>{{ .Permalink }}</guid>
<pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
<description>{{ .Content | html }}</description></item>
{{ end }}</channel></rss>
"""
PELICAN_CONFIG = f"""\
AUTHOR = "feedsvc"
SITENAME = "feedsvc news"
SITEURL = "{SITE_URL}"
PATH = "content"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
DEFAULT_PAGINATION = {PAGE_SIZE}
FEED_DOMAIN = SITEURL
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
CATEGORY_FEED_ATOM = "feeds/{{slug}}.atom.xml"
TAG_FEED_ATOM = "feeds/{{slug}}.tag.atom.xml"
RSS_FEED_SUMMARY_ONLY = False
FEED_MAX_ITEMS = {FEED_SIZE}
LOAD_CONTENT_CACHE = False
CACHE_CONTENT = False
"""


@dataclass
class Sample:
    seconds: float
    files: int
    bytes: int


@dataclass
class SizeResult:
    n: int
    index_s: float
    export_s: float
    full: dict[str, list[Sample]] = field(default_factory=dict)
    rebuild_cli_s: list[float] = field(default_factory=list)
    rebuild_watch_s: list[float] = field(default_factory=list)
    rebuild_urls: list[int] = field(default_factory=list)
    floor: list[dict[str, Any]] = field(default_factory=list)  # compressfloor's, each round


def export(index: Path, seeds: Path, hugo: Path, pelican: Path) -> float:
    """Write every indexed article as Markdown for Hugo and for Pelican; seconds taken."""
    from feedsvc import config
    from feedsvc.store import Store

    started = time.perf_counter()
    store = Store(config.load({"SEEDS_DIR": str(seeds), "INDEX_PATH": str(index)}))
    (hugo / "content" / "articles").mkdir(parents=True)
    (pelican / "content").mkdir(parents=True)
    batch, offset = 5000, 0
    while articles := store.latest(batch, offset):
        offset += batch
        for a in articles:
            body = "\n\n".join(p.replace("<", "&lt;") for p in a.paragraphs) + "\n"
            when = a.published.astimezone(UTC)
            meta = {"title": a.headline, "date": when.isoformat(), "slug": a.slug,
                    "categories": [a.agency] if a.agency else [],
                    "tags": [a.city] if a.city else []}  # fmt: skip
            hugo_text = json.dumps(meta, ensure_ascii=False) + "\n\n" + body
            (hugo / "content" / "articles" / f"{a.id}.md").write_text(hugo_text)
            lines = [f"Title: {a.headline}", f"Date: {when:%Y-%m-%d %H:%M}", f"Slug: {a.slug}"]
            lines += [f"Category: {a.agency}"] if a.agency else []
            lines += [f"Tags: {a.city.replace(',', ' ')}"] if a.city else []
            (pelican / "content" / f"{a.id}.md").write_text("\n".join(lines) + "\n\n" + body)
    store.close()
    layouts = hugo / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (hugo / "hugo.toml").write_text(HUGO_CONFIG)
    for name, text in (("single.html", HUGO_PAGE), ("list.html", HUGO_LIST),
                       ("terms.html", HUGO_LIST), ("rss.xml", HUGO_RSS)):  # fmt: skip
        (layouts / name).write_text(text)
    (pelican / "pelicanconf.py").write_text(PELICAN_CONFIG)
    return time.perf_counter() - started


def feedsvc_out(work: Path) -> Path:
    return work / "out-feedsvc"


def tree_size(folder: Path) -> tuple[int, int]:
    files = size = 0
    for root, _, names in os.walk(folder):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(root, name)).st_size
    return files, size


def run_generators(
    procs: Processes, args: argparse.Namespace, seeds: Path, index: Path, work: Path, n: int,
    floors: list[dict[str, Any]],
) -> dict[str, list[Sample]]:  # fmt: skip
    env = feedsvc_env(seeds, index, 8000, None)
    env["FEEDSVC_SITE_URL"] = SITE_URL
    out = work / "out"
    built = feedsvc_out(work)  # feedsvc's last output stays, for measure_rebuilds
    commands: dict[str, Callable[[], list[str]]] = {
        "feedsvc": lambda: [*feedsvc_command(), "build", str(built)],
        "hugo": lambda: [args.hugo, "--quiet", "--source", str(work / "hugo"),
                         "--destination", str(out), "--cacheDir", str(work / "hugo-cache")],
        "pelican": lambda: [args.pelican, "-q", str(work / "pelican" / "content"), "-s",
                            str(work / "pelican" / "pelicanconf.py"), "-o", str(out)],
    }  # fmt: skip
    samples: dict[str, list[Sample]] = {g: [] for g in GENERATORS}
    for round_ in range(args.rounds):
        order = GENERATORS[round_ % 3 :] + GENERATORS[: round_ % 3]
        for who in order:
            target = built if who == "feedsvc" else out
            for leftover in (target, target.with_name(target.name + ".feedsvc"),
                             work / "hugo-cache"):  # fmt: skip
                shutil.rmtree(leftover, ignore_errors=True)
            seconds, _ = procs.run(commands[who](), env=env, cwd=work, timeout=24 * 3600)
            files, size = tree_size(target)
            samples[who].append(Sample(seconds, files, size))
            shutil.rmtree(out, ignore_errors=True)
            log(f"  N = {n:,} round {round_ + 1}: {who} {seconds:.2f} s, {files:,} files, "
                f"{size / 2**20:,.0f} MiB")  # fmt: skip
            if who == "feedsvc":
                floors.append(measure_floor(procs, built, work / "out-floor"))
                f = floors[-1]
                log(f"  N = {n:,} round {round_ + 1}: floor: compressing {f['bodies']:,} bodies "
                    f"{f['compress_s']:.2f} s, writing {f['written_files']:,} files "
                    f"{f['write_s']:.2f} s ({f['jobs']} processes)")  # fmt: skip
    return samples


def measure_floor(procs: Processes, built: Path, dest: Path) -> dict[str, Any]:
    """benchmarks.compressfloor on what ``feedsvc build`` just wrote, as a fresh process."""
    command = [sys.executable, "-m", "benchmarks.compressfloor", str(built), "--write", str(dest)]
    seconds, out = procs.run(command, cwd=Path(__file__).resolve().parents[1])
    floor: dict[str, Any] = json.loads(out)
    if not floor["same_as_out"]:
        raise RuntimeError(f"the floor's copies differ from {built}'s: {floor}")
    return floor | {"process_s": seconds}


def measure_rebuilds(
    procs: Processes, args: argparse.Namespace, seeds: Path, index: Path, work: Path, n: int,
    result: SizeResult,
) -> None:  # fmt: skip
    """One document edited, then the site rebuilt: by a fresh ``feedsvc build`` process, and
    inside a process that keeps its builder (as ``--watch`` does)."""
    from feedsvc import config
    from feedsvc.build import Builder

    env = feedsvc_env(seeds, index, 8000, None)
    env["FEEDSVC_SITE_URL"] = SITE_URL
    out = feedsvc_out(work)  # as the last full build left it
    edited = sorted(seeds.glob("*.txt"))[n // 2]
    original = edited.read_bytes()
    settings = config.load({"SEEDS_DIR": str(seeds), "INDEX_PATH": str(index),
                            "SITE_URL": SITE_URL, "WATCH": "false"})  # fmt: skip
    try:
        # The command first: a Builder holds OUT's lock while it is open, and a second build of
        # the same OUT refuses to start.
        for trial in range(args.rebuilds):
            edited.write_bytes(original.rstrip() + f"\n\nOne more sentence, {trial}.\n".encode())
            seconds, _ = procs.run([*feedsvc_command(), "build", str(out)], env=env, cwd=work)
            result.rebuild_cli_s.append(seconds)
        builder = Builder(settings, out)
        try:
            builder.build()  # what a watching builder holds once it is up
            for trial in range(args.rebuilds):
                edited.write_bytes(original.rstrip() + f"\n\nAnother sentence, {trial}.\n".encode())
                started = time.perf_counter()
                builder.svc.store.refresh(names=[edited.name])
                report = builder.build()
                result.rebuild_watch_s.append(time.perf_counter() - started)
                result.rebuild_urls.append(report.rendered)
        finally:
            builder.close()
        log(f"  N = {n:,} rebuild after one edit: command "
            f"{', '.join(f'{s:.2f}' for s in result.rebuild_cli_s)} s; in a running builder "
            f"{', '.join(f'{s:.2f}' for s in result.rebuild_watch_s)} s")  # fmt: skip
    finally:
        edited.write_bytes(original)
        for leftover in (out, out.with_name(out.name + ".feedsvc")):
            shutil.rmtree(leftover, ignore_errors=True)


def measure(procs: Processes, args: argparse.Namespace, n: int) -> SizeResult:
    seeds = corpus.ensure(args.corpus_dir, n)
    work = Path(tempfile.mkdtemp(prefix=f"feedsvc-sitegen-{n}-"))
    try:
        index = work / "index.sqlite3"
        env = feedsvc_env(seeds, index, 8000, None)
        index_s, _ = procs.run([*feedsvc_command(), "index"], env=env, cwd=work, timeout=24 * 3600)
        export_s = export(index, seeds, work / "hugo", work / "pelican")
        log(f"N = {n:,}: indexed in {index_s:.1f} s, exported in {export_s:.1f} s")
        result = SizeResult(n, index_s, export_s)
        result.full = run_generators(procs, args, seeds, index, work, n, result.floor)
        if n in args.rebuild_sizes:
            measure_rebuilds(procs, args, seeds, index, work, n, result)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summary(samples: list[float]) -> str:
    if not samples:
        return "-"
    med = statistics.median(samples)
    return (
        f"{med:.2f} [{min(samples):.2f}-{max(samples):.2f}]" if len(samples) > 1 else f"{med:.2f}"
    )


def table(results: list[SizeResult]) -> str:
    rows = ["| N | feedsvc build, s | Hugo, s | Pelican, s | feedsvc / Hugo | feedsvc / Pelican "
            "| files (feedsvc / Hugo / Pelican) | MiB (feedsvc / Hugo / Pelican) |",
            "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        secs = {g: [s.seconds for s in r.full[g]] for g in GENERATORS}
        ratio = {g: [f / b for f, b in zip(secs["feedsvc"], secs[g], strict=True)]
                 for g in ("hugo", "pelican")}  # fmt: skip
        files = " / ".join(f"{r.full[g][0].files:,}" for g in GENERATORS)
        mib = " / ".join(f"{r.full[g][0].bytes / 2**20:,.0f}" for g in GENERATORS)
        rows.append(f"| {r.n:,} | {summary(secs['feedsvc'])} | {summary(secs['hugo'])} | "
                    f"{summary(secs['pelican'])} | {summary(ratio['hugo'])} | "
                    f"{summary(ratio['pelican'])} | {files} | {mib} |")  # fmt: skip
    rows += ["", "| N | round | feedsvc build, s | Hugo, s | floor: compression, s | floor / Hugo "
             "| floor: writing, s | (compression + writing) / Hugo | feedsvc / Hugo "
             "| bodies compressed (.br kept) | MiB in (gz + br out) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        for round_, (ours, hugo, f) in enumerate(
            zip(r.full["feedsvc"], r.full["hugo"], r.floor, strict=True), 1
        ):
            out_mib = (f["gz_bytes"] + f["br_bytes"]) / 2**20
            rows.append(f"| {r.n:,} | {round_} | {ours.seconds:.2f} | {hugo.seconds:.2f} | "
                        f"{f['compress_s']:.2f} | **{f['compress_s'] / hugo.seconds:.2f}** | "
                        f"{f['write_s']:.2f} | "
                        f"{(f['compress_s'] + f['write_s']) / hugo.seconds:.2f} | "
                        f"{ours.seconds / hugo.seconds:.1f} | "
                        f"{f['bodies']:,} ({f['br_kept']:,}) | "
                        f"{f['body_bytes'] / 2**20:,.0f} ({out_mib:,.0f}) |")  # fmt: skip
    rows += ["", "| N | rebuild after one edit: `feedsvc build`, s | in a running builder, s "
             "| URLs rendered |", "|---|---|---|---|"]  # fmt: skip
    for r in results:
        if r.rebuild_cli_s:
            rows.append(f"| {r.n:,} | {summary(r.rebuild_cli_s)} | {summary(r.rebuild_watch_s)} "
                        f"| {summary([float(u) for u in r.rebuild_urls])} |")  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size (default 3)")
    parser.add_argument("--rebuilds", type=int, default=3, help="incremental rebuilds timed")
    parser.add_argument("--rebuild-sizes", default="100000", help="sizes to time rebuilds at")
    parser.add_argument("--hugo", default=shutil.which("hugo") or "hugo")
    parser.add_argument("--pelican", default=shutil.which("pelican") or "pelican")
    parser.add_argument("--corpus-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "feedsvc-bench-corpus")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    args.rebuild_sizes = {int(s) for s in args.rebuild_sizes.split(",") if s}
    for tool in (args.hugo, args.pelican):
        if not shutil.which(tool):
            raise SystemExit(
                f"{tool} not found (Debian: apt-get install hugo; Pelican: see --help)"
            )
    procs = Processes()
    results = []
    try:
        for n in sorted(int(s) for s in args.sizes.split(",")):
            results.append(measure(procs, args, n))
            args.out.mkdir(parents=True, exist_ok=True)
            dump: Any = [
                r.__dict__ | {"full": {g: [s.__dict__ for s in v] for g, v in r.full.items()}}
                for r in results
            ]
            (args.out / "sitegen.json").write_text(json.dumps(dump, indent=2))
    finally:
        procs.stop_all()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
