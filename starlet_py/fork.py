"""Forking workers: the signal set-up a batch inherits, and their lifeline to the master
(docs/design.md, "Process model" and "Signals and stopping")."""

from __future__ import annotations

import faulthandler
import fcntl
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

from .log import warning

Handler = Callable[[int, FrameType | None], Any]
DUMP = int(signal.SIGUSR2)  # a worker writes its threads' Python tracebacks to stderr on it
SHED = int(signal.SIGURG)  # to a worker idle on a kept-alive connection: make way (Master._shed)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
HANDLED = (*STOP_SIGNALS, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD)  # by the master
# Their default action would kill the master and orphan its workers (USR2 is
# gunicorn's upgrade signal, TTIN/TTOU resize its pool, terminals send WINCH).
IGNORED = (signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH)
# Plain ints, bound once: each object a new worker touches is a page it copies ("Memory").
_SIGTERM, _SIGCHLD = int(signal.SIGTERM), int(signal.SIGCHLD)
_set_owner, _F_SETOWN = fcntl.fcntl, fcntl.F_SETOWN


@contextmanager
def handed_down(handlers: Iterable[tuple[int, Handler]], wake_fd: int) -> Iterator[None]:
    """Around a batch of forks: what a new worker inherits, each safe in the master too, so
    that nothing is blocked and a worker has nothing to undo (docs/design.md, "Memory")."""
    master = os.getpid()

    def in_worker(handler: Handler) -> Handler:
        def run(signum: int, frame: FrameType | None) -> None:
            if os.getpid() != master:  # the master learns of it through its wake-up fd
                handler(signum, frame)

        return run

    # HUP, USR1 and IGNORED keep the master's no-op handlers, a no-op in a worker too; CHLD
    # its default, for the app's own children.
    saved: list[tuple[int, Handler | int | None]] = [(_SIGCHLD, signal.signal(_SIGCHLD, signal.SIG_DFL))]
    try:
        for sig, handler in handlers:
            saved.append((sig, signal.signal(sig, in_worker(handler))))
        try:
            faulthandler.register(DUMP, file=2, all_threads=True)
        except (OSError, RuntimeError) as e:
            warning(f"new workers will not dump tracebacks on SIGUSR2: {e}")
        yield
    finally:
        faulthandler.unregister(DUMP)  # back to what it replaced (set just above)
        for sig, old in reversed(saved):
            if old is not None:  # None: not set from Python (the master set them all)
                signal.signal(sig, old)
        with suppress(BlockingIOError):  # (full: the master wakes anyway)
            os.write(wake_fd, bytes((_SIGCHLD,)))  # reap a worker that died meanwhile


class Lifeline:
    """A worker gets TERM when the master dies, however it dies: it owns an open file of a
    pipe only the master writes, raising TERM (F_SETSIG, O_ASYNC) when its last writer goes."""

    __slots__ = ("master", "read", "write", "ends")

    def __init__(self) -> None:
        self.master = os.getpid()
        self.read, self.write = os.pipe2(os.O_CLOEXEC)
        self.ends: list[int] = []  # for the batch being forked: one per worker (none without /proc)

    @contextmanager
    def batch(self, count: int) -> Iterator[None]:
        """Around forking ``count`` workers: the open file each will own (without /proc, none)."""
        try:
            for _ in range(count):
                end = os.open(f"/proc/self/fd/{self.read}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                self.ends.append(end)
                fcntl.fcntl(end, fcntl.F_SETSIG, _SIGTERM)
                fcntl.fcntl(end, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)  # no owner yet: silent
        except OSError as e:
            warning(f"no lifeline for new workers ({e.strerror}): they may outlive the master")
            self._close(self.ends)
            self.ends = []
        try:
            yield
        finally:
            self._close(self.ends)
            self.ends = []

    def arm(self, mine: int) -> None:
        """In the batch's ``mine``-th worker: own its end, close every other copy of the pipe."""
        ends = self.ends
        if ends:
            _set_owner(ends[mine], _F_SETOWN, os.getpid())  # kept open, never read
        os.close(self.write)
        self._close(ends[:mine] + ends[mine + 1 :])  # the batch's other workers'
        if os.getppid() != self.master:  # it died before the lifeline was in place
            os.kill(os.getpid(), _SIGTERM)

    @staticmethod
    def _close(fds: Iterable[int]) -> None:
        for fd in fds:
            os.close(fd)
