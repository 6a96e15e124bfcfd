"""The ``feedsvc`` command: serve, check, index. Clean messages and exit codes, no tracebacks."""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from . import config
from .config import Config, ConfigError
from .document import Article
from .store import Report, Store

log = logging.getLogger(__name__)

# Below this many documents to parse, a progress bar is more noise than help.
PROGRESS_THRESHOLD = 500
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 1


def _settings(**overrides: object) -> Config:
    try:
        values: dict[str, object] = dict(config.from_environ())
        values.update({k: v for k, v in overrides.items() if v is not None})
        return config.load(values)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _require_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise click.ClickException(
            f"the seeds folder {folder} does not exist (set FEEDSVC_SEEDS_DIR or pass a folder)"
        )


def _refresh(store: Store) -> Report:
    """Refresh with a progress bar when there is a lot to read."""
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and total >= PROGRESS_THRESHOLD:
            bar = click.progressbar(length=total, label="Indexing", file=sys.stderr)
            bar.__enter__()
        if bar is not None:
            bar.update(1)

    try:
        # The command runs one thread, so parsing may fork a process per core.
        return store.refresh(progress, parallel=True)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Publish a folder of plain-text news documents as RSS, Atom and JSON feeds."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT to listen on.")
@click.option("--workers", default=DEFAULT_WORKERS, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")  # fmt: skip
@click.option("--threads", default=DEFAULT_THREADS, show_default=True,
              type=click.IntRange(1, 64), help="Request threads per worker.")  # fmt: skip
def serve(bind: str, workers: int, threads: int) -> None:
    """Serve feeds and pages with a production server (granian)."""
    from granian.constants import Interfaces
    from granian.server import Server

    host, _, port_text = bind.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise click.ClickException(f"--bind {bind!r} must look like HOST:PORT, e.g. 127.0.0.1:8000")
    settings = _settings()
    _require_folder(settings.seeds_dir)
    store = Store(settings)
    # An empty index (a first start, or one rebuilt for a new schema) is filled before serving:
    # readers must never be shown an empty feed while the folder is full.
    if store.count() == 0 or not settings.watch:
        report = _refresh(store)
        click.echo(
            f"Indexed {store.count()} articles from {settings.seeds_dir} "
            f"({len(report.skipped)} skipped)"
        )
    else:
        # Serve the existing index at once; the watcher reconciles it with the folder.
        click.echo(f"Serving {store.count()} indexed articles; checking {settings.seeds_dir}")
    store.close()
    click.echo(f"Serving {settings.site_url} on http://{bind}/ with {workers} workers")
    Server(
        "feedsvc:create_app",
        factory=True,
        interface=Interfaces.WSGI,
        address=host.strip("[]"),
        port=int(port_text),
        workers=workers,
        blocking_threads=threads,
        backlog=2048,
        websockets=False,
        respawn_failed_workers=True,
        log_access=False,
    ).serve()


@main.command()
def index() -> None:
    """Bring the index in step with the seeds folder and report what changed."""
    settings = _settings()
    _require_folder(settings.seeds_dir)
    store = Store(settings)
    report = _refresh(store)
    for problem in report.skipped:
        click.echo(f"SKIPPED {problem.file_name}: {problem.reason}", err=True)
    click.echo(
        f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped; "
        f"{store.count()} articles in {settings.index_path}"
    )


@main.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def check(folder: Path | None) -> None:
    """Report what every document in FOLDER yields: fields, removed junk, warnings, skips.

    Exits with status 1 when any document was skipped. Uses a throw-away index, so the
    service's own index is not touched.
    """
    settings = _settings(SEEDS_DIR=folder)
    _require_folder(settings.seeds_dir)
    with tempfile.TemporaryDirectory(prefix="feedsvc-check-") as scratch:
        store = Store(settings.replace(index_path=Path(scratch) / "index.sqlite3"))
        report = _refresh(store)
        now = store.now()
        held = store.held()
        articles = sorted([*store.latest(store.count()), *held], key=lambda a: a.file_name)
        store.close()
    for article in articles:
        _print_article(article, click.echo, now)
    for problem in report.skipped:
        click.echo(f"== {problem.file_name}\n  SKIPPED: {problem.reason}\n")
    held_note = f" ({len(held)} held until their time)" if held else ""
    click.echo(f"{len(articles)} documents read{held_note}, {len(report.skipped)} skipped")
    if report.skipped:
        sys.exit(1)


def _print_article(article: Article, echo: Callable[[str], None], now: datetime) -> None:
    when = article.published.isoformat() if article.has_time else article.published.date()
    zone = f" ({article.zone_label})" if article.zone_label else ""
    if article.authors:
        authors = "; ".join(article.authors)
    else:
        authors = f"(none; feeds name {article.agency})" if article.agency else "(none)"
    echo(f"== {article.file_name}")
    echo(f"  id:        {article.id}")
    echo(f"  headline:  {article.headline}")
    echo(f"  published: {when}{zone}")
    if article.published > now:
        echo(
            f"  HELD:      dated in the future, it appears in every feed and page at "
            f"{article.published.astimezone(UTC).isoformat()} "
            f"(in {_duration(article.published - now)})"
        )
    echo(f"  dateline:  {article.dateline or '(none)'}")
    echo(f"  place:     {article.city or '(none)'}")
    echo(f"  agency:    {article.agency or '(none)'}")
    echo(f"  authors:   {authors}")
    echo(f"  summary:   {article.summary}")
    echo(f"  paragraphs ({len(article.paragraphs)}):")
    for number, paragraph in enumerate(article.paragraphs, 1):
        echo(f"    {number:>2}. {paragraph}")
    echo(f"  removed junk ({len(article.removed)}):")
    for removed in article.removed:
        echo(f"    - {removed.text!r} ({removed.reason})")
    for warning in article.warnings:
        echo(f"  WARNING: {warning}")
    echo("")


def _duration(span: timedelta) -> str:
    """``2 d 3 h``, ``3 h 20 min``, ``4 min``, ``12 s``: the two largest units of ``span``."""
    seconds = max(0, int(span.total_seconds()))
    parts = [(seconds // 86_400, "d"), (seconds % 86_400 // 3600, "h"),
             (seconds % 3600 // 60, "min"), (seconds % 60, "s")]  # fmt: skip
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n} {unit}" for n, unit in parts[:2] if n or unit == parts[0][1])
