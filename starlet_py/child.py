"""What every process of the pool shares: its title, the signal set-up the master hands
down to each batch of new workers, and a worker's safety nets after the fork.

Loaded by the master before it forks, so whatever these imports bring in sits in
pages the workers share instead of each copying it.
"""

from __future__ import annotations

import faulthandler
import fcntl
import importlib
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
_SIGTERM = int(signal.SIGTERM)
_set_owner, _F_SETOWN = fcntl.fcntl, fcntl.F_SETOWN


def _title_setter() -> Callable[[str], None] | None:
    """setproctitle, if installed (optional).

    Imported by name so that mypy's verdict is the same with and without it installed.
    """
    try:
        module = importlib.import_module("setproctitle")
    except ImportError:
        return None
    setter: Callable[[str], None] = module.setproctitle
    return setter


setproctitle = _title_setter()


def set_title(role: str, app: str) -> None:
    if setproctitle is not None:
        setproctitle(f"starlet-py {role} {app}")


def lifeline() -> tuple[int, int]:
    """A pipe the master makes before its first fork and holds open for its life (see arm)."""
    return os.pipe2(os.O_CLOEXEC)


def lifeline_ends(read: int, count: int) -> list[int]:
    """In the master, before forking ``count`` workers: for each, its own open file of
    the lifeline's read end, set to raise TERM (F_SETSIG) through O_ASYNC once the worker
    owns it (arm); -1 for each if that fails (no /proc).  Made here, so that a new worker
    has one call left to make (docs/design.md, "Memory")."""
    ends = []
    try:
        for _ in range(count):
            end = os.open(f"/proc/self/fd/{read}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            ends.append(end)
            fcntl.fcntl(end, fcntl.F_SETSIG, _SIGTERM)
            fcntl.fcntl(end, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)  # no owner yet: silent
    except OSError as e:
        warning(f"no lifeline for new workers ({e.strerror}): they may outlive the master")
        close_fds(ends)
        return [-1] * count
    return ends


def close_fds(fds: Iterable[int]) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


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


def arm(master: int, life_w: int, ends: list[int], mine: int) -> None:
    """In a new worker: never outlive the master.

    No orphans (README, "No orphans"): ``ends[mine]`` is this worker's own open file of
    the master's ``lifeline()`` pipe (lifeline_ends); owning it (F_SETOWN) asks for a
    TERM -- a graceful stop -- when the pipe loses its last writer: O_ASYNC, pipe(7),
    fcntl(2).  Every worker closes its copy of the write end, so that writer is the
    master alone, and the kernel signals when the master dies, however it dies
    (SIGKILL, the OOM killer): nothing to poll, nothing per request, and no ctypes
    for prctl(PR_SET_PDEATHSIG).  The signals are still blocked here (handed_down), so
    a TERM is handled once Worker.setup unblocks them, by the worker's own handler.
    """
    # Plain ints (_F_SETOWN, _SIGTERM): each object a new worker touches is a page it
    # copies (docs/design.md, "Memory").
    end = ends[mine]
    if end >= 0:
        _set_owner(end, _F_SETOWN, os.getpid())  # kept open, never read
    os.close(life_w)
    close_fds(ends[:mine] + ends[mine + 1 :])  # the batch's other workers'
    if os.getppid() != master:  # it died before the lifeline was in place
        os.kill(os.getpid(), _SIGTERM)
