"""Logging set-up, done once per process at the entry point: feedsvc's and granian's lines alike.

Every line goes to standard error in one format, ``2026-11-30 12:00:00,123 [pid] LEVEL logger:
message``, whether it comes from feedsvc, from granian's Python code or from its Rust core (which
logs through the ``_granian`` logger). The same dictionary configures the command's process and is
handed to granian, which applies it in the server and in every worker it starts. The access log is
the ``feedsvc.access`` logger: among the other lines, or alone in a file in the Combined Log Format.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
ACCESS_LOGGER = "feedsvc.access"
# granian's Rust core logs through "_granian" (and its children); shown as "granian".
GRANIAN_LOGGER = "_granian"


class _GranianName(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(GRANIAN_LOGGER):
            record.name = record.name[1:]
        return True


def dict_config(level: int = logging.INFO, access_log: str = "off") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary; ``access_log`` is "on", "off" or a file path."""
    handlers: dict[str, Any] = {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "feedsvc",
            "filters": ["granian_name"],
        }
    }
    access: dict[str, Any] = {"level": logging.INFO, "propagate": access_log == "on"}
    if access_log not in ("on", "off"):
        # WatchedFileHandler reopens the file when logrotate has moved it away.
        handlers["access_file"] = {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": access_log,
            "formatter": "bare",
            "delay": True,  # opened on the first request: the server itself never writes to it
        }
        access["handlers"] = ["access_file"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"granian_name": {"()": _GranianName}},
        "formatters": {"feedsvc": {"format": FORMAT}, "bare": {"format": "%(message)s"}},
        "handlers": handlers,
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # granian configures these two with handlers of its own: hand them to the root.
            GRANIAN_LOGGER: {"level": level, "handlers": [], "propagate": True},
            "granian.access": {"level": logging.INFO, "handlers": [], "propagate": True},
            ACCESS_LOGGER: access,
            # "1 change detected" for every change: feedsvc.changes names the files instead.
            "watchfiles": {"level": logging.WARNING},
        },
    }


def configure(level: int = logging.INFO, access_log: str = "off") -> dict[str, Any]:
    """Configure this process; returns the dictionary, for granian to configure its processes."""
    config = dict_config(level, access_log)
    logging.config.dictConfig(config)
    return config
