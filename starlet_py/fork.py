"""Forking workers: the signal set-up a batch of new workers inherits, and their lifeline
to the master.

Loaded by the master before it forks, so whatever these imports bring in sits in
pages the workers share instead of each copying it.
"""

from __future__ import annotations

import faulthandler
import fcntl
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from .log import warning

Handler = Callable[[int, FrameType | None], Any] | int
DUMP = int(signal.SIGUSR2)  # a worker writes its threads' Python tracebacks to stderr on it
# The master's word to a worker idle on a kept-alive connection while connections wait in
# the accept queue: close it and go back to accept() (docs/design.md, "Keep-alive").
SHED = int(signal.SIGURG)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
HANDLED = (*STOP_SIGNALS, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD)  # by the master
# Their default action would kill the master and orphan its workers (USR2 is
# gunicorn's upgrade signal, TTIN/TTOU resize its pool, terminals send WINCH).
IGNORED = (signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH)
# Blocked by handed_down for a batch of forks; each worker unblocks them (Worker.setup).
BLOCKED = (*HANDLED, *IGNORED, signal.SIGURG)
# Plain ints, bound once: each object a new worker touches is a page it copies
# (docs/design.md, "Memory").
_SIGTERM = int(signal.SIGTERM)
_set_owner, _F_SETOWN = fcntl.fcntl, fcntl.F_SETOWN


@contextmanager
def handed_down(dispositions: Iterable[tuple[int, Handler]], wake_fd: int) -> Iterator[None]:
    """In the master, around a batch of forks: BLOCKED blocked, then a new worker's
    signal handlers (``dispositions``), no wake-up fd, and tracebacks on DUMP
    (faulthandler, to fd 2), all set here so that the batch inherits them.  Set by each
    worker after its fork, they would be writes to pages it then owns (docs/design.md,
    "Memory").  The master's own are back when the block ends, then BLOCKED is unblocked:
    a signal meanwhile waits for the master's handler, never runs a worker's in the
    master, and one sent to a new worker waits for Worker.setup."""
    saved: list[tuple[int, Handler | None]] = []
    signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)
    try:
        for sig, handler in dispositions:
            saved.append((sig, signal.signal(sig, handler)))
        signal.set_wakeup_fd(-1)
        try:
            faulthandler.register(DUMP, file=2, all_threads=True)
        except (OSError, RuntimeError) as e:
            warning(f"new workers will not dump tracebacks on SIGUSR2: {e}")
        yield
    finally:
        faulthandler.unregister(DUMP)  # back to what it replaced (set just above)
        signal.set_wakeup_fd(wake_fd, warn_on_full_buffer=False)
        for sig, old in reversed(saved):
            if old is not None:  # None: not set from Python (the master set them all)
                signal.signal(sig, old)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, BLOCKED)


class Lifeline:
    """No orphans (README, "No orphans"): a worker gets TERM -- a graceful stop -- when
    the master dies, however it dies (SIGKILL, the OOM killer).

    A pipe whose only writer is the master: each worker owns (F_SETOWN) its own open
    file of the read end, set to raise TERM (F_SETSIG) through O_ASYNC when the pipe
    loses its last writer (pipe(7), fcntl(2)).  Nothing to poll, nothing per request,
    and no ctypes for prctl(PR_SET_PDEATHSIG).  Made by the master before its first
    fork; ``batch`` around each batch of forks, ``arm`` in each new worker.
    """

    __slots__ = ("master", "read", "write", "ends")

    def __init__(self) -> None:
        self.master = os.getpid()
        self.read, self.write = os.pipe2(os.O_CLOEXEC)
        self.ends: list[int] = []  # for the batch being forked: one per worker, -1 if none

    @contextmanager
    def batch(self, count: int) -> Iterator[None]:
        """In the master, around forking ``count`` workers: the open file each will own,
        made and set up here, so that a new worker has one call left to make
        (docs/design.md, "Memory"); closed once they are forked.  Without /proc, one
        warning, and the workers go without."""
        try:
            for _ in range(count):
                end = os.open(f"/proc/self/fd/{self.read}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                self.ends.append(end)
                fcntl.fcntl(end, fcntl.F_SETSIG, _SIGTERM)
                fcntl.fcntl(end, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)  # no owner yet: silent
        except OSError as e:
            warning(f"no lifeline for new workers ({e.strerror}): they may outlive the master")
            self._close(self.ends)
            self.ends = [-1] * count
        try:
            yield
        finally:
            self._close(self.ends)
            self.ends = []

    def arm(self, mine: int) -> None:
        """In the ``mine``-th new worker of the batch: own its end, and close every other
        copy of the pipe, so that the master is its last writer.  The signals are still
        blocked here (handed_down): a TERM is handled once Worker.setup unblocks them."""
        ends = self.ends
        if ends[mine] >= 0:
            _set_owner(ends[mine], _F_SETOWN, os.getpid())  # kept open, never read
        os.close(self.write)
        self._close(ends[:mine] + ends[mine + 1 :])  # the batch's other workers'
        if os.getppid() != self.master:  # it died before the lifeline was in place
            os.kill(os.getpid(), _SIGTERM)

    @staticmethod
    def _close(fds: Iterable[int]) -> None:
        for fd in fds:
            if fd >= 0:
                os.close(fd)
