"""Make SIGINT and SIGTERM reach the Python handler of a process whatever thread the kernel picks.

Why ``feedsvc serve`` needed this (issue 12: Ctrl-C left it running 4 times in 6):

* CPython runs Python-level signal handlers only in the main thread. The C-level handler, which
  runs in whichever thread the kernel delivered the signal to, only sets a flag; the main thread
  looks at the flag when it next runs bytecode, or when a blocking call in it is interrupted with
  EINTR, which only happens if the signal was delivered to that very thread
  (python/cpython#85300).
* POSIX lets the kernel deliver a process-directed signal to any thread that does not block it,
  and granian's processes have several (tokio's, granian's own, the watcher's).
* Both granian processes wait in the main thread with no timeout: the server in
  ``main_loop_interrupt.wait()``, each WSGI worker in ``threading.Event().wait()``.

So when SIGINT reached a worker on another thread (strace showed it: SIGINT from the terminal,
then SIGTERM from granian's server, both delivered to one of the worker's tokio threads), the
handler that starts granian's shutdown never ran and the server waited forever for the worker.

:func:`install` closes the gap without replacing any granian code:

1. The main thread blocks SIGINT and SIGTERM, and so does every thread started after it (threads
   inherit the mask: granian's Rust threads, the watcher, the WebSub notifier). The one thread
   that takes them is a relay thread, which unblocks them for itself only once granian has
   installed its handlers; until then they stay pending, so a signal that arrives while a worker
   is still loading the app is not lost.
2. CPython writes the number of each signal it catches to a "wakeup fd". The relay reads it and,
   for a stop signal, sends SIGURG to the main thread, whose handler does nothing. That
   interrupts the main thread's wait, and CPython then runs the pending SIGINT/SIGTERM handlers
   there, once per signal.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from functools import partial
from typing import Any

# Taken by the relay thread only.
BLOCKED = frozenset({signal.SIGINT, signal.SIGTERM})
# Relayed to the main thread (SIGHUP: granian's server reloads its workers on it).
RELAYED = BLOCKED | {signal.SIGHUP}
# Ignored by default, never sent by terminals or service managers; its handler does nothing.
NUDGE = signal.SIGURG
# How often, and how long at most, the relay waits for the handlers that replace the ones it
# found; if they never come, it takes the signals anyway, for the handlers there are.
HANDLERS_POLL_SECONDS = 0.01
HANDLERS_WAIT_SECONDS = 30.0


def install() -> None:
    """Call from the main thread of each process (the server, then each worker), before the
    server installs its signal handlers and starts any thread."""
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main, "call from the main thread"
    signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)
    found = {number: signal.getsignal(number) for number in BLOCKED}
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # CPython requires it: the writer is a signal handler
    signal.signal(NUDGE, _ignore)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    relay = partial(_relay, read_fd, main, found)
    threading.Thread(target=relay, name="feedsvc-stop-signals", daemon=True).start()
    # A forked child inherits the wakeup fd but not the thread: stop writing to our pipe there.
    os.register_at_fork(after_in_child=partial(_forget, os.getpid(), read_fd, write_fd))


def _ignore(signum: int, frame: object) -> None:
    """The nudge only has to interrupt the main thread's wait; the real handlers then run."""


def _relay(read_fd: int, main_thread: int, found: dict[signal.Signals, Any]) -> None:
    deadline = time.monotonic() + HANDLERS_WAIT_SECONDS
    while time.monotonic() < deadline and all(
        signal.getsignal(number) is handler for number, handler in found.items()
    ):
        time.sleep(HANDLERS_POLL_SECONDS)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, BLOCKED)
    while data := os.read(read_fd, 64):
        if any(number in RELAYED for number in data):
            signal.pthread_kill(main_thread, NUDGE)


def _forget(owner: int, read_fd: int, write_fd: int) -> None:
    # Fork handlers are inherited too: only a direct child of the owner holds these descriptors
    # (a grandchild's were closed by its parent, and the numbers may have been reused since).
    if os.getppid() != owner:
        return
    signal.set_wakeup_fd(-1)
    os.close(read_fd)
    os.close(write_fd)
