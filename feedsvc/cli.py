"""The ``feedsvc`` command: serve, check, index, build. Clean messages, exit codes, no tracebacks.

Every command reads the FEEDSVC_* settings once; a bad one, a port in use or an index that cannot
be opened ends the command with one line on standard error and exit status 1. ``serve`` logs (one
timestamped format for feedsvc and granian alike); ``index`` and ``check`` print their report on
standard output and log only warnings.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import config, listen, logs
from .admission import THREADS_BUSY_AT_MOST
from .changes import log_skipped, quantity, summarise_problems
from .config import Config, ConfigError
from .logs import printable
from .version import __version__

if TYPE_CHECKING:  # the store and the parser are imported by the commands that use them, so
    # that a bad setting, --help and --version answer at once
    import subprocess

    from .document import Article
    from .store import Report, Store

log = logging.getLogger(__name__)

# Below this many documents to parse, a progress bar is more noise than help.
PROGRESS_THRESHOLD = 500
DEFAULT_WORKERS = 2
# Request threads per worker: more than the renders and waiters of admission.py together, so
# that a cached response never waits for a thread while uncached work is being rendered. (A
# thread waiting on a lock costs little: only one of them runs Python at a time anyway.)
DEFAULT_THREADS = THREADS_BUSY_AT_MOST + 4
DEFAULT_BIND = "127.0.0.1:8000"


class _Group(click.Group):
    """``feedsvc --help`` ends with the settings table, from the table itself."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (
                f"{config.ENV_PREFIX}{s.name}",
                f"{s.help} Allowed: {s.allowed}. Default: {s.default or '(empty)'}.",
            )
            for s in config.SETTINGS
        ]
        with formatter.section("Settings (environment variables)"):
            formatter.write_dl(rows)


def _overrides(**arguments: object) -> dict[str, object]:
    """The FEEDSVC_* settings of the environment, with the command line's arguments on top."""
    try:
        values: dict[str, object] = dict(config.from_environ())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    values.update({k: str(v) for k, v in arguments.items() if v is not None})
    return values


def _settings(**overrides: object) -> Config:
    return _load(_overrides(**overrides))


def _load(values: dict[str, object]) -> Config:
    try:
        return config.load(values)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _index_errors(settings: Config) -> Iterator[None]:
    """The index or the folder failing in an expected way: one line, no traceback."""
    from . import indexfile

    try:
        yield
    except (sqlite3.Error, indexfile.ForeignIndex, indexfile.IndexUnavailable) as exc:
        reason = indexfile.explain(exc)
        advice = (
            "if another program holds it, wait for it, otherwise it is safe to delete: "
            "it is rebuilt"
        )
        if indexfile.kind_of(exc) in (indexfile.FULL, indexfile.READ_ONLY):
            advice = f"make room or give feedsvc write access in {settings.index_path.parent}"
        raise click.ClickException(
            f"cannot use the index {settings.index_path} (FEEDSVC_INDEX_PATH): {reason}; {advice}"
        ) from None
    except OSError as exc:
        where = f" {exc.filename}{_setting_of(settings, exc.filename)}" if exc.filename else ""
        raise click.ClickException(f"cannot read or write{where}: {exc.strerror or exc}") from None


def _setting_of(settings: Config, filename: object) -> str:
    """The setting an operator changes for ``filename``: " (FEEDSVC_INDEX_PATH)" for the index,
    a folder above it or a file beside it; " (FEEDSVC_SEEDS_DIR)" for the seeds folder or a
    file in it; else nothing."""
    path = Path(os.fsdecode(filename)) if isinstance(filename, str | bytes) else None
    if path is None:
        return ""
    index = settings.index_path
    if path == index or path in index.parents or path.parent == index.parent:
        return " (FEEDSVC_INDEX_PATH)"
    if path == settings.seeds_dir or settings.seeds_dir in path.parents:
        return " (FEEDSVC_SEEDS_DIR)"
    return ""


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback ``(done, total)`` that shows a bar when there is a lot to do."""
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        # Only for a person at a terminal: in a log or a pipe, click writes the bare label,
        # which says less than the line that follows it.
        if bar is None and total >= PROGRESS_THRESHOLD and sys.stderr.isatty():
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        if bar is not None:
            bar.update(1)

    try:
        yield progress
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _refresh(
    store: Store, *, names: list[str] | None = None, settle: bool = True, partial: bool = False
) -> Report:
    """Refresh with a progress bar when there is a lot to read."""
    with _progress("Indexing") as progress:
        # The command line runs a single thread: large batches may be parsed in forked processes.
        report = store.refresh(progress, names=names, parallel=True, settle=settle, partial=partial)
    if report.unsettled:
        from .store import EDIT_SETTLE_SECONDS

        # Published documents found bad, maybe being written: no watcher will look again, so
        # this does, once, after the settle delay (the same and still bad, they are withdrawn).
        time.sleep(EDIT_SETTLE_SECONDS)
        again = store.refresh(names=list(report.unsettled), settled=report.unsettled)
        report = report.then(again)
    return report


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.version_option(__version__, "-V", "--version", prog_name="feedsvc")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Publish a folder of plain-text news documents as RSS, Atom and JSON feeds."""
    ctx.obj = logging.DEBUG if verbose else logging.INFO
    logs.configure(ctx.obj)


folder_argument = click.argument(
    "folder",
    required=False,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)


@main.command()
@folder_argument
@click.option("--bind", default=DEFAULT_BIND, show_default=True, help="HOST:PORT to listen on "
              "(a name, an IPv4 address, or an IPv6 address in brackets).")  # fmt: skip
@click.option("--workers", default=DEFAULT_WORKERS, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")  # fmt: skip
@click.option("--threads", default=DEFAULT_THREADS, show_default=True,
              type=click.IntRange(1, 256), help="Request threads per worker.")  # fmt: skip
@click.option("--reuse-port", is_flag=True, help="Share the port with servers already "
              "listening on it (to start a new version before stopping the old one).")  # fmt: skip
@click.pass_context
def serve(
    ctx: click.Context, folder: Path | None, bind: str, workers: int, threads: int, reuse_port: bool
) -> None:
    """Serve FOLDER (default: FEEDSVC_SEEDS_DIR) with a production server (granian).

    Without FEEDSVC_SITE_URL, links in feeds and pages use the --bind address.
    """
    from . import indexcheck, serving

    # Ctrl-C stops the first index as it stops the server, even when the shell that started
    # `feedsvc serve` in the background set SIGINT to be ignored (granian handles it anyway).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        address = listen.parse(bind)
    except listen.BindError as exc:
        raise click.ClickException(str(exc)) from None
    values = _overrides(SEEDS_DIR=folder)
    site_from_bind = "SITE_URL" not in values
    if site_from_bind:
        values["SITE_URL"] = address.url
    settings = _load(values)
    try:
        claim = listen.claim(address, reuse_port=reuse_port)
    except listen.BindError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with _index_errors(settings):
            check_owed = _prepare_index(settings)
        if site_from_bind:
            log.info(
                "FEEDSVC_SITE_URL is not set: links point to %s, the --bind address%s",
                settings.site_url,
                "; set FEEDSVC_SITE_URL to the URL readers use" if address.is_wildcard else "",
            )
        listening = f"http://{address}"
        log.info(
            "serving %s with %s of up to %s each",
            listening if settings.site_url == listening else f"{settings.site_url} on {listening}",
            quantity(workers, "worker"),
            quantity(threads, "thread"),
        )
        check = _start_check(settings, ctx.obj) if check_owed else None
        try:
            serving.serve(
                address,
                settings,
                workers=workers,
                threads=threads,
                log_config=logs.dict_config(ctx.obj),
                debug=ctx.obj == logging.DEBUG,
            )
        finally:
            checked = not check_owed or (check is not None and indexcheck.stop(check))
        # Every worker has stopped: the next start need not read the whole index again (unless
        # the check a crash left owed was not made: then the next start makes it).
        if checked:
            _mark_clean_stop(settings)
    finally:
        claim.release()


def _say_skipped(store: Store, report: Report | None) -> None:
    """Name each document the command's own refresh (``report``) found skipped, with why; or,
    when it found none, sum up in one line those the index skips (named when they were found)."""
    if report is not None and report.skipped:
        log_skipped(report)
    elif summary := summarise_problems(store.problems()):
        log.warning("%s", summary)


def _prepare_index(settings: Config) -> bool:
    """Index before serving when needed, and say once what the index holds and skips. Whether
    the whole-index check is owed, to be made while serving (indexcheck.py)."""
    from .store import Store

    # An index made by an earlier document parser is served at once, and built again beside
    # serving, when the folder is watched (renewal.py); without a watcher, it is built first.
    store = Store(settings, renew=not settings.watch)
    try:
        # A damaged index (garbage in it, truncated) is rebuilt before serving: every worker
        # would otherwise start "healthy" and fail on the pages that read the damaged part.
        # PRAGMA quick_check reads the whole file (about 10 ms for 2,000 documents, 25 s for
        # a million): made here only when the index was written while the service was stopped;
        # after a crash, while serving; not at all after a clean stop (indexfile.py).
        _verify(store)
        # A missing index (a first start, a deleted one, one of another version) is built
        # before serving: readers must never be shown an empty feed while the folder is full.
        report = None
        if not store.ready() or not settings.watch:
            report = _refresh(store)
            log.info("indexed %s from %s", quantity(store.count(), "article"), settings.seeds_dir)
        else:
            # Serve the existing index at once; the watcher reconciles it with the folder.
            log.info(
                "serving %s from the index%s; checking %s for changes",
                quantity(store.count(), "indexed article"),
                " (made by an earlier document parser: built again beside serving)"
                if store.renewal_owed()
                else "",
                settings.seeds_dir,
            )
        _say_skipped(store, report)
        return store.check_owed
    finally:
        store.release()


def _start_check(settings: Config, level: int) -> subprocess.Popen[bytes] | None:
    """Start the whole-index check a crash left owed, beside the first requests; None (said)
    when no process can be started: the next start makes it."""
    from . import indexcheck

    try:
        return indexcheck.start(settings, level)
    except OSError as exc:
        log.warning("cannot check the index %s after the crash of the last service (%s); "
                    "the next start checks it", settings.index_path, exc)  # fmt: skip
        return None


def _verify(store: Store) -> None:
    """Check the index, with a progress bar if it has to be rebuilt from a large folder."""
    with _progress("Rebuilding") as progress:
        store.verify(progress, parallel=True, starting=True)


def _verify_owing(store: Store) -> bool:
    """For a command that ends by recording a clean stop (`index`, `build`): the check `serve`
    makes before serving (``_verify``), then ``store`` released. Whether the check a crash
    leaves owed is still owed: such a command does not make it (every `feedsvc index` that cron
    runs beside `serve` would read the whole index), and must then record no clean stop, so
    that the next start makes it."""
    try:
        _verify(store)
        return store.check_owed
    finally:
        store.release()


def _mark_clean_stop(settings: Config) -> None:
    """Record that the index is as a clean stop leaves it (store.mark_clean_stop); said only
    when debugging: without the record the next start checks the whole index, as always."""
    from .indexfile import ForeignIndex
    from .store import Store

    store = Store(settings)
    try:
        recorded = store.mark_clean_stop()
    except (sqlite3.Error, OSError, ForeignIndex) as exc:
        log.debug("could not record a clean stop of the index: %s", exc)
    else:
        log.debug("%s a clean stop of the index", "recorded" if recorded else "did not record")
    finally:
        store.release()


@main.command()
@folder_argument
def index(folder: Path | None) -> None:
    """Bring the index in step with FOLDER (default: FEEDSVC_SEEDS_DIR) and report.

    Lists every document the index skips, and why; exits with status 0 all the same.
    """
    from .store import Store

    # Stopped as `serve` and `build` are, even started in the background with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = _settings(SEEDS_DIR=folder)
    with _index_errors(settings):
        store = Store(settings)
        owed = _verify_owing(store)
        report = _refresh(store)
        problems = store.problems()
        total = store.count()
        store.release()
        if not owed:
            _mark_clean_stop(settings)
    for problem in problems:
        click.echo(printable(f"SKIPPED {problem.file_name}: {problem.reason}"))
    for name in report.unsettled:
        click.echo(f"BEING WRITTEN {printable(name)}: left as it was; read by the next run")
    click.echo(
        f"{len(report.added):,} added, {len(report.changed):,} changed, "
        f"{len(report.removed):,} removed, {quantity(report.unchanged, 'file')} unchanged; "
        f"{quantity(total, 'article')} in {settings.index_path}, "
        f"{quantity(len(problems), 'document')} skipped"
    )


@main.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--problems", is_flag=True, help="Show only warnings and skipped documents.")
def check(path: Path | None, problems: bool) -> None:
    """Report what each document in PATH yields: fields, removed junk, warnings, skips.

    PATH is a folder (default: FEEDSVC_SEEDS_DIR) or one document. Exits with status 1 when any
    document was skipped; warnings (a date it had to guess, a file modified after this
    machine's now, ...) leave it 0. Uses a throw-away index, so the service's own index is not
    touched.
    """
    from . import seedfiles
    from .store import Store

    one_file = path is not None and not path.is_dir()
    folder = path.parent if one_file and path is not None else path
    settings = _settings(SEEDS_DIR=folder)
    names = [path.name] if one_file and path is not None else None
    with tempfile.TemporaryDirectory(prefix="feedsvc-check-") as scratch, _index_errors(settings):
        # SIGTERM ends it as it ends any command (status 143), and removes the throw-away index
        # (a trial's kill left 34 MB for 20,000 documents in the temporary folder).
        previous = signal.signal(signal.SIGTERM, partial(_removed_at_sigterm, scratch, os.getpid()))
        try:
            store = Store(settings.replace(index_path=Path(scratch) / "index.sqlite3"))
            # A document is judged as it is now, even one being written: it is what was asked.
            report = _refresh(store, names=names, settle=False, partial=True)
            now = store.now()
            held = store.held()
            articles = sorted([*store.latest(store.count()), *held], key=lambda a: a.file_name)
            store.close()
        finally:
            signal.signal(signal.SIGTERM, previous)
    seeds_dir = settings.seeds_dir
    ahead = _dated_ahead(seeds_dir, [a.file_name for a in articles], now)
    if names and not articles and not report.skipped:
        raise click.ClickException(
            f"{path} is not a document: hidden files and folders are not read"
        )
    shown = [a for a in articles if a.warnings or a.file_name in ahead] if problems else articles
    for article in shown:
        if problems:
            _print_warnings(article, click.echo, ahead)
        else:
            _print_article(article, click.echo, now, ahead)
    for problem in report.skipped:
        click.echo(f"== {printable(problem.file_name)}\n  SKIPPED: {printable(problem.reason)}\n")
    # A README or a folder beside the documents is said above, but is not a document read.
    others = sum(1 for problem in report.skipped if problem.reason in seedfiles.NOT_DOCUMENTS)
    skipped = len(report.skipped) - others
    read = quantity(len(articles) + skipped, "document")
    held_note = f" ({len(held):,} held until their time)" if held else ""
    warned = f", {len(shown):,} with warnings" if problems else ""
    folder_ahead = _dated_ahead(seeds_dir.parent, [seeds_dir.name], now)
    for when in folder_ahead.values():
        click.echo(
            f"WARNING: the folder {seeds_dir} is modified at {when} (a writer's clock "
            "ahead?): until then the site sends no Last-Modified\n"
        )
    entries = "entry" if others == 1 else "entries"
    not_read = f"; {others:,} other {entries} not read" if others else ""
    click.echo(f"{read} read{held_note}{warned}, {skipped:,} skipped{not_read}")
    if report.skipped:
        sys.exit(1)


def _removed_at_sigterm(folder: str, command: int, signum: int, frame: object) -> None:
    """SIGTERM in ``command``: remove ``folder``, and end as SIGTERM ends a command (128 + 15),
    at once. Not by unwinding: the parser processes, killed by the same signal sent to the
    group, may have died holding the pool's lock, and the pool's clean-up would wait for ever
    (a review). The parsers, forked with this handler, die as SIGTERM has them die."""
    if os.getpid() != command:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    shutil.rmtree(folder, ignore_errors=True)
    os._exit(128 + signum)


def _dated_ahead(folder: Path, names: list[str], now: datetime) -> dict[str, str]:
    """The files of ``names`` in ``folder`` modified after ``now`` (by at least a second), each
    with when and how far ahead that is: lastmod.py counts such a time only from when it comes."""
    found = {}
    for name in names:
        try:
            modified = os.stat(folder / name).st_mtime_ns // 1_000_000_000
        except OSError:  # gone since it was read: nothing to say about it
            continue
        if modified > now.timestamp():
            when = datetime.fromtimestamp(modified, UTC)
            found[name] = f"{when.isoformat()}, {_duration(when - now)} after this machine's now"
    return found


def _ahead_warning(when: str) -> str:
    """What a file dated after now means for readers (lastmod.py), in one warning."""
    return (
        f"the file is modified at {when} (a writer's clock ahead?): until then its entry is "
        "dated by its publication, not by the file, and the site sends no Last-Modified "
        "(readers revalidate by ETag alone)"
    )


def _print_warnings(article: Article, echo: Callable[[str], None], ahead: dict[str, str]) -> None:
    echo(f"== {printable(article.file_name)}")
    for warning in article.warnings:
        echo(f"  WARNING: {warning}")
    if article.file_name in ahead:
        echo(f"  WARNING: {_ahead_warning(ahead[article.file_name])}")
    echo("")


def _print_article(
    article: Article, echo: Callable[[str], None], now: datetime, ahead: dict[str, str]
) -> None:
    when = article.published.isoformat() if article.has_time else article.published.date()
    zone = f" ({article.zone_label})" if article.zone_label else ""
    if article.authors:
        authors = "; ".join(article.authors)
    else:
        authors = f"(none; feeds name {article.agency})" if article.agency else "(none)"
    echo(f"== {printable(article.file_name)}")
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
    if article.file_name in ahead:
        echo(f"  WARNING: {_ahead_warning(ahead[article.file_name])}")
    echo("")


def _duration(span: timedelta) -> str:
    """``2 d 3 h``, ``3 h 20 min``, ``4 min``, ``12 s``: the two largest units of ``span``."""
    seconds = max(0, int(span.total_seconds()))
    parts = [(seconds // 86_400, "d"), (seconds % 86_400 // 3600, "h"),
             (seconds % 3600 // 60, "min"), (seconds % 60, "s")]  # fmt: skip
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n} {unit}" for n, unit in parts[:2] if n or unit == parts[0][1])


def _stop_once(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM: KeyboardInterrupt, once; the stop signals that follow are ignored.
    A second Ctrl-C (impatient, or SIGTERM after it) interrupted the stop itself: the render
    processes' shutdown was left half done and the command waited for them for ever, or it
    ended with click's "Aborted!" (a fresh user's trial)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@folder_argument
@click.option("--watch", is_flag=True, help="Keep OUT current as documents change (until Ctrl-C).")
@click.option("--hook", metavar="COMMAND",
              help="Shell command run after each build that changed OUT (rsync, a bucket sync), "
              "and by the next build after one that failed; a failure is logged and the "
              "watch goes on (a build without --watch exits with status 1).")  # fmt: skip
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Processes rendering at once (default: one per core).")  # fmt: skip
def build(out: Path, folder: Path | None, watch: bool, hook: str | None, jobs: int | None) -> None:
    """Write the whole site of FOLDER (default: FEEDSVC_SEEDS_DIR) as files in OUT, for nginx, a
    CDN or a bucket. Set FEEDSVC_SITE_URL to the URL OUT will be published at.

    Every URL `feedsvc serve` answers (but search) becomes a file rendered by the service itself,
    with .gz and .br copies; OUT.feedsvc/nginx/ holds an nginx configuration, OUT/_headers and
    OUT/_redirects the same for Netlify and Cloudflare Pages. A rebuild writes only what changed,
    and a build stopped half-way leaves the previous OUT whole (Ctrl-C during its final renames
    waits for them); one killed during them leaves OUT a mix of old and new files until the next
    build finishes them. Exits with
    status 1 when the service could not answer some URL (each is named; the rest of OUT is
    written).
    """
    from . import build as static_build
    from . import buildwatch
    from .inventory import UndeclaredRoute
    from .staticconf import NGINX_FOLDER, UnmappableURL
    from .store import Store

    values = _overrides(SEEDS_DIR=folder)
    settings = _load(values)
    if "SITE_URL" not in values:
        # Every link, feed and header of the files names the site URL: a build for the default
        # one only works on this machine, at 127.0.0.1:8000.
        click.echo(
            f"WARNING: FEEDSVC_SITE_URL is not set: every link in {out} points to "
            f"{settings.site_url}; set it to the URL the files will be published at",
            err=True,
        )
    # A service manager's stop (SIGTERM: systemd, `docker stop`) ends a build as Ctrl-C does:
    # a watch with its line and its render processes, which ignore both (the build stops them).
    # Ctrl-C too when a shell started the build in the background with SIGINT ignored (as
    # `serve` does). Only the first: the stop then takes its course.
    signal.signal(signal.SIGTERM, _stop_once)
    signal.signal(signal.SIGINT, _stop_once)
    builder = None
    owed = True  # until the index is verified
    try:
        try:
            with _index_errors(settings):
                try:
                    static_build.refuse_overlaps(settings, out)  # before the index's lock
                    # Before the builder: its app indexes a missing or unusable index at once,
                    # and the record of a clean stop must be read before anything writes.
                    store = Store(settings)
                    owed = _verify_owing(store)  # (releases the store)
                    # A missing index is built by the builder's app, which names what it skips.
                    first = not store.ready()
                    store.release()
                    builder = static_build.Builder(settings, out, jobs, keep_workers=watch)
                    indexed = _refresh(builder.svc.store)
                    if first:
                        log_skipped(indexed)
                    else:
                        _say_skipped(builder.svc.store, indexed)
                    with _progress("Building") as progress:
                        report = builder.build(progress)
                except (static_build.BuildFolderError, static_build.BuildError) as exc:
                    raise click.ClickException(str(exc)) from None
                except (UndeclaredRoute, UnmappableURL) as exc:
                    raise click.ClickException(str(exc)) from None
            click.echo(
                f"Built {quantity(report.urls, 'URL')} into {out}: "
                f"{quantity(len(report.written), 'file')} written, "
                f"{len(report.removed):,} removed, in {report.seconds:.1f} s"
            )
            if report.config_changed:
                # nginx reads it when reloaded: until then, new articles' short addresses and
                # renamed ones' old addresses are not found.
                nginx = builder.tree.state / NGINX_FOLDER
                click.echo(f"The server configuration in {nginx} changed: reload nginx if it "
                           f"serves {out} (nginx -s reload)")  # fmt: skip
            for failure in report.failed:
                click.echo(f"NOT WRITTEN {failure}", err=True)
        except KeyboardInterrupt:
            # Not click's bare "Aborted!": what matters is what OUT holds (builds are atomic).
            if builder is not None and builder.tree.stopped_in_commit:
                unhooked = "; the hook runs with the next build" if hook else ""
                click.echo(f"Stopped once the build was in place; {out} holds it{unhooked}",
                           err=True)  # fmt: skip
            elif builder is not None and builder.tree.stamp() is None:  # no build committed
                click.echo(f"Stopped before the first build of {out} was done; it holds none",
                           err=True)  # fmt: skip
            else:
                click.echo(f"Stopped before the build was done; {out} is as the last build "
                           "left it", err=True)  # fmt: skip
            sys.exit(1)
        published = True
        try:
            # What this build changed, or an earlier one whose hook failed or that had none;
            # a watch runs it beside itself (buildwatch.watch).
            if hook and not watch:
                published = buildwatch.publish(hook, builder.tree)
            if watch:
                click.echo(f"Watching {settings.seeds_dir}; Ctrl-C stops")
                buildwatch.watch(builder, hook, next_change=report.next_change)
        except KeyboardInterrupt:
            # The way to stop a watch, not a failure: OUT holds its last whole build. A build
            # stopped while its hook ran is built, but the command did not finish.
            # A stop during a commit is acted on once it is in place, before its hook.
            unhooked = ""
            if hook and builder.tree.stopped_in_commit:
                unhooked = "; the hook runs with the next build"
            click.echo(f"Stopped {'watching' if watch else 'while the hook ran'}; "
                       f"{out} holds the last build{unhooked}", err=not watch)  # fmt: skip
            if not watch:
                sys.exit(1)
    finally:
        if builder is not None:
            # Nor may a stop that comes now cut this short (_stop_once).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            builder.close()
            if not owed:  # as `feedsvc index` does: the next `serve` need not check the index
                _mark_clean_stop(settings)
    if (report.failed or not published) and not watch:
        sys.exit(1)  # a URL not written, or OUT not published: not for a cron job to miss
