"""Shared fixtures: an app from the factory, a client, and a real server in a subprocess."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc import create_app

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SEEDS = ROOT / "seeds"
SEED_FILE = "000_5e300edb8a850530.txt"  # the bundled document
DATA = Path(__file__).resolve().parent / "data"
# Deliberately not the address the server listens on: URLs must come from this setting.
SITE_URL = "https://news.example.test"
# When the bundled document (and its folder) was last written, in every test: times in feeds
# come from the files (lastmod.py), and a checkout's own times would differ from run to run.
BUNDLED_MTIME = datetime(2022, 3, 6, 12, 0, tzinfo=UTC)


def settings_for(tmp_path: Path, seeds: Path, **overrides: object) -> dict[str, object]:
    return {
        "SEEDS_DIR": str(seeds),
        "INDEX_PATH": str(tmp_path / "index" / "index.sqlite3"),
        "SITE_URL": SITE_URL,
        "WATCH": "false",
        **overrides,
    }


def set_mtime(path: Path, when: datetime) -> None:
    """Set a file's (or folder's) modification time, as a copy keeping times would."""
    os.utime(path, (when.timestamp(), when.timestamp()))


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A private copy of the bundled seeds folder, its files and itself dated BUNDLED_MTIME."""
    folder = tmp_path / "seeds"
    shutil.copytree(BUNDLED_SEEDS, folder)
    for path in folder.iterdir():
        set_mtime(path, BUNDLED_MTIME)
    set_mtime(folder, BUNDLED_MTIME)
    return folder


def indexed_app(tmp_path: Path, seeds: Path, **overrides: object):
    """An app from the factory with its index brought in step with ``seeds``."""
    app = create_app(settings_for(tmp_path, seeds, **overrides))
    app.extensions["feedsvc"].store.refresh()
    return app


@pytest.fixture
def app(tmp_path: Path, seeds: Path):
    return indexed_app(tmp_path, seeds)


@pytest.fixture
def client(app):
    return app.test_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    seeds: Path
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    tmp_path: Path,
    seeds: Path,
    *,
    own_site_url: bool = False,
    workers: int = 2,
    prefix: Sequence[str] = (),
    **settings: str,
) -> LiveServer:
    """``feedsvc serve`` on a free loopback port, as an operator would start it; with
    ``own_site_url``, its site URL is the address it listens on (for clients that follow the
    links it writes); ``prefix`` runs it through another command (one that execs it, so that
    the process is the server itself)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(
        FEEDSVC_SEEDS_DIR=str(seeds),
        FEEDSVC_INDEX_PATH=str(tmp_path / "live-index" / "index.sqlite3"),
        FEEDSVC_SITE_URL=f"http://127.0.0.1:{port}" if own_site_url else SITE_URL,
        FEEDSVC_POLL_INTERVAL="0.2",
    )
    env.update({f"FEEDSVC_{k}": v for k, v in settings.items()})  # may replace the above
    tmp_path.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "feedsvc",
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
            ],  # fmt: skip
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", seeds, process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"feedsvc serve exited early:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/feed.atom", timeout=2):
                return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"feedsvc serve did not answer within 60 s:\n{server.log()}")


def stop_server(server: LiveServer) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@pytest.fixture
def live_server(tmp_path: Path, seeds: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path, seeds)
    try:
        yield server
    finally:
        stop_server(server)


def document_text(
    headline: str = "Talks resume in Geneva",
    date: str = "12 Apr 2021",
    dateline: str = "GENEVA (Reuters) -",
    paragraphs: tuple[str, ...] = (
        "Negotiators returned to the table on Monday after a two-week pause.",
        "Officials said the talks would last at least three days.",
    ),
) -> str:
    first, *rest = paragraphs
    lead = f"{dateline} {first}" if dateline else first
    return "\n\n".join([headline, date, lead, *rest]) + "\n"


def write_document(folder: Path, seq: int, article_id: str, **fields: object) -> Path:
    """Write a document named by the project's rule, NNN_<16 hex>.txt."""
    path = folder / f"{seq:03d}_{article_id}.txt"
    path.write_text(document_text(**fields), encoding="utf-8")  # type: ignore[arg-type]
    return path


def hex_id(number: int) -> str:
    return f"{number:016x}"


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Poll until ``condition`` holds; returns the seconds it took, fails after ``seconds``."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not true within {seconds} s")


def raw_get(
    server: LiveServer, path: str, method: str = "GET", **headers: str
) -> http.client.HTTPResponse:
    host, port = urllib.parse.urlsplit(server.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response
