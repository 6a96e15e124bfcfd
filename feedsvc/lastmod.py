"""When what feedsvc serves last changed: the one place that dates a representation.

Readers, proxies and hubs decide what to fetch by these times, so they must move forward on every
change and be the same on every node that serves the same folder and after an index rebuild.
They are therefore derived from the documents alone, never from what one index remembers:

- An **entry** was last changed at ``max(published, its file's modification time)`` (like Hugo's
  ``:fileModTime``): writing a document dates the entry, and an embargoed one dates from its
  release. Copying the folder without keeping modification times (``cp`` without ``-p``, a git
  checkout) therefore reads as an edit of every document.
- The **content time** of the site is ``max(every document file's modification time, the seeds
  folder's own modification time, the latest release <= now)``, never later than now. Adding,
  editing, removing or renaming a document moves one of the first two (the folder's time moves on
  every add, remove and rename, which is how a deletion is seen at all); an embargo lifting moves
  the third. Every representation derived from the store is dated by it: conservative (it moves
  when an unrelated document changes, costing an If-Modified-Since client a full response) but
  it never misses a change. The strong ETag stays exact for clients that send If-None-Match.
- A file or folder **dated in the future** by this host's clock (a writer's clock ahead of ours,
  an rsync from such a host) counts from its time, like a release: until then the content time
  is made of the other facts, so that it stays the same on every node and in every render
  instead of following the clock. Such a time cannot be "consistently determined" (RFC 9110
  8.8.2.1, which would have it replaced by each message's Date), so no Last-Modified is sent
  until it has passed: clients revalidate by the ETag alone, which changes with the bytes.

``Last-Modified`` follows RFC 9110 8.8.2: never later than the response's Date (8.8.2.1), and a
validator a client can trust with If-Modified-Since (13.1.3), which has whole-second precision. A
time is only sent once it is *settled*: its whole second ended ``SETTLE_SECONDS`` ago. Until then a
second change in the same second, or a change the index had not yet seen when the response was
made (the watcher's latency), could carry the same or an earlier time, and a client holding the
first time would be told 304 Not Modified for the second. Without Last-Modified such a client
simply fetches again (RFC 9110 8.8.2.1 asks for it only where it can be consistently determined).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

# How late a change may reach the index after its files were written and still be dated right:
# the watcher's notification debounce and a refresh take well under this.
SETTLE_SECONDS = 2.0


def whole_seconds(moment: datetime) -> datetime:
    """``moment`` rounded down to the second: HTTP dates and feed dates carry no fraction."""
    return moment.replace(microsecond=0)


def from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def entry_updated_ts(published_ts: float, file_mtime_ns: int) -> float:
    """An entry's last change, in epoch seconds: the later of its publication and its file's
    modification time, to the whole second (RFC 4287 4.2.15: never before it was published)."""
    return float(max(math.floor(published_ts), file_mtime_ns // 1_000_000_000))


def entry_updated_at(updated_ts: float, published_ts: float, now: float) -> float:
    """``entry_updated_ts`` as read at ``now``: a file time after ``now`` (a skewed clock)
    counts from its time, as for the content time, so until then the entry is dated by its
    publication. The same on every node and in every render, never in the future."""
    return updated_ts if updated_ts <= now else float(math.floor(published_ts))


# The same rule in SQL, for reads that list many entries without their text: its one parameter
# is ``now`` (epoch seconds). CAST to INTEGER is floor() for the positive times stored.
ENTRY_UPDATED_AT_SQL = (
    "CASE WHEN updated_ts <= ? THEN updated_ts ELSE CAST(CAST(published_ts AS INTEGER) AS REAL) END"
)


@dataclass(frozen=True)
class SiteTimes:
    """The facts the content time is made of, as the index read them from the folder."""

    newest_file_ns: int  # the latest modification time of a document file, not after now (0: none)
    folder_ns: int  # the seeds folder's own modification time
    latest_release_ts: float | None  # the newest publication time that is not after now
    dated_ahead: bool = False  # a document file is dated after now (the folder: folder_ns)

    def content_time(self, now: float) -> datetime:
        """The site's content time at ``now`` (epoch seconds), to the whole second, never later
        than ``now``: a file or folder dated after ``now`` counts from its time (module doc)."""
        folder = self.folder_ns / 1e9 if self.folder_ns / 1e9 <= now else 0.0
        newest = max(self.newest_file_ns / 1e9, folder, self.latest_release_ts or 0.0)
        return whole_seconds(from_timestamp(min(newest, now)))

    def determinable(self, now: float) -> bool:
        """Whether the content time may be sent as Last-Modified at ``now``: not while a file
        or the folder is dated after it (RFC 9110 8.8.2.1; module doc)."""
        return not self.dated_ahead and self.folder_ns / 1e9 <= now


def settled_at(moment: datetime) -> float:
    """From when (epoch seconds) ``moment`` may be sent as Last-Modified (see the module doc)."""
    return moment.timestamp() + 1 + SETTLE_SECONDS
