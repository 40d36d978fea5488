"""The master: fork the pool, reap, respawn, act on signals.  Never parses HTTP.

Signal handlers only append the signal to a list (a byte in a pipe wakes the
loop); all the work happens in ``run``'s loop, after gunicorn's arbiter and
Parallel::Prefork: fork while the pool is short, otherwise wait.
"""

from __future__ import annotations

import gc
import importlib
import os
import select
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from .config import Config
from .listeners import Listener, close_all
from .log import log, log_exc
from .worker import Worker


def _title_setter() -> Callable[[str], None] | None:
    """setproctitle, if installed (optional; loaded before the fork, so workers share it).

    Imported by name so that mypy's verdict is the same with and without it installed.
    """
    try:
        module = importlib.import_module("setproctitle")
    except ImportError:
        return None
    setter: Callable[[str], None] = module.setproctitle
    return setter


setproctitle = _title_setter()

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
HANDLED = (*STOP_SIGNALS, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD)
RESEND = 1.0  # seconds between TERMs to workers that are still alive (one may race accept)


class Master:
    """Keeps ``config.max_workers`` workers alive until told to stop."""

    def __init__(
        self,
        app: Callable[..., Any],
        config: Config,
        listeners: list[Listener],
        child_exit: Callable[[], Any] | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.listeners = listeners
        self.child_exit = child_exit
        self.workers: dict[int, int] = {}  # pid -> generation
        self.generation = 0
        self.pending: list[int] = []  # signals received, not yet acted on
        self.stopping = False  # TERM/INT/QUIT: no more forks, exit when the pool is gone
        self.retiring = False  # USR1: retire one worker per --spawn-interval, then exit
        self.next_fork = 0.0  # monotonic time before which we must not fork
        self.next_term = 0.0  # when to (re-)send TERM to workers that must go
        self._wake_r = -1

    # -- signals ------------------------------------------------------------
    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)  # nothing else here: no logging, no forking

    def _install(self) -> None:
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wake_r, self._wake_w = r, w
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        for sig in HANDLED:
            signal.signal(sig, self._record)

    def _dispatch(self) -> None:
        while self.pending:
            sig = self.pending.pop(0)
            if sig == signal.SIGCHLD:
                continue  # reaping happens on every loop turn
            name = signal.Signals(sig).name
            if sig in STOP_SIGNALS:
                log(f"received {name}: stopping gracefully")
                self.stopping = True
                self.next_term = 0.0
            elif sig == signal.SIGHUP and not (self.stopping or self.retiring):
                self.generation += 1
                log(f"received {name}: replacing the workers (generation {self.generation})")
                self.next_term = 0.0
            elif sig == signal.SIGUSR1:
                if self.config.spawn_interval > 0:
                    log(f"received {name}: retiring one worker every {self.config.spawn_interval}s")
                    self.retiring = True
                else:
                    log(f"received {name}: no --spawn-interval, stopping gracefully")
                    self.stopping = True
                self.next_term = 0.0

    # -- processes ----------------------------------------------------------
    def _spawn(self) -> None:
        # Signals wait until the child has its own handlers (Worker.setup unblocks
        # them): a TERM landing in between would otherwise hit the master's handler
        # in the child and be lost, or write to the master's wake-up pipe.
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        try:
            pid = os.fork()
        except OSError as e:  # out of processes or memory: retry later, never die of it
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
            log(f"fork failed ({e.strerror}); retrying in {self.config.err_respawn_interval}s")
            self.next_fork = time.monotonic() + max(self.config.err_respawn_interval, 0.1)
            return
        if pid == 0:  # the worker
            code = 0
            try:
                signal.set_wakeup_fd(-1)
                os.close(self._wake_r)
                os.close(self._wake_w)
                self._set_title("worker")
                Worker(self.app, self.config, self.listeners, self.child_exit).run()
            except BaseException:
                log_exc("worker failed")
                code = 1
            finally:
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
        self.workers[pid] = self.generation
        self.next_fork = time.monotonic() + self.config.spawn_interval
        log(f"worker {pid} spawned")

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.workers.pop(pid, None) is None:
                continue  # not one of ours (an app may fork helpers)
            if os.WIFSIGNALED(status):
                how = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
                abnormal = True
            else:
                code = os.waitstatus_to_exitcode(status)
                how, abnormal = f"exited with status {code}", code != 0
            log(f"worker {pid} {how}")
            if abnormal and not self.stopping:
                # A broken app must not become a fork storm.
                self.next_fork = max(self.next_fork, time.monotonic() + self.config.err_respawn_interval)

    def _current(self) -> list[int]:
        return [pid for pid, gen in self.workers.items() if gen == self.generation]

    def _signal_workers(self, now: float) -> None:
        """Send TERM to every worker that must go; repeated each RESEND seconds."""
        if now < self.next_term:
            return
        if self.stopping:
            doomed = list(self.workers)
        else:
            doomed = [pid for pid, gen in self.workers.items() if gen != self.generation]
            if self.retiring and (current := self._current()):
                self.workers[current[0]] = -1  # one more worker leaves the pool
                doomed.append(current[0])
                log(f"retiring worker {current[0]} ({len(current) - 1} left)")
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.next_term = now + (self.config.spawn_interval if self.retiring else RESEND)

    def _set_title(self, role: str) -> None:
        if setproctitle is not None:
            setproctitle(f"starlet-py {role} {self.config.app}")

    # -- the loop -----------------------------------------------------------
    def run(self) -> int:
        """Serve until TERM/INT/QUIT (or USR1 has retired every worker); exit status."""
        self._install()
        self._set_title("master")
        # Copy-on-write friendly (see gc.freeze's documentation): cli.main disabled the
        # collector before loading anything, so no freed holes exist for workers to fill
        # (writing into shared pages); frozen objects are never traversed by the
        # workers' collections either.  The master itself allocates next to nothing.
        gc.freeze()
        try:
            while True:
                self._reap()
                self._dispatch()
                now = time.monotonic()
                if (self.stopping or self.retiring) and not self.workers:
                    break
                self._signal_workers(now)
                if not (self.stopping or self.retiring):
                    while len(self._current()) < self.config.max_workers and now >= self.next_fork:
                        self._spawn()
                        now = time.monotonic()
                self._wait(self._deadline(now) - now)
        finally:
            close_all(self.listeners)
        log("all workers gone; exiting")
        return 0

    def _deadline(self, now: float) -> float:
        """When the loop must next act on its own (no signal): a TERM or a fork due."""
        deadline = now + RESEND
        current = len(self._current())
        if self.stopping or self.retiring or len(self.workers) > current:
            deadline = min(deadline, self.next_term)
        elif current < self.config.max_workers:
            deadline = min(deadline, self.next_fork)
        return deadline

    def _wait(self, timeout: float) -> None:
        """Sleep until a signal arrives or ``timeout`` passes."""
        if self.pending:
            return
        ready, _, _ = select.select([self._wake_r], [], [], max(timeout, 0.0))
        if ready:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass
