"""Logging set-up, done once per process at the entry point: feedsvc's and granian's lines alike.

Every line goes to standard error in one format, ``2026-11-30 12:00:00,123 [pid] LEVEL logger:
message``, whether it comes from feedsvc, from granian's Python code or from its Rust core (which
logs through the ``_granian`` logger). The same dictionary configures the command's process and is
handed to granian, which applies it in the server and in every worker it starts.

The access log writes a line per request, so it does not go through the logging machinery (a
record, handler locks, a formatter: more than twice the cost of the one system call a line needs):
:func:`access_writer` writes each line with one ``os.write``, among the other lines in the same
format, or bare to a file in the Combined Log Format.
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

# The one line format; the access log writes its lines in it too (see _Stderr).
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MSEC_FORMAT = "%s,%03d"
FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
ACCESS_LOGGER = "feedsvc.access"
# granian's Rust core logs through "_granian" (and its children); shown as "granian".
GRANIAN_LOGGER = "_granian"
# An access log file moved away by log rotation is noticed within this long.
REOPEN_CHECK_SECONDS = 1.0


# granian's advice when a worker may run more threads than 2 x cores + 1 (granian/server/mp.py).
# feedsvc sizes its threads on purpose (serving.DEFAULT_THREADS: most of them wait on the
# admission lanes, not on the CPU) and says how many in its own start line.
# (Worded "Configuration allow to spawn up to" in granian 2.0-2.2.)
GRANIAN_THREADS_ADVICE = re.compile(r"Configuration allows? (?:spawning|to spawn) up to ")


class _GranianName(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(GRANIAN_LOGGER):
            record.name = record.name[1:]
        advice = GRANIAN_THREADS_ADVICE.match(str(record.msg)) is not None
        return not (advice and record.name == "granian")


# What a line of a log or of a command's report must not carry as it is: control characters (a
# newline in a file name would write a line of its own, an ESC sequence would drive the terminal),
# line and paragraph separators, bidirectional controls (they reorder what is shown around them),
# and the lone surrogates by which a file name's bytes that are not UTF-8 reach Python.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with what a log line must not carry written as Python escapes (``\\n``,
    ``\\x1b``, ``\\u202e``; a byte that is not UTF-8 as ``\\xff``): text from outside, such
    as a file name, can neither start a line of its own nor change what the rest shows."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if named := _NAMED_ESCAPES.get(match.group()):
        return named
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for one undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class Formatter(logging.Formatter):
    """The one line format; a record's message is made printable (its traceback, added after,
    keeps its lines)."""

    default_time_format = TIME_FORMAT
    default_msec_format = MSEC_FORMAT

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = printable(record.message)
        return super().formatMessage(record)


def dict_config(level: int = logging.INFO) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary: every logger to standard error, one format."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"granian_name": {"()": _GranianName}},
        "formatters": {"feedsvc": {"()": Formatter, "format": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "feedsvc",
                "filters": ["granian_name"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # granian configures these two with handlers of its own: hand them to the root.
            GRANIAN_LOGGER: {"level": level, "handlers": [], "propagate": True},
            "granian.access": {"level": logging.INFO, "handlers": [], "propagate": True},
            # "1 change detected" for every change: feedsvc.changes names the files instead.
            "watchfiles": {"level": logging.WARNING},
        },
    }


def configure(level: int = logging.INFO) -> dict[str, Any]:
    """Configure this process; returns the dictionary, for granian to configure its processes."""
    config = dict_config(level)
    logging.config.dictConfig(config)
    return config


def access_writer(access_log: str) -> Callable[[str], None] | None:
    """Where FEEDSVC_ACCESS_LOG sends access lines: "on", "off" (None) or a file path."""
    if access_log == "off":
        return None
    if access_log == "on":
        return _Stderr(ACCESS_LOGGER)
    return _AppendFile(access_log)


class _Stderr:
    """Writes messages to standard error as the logging set-up above would, one write each."""

    def __init__(self, logger: str) -> None:
        self.logger = logger
        self._second = -1
        self._stamp = ""

    def __call__(self, message: str) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:  # a race between threads only formats the same text twice
            self._stamp = time.strftime(TIME_FORMAT, time.localtime(second))
            self._second = second
        asctime = MSEC_FORMAT % (self._stamp, int((now - second) * 1000))
        line = f"{asctime} [{os.getpid()}] INFO {self.logger}: {message}\n"
        try:  # noqa: SIM105 - once per request: cheaper than contextlib.suppress
            os.write(sys.stderr.fileno(), line.encode("utf-8", "backslashreplace"))
        except OSError:
            pass  # as logging does: a log that cannot be written must not fail the request


class _AppendFile:
    """Appends bare lines to a file, reopening it when log rotation has moved it away."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1
        self._checked = 0.0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if self._fd < 0 or now - self._checked > REOPEN_CHECK_SECONDS:
            self._checked = now
            self._reopen_if_moved()
        if self._fd < 0:
            return  # the file cannot be opened now; the next check tries again
        try:  # noqa: SIM105 - once per request: cheaper than contextlib.suppress
            # O_APPEND: lines of several workers never overwrite one another.
            os.write(self._fd, (message + "\n").encode("utf-8", "backslashreplace"))
        except OSError:
            pass

    def _reopen_if_moved(self) -> None:
        try:
            here = os.stat(self.path)
            same = self._fd >= 0 and os.path.samestat(here, os.fstat(self._fd))
        except OSError:
            same = False
        if not same:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            with contextlib.suppress(OSError):
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC)
