"""Bad luck against a real ``feedsvc serve``: storage faults, a busy folder, crashed workers.

The index deleted, truncated or damaged, while serving and while stopped; a full disk and a
read-only index folder; a document unreadable for a while, or caught half-written by an edit;
the watcher's lock file unavailable for a moment; a document rewritten every 10 ms; a first
index killed near its end; a worker killed twice in a row (the supervisor's case).

Each fault is judged by what readers get and by what the log says. Readers: every response
from every worker is the whole site (all its articles, in the sitemap and in uncached searches)
or a 503 to try again in a second, never an empty or partial one and never a 500. The log: a
line naming the fault, a line when it is over, never a traceback. Servers run on small corpora.
Faults an unprivileged service meets (permissions, a full disk) need the server to run without
root's privileges and with a small disk of its own: on Linux, ``unshare`` gives it both (a user
namespace without root, a tmpfs); without it those tests are skipped, saying so.

The figures each test reaches are printed (``pytest -s``) and written to
tests/artifacts/faults.json.
"""

from __future__ import annotations

import configparser
import contextlib
import errno
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from benchmarks import corpus
from feedsvc import watch
from feedsvc.store import BATCH_DOCUMENTS

from .conftest import (
    SITE_URL,
    LiveServer,
    free_port,
    start_server,
    stop_server,
    wait_for,
)

DOCUMENTS = 300
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FIGURES: dict[str, float] = {}

pytestmark = pytest.mark.reliability


def record(name: str, value: float) -> None:
    FIGURES[name] = round(value, 3)
    print(f"{name}: {value:.3f}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "faults.json").write_text(json.dumps(FIGURES, indent=2) + "\n")


def get(server: LiveServer, path: str, timeout: float = 10) -> tuple[int, bytes]:
    """(status, body) of one GET on a fresh connection (the kernel picks the worker); one
    redirect within the site is followed."""
    host, port = urllib.parse.urlsplit(server.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        status, body, location = response.status, response.read(), response.getheader("Location")
    finally:
        connection.close()
    if status in (301, 308) and location and location.startswith(SITE_URL):
        return get(server, location.removeprefix(SITE_URL), timeout)
    return status, body


def sitemap_size(body: bytes) -> int:
    return body.count(b"<url>")


def front_page_total(body: bytes) -> int:
    """The article count the front page shows ("4,500 articles"): one response, one view of the
    whole site, at any size (past web.SITEMAP_LIMIT articles the sitemap is an index of parts)."""
    found = re.search(rb'<p class="count">([0-9,]+) articles?', body)
    assert found is not None, body[:500]
    return int(found[1].replace(b",", b""))


def article_id(name: str) -> str:
    return name.removesuffix(".txt").split("_", 1)[1]


def worker_pids(server: LiveServer) -> dict[int, int]:
    """Worker number -> pid, as granian last said it spawned them."""
    found = re.findall(r"Spawning worker-(\d+) with PID: (\d+)", server.log())
    return {int(number): int(pid) for number, pid in found}


def leader_pid(server: LiveServer) -> int:
    return int(
        re.findall(r"\[(\d+)\] INFO feedsvc.watch: this process now watches", server.log())[-1]
    )


def assert_clean_log(server: LiveServer) -> None:
    log = server.log()
    assert "Traceback" not in log and "cannot rollback" not in log, log[-3000:]


class Readers:
    """Readers polling the site while faults happen, each on a fresh connection: the sitemap
    (cached between changes) and searches (a new limit each time, so most are rendered from
    the index there and then). Every answer must be the whole site, or 503."""

    WORDS = ("wildfire", "earthquake", "semiconductor", "mortgage", "drought", "harvest", "embassy")

    def __init__(self, server: LiveServer, articles: int):
        self.server = server
        self.articles = articles
        self.expected = {}
        for word in self.WORDS:
            status, body = get(server, f"/search/feed.json?q={word}&limit=200")
            count = len(json.loads(body)["items"])
            if status == 200 and 0 < count < 200:  # all of them
                self.expected[word] = count
        assert len(self.expected) >= 3, self.expected
        self.answers: list[tuple[float, str, int, bool]] = []  # (time, path, status, whole)
        self.kills: list[float] = []  # when a worker was killed: its connections were reset
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Readers:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        n = 0
        words = sorted(self.expected)
        while not self._stop.is_set():
            n += 1
            if n % 2:
                path = "/sitemap.xml"
            else:
                word = words[n // 2 % len(words)]
                path = f"/search/feed.json?q={word}&limit={100 + n // 2 % 97}"
            try:
                status, body = get(self.server, path)
            except OSError as exc:
                self.answers.append((time.monotonic(), f"{path} {exc}", 0, False))
                continue
            self.answers.append((time.monotonic(), path, status, self._whole(path, body)))
            time.sleep(0.01)

    def _whole(self, path: str, body: bytes) -> bool:
        if path == "/sitemap.xml":
            return sitemap_size(body) == self.articles
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        expected = min(self.expected[query["q"][0]], int(query["limit"][0]))
        try:
            return len(json.loads(body)["items"]) == expected
        except ValueError:
            return False

    def kill(self, pid: int) -> None:
        self.kills.append(time.monotonic())
        os.kill(pid, signal.SIGKILL)

    def bad(self) -> list[tuple[float, str, int, bool]]:
        """Every answer that was neither the whole site nor a 503 (nor a connection reset by
        a worker as it was killed)."""
        return [
            a for a in self.answers
            if not (a[2] == 200 and a[3]) and a[2] != 503
            and not (a[2] == 0 and any(0 <= a[0] - kill < 1 for kill in self.kills))
        ]  # fmt: skip

    def whole_since(self, moment: float, count: int) -> bool:
        """Whether the last ``count`` answers, all after ``moment``, are whole 200s."""
        recent = [a for a in self.answers if a[0] >= moment][-count:]
        return len(recent) == count and all(a[2] == 200 and a[3] for a in recent)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    seeds = tmp_path / "seeds"
    corpus.write(seeds, DOCUMENTS)
    return seeds


# -- the index ---------------------------------------------------------------------------------


# What `feedsvc serve` says when it read the whole index at start (and only then).
WHOLE_INDEX_CHECKED = "checked the whole index"


def build_of(index: Path) -> Path:
    return index.parent / os.readlink(index)


def delete_index(index: Path) -> None:
    """``rm index.sqlite3*``: the link, every build, the WAL, the lock files, the generation."""
    for path in index.parent.glob(f"{index.name}*"):
        path.unlink()


def overwrite(path: Path, offset: int, size: int) -> None:
    with open(path, "r+b") as out:
        out.seek(offset)
        out.write(os.urandom(size))


def test_the_index_deleted_truncated_or_damaged_while_serving_is_rebuilt(
    tmp_path: Path, site: Path
) -> None:
    server = start_server(tmp_path, site)
    index = tmp_path / "live-index" / "index.sqlite3"
    readers = Readers(server, DOCUMENTS).start()
    try:
        wait_for(lambda: readers.whole_since(0, 10), 10)
        killed: list[int] = []  # worker numbers

        def kill_the_leader() -> None:
            delete_index(index)
            leader = leader_pid(server)
            readers.kill(leader)  # before it can rebuild, or while it does
            killed.extend(n for n, pid in worker_pids(server).items() if pid == leader)

        faults: dict[str, Callable[[], None]] = {
            "deleted": lambda: delete_index(index),
            # `rm -rf .feedsvc`, the default index's folder: nothing made it again (a trial).
            "its_folder_removed": lambda: shutil.rmtree(index.parent),
            "deleted_and_the_leader_killed": kill_the_leader,
            "truncated": lambda: os.truncate(build_of(index), build_of(index).stat().st_size // 2),
            "garbage_in_the_middle": lambda: overwrite(
                build_of(index), build_of(index).stat().st_size // 2, 64 * 1024
            ),
            "not_a_database": lambda: overwrite(build_of(index), 0, 100),
        }
        for name, fault in faults.items():
            before = os.readlink(index)
            started = time.monotonic()
            fault()
            took = wait_for(lambda: index.is_symlink() and os.readlink(index) != before, 20)  # noqa: B023
            record(f"index_{name}_rebuilt_after_s", took)
            wait_for(lambda: readers.whole_since(started + took, 20), 20)  # noqa: B023
            record(f"index_{name}_whole_again_after_s", time.monotonic() - started)

        # A worker started after all this serves the same whole site as the other (the one
        # not killed above: the same one again would be taken by granian for a crash loop).
        number, pid = next((n, p) for n, p in worker_pids(server).items() if n not in killed)
        readers.kill(pid)
        restarted = time.monotonic()
        wait_for(lambda: worker_pids(server)[number] != pid, 10)
        wait_for(lambda: readers.whole_since(restarted, 30), 20)
    finally:
        readers.stop()
        stop_server(server)
    answers = readers.answers
    assert readers.bad() == [], readers.bad()[:5]
    record("index_faults_answers", len(answers))
    record("index_faults_503s", sum(a[2] == 503 for a in answers))
    log = server.log()
    assert_clean_log(server)
    for cause in ("is missing", "is damaged (database disk image is malformed)",
                  "is damaged (file is not a database)"):  # fmt: skip
        assert f"the index {index} {cause}" in log


def test_an_index_damaged_while_stopped_is_rebuilt_before_serving(
    tmp_path: Path, site: Path
) -> None:
    index = tmp_path / "live-index" / "index.sqlite3"
    stop_server(start_server(tmp_path, site))
    damages = {
        "garbage_in_the_middle": lambda: overwrite(
            build_of(index), build_of(index).stat().st_size // 2, 64 * 1024
        ),
        # Same size, same modification time: only its change time (st_ctime) tells.
        "garbage_with_its_time_put_back": lambda: garbage_keeping_size_and_time(build_of(index)),
        "not_a_database": lambda: overwrite(build_of(index), 0, 100),
        "deleted": lambda: delete_index(index),
    }
    for name, damage in damages.items():
        # Each stop before a damage was a clean one: the damage must undo what it recorded.
        assert index.with_name(f"{index.name}.clean").exists()
        damage()
        started = time.monotonic()
        server = start_server(tmp_path, site)
        try:
            record(f"start_with_index_{name}_s", time.monotonic() - started)
            assert_whole_site(server)
        finally:
            stop_server(server)
        assert_clean_log(server)
        if name != "deleted":  # a missing index is built, as on a first start
            assert WHOLE_INDEX_CHECKED in server.log()
            assert re.search(rf"the index {re.escape(str(index))} is damaged", server.log())


def assert_whole_site(server: LiveServer) -> None:
    """Every article in the sitemap and in a search, from both workers, uncached and cached."""
    for _ in range(10):
        status, body = get(server, "/sitemap.xml")
        assert status == 200 and sitemap_size(body) == DOCUMENTS
        assert get(server, "/search/feed.json?q=the&limit=150")[0] == 200


def garbage_keeping_size_and_time(build: Path) -> None:
    before = build.stat()
    overwrite(build, before.st_size // 2, 4096)
    os.utime(build, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = build.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_a_start_after_a_clean_stop_skips_the_whole_index_check_and_one_after_a_crash_does_not(
    tmp_path: Path, site: Path
) -> None:
    """Reading the whole index at start (PRAGMA quick_check) took 25 s at a million documents:
    it is left out when nothing touched the index since a clean stop, never after a kill -9:
    then it is made beside the first requests, and the stop after it is a clean one again."""
    index = tmp_path / "live-index" / "index.sqlite3"
    first = start_server(tmp_path, site)
    stop_server(first)  # a first start builds the index: nothing to check
    assert first.process.returncode == 0

    after_a_clean_stop = start_server(tmp_path, site)
    try:
        assert get(after_a_clean_stop, "/sitemap.xml")[0] == 200
        # The record of the clean stop is gone while serving: the service may write.
        assert not index.with_name(f"{index.name}.clean").exists()
    finally:
        crash(after_a_clean_stop)
    assert WHOLE_INDEX_CHECKED not in after_a_clean_stop.log()

    after_a_crash = start_server(tmp_path, site)
    try:
        status, body = get(after_a_crash, "/sitemap.xml")
        assert status == 200 and sitemap_size(body) == DOCUMENTS
        wait_for(lambda: WHOLE_INDEX_CHECKED in after_a_crash.log(), 20)
        # The check's process has said it, and ends: a stop before it ended owes it again.
        wait_for(lambda: not checks_running(index), 20)
    finally:
        stop_server(after_a_crash)
    assert_clean_log(after_a_crash)
    assert index.with_name(f"{index.name}.clean").exists()  # checked, then stopped cleanly


def crash(server: LiveServer) -> None:
    """kill -9 the whole service, workers and all."""
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()


def test_ctrl_c_as_a_start_after_a_crash_begins_its_check_stops_it_without_a_traceback(
    tmp_path: Path, site: Path
) -> None:
    """Ctrl-C at a terminal goes to the whole foreground process group. Sent as the check a
    crash left owed starts (while its process still imports), it stops the service as at any
    other moment: no traceback from that process, nothing left running, no clean stop recorded
    (the check was not made), so the next start makes it."""
    index = tmp_path / "live-index" / "index.sqlite3"
    crash(start_server(tmp_path, site))
    command = [sys.executable, "-m", "feedsvc", "serve", "--bind", f"127.0.0.1:{free_port()}"]
    process = subprocess.Popen(
        command, env=feedsvc_env(site, index), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    said: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the server is up; the check, begun before, imports
            said.append(line)
            if "Listening at" in line:
                break
        assert check_pids(str(process.pid)) != [], "the check was over before the server was up"
        os.killpg(process.pid, signal.SIGINT)
        said.append(process.communicate(timeout=15)[0])
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    log = "".join(said)
    # 0 once granian handles the signal; 1 with click's "Aborted!" while granian still starts.
    assert process.returncode in (0, 1), log
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log
    time.sleep(0.5)  # a process left behind would still be running
    assert check_pids(str(site)) == [], "the check outlived the service"
    if WHOLE_INDEX_CHECKED not in log:
        assert not index.with_name(f"{index.name}.clean").exists()
        after = start_server(tmp_path, site)
        try:
            wait_for(lambda: WHOLE_INDEX_CHECKED in after.log(), 20)
        finally:
            stop_server(after)


def check_pids(*words: str) -> list[int]:
    """The running whole-index check processes whose command line holds every one of ``words``,
    as an argument or as the value of a setting it was given (read from /proc: a fresh machine
    may lack procps)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile
            continue
        said = [part.decode(errors="replace") for part in command]
        if "feedsvc.indexcheck" not in said:
            continue
        # python -m feedsvc.indexcheck SETTINGS NICE PARENT_PID LOG_LEVEL
        settings = json.loads(said[said.index("feedsvc.indexcheck") + 1])
        if all(w in said or w in settings.values() for w in words) and running(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_feedsvc_index_after_a_crash_leaves_the_owed_check_to_the_next_start(
    tmp_path: Path, site: Path
) -> None:
    """`feedsvc index` (cron, a script) after a crash does not read the whole index, and must
    then record no clean stop: the next `serve` makes the check, and finds the damage."""
    index = tmp_path / "live-index" / "index.sqlite3"
    crash(start_server(tmp_path, site))
    damaged = build_of(index)
    overwrite(damaged, damaged.stat().st_size // 2, 64 * 1024)
    command = [sys.executable, "-m", "feedsvc", "index"]
    ran = subprocess.run(command, env=feedsvc_env(site, index), capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert not index.with_name(f"{index.name}.clean").exists()
    server = start_server(tmp_path, site)
    try:
        wait_for(lambda: os.readlink(index) != damaged.name, 30)
        wait_for(lambda: sitemap_size(get(server, "/sitemap.xml")[1]) == DOCUMENTS, 10)
        # The check ends after the rebuild it made; a stop before that (a loaded machine, CI)
        # ends it, and rightly leaves it owed to the next start: wait for it.
        wait_for(lambda: check_pids(str(site)) == [], 30)
    finally:
        stop_server(server)
    assert WHOLE_INDEX_CHECKED in server.log()
    # After a clean stop, `feedsvc index` leaves the record as it found it: nothing to check.
    ran = subprocess.run(command, env=feedsvc_env(site, index), capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert index.with_name(f"{index.name}.clean").exists()


def test_the_workers_of_a_server_killed_alone_stop_and_free_the_port(
    tmp_path: Path, site: Path
) -> None:
    """kill -9 of the server process alone (an operator's `kill -9 PID`, the OOM killer): its
    workers went on serving for ever, holding the port, and no new `feedsvc serve` could start
    on it. They stop with the server now."""
    server = start_server(tmp_path, site)
    workers = list(worker_pids(server).values())
    host, port = urllib.parse.urlsplit(server.url).netloc.split(":")
    # A client still sending its request: a graceful stop would wait for it (10 s).
    slow = socket.create_connection((host, int(port)), timeout=5)
    try:
        slow.sendall(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\n")
        assert len(workers) == 2 and all(running(pid) for pid in workers)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        wait_for(lambda: not any(running(pid) for pid in workers), 5)
    finally:
        slow.close()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with pytest.raises((ConnectionRefusedError, ConnectionResetError)):  # nobody answers
        get(server, "/feed.atom", timeout=2)
    assert_clean_log(server)


def checks_running(index: Path) -> bool:
    """Whether a whole-index check (indexcheck.py) of ``index`` runs."""
    return check_pids(str(index)) != []


@contextlib.contextmanager
def ended(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """``process`` (started in a session of its own), killed with its group if the block leaves
    it running (a failed assertion, a timeout)."""
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def running(pid: int) -> bool:
    """Whether ``pid`` runs (not a zombie waiting for a parent to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_an_index_damaged_after_a_crash_is_served_at_once_and_rebuilt_from_the_check_behind(
    tmp_path: Path, site: Path
) -> None:
    """No record of a clean stop (a crash) and garbage in the index that only a whole read
    finds: the service starts without reading it all, and the check it makes while serving
    finds the damage and rebuilds the index aside; the whole site is served again. With the
    service's own settings: the date settings given to `serve` (here, a time zone), not the
    defaults, or every document's time would change and the index be built once more."""
    index = tmp_path / "live-index" / "index.sqlite3"
    crash(start_server(tmp_path, site, TIMEZONE="America/New_York"))
    damaged = build_of(index)
    overwrite(damaged, damaged.stat().st_size // 2, 64 * 1024)
    server = start_server(tmp_path, site, TIMEZONE="America/New_York")
    try:
        wait_for(lambda: os.readlink(index) != damaged.name, 30)
        wait_for(lambda: get(server, "/sitemap.xml")[0] == 200, 10)
        assert_whole_site(server)
        time.sleep(1.0)  # for the watcher's next look at the index
    finally:
        stop_server(server)
    log = server.log()
    with contextlib.closing(sqlite3.connect(index)) as db:
        parsing = db.execute("SELECT value FROM meta WHERE key = 'parsing'").fetchone()[0]
    assert json.loads(parsing)["timezone"] == "America/New_York"
    assert "other date settings" not in log
    assert WHOLE_INDEX_CHECKED in log
    assert re.search(rf"the index {re.escape(str(index))} is damaged", log)
    # Not checked before serving, as after a stop that left the index touched.
    assert log.index(" workers of up to ") < log.index(WHOLE_INDEX_CHECKED)


# -- a full disk, a read-only folder -----------------------------------------------------------


def can_jail() -> bool:
    try:
        return subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "unshare", "--user", "true"],
            capture_output=True, timeout=10,
        ).returncode == 0  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_jail = pytest.mark.skipif(
    not can_jail(), reason="needs unshare and user namespaces (util-linux; Linux)"
)


def unprivileged() -> list[str]:
    """Run a command in a user namespace without root: file permissions apply to it even when
    the tests run as root."""
    return ["unshare", "--user"]


def on_a_small_disk(folder: Path, size_mib: int) -> list[str]:
    """Run a command unprivileged, with ``folder`` a tmpfs of ``size_mib`` that only it sees
    (the tests reach it through /proc/<pid>/root)."""
    script = f'mount -t tmpfs -o size={size_mib}m tmpfs "$0" && exec unshare --user "$@"'
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, str(folder)]


# In a jail whose index folder is a small disk: index the folder, have the index look made by
# an earlier document parser, fill the disk to a quarter of the index's size, and renew it.
RENEWAL_ON_A_FULL_DISK = """
import json, os, sqlite3, subprocess, sys, time
from feedsvc import config
from feedsvc.store import Store
settings = config.load(json.loads(sys.argv[1]))
Store(settings).refresh(parallel=True)
with sqlite3.connect(settings.index_path) as db:
    db.execute("UPDATE meta SET value = '0' WHERE key = 'parser'")
left = os.path.getsize(os.path.realpath(settings.index_path)) // 4
with open(settings.index_path.parent / "filler", "wb") as out:
    while os.statvfs(out.name).f_bavail * os.statvfs(out.name).f_frsize > left:
        out.write(bytes(65536))
        out.flush()
started = time.monotonic()
renewal = [sys.executable, "-m", "feedsvc.renewal", sys.argv[1], "10", str(os.getpid()), "20"]
ended = subprocess.run(renewal, capture_output=True, text=True, timeout=120)
print(json.dumps({"status": ended.returncode, "seconds": time.monotonic() - started,
                  "said": ended.stderr, "parser": str(Store(settings).renewal_owed())}))
"""


@needs_jail
def test_a_renewal_that_fails_on_a_full_disk_ends_and_says_why(tmp_path: Path) -> None:
    """The renewal (renewal.py) of an index made by an earlier parser, failing half-way through
    reading the folder in parallel (the disk fills up), ends with status 2 and one line that
    says why: the leader then tries again later, and indexes changes meanwhile. Its parser
    processes ignored the SIGTERM the pool ends them with, and it waited for them for ever."""
    seeds = tmp_path / "seeds"
    corpus.write(seeds, 1500)  # parsed in parallel (indexing.PARALLEL_THRESHOLD)
    folder = tmp_path / "index"
    folder.mkdir()
    settings = {"SEEDS_DIR": str(seeds), "INDEX_PATH": str(folder / "index.sqlite3")}
    command = [*on_a_small_disk(folder, 64), sys.executable, "-c", RENEWAL_ON_A_FULL_DISK,
               json.dumps(settings)]  # fmt: skip
    ran = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["status"] == 2, result
    assert result["seconds"] < 60, result
    said = result["said"]
    assert "could not build the index" in said and "the disk is full" in said, said
    assert "Traceback" not in said, said
    assert result["parser"] == "True"  # the old index, still in place


def edit_headline(path: Path, headline: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    path.write_text("\n".join([headline, *lines[1:]]), encoding="utf-8")


def headline_served(server: LiveServer, name: str, headline: str) -> bool:
    """Whether the document's article page (its permalink) shows ``headline``."""
    status, body = get(server, f"/articles/{article_id(name)}")
    return status == 200 and headline.encode() in body


@needs_jail
def test_a_full_disk_and_a_read_only_folder_keep_the_last_good_state(
    tmp_path: Path, site: Path
) -> None:
    folder = tmp_path / "live-index"
    folder.mkdir()
    server = start_server(tmp_path, site, prefix=on_a_small_disk(folder, 8))
    seen = Path(f"/proc/{server.process.pid}/root") / folder.relative_to("/")  # its tmpfs
    index = seen / "index.sqlite3"
    names = sorted(p.name for p in site.iterdir())
    readers = Readers(server, DOCUMENTS).start()
    filler = seen / "filler"
    try:
        # The disk fills up: an edit cannot be indexed; the site stays as it was.
        with open(filler, "wb") as out, pytest.raises(OSError) as full:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        assert full.value.errno == errno.ENOSPC
        edit_headline(site / names[0], "Edited while the disk is full")
        wait_for(lambda: "the disk is full" in server.log(), 15)
        assert not headline_served(server, names[0], "Edited while the disk is full")
        # ... and so can the index, deleted meanwhile, not be rebuilt: the old one is served.
        delete_index(index)
        time.sleep(2)
        filler.unlink()
        freed = time.monotonic()
        wait_for(lambda: headline_served(server, names[0], "Edited while the disk is full"), 20)
        record("disk_full_caught_up_after_freeing_s", time.monotonic() - freed)

        # The folder becomes read-only: an edit is still indexed (SQLite writes files that are
        # there), but an index deleted meanwhile cannot be rebuilt: the old one is served.
        seen.chmod(0o555)
        edit_headline(site / names[1], "Edited in a read-only folder")
        wait_for(lambda: headline_served(server, names[1], "Edited in a read-only folder"), 10)
        before = os.readlink(index)
        index.unlink()  # the link only: the build and the old connections to it remain
        wait_for(lambda: "not writable (Permission denied)" in server.log(), 10)
        assert not index.exists()
        seen.chmod(0o755)
        writable = time.monotonic()
        wait_for(lambda: index.is_symlink() and os.readlink(index) != before, 40)
        rebuilt = time.monotonic()
        record("read_only_folder_rebuilt_after_writable_s", rebuilt - writable)
        wait_for(lambda: readers.whole_since(rebuilt, 10), 20)
        # Both recoveries are said, by the watcher's next try, which may come after the index
        # was rebuilt (a retry waits up to 30 s; CI once stopped the server before).
        again = f"the index is in step with {site} again"
        wait_for(lambda: server.log().count(again) >= 2, 35)
    finally:
        readers.stop()
        with_suppressed(lambda: seen.chmod(0o755))
        with_suppressed(lambda: filler.unlink())
        stop_server(server)
    assert readers.bad() == [], readers.bad()[:5]
    log = server.log()
    assert_clean_log(server)
    # One line per worker that met it, however often it is retried: deleting the index deletes
    # the watcher's lock file too, and the other worker may become the leader and meet it.
    for condition in ("the disk is full", "not writable (Permission denied)"):
        said = re.findall(rf"\[(\d+)\] WARNING .*{re.escape(condition)}", log)
        assert 1 <= len(said) == len(set(said)) <= 2, (condition, said)
    assert log.count(f"the index is in step with {site} again") >= 2


def with_suppressed(action: Callable[[], object]) -> None:
    with contextlib.suppress(OSError):
        action()


# -- documents: unreadable for a while, caught half-written ------------------------------------


@pytest.fixture
def unprivileged_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server without root's privileges, on 100 documents."""
    if not can_jail():
        pytest.skip("needs unshare and user namespaces (util-linux; Linux)")
    corpus.write(tmp_path / "seeds", 100)
    server = start_server(tmp_path, tmp_path / "seeds", prefix=unprivileged())
    try:
        yield server
    finally:
        stop_server(server)


def test_a_document_is_read_again_when_it_becomes_readable(
    unprivileged_server: LiveServer,
) -> None:
    server, seeds = unprivileged_server, unprivileged_server.seeds
    # Seen unreadable while serving: published once it may be read, its size and time the same.
    name = "900000_00000000000f0001.txt"
    text = (seeds / sorted(os.listdir(seeds))[0]).read_text().replace(" ", "  ", 1)
    (seeds / name).write_text("Readable at last\n" + text.split("\n", 1)[1])
    os.chmod(seeds / name, 0)
    wait_for(lambda: f"skipped {name}: cannot read the file: Permission denied" in server.log(), 10)
    os.chmod(seeds / name, 0o644)
    took = wait_for(lambda: headline_served(server, name, "Readable at last"), 10)
    record("unreadable_document_published_after_chmod_s", took)

    # Seen unreadable, then made readable while the service is stopped: read at the restart.
    later = "900001_00000000000f0002.txt"
    (seeds / later).write_text("Readable after a restart\n" + text.split("\n", 1)[1])
    os.chmod(seeds / later, 0)
    wait_for(lambda: f"skipped {later}" in server.log(), 10)
    stop_server(server)
    os.chmod(seeds / later, 0o644)
    again = start_server(server.log_path.parent, seeds, prefix=unprivileged())
    try:
        wait_for(lambda: headline_served(again, later, "Readable after a restart"), 10)
    finally:
        stop_server(again)
    assert_clean_log(again)


def test_an_edit_caught_half_written_never_unpublishes_the_article(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    corpus.write(seeds, 100)
    server = start_server(tmp_path, seeds)
    names = sorted(os.listdir(seeds))[10:12]
    statuses: list[tuple[float, str, int]] = []
    stop = threading.Event()
    emptied = float("inf")  # when the first document is emptied for good

    def read() -> None:
        while not stop.is_set():
            for name in names:
                status = get(server, f"/articles/{article_id(name)}")[0]
                statuses.append((time.monotonic(), name, status))

    reader = threading.Thread(target=read, daemon=True)
    try:
        reader.start()
        for number, name in enumerate(names):
            path = seeds / name
            full = path.read_text()
            headline = f"Edited in place, take {number}"
            with open(path, "w") as out:  # truncated: an empty file, for longer than a debounce
                if number % 2:  # or a document that does not parse yet (a headline alone)
                    out.write(full.split("\n", 1)[0] + "\n")
                out.flush()
                time.sleep(0.6)
                out.seek(0)
                out.truncate()
                out.write(f"{headline}\n{full.split(chr(10), 1)[1]}")
            wait_for(lambda: headline_served(server, name, headline), 10)  # noqa: B023
            # Its entry's time is the edit's (the file's time), not its publication's.
            body = json.loads(get(server, "/feed.json")[1])
            entry = next(i for i in body["items"] if i["id"].endswith(article_id(name)))
            modified = datetime.fromisoformat(entry["date_modified"].replace("Z", "+00:00"))
            assert modified.timestamp() == int(path.stat().st_mtime), entry
        # A document left empty is withdrawn, once it has settled.
        emptied = time.monotonic()
        (seeds / names[0]).write_text("")
        took = wait_for(lambda: get(server, f"/articles/{article_id(names[0])}")[0] == 404, 10)
        record("emptied_document_withdrawn_after_s", took)
    finally:
        stop.set()
        reader.join(timeout=30)
        stop_server(server)
    unpublished = [a for a in statuses if a[2] == 404 and (a[0] < emptied or a[1] != names[0])]
    assert unpublished == [], "unpublished mid-edit"
    assert {a[2] for a in statuses} <= {200, 404}, statuses
    assert server.log().count(f"skipped {names[0]}: empty document") == 1
    assert_clean_log(server)


def test_the_watcher_outlives_a_lock_file_it_cannot_open(unprivileged_server: LiveServer) -> None:
    server = unprivileged_server
    lock = server.log_path.parent / "live-index" / "index.sqlite3.watch"
    leader = leader_pid(server)
    other = next(pid for pid in worker_pids(server).values() if pid != leader)
    granian = server.process.pid
    os.kill(granian, signal.SIGSTOP)  # no new worker: only the other one can take over
    try:
        lock.chmod(0)  # a read-only moment: the other worker cannot even open it
        os.kill(leader, signal.SIGKILL)
        wait_for(lambda: f"[{other}] WARNING feedsvc.watch: the watcher of" in server.log(), 10)
        time.sleep(3)  # it keeps trying, with back-off, without saying it again
        lock.chmod(0o644)
        took = wait_for(
            lambda: f"[{other}] INFO feedsvc.watch: this process now watches" in server.log(), 40
        )
        record("watcher_leads_after_lock_file_readable_s", took)
        name = sorted(os.listdir(server.seeds))[50]
        edit_headline(server.seeds / name, "Indexed by the worker that took over")
        wait_for(lambda: headline_served(server, name, "Indexed by the worker that took over"), 10)
    finally:
        with_suppressed(lambda: lock.chmod(0o644))
        os.kill(granian, signal.SIGCONT)
    log = server.log()
    failed = re.findall(rf"\[{other}\] WARNING feedsvc.watch: the watcher of .*", log)
    assert len(failed) == 1 and "not writable (Permission denied)" in failed[0], failed
    assert f"[{other}] INFO feedsvc.watch: the watcher of {server.seeds} runs again" in log
    assert_clean_log(server)


# -- a hot document --------------------------------------------------------------------------


MIXED = """
local paths = {PATHS}
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1], {["Accept-Encoding"] = "gzip"})
end
"""


def wrk_served(server: LiveServer, script: Path, seconds: int) -> float:
    """Responses per second other than errors, by wrk on 16 connections."""
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), server.url],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout  # fmt: skip
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    refused = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return (total - (int(refused.group(1)) if refused else 0)) / seconds


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_a_hot_document_costs_under_half_the_mixed_throughput(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    corpus.write(seeds, 2_000)
    server = start_server(tmp_path, seeds, ACCESS_LOG="off")  # a log line a request: 20 MB
    stop = threading.Event()
    try:
        # What readers and browsers ask for: feeds, pages with their style sheet and script,
        # facets, the sitemap, articles.
        front = get(server, "/")[1].decode()
        assets = re.findall(r'"(/static/[^"]+\?v=[^"]+)"', front)
        newest = json.loads(get(server, "/feed.json")[1])["items"]
        articles = [urllib.parse.urlsplit(item["url"]).path for item in newest[:4]]
        paths = ["/feed.atom", "/feed.rss", "/feed.json", "/", "/?page=2", "/sources", "/places",
                 "/sources/reuters", "/places/paris", "/sources/afp/feed.atom",
                 "/places/london/feed.rss", "/sitemap.xml", "/feeds.opml", *articles,
                 *assets]  # fmt: skip
        for _ in range(4):  # both workers have rendered each of them
            for path in paths:
                assert get(server, path)[0] == 200, path
        script = tmp_path / "mixed.lua"
        script.write_text(MIXED.replace("{PATHS}", "{" + ",".join(f'"{p}"' for p in paths) + "}"))

        # The newest article, in every main feed and on the front page, its headline rewritten
        # every 10 ms (truncated, then written: not atomic), between two quiet measurements
        # (the machine's other work drifts; the two brackets cancel a steady drift).
        hot = next(seeds.glob(f"*_{newest[0]['id'].rsplit('/', 1)[-1]}.txt"))
        text = hot.read_text()
        writes = 0

        def rewrite() -> None:
            nonlocal writes
            while not stop.is_set():
                hot.write_text(text.replace("\n", f" (update {writes})\n", 1))
                writes += 1
                time.sleep(0.01)

        before = wrk_served(server, script, 3)
        writer = threading.Thread(target=rewrite, daemon=True)
        commits_before = server.log().count(f"changed {hot.name}")
        writer.start()
        time.sleep(0.3)
        busy = wrk_served(server, script, 6)
        stop.set()
        writer.join()
        commits = server.log().count(f"changed {hot.name}") - commits_before
        after = wrk_served(server, script, 3)
        # Its last version is published once it is quiet.
        wait_for(lambda: f"(update {writes - 1})".encode() in get(server, "/feed.json")[1], 10)
    finally:
        stop.set()
        stop_server(server)
    quiet = (before + after) / 2
    record("mixed_quiet_per_s", quiet)
    record("mixed_with_hot_document_per_s", busy)
    record("mixed_hot_over_quiet", busy / quiet)
    record("hot_document_writes", writes)
    record("hot_document_commits", commits)
    assert writes > 200
    # Published while rewritten (every MAX_WAIT_SECONDS), not after every write (main before
    # this: about 15 commits a second, each dropping every worker's cache).
    assert 1 <= commits <= 2 + 6 / watch.MAX_WAIT_SECONDS, commits
    assert busy / quiet > 0.5, (before, busy, after)
    assert_clean_log(server)


# -- an interrupted first index -------------------------------------------------------------


def feedsvc_env(seeds: Path, index: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(FEEDSVC_SEEDS_DIR=str(seeds), FEEDSVC_INDEX_PATH=str(index),
               FEEDSVC_SITE_URL=SITE_URL)  # fmt: skip
    env.update({f"FEEDSVC_{k}": v for k, v in settings.items()})
    return env


def committed(index: Path) -> int:
    """Documents a first index has committed so far (0 before its first batch)."""
    try:
        build = index.parent / os.readlink(index.with_name(index.name + ".next"))
        with sqlite3.connect(f"file:{build}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM files").fetchone()[0]
    except (OSError, sqlite3.Error):
        return 0


def signalled(
    process: subprocess.Popen[str], signum: int, to_group: bool
) -> tuple[str, list[str], float]:
    """Send ``signum`` to ``process`` (or to its process group) and wait for it to end: its
    stderr, the states of the processes left in its session (from ps), and the seconds it took."""
    sent = time.monotonic()
    (os.killpg if to_group else os.kill)(process.pid, signum)
    _, err = process.communicate(timeout=15)
    took = time.monotonic() - sent
    time.sleep(0.2)
    states = subprocess.run(["ps", "-o", "stat=", "-s", str(process.pid)],
                            capture_output=True, text=True).stdout.split()  # fmt: skip
    return err, states, took


@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, True), (signal.SIGTERM, False)],
    ids=["ctrl-c", "sigterm-to-the-group", "sigterm-to-the-command"],
)
def test_a_signal_stops_a_first_index_at_once_and_quietly(
    tmp_path: Path, signum: int, to_group: bool
) -> None:
    """Ctrl-C (SIGINT to the process group), SIGTERM to the group (systemd, a CI runner) or to
    the command alone (kill PID) stop `feedsvc index` while its parser processes work: at once,
    every process gone, no traceback; the next run goes on from the batches kept."""
    documents = 3 * BATCH_DOCUMENTS
    seeds, index = tmp_path / "seeds", tmp_path / "index" / "index.sqlite3"
    corpus.write(seeds, documents)
    env = feedsvc_env(seeds, index)
    command = [sys.executable, "-m", "feedsvc", "index"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)  # fmt: skip
    try:
        # As soon as the build has begun: its parsers are at work (they run ahead of the
        # writer, so after the first commit they may be done).
        building = index.with_name(index.name + ".next")
        wait_for(lambda: os.path.lexists(building) or process.poll() is not None, 60)
        assert process.poll() is None, "finished before the signal"
        err, states, took = signalled(process, signum, to_group)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert took < 5.0, took
    assert process.returncode == (1 if signum == signal.SIGINT else -signum)
    assert "Traceback" not in err and len(err.splitlines()) <= 2, err  # click's "Aborted!"
    # (Zombies are dead: parsers whose parent died first wait for init to reap them.)
    assert [s for s in states if not s.startswith("Z")] == [], "parsers outlived the command"
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert f"{documents:,} articles" in second.stdout


@pytest.mark.parametrize("kind", ["parser", "render"])
def test_a_ctrl_c_that_reaches_a_process_as_it_is_forked_waits_for_its_handler(
    tmp_path: Path, kind: str
) -> None:
    """A Ctrl-C reaches the whole process group, the parser (or render) processes of `feedsvc
    index` (`feedsvc build`) too, even one just forked, before it has set SIGINT aside: such a
    process printed its KeyboardInterrupt traceback (a Ctrl-C of a first index in CI). Here each
    forked process is sent SIGINT at once (an after-fork hook): it must wait for the process's
    own handler, which ignores it, and the work must end whole and quiet."""
    seeds = tmp_path / "seeds"
    corpus.write(seeds, 420 if kind == "parser" else 30)
    work = {
        "parser": (
            "from feedsvc import document, indexing, seedfiles\n"
            "names = sorted(p.name for p in seeds.iterdir())\n"
            "found = list(seedfiles.describe(seeds, names, 1 << 20).values())\n"
            "loaded = list(indexing.load_documents(seeds, found, 1 << 20,"
            " document.ParseOptions(), parallel=True))\n"
            "print(sum(item.article is not None for item in loaded))\n"
        ),
        "render": (
            "from feedsvc import build, config\n"
            "settings = config.load({'SEEDS_DIR': str(seeds),"
            " 'INDEX_PATH': str(seeds.parent / 'index.sqlite3')})\n"
            "builder = build.Builder(settings, seeds.parent / 'out', jobs=2)\n"
            "builder.svc.store.refresh()\n"
            "report = builder.build()\n"
            "builder.close()\n"
            "print(len(report.failed), report.rendered > build.PARALLEL_MIN_URLS)\n"
        ),
    }[kind]
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "seeds = Path(sys.argv[1])\n"
        "os.register_at_fork(after_in_child=lambda: os.kill(os.getpid(), signal.SIGINT))\n" + work
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    done = subprocess.run([sys.executable, "-c", script, str(seeds)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.split() == (["420"] if kind == "parser" else ["0", "True"])


def test_ctrl_c_stops_serve_during_its_first_index_even_started_in_the_background(
    tmp_path: Path,
) -> None:
    """A script's `feedsvc serve &` starts it with SIGINT ignored (POSIX shells do that for
    background jobs); granian stops on SIGINT anyway, and so must the first index before it."""
    seeds, index = tmp_path / "seeds", tmp_path / "index" / "index.sqlite3"
    corpus.write(seeds, 3 * BATCH_DOCUMENTS)
    command = [sys.executable, "-m", "feedsvc", "serve", "--bind", f"127.0.0.1:{free_port()}"]
    with ended(subprocess.Popen(
        command, env=feedsvc_env(seeds, index), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )) as process:  # fmt: skip
        wait_for(lambda: committed(index) > 0 or process.poll() is not None, 60)
        assert process.poll() is None and not index.exists(), "the first index was over"
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=5)
    assert "Traceback" not in err and "Listening" not in err, err


@pytest.mark.parametrize("how", ["command", "module"])
def test_ctrl_c_while_the_command_still_imports_ends_it_quietly(tmp_path: Path, how: str) -> None:
    """Ctrl-C right after Enter reaches `feedsvc` while it imports its modules, before it has set
    its own handlers: it printed a KeyboardInterrupt traceback from inside some import. Now it
    ends as SIGINT ends a program, which tells the shell so. The signal is sent once the
    command's module has begun to import (sqlite3 is among its first imports, and loads a
    library of its own), a tenth of a second before it is done."""
    script = Path(sys.executable).with_name("feedsvc")  # what the install puts on PATH
    if how == "command" and not script.exists():
        pytest.skip(f"no {script}: feedsvc is not installed in this environment")
    command = [str(script)] if how == "command" else [sys.executable, "-m", "feedsvc"]
    seeds, index = tmp_path / "seeds", tmp_path / "index.sqlite3"
    corpus.write(seeds, 3)
    with ended(subprocess.Popen(
        [*command, "serve", "--bind", f"127.0.0.1:{free_port()}"], env=feedsvc_env(seeds, index),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )) as process:  # fmt: skip
        maps = Path(f"/proc/{process.pid}/maps")
        wait_for(lambda: process.poll() is not None or "_sqlite3" in maps.read_text(), 30)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGINT, (process.returncode, err)
    assert err == "", err


def test_an_interrupted_first_index_keeps_its_batches(tmp_path: Path) -> None:
    documents = 6 * BATCH_DOCUMENTS
    seeds, index = tmp_path / "seeds", tmp_path / "index" / "index.sqlite3"
    corpus.write(seeds, documents)
    env = feedsvc_env(seeds, index)
    command = [sys.executable, "-m", "feedsvc", "index"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: committed(index) >= 5 * BATCH_DOCUMENTS or first.poll() is not None, 60)
    finally:
        first.kill()  # kill -9 at 83 % committed, more parsed
        first.wait()
    kept = committed(index)
    assert kept >= 5 * BATCH_DOCUMENTS and not index.exists(), "finished before the kill"

    # The next run goes on from there, and puts the index in place whole.
    started = time.monotonic()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    record("interrupted_first_index_kept_documents", kept)
    record("interrupted_first_index_resumed_in_s", time.monotonic() - started)
    assert second.returncode == 0, second.stderr
    # Not "is missing; continuing to build it" (an upgrade trial: said of a stopped renewal).
    assert f"the index {index} was not finished; continuing to build it" in second.stderr
    counts = f"{documents - kept:,} added, 0 changed, 0 removed, {kept:,} files unchanged"
    assert counts in second.stdout
    assert f"{documents:,} articles" in second.stdout
    assert f"is built: {documents:,} articles" in second.stderr  # all of them, not the rest

    # Served by `feedsvc serve` while `feedsvc index` (cron, FEEDSVC_WATCH=false) adds many
    # documents in place: every response shows whole batches.
    server = start_server(tmp_path, seeds, INDEX_PATH=str(index), WATCH="false")
    for name, text in corpus.generate(documents + 3 * BATCH_DOCUMENTS):
        if not (seeds / name).exists():
            (seeds / name).write_text(text, encoding="utf-8")
    sizes: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            status, body = get(server, "/")
            sizes.append(front_page_total(body) if status == 200 else -status)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert third.returncode == 0, third.stderr
        wait_for(lambda: sizes[-1] == documents + 3 * BATCH_DOCUMENTS, 10)
    finally:
        stop.set()
        reader.join(timeout=30)
        stop_server(server)
    batches = {documents + k * BATCH_DOCUMENTS for k in range(4)}
    assert set(sizes) <= batches, sorted(set(sizes) - batches)


# -- a worker killed twice: the supervisor ----------------------------------------------------


def unit() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((ROOT / "docs" / "feedsvc.service").read_text())
    return parser["Service"]


def unit_command(tmp_path: Path, seeds: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """The unit's ExecStart line and environment, with this machine's paths in place of the
    example's: the program from this environment, a free port, a scratch folder."""
    service = unit()
    command = shlex.split(service["ExecStart"])
    assert Path(command[0]).name == "feedsvc" and command[1:3] == ["serve", "--bind"]
    command[0] = str(Path(sys.executable).with_name("feedsvc"))
    command[3] = f"127.0.0.1:{port}"
    settings = dict(line.split("=", 1) for line in service["Environment"].split("\n") if line)
    settings.update(FEEDSVC_SEEDS_DIR=str(seeds),
                    FEEDSVC_INDEX_PATH=str(tmp_path / "state" / "index.sqlite3"))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    return command, {**env, **settings}


def test_systemd_reads_the_documented_unit_without_a_complaint(tmp_path: Path) -> None:
    # systemd's own parser: a misspelt key or value is only a warning at daemon-reload, and the
    # unit then runs without it (a Restart= it cannot read is no restart at all).
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze (Debian package systemd, which .ci/run installs)")
    # verify checks that the program exists: this environment's in place of the example's.
    program = Path(sys.executable).with_name("feedsvc")
    text = (ROOT / "docs" / "feedsvc.service").read_text()
    copy = tmp_path / "feedsvc.service"
    copy.write_text(text.replace(shlex.split(unit()["ExecStart"])[0], str(program)))
    assert str(program) in copy.read_text()
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_a_worker_killed_twice_stops_the_service_and_the_unit_restarts_it(
    tmp_path: Path, site: Path
) -> None:
    service = unit()
    assert service["Restart"] == "always" and service["KillMode"] == "mixed"
    assert float(service["TimeoutStopSec"]) >= 5  # the server's stop takes at most ~5 s
    restart_seconds = float(service["RestartSec"])
    port = free_port()
    command, env = unit_command(tmp_path, site, port)
    server = LiveServer(f"http://127.0.0.1:{port}", site, None, tmp_path / "unit.log")  # type: ignore[arg-type]

    def run() -> None:
        with open(server.log_path, "ab") as log:
            server.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(lambda: answers_whole(server), 30)

    run()
    stopped = None
    try:
        number, pid = min(worker_pids(server).items())
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: worker_pids(server)[number] != pid, 10)
        os.kill(worker_pids(server)[number], signal.SIGKILL)  # again, within 5.5 s
        killed = time.monotonic()
        status = server.process.wait(timeout=20)
        record("double_kill_exit_after_s", time.monotonic() - killed)
        assert status != 0  # so that Restart= (on-failure too) starts it again
        assert "granian stopped the service: a worker died again" in server.log()
        time.sleep(restart_seconds)  # what systemd waits before starting it again
        restarted = time.monotonic()
        run()
        record("double_kill_answering_again_after_restart_s", time.monotonic() - restarted)
        record("double_kill_down_for_s", time.monotonic() - killed)
        # The supervisor's stop (KillMode=mixed): SIGTERM to the server alone, within the time.
        stopping = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        stopped = server.process.wait(timeout=float(service["TimeoutStopSec"]))
        record("unit_stop_s", time.monotonic() - stopping)
    finally:
        stop_server(server)
    assert stopped == 0  # a clean exit, and nothing left for SIGKILL


def answers_whole(server: LiveServer) -> bool:
    try:
        status, body = get(server, "/sitemap.xml", timeout=2)
    except OSError:
        return False
    return status == 200 and sitemap_size(body) == DOCUMENTS


@pytest.mark.parametrize("to_group", [False, True], ids=["to-the-command", "to-the-group"])
def test_sigterm_ends_feedsvc_check_and_removes_its_throwaway_index(
    tmp_path: Path, to_group: bool
) -> None:
    # A trial: `kill PID` of a check left its scratch index (34 MB at 20,000 documents). A
    # review: unwinding after a SIGTERM to the group (systemd's, timeout's) could wait for ever
    # for a parser killed holding the pool's lock.
    seeds, scratch = tmp_path / "seeds", tmp_path / "tmp"
    corpus.write(seeds, 6 * BATCH_DOCUMENTS)  # a few seconds of parsing
    scratch.mkdir()
    env = {**feedsvc_env(seeds, tmp_path / "unused" / "index.sqlite3"), "TMPDIR": str(scratch)}
    process = subprocess.Popen([sys.executable, "-m", "feedsvc", "check"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    try:
        wait_for(lambda: any(scratch.glob("feedsvc-check-*/*")) or process.poll() is not None, 60)
        assert process.poll() is None, "finished before the signal"
        err, states, _ = signalled(process, signal.SIGTERM, to_group)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 143 and "Traceback" not in err, err
    assert list(scratch.iterdir()) == []
    assert [s for s in states if not s.startswith("Z")] == [], "parsers outlived the command"
