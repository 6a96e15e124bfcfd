"""`feedsvc serve` as an operator runs it: stopping, ports, the site URL, --bind, logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest

from .conftest import free_port

# Each kind of stop signal is sent to this many servers, one after the other.
STOP_RUNS = 10
STOP_WITHIN_SECONDS = 5.0
START_WITHIN_SECONDS = 60.0


@dataclass
class Serve:
    """One `feedsvc serve` in a session of its own, as a terminal or a service manager runs it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def spawn(tmp_path: Path, *args: str, port: int | None = None, **settings: str) -> Serve:
    """Start `feedsvc serve ARGS`, outside the repository, with only the given FEEDSVC_* set."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update({f"FEEDSVC_{k}": v for k, v in settings.items()})
    env.setdefault("FEEDSVC_INDEX_PATH", str(tmp_path / f"index-{port}" / "index.sqlite3"))
    if not any(a.startswith("--bind") for a in args):
        args = (*args, "--bind", f"127.0.0.1:{port}")
    log_path = tmp_path / f"serve-{port}-{len(list(tmp_path.glob('serve-*.log')))}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedsvc", "serve", *args],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Serve(process, port, log_path)


def wait_until_serving(server: Serve, path: str = "/feed.atom") -> None:
    deadline = time.monotonic() + START_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            status = server.process.returncode
            raise AssertionError(f"feedsvc serve exited with {status}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + path, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    raise AssertionError(f"no answer within {START_WITHIN_SECONDS} s:\n{server.log()}")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces and parentheses: fields follow the last ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(server: Serve) -> None:
    """Stop a server started by a test, whatever state it is in."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@pytest.fixture
def servers() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    try:
        yield started
    finally:
        for server in started:
            stop(server)


# -- stopping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [
        "SIGINT to the process group, as a terminal's Ctrl-C",
        "SIGTERM to the server process, as a container runtime does",
        "SIGTERM to the process group, as systemd does",
    ],
)
def test_one_signal_stops_the_server_and_its_workers_every_time(
    tmp_path: Path, seeds: Path, servers: list[Serve], how: str
) -> None:
    # Started together, stopped one at a time: each must go on one signal, workers included.
    servers += [spawn(tmp_path, str(seeds)) for _ in range(STOP_RUNS)]
    for server in servers:
        wait_until_serving(server)
    took = []
    for server in servers:
        deadline = time.monotonic() + START_WITHIN_SECONDS
        while len(children(server.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # both workers forked (they answer as soon as one is up)
        pids = [server.process.pid, *children(server.process.pid)]
        assert len(pids) == 3, server.log()
        started = time.monotonic()
        number = signal.SIGINT if how.startswith("SIGINT") else signal.SIGTERM
        if "group" in how:
            os.killpg(server.process.pid, number)
        else:
            os.kill(server.process.pid, number)
        while any(running(pid) for pid in pids) and time.monotonic() - started < 10:
            server.process.poll()  # reap the server itself
            time.sleep(0.01)
        took.append(time.monotonic() - started)
        assert not any(running(pid) for pid in pids), f"still running after 10 s:\n{server.log()}"
        assert server.process.wait() == 0, server.log()  # a clean stop, not a failure
        assert "Traceback" not in server.log() and "Unexpected exit" not in server.log()
    assert max(took) < STOP_WITHIN_SECONDS, [f"{t:.2f}" for t in took]


# -- the port -----------------------------------------------------------------------------------


def run_serve(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`feedsvc serve` expected to stop by itself (a refused start)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update({f"FEEDSVC_{k}": v for k, v in settings.items()})
    env.setdefault("FEEDSVC_INDEX_PATH", str(tmp_path / "refused" / "index.sqlite3"))
    return subprocess.run(
        [sys.executable, "-m", "feedsvc", "serve", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The whole output of a refused command: exit status 1 and one line, no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def test_a_port_in_use_by_another_feedsvc_is_refused(
    tmp_path: Path, seeds: Path, servers: list[Serve]
) -> None:
    servers.append(first := spawn(tmp_path, str(seeds)))
    wait_until_serving(first)
    second = run_serve(tmp_path, str(seeds), "--bind", f"127.0.0.1:{first.port}", TITLE="Second")
    message = one_line_error(second)
    assert f"127.0.0.1:{first.port} is already in use by another feedsvc serve" in message
    assert f"pid {first.process.pid}" in message
    # Every request still reaches the first server.
    for _ in range(10):
        assert "feedsvc news" in feedparser.parse(first.url + "/feed.atom").feed.title


def test_a_port_in_use_by_another_program_is_refused(tmp_path: Path, seeds: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = run_serve(tmp_path, str(seeds), "--bind", f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port} is already in use by another program" in one_line_error(result)
    assert not (tmp_path / "refused").exists()  # refused before touching the index


def test_reuse_port_shares_a_port_only_when_asked(
    tmp_path: Path, seeds: Path, servers: list[Serve]
) -> None:
    servers.append(first := spawn(tmp_path, str(seeds), "--reuse-port"))
    wait_until_serving(first)
    servers.append(
        second := spawn(tmp_path, str(seeds), "--reuse-port", port=first.port, TITLE="Second")
    )
    titles = set()
    deadline = time.monotonic() + START_WITHIN_SECONDS
    while titles != {"feedsvc news", "Second"} and time.monotonic() < deadline:
        assert second.process.poll() is None, second.log()
        titles.add(feedparser.parse(f"{first.url}/feed.atom").feed.get("title"))
        titles.discard(None)  # not up yet
    assert titles == {"feedsvc news", "Second"}  # the kernel shares the port between the two


# -- --bind and the site URL --------------------------------------------------------------------


def feed_links(server: Serve) -> list[str]:
    feed = feedparser.parse(f"{server.url}/feed.atom")
    assert not feed.bozo, feed.get("bozo_exception")
    return [link.href for link in feed.feed.links] + [entry.link for entry in feed.entries]


def test_without_site_url_links_follow_bind(
    tmp_path: Path, seeds: Path, servers: list[Serve]
) -> None:
    port = free_port()
    servers.append(server := spawn(tmp_path, str(seeds), "--bind", f"localhost:{port}", port=port))
    wait_until_serving(server)
    links = feed_links(server)
    assert links and all(link.startswith(f"http://localhost:{port}/") for link in links), links
    assert f"FEEDSVC_SITE_URL is not set: links point to http://localhost:{port}" in server.log()


def test_site_url_wins_over_bind(tmp_path: Path, seeds: Path, servers: list[Serve]) -> None:
    servers.append(server := spawn(tmp_path, str(seeds), SITE_URL="https://news.example.test"))
    wait_until_serving(server)
    links = feed_links(server)
    assert links and all(link.startswith("https://news.example.test/") for link in links)
    assert "FEEDSVC_SITE_URL is not set" not in server.log()


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_an_ipv6_bind_serves_and_links_in_brackets(tmp_path: Path, seeds: Path, servers) -> None:
    port = free_port()
    servers.append(server := spawn(tmp_path, str(seeds), "--bind", f"[::1]:{port}", port=port))
    deadline = time.monotonic() + START_WITHIN_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://[::1]:{port}/feed.atom", timeout=5) as response:
                body = response.read().decode()
                break
        except (urllib.error.URLError, ConnectionError):
            assert server.process.poll() is None, server.log()
            time.sleep(0.05)
    assert f'href="http://[::1]:{port}/feed.atom"' in body


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("nonsense", "must look like HOST:PORT"),
        ("127.0.0.1:http", "must look like HOST:PORT"),
        ("127.0.0.1:70000", "the port is a number from 1 to 65535"),
        (":8000", "must look like HOST:PORT"),
        ("::1:8000", "write an IPv6 address in brackets, e.g. [::1]:8000"),
        ("[::1:8000", "must look like HOST:PORT"),
        ("[localhost]:8000", "must be an IPv6 address"),
        ("no-such-host.invalid:8000", "cannot resolve 'no-such-host.invalid'"),
        ("192.0.2.1:8000", "cannot listen on 192.0.2.1:8000"),  # TEST-NET: not this machine's
    ],
)
def test_a_bad_bind_is_one_clear_line(
    tmp_path: Path, seeds: Path, bind: str, expected: str
) -> None:
    assert expected in one_line_error(run_serve(tmp_path, str(seeds), "--bind", bind))
