"""Benchmark machinery: processes that are always stopped, plain HTTP requests, and wrk.

Every process is started in its own session, so stopping its process group also stops the
children it forks (granian's and nginx's workers), whether the benchmark ends normally, fails or
is interrupted.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    """Progress, on standard error (standard output carries the tables)."""
    print(message, file=sys.stderr, flush=True)


# -- processes -------------------------------------------------------------------------------


class Processes:
    """Every process the benchmark starts, each in its own session, so that stopping its
    process group also stops its children (granian's and nginx's workers)."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        cmd: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed by Popen
        try:
            proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if log:
                out.close()  # type: ignore[union-attr]
        self._running.append(proc)
        return proc

    def run(
        self,
        cmd: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 3600,
    ) -> tuple[float, str]:
        """Run to completion; (wall-clock seconds, stdout). Raises on a non-zero exit."""
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._running.append(proc)
        out, err = proc.communicate(timeout=timeout)
        elapsed = time.perf_counter() - started
        self._running.remove(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}: {err.decode()}")
        return elapsed, out.decode()

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
                _wait_group_gone(proc.pid, grace)
                break
            except subprocess.TimeoutExpired:
                continue
        if proc in self._running:
            self._running.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self._running)):
            self.stop(proc)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise subprocess.TimeoutExpired(f"process group {pgid}", timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _parents() -> dict[int, int]:
    """Every process's parent (proc(5)), pid -> ppid."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may contain spaces and parentheses; fields follow the last ')'.
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def child_pids(pid: int) -> list[int]:
    return sorted(child for child, parent in _parents().items() if parent == pid)


def descendant_pids(pid: int) -> list[int]:
    """The children of ``pid``, theirs, and so on (granian's workers and what they start)."""
    parents = _parents()
    found: list[int] = []
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += frontier
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (nginx's or granian's workers,
    and the processes feedsvc's workers start, such as its scans of the folder, rescan.py), as
    the kernel counts them so far (proc(5): utime, stime)."""
    ticks = 0
    for one in (pid, *descendant_pids(pid)):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# -- HTTP ------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    fields: list[tuple[str, str]]  # every header line as sent, repeated ones too


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> Reply:
    """One request on a fresh connection (so successive calls may reach different workers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        fields = response.getheaders()
        return Reply(response.status, {k.lower(): v for k, v in fields}, body, fields)
    finally:
        conn.close()


def wait_until_up(
    port: int, path: str, proc: subprocess.Popen[bytes], timeout: float, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} while starting")
        try:
            if fetch(port, path).status == 200:
                return
        except OSError:
            pass
        time.sleep(interval)
    raise RuntimeError(f"nothing answered 200 on port {port}{path} within {timeout:.0f} s")


# -- wrk -------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx/3xx responses plus socket errors
    cpu_s: float | None = None  # the server's CPU seconds during the run, when measured


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk(
    procs: Processes,
    url: str,
    headers: Iterable[str],
    *,
    seconds: int,
    connections: int,
    threads: int,
) -> WrkResult:
    """One wrk run; p99 from its --latency distribution."""
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for header in headers:
        cmd += ["-H", header]
    _, out = procs.run([*cmd, url], timeout=seconds + 60)
    return parse_wrk(out)


def parse_wrk(out: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    total = re.search(r"(\d+) requests in", out)
    if not (rps and p99 and total):
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return WrkResult(
        float(rps.group(1)), float(p99.group(1)) * _UNITS_MS[p99.group(2)], int(total.group(1)), bad
    )
