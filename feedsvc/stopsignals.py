"""Make SIGINT, SIGTERM and SIGHUP reach the right process's Python handler, every time.

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

A second race remained once that was fixed: a signal sent to the whole process group (Ctrl-C, or
systemd stopping the service) reaches the workers as well as the server, and a worker that stops
before the server has asked it to is taken for a crashed one: granian logs "Unexpected exit",
may respawn it, and exits with status 1.

:func:`install` closes both without replacing any granian code:

1. The main thread blocks the three signals, and so does every thread started after it (threads
   inherit the mask: granian's Rust threads, the watcher, the WebSub notifier).
2. A relay thread takes them with ``sigwaitinfo``, once granian has installed its handlers
   (until then they stay pending: a signal that arrives while a worker loads the app is not
   lost). For each it marks the handler as due (``_thread.interrupt_main``) and sends the main
   thread SIGURG, whose handler does nothing: that interrupts the main thread's wait, and CPython
   runs the due handler there, once per signal.
3. In a worker (``parent`` given), a stop signal from anyone but the server waits up to
   ``SERVER_GRACE_SECONDS`` for the server's own: the server gets every signal sent to the group
   and stops its workers itself, and only a worker it stops is not taken for a crashed one. If
   the server's signal never comes, the worker acts on the first: the signal was sent to this
   worker alone, or the server is gone, or (the usual case when systemd sends SIGTERM to the
   whole group) the server's SIGTERM arrived while the first was still pending, and the kernel
   kept one of the two. A SIGTERM to the group therefore stops the workers in about
   SERVER_GRACE_SECONDS; a Ctrl-C (SIGINT, then the server's SIGTERM) or a SIGTERM to the server
   alone in a fraction of a second.
"""

from __future__ import annotations

import _thread
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

log = logging.getLogger(__name__)

# Taken by the relay thread only.
BLOCKED = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
# Ignored by default, never sent by terminals or service managers; its handler does nothing.
NUDGE = signal.SIGURG
# How often, and how long at most, the relay waits for the handlers that replace the ones it
# found; if they never come, it takes the signals anyway, for the handlers there are.
HANDLERS_POLL_SECONDS = 0.01
HANDLERS_WAIT_SECONDS = 30.0
# How long a worker waits for the server to stop it after a signal sent by someone else: long
# enough for a server slowed by a loaded machine, short of the server's kill timeout (3 s), so
# that a stop still takes under 5 s when the server's signal was merged with the first.
SERVER_GRACE_SECONDS = 2.0


# The signals a terminal or a service manager stops a command with.
STOPS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def held_while_forking() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back while worker processes are forked, and delivered after.

    A child inherits the blocked mask, so one sent to the process group as a child starts stays
    pending there until the child has set its own handlers and unblocked (``released``): without
    this, a child that took Ctrl-C before its initializer set SIGINT aside printed its
    KeyboardInterrupt traceback (multiprocessing's bootstrap, 1 Ctrl-C of a first `feedsvc
    index` in CI), and one taken in the parent during a fork ran in the fork's after-fork hooks,
    where Python ignores the exception raised ("Exception ignored in ... _releaseLock"): a build
    went on (1 stop in about 45). Threads started inside keep the signals blocked, which only
    leaves them to the main thread."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def deferred(notice: Callable[[], None] | None = None) -> Iterator[None]:
    """Ctrl-C and SIGTERM that arrive inside acted on at its end, by the handlers set before.

    For work that must not stop half done once begun: a static build's commit (outtree.py),
    which a Ctrl-C during its renames left part old and part new. Unlike ``held_while_forking``
    the signals are not blocked but taken by a handler of this context's: a signal the kernel
    delivers to another thread (a watcher's) still runs its Python handler in the main thread,
    whatever the main thread's mask. ``notice`` is called when the first one arrives, so that
    the operator knows why the command goes on. Does nothing outside the main thread, where
    Python runs no signal handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []

    def note(signum: int, frame: object) -> None:
        if not arrived and notice is not None:
            notice()
        arrived.append(signum)

    previous = {number: signal.signal(number, note) for number in STOPS}
    try:
        yield
    finally:
        # All restored before one that arrives now is acted on (it waits, blocked).
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
        try:
            for number, handler in previous.items():
                # None: a handler not set from Python, which cannot be set again; the default.
                signal.signal(number, signal.SIG_DFL if handler is None else handler)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for signum in dict.fromkeys(arrived):
            signal.raise_signal(signum)  # the handler restored acts on it now


def released() -> None:
    """In a child forked under ``held_while_forking``, once its handlers are set: take the stop
    signals again (one pending since the fork is acted on now, as the handlers say)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)


def install(parent: int | None = None) -> None:
    """Call from the main thread of each process before granian installs its signal handlers
    and starts any thread: in the server, and in each worker with ``parent``, the server's pid."""
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main, "call from the main thread"
    signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)
    signal.signal(NUDGE, _ignore)
    found = {number: signal.getsignal(number) for number in BLOCKED}
    relay = partial(_relay, main, found, parent)
    threading.Thread(target=relay, name="feedsvc-stop-signals", daemon=True).start()


def _ignore(signum: int, frame: object) -> None:
    """The nudge only has to interrupt the main thread's wait; the due handler then runs."""


def _relay(main_thread: int, found: dict[signal.Signals, Any], parent: int | None) -> None:
    deadline = time.monotonic() + HANDLERS_WAIT_SECONDS
    while time.monotonic() < deadline and all(
        signal.getsignal(number) is handler for number, handler in found.items()
    ):
        time.sleep(HANDLERS_POLL_SECONDS)
    deferred: tuple[int, float] | None = None  # (signal, when) not from the server, waiting
    while True:
        info: signal.struct_siginfo | None
        if deferred is None:
            info = signal.sigwaitinfo(BLOCKED)
        else:
            left = deferred[1] + SERVER_GRACE_SECONDS - time.monotonic()
            info = signal.sigtimedwait(BLOCKED, max(left, 0.0))
            if info is None:  # the server did not stop this worker: act on the signal
                _run_handler(main_thread, deferred[0])
                deferred = None
                continue
        if parent is not None and info.si_pid != parent and os.getppid() == parent:
            log.debug("signal %s from pid %s: waiting for the server to stop this worker",
                      info.si_signo, info.si_pid)  # fmt: skip
            deferred = deferred or (info.si_signo, time.monotonic())
            continue
        _run_handler(main_thread, info.si_signo)
        deferred = None


def _run_handler(main_thread: int, number: int) -> None:
    """Mark the Python handler of ``number`` due, and wake the main thread to run it."""
    _thread.interrupt_main(signal.Signals(number))
    signal.pthread_kill(main_thread, NUDGE)
