"""Keep the store in step with the seeds folder while serving, in every worker process.

One process at a time is the leader: it holds an exclusive lock on a file beside the index and
rescans the folder every poll interval. Every process, leader or not, polls the store's
generation, so changes the leader commits reach all workers' caches within one interval.
If the leader dies, its lock is released by the kernel and another worker takes over.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable

from .store import Report, Store

log = logging.getLogger(__name__)


class Watcher:
    def __init__(
        self, store: Store, interval: float, on_change: Callable[[Report], None] | None = None
    ):
        self.store = store
        self.interval = interval
        self.on_change = on_change
        self._stop = threading.Event()
        self._lock_file = None
        self._thread = threading.Thread(target=self._run, name="feedsvc-watcher", daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and give up leadership (another process may then take over)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @property
    def is_leader(self) -> bool:
        return self._lock_file is not None

    def _try_to_lead(self) -> bool:
        lock_file = open(f"{self.store.index_path}.watch", "a")  # noqa: SIM115 - held while leading
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        self._lock_file = lock_file
        log.info("this process now watches %s", self.store.seeds_dir)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval)
        self.store.close()

    def poll_once(self) -> None:
        # Broad except on purpose: a full disk or a vanished folder must not kill the thread that
        # keeps the service current; the error is logged and the next poll tries again.
        try:
            if self.is_leader or self._try_to_lead():
                report = self.store.refresh()
                if report.any_change and self.on_change is not None:
                    self.on_change(report)
            self.store.sync_generation()
        except Exception:
            log.exception("refreshing the index from %s failed", self.store.seeds_dir)
