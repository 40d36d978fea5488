"""The master: fork the pool, reap, respawn, act on signals.  Never parses HTTP.

Signal handlers only append the signal to a list (a byte in a pipe wakes the
loop); all the work happens in ``run``'s loop, after gunicorn's arbiter and
Parallel::Prefork: fork while the pool is short, otherwise wait.  What to do on
each turn (whom to signal, whether to fork, when to wake) is the pool's answer
(pool.py, pure); this module carries it out.
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
from typing import TYPE_CHECKING, Any, NoReturn

from . import pool, scoreboard
from .config import Config
from .fork import DUMP, HANDLED, IGNORED, SHED, STOP_SIGNALS, Lifeline, handed_down
from .listeners import Listener, close_all, queue_length
from .log import debug, log, log_exc, warning
from .notify import Notifier
from .pool import RESEND, RETIRED, Pool, Proc
from .worker import Worker

if TYPE_CHECKING:
    from .stats import Stats

try:  # optional; imported by name, so that mypy's verdict is the same with and without it
    setproctitle: Callable[[str], None] | None = importlib.import_module("setproctitle").setproctitle
except ImportError:
    setproctitle = None


def set_title(role: str, app: str) -> None:
    if setproctitle is not None:
        setproctitle(f"starlet-py {role} {app}")


class Master:
    """Keeps ``config.max_workers`` workers alive until told to stop."""

    def __init__(
        self,
        app: Callable[..., Any],
        config: Config,
        listeners: list[Listener],
        child_exit: Callable[[], Any] | None = None,
        stats: Stats | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.listeners = listeners
        self.child_exit = child_exit
        self.stats = stats  # --stats: served from this process's loop (_wait)
        self.pool = Pool(config.max_workers, config.spawn_interval, config.graceful_timeout)
        self.pending: list[int] = []  # signals received, not yet acted on
        self.ready_due = True  # systemd's READY=1 is owed once the pool is whole
        self.notify = Notifier.from_environ(os.environ)
        # Twice the pool: after HUP the old generation still holds its slots.
        keep_alive = config.max_keepalive_reqs != 1
        need = config.request_timeout or keep_alive or stats
        self.board = scoreboard.Board(2 * config.max_workers + 2) if need else None
        # With keep-alive, the listeners are watched for a queue that idle kept-alive
        # workers must make way for (_shed); seen: when one was first seen, else None.
        self.watched = [lst.sock for lst in listeners] if keep_alive else []
        self.seen: float | None = None
        # Made by _install as the loop starts: the wake-up pipe and the workers' lifeline.
        self._wake_r, self._wake_w = -1, -1
        self.lifeline: Lifeline

    # -- signals ------------------------------------------------------------
    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)  # nothing else here: no logging, no forking

    def _install(self) -> None:
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.lifeline = Lifeline()
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for sig in (*HANDLED, *IGNORED):
            signal.signal(sig, self._record)

    def _dispatch(self) -> None:
        while self.pending:
            sig = self.pending.pop(0)
            if sig == signal.SIGCHLD:
                continue  # reaping happens on every loop turn
            name = signal.Signals(sig).name
            if sig in IGNORED:
                log(f"received {name}: ignored")
            elif sig in STOP_SIGNALS:
                self._stop(f"received {name}: stopping gracefully")
            elif sig == signal.SIGUSR1 and self.config.spawn_interval > 0:
                log(f"received {name}: retiring one worker every {self.config.spawn_interval}s")
                self.pool.retiring = True
                self.pool.next_term = 0.0
                self.notify.stopping()
            elif not (self.pool.stopping or self.pool.retiring):
                # HUP, or USR1 without --spawn-interval: what logrotate snippets written for
                # gunicorn send to reopen the logs; new workers reopen the access log.
                self.pool.generation += 1
                log(f"received {name}: replacing the workers (generation {self.pool.generation})")
                self.pool.next_term = 0.0
                self.ready_due = True
                self.notify.reloading()

    def _stop(self, message: str) -> None:
        log(message)
        self.pool.next_term = 0.0
        if not self.pool.stopping:
            self.pool.stopping = True
            self.notify.stopping()
            # Refuse new connections at once: with our copies (and the workers', see
            # Worker._on_stop) closed, nobody holds the socket but a supervisor.
            close_all(self.listeners)
            self.listeners, self.watched = [], []

    # -- processes ----------------------------------------------------------
    def _spawn(self, count: int) -> None:
        """Fork ``count`` workers back to back, the bookkeeping after the last: a page the
        master writes between two forks becomes a worker's private copy (docs/design.md,
        "Memory"); written after the batch, it stays shared by all of it."""
        slots = self.pool.free_slots(self.board.slots if self.board else 0, count)
        for slot in slots:
            if slot >= 0 and self.board:
                self.board.clear(slot)  # before the fork: the child may stamp it at once
        # Made here, not in each child: what a child builds, it builds in private pages.
        worker = Worker(self.app, self.config, self.listeners, self.child_exit)
        fork, forked = os.fork, []
        inherited = [*((sig, signal.SIG_DFL) for sig in IGNORED), *worker.dispositions()]
        try:
            with handed_down(inherited, self._wake_w), self.lifeline.batch(len(slots)):
                for i, slot in enumerate(slots):
                    pid = fork()
                    if pid == 0:
                        self._worker(slot, worker, i)
                    forked.append(pid)
        except OSError as e:  # out of processes or memory: retry later, never die of it
            warning(f"fork failed ({e.strerror}); retrying in {self.config.err_respawn_interval}s")
            self.pool.next_fork = time.monotonic() + max(self.config.err_respawn_interval, 0.1)
        else:
            self.pool.next_fork = time.monotonic() + self.config.spawn_interval
        for pid, slot in zip(forked, slots[: len(forked)], strict=True):
            self.pool[pid] = Proc(self.pool.generation, slot)
            debug(f"worker {pid} spawned")

    def _worker(self, slot: int, worker: Worker, i: int) -> NoReturn:
        """The ``i``-th new worker's whole life, in the forked child: undo the master's
        state, arm the safety nets, serve."""
        code = 0
        try:
            os.close(self._wake_r)  # (its signals came set: fork.handed_down)
            os.close(self._wake_w)
            self.lifeline.arm(i)
            if self.stats:
                for fd in self.stats.inherited():  # no stats client may wait on a worker's copy
                    os.close(fd)
            if self.board and slot >= 0:
                scoreboard.attach(self.board, slot, bool(self.config.request_timeout or self.stats))
            set_title("worker", self.config.app)
            worker.run()
        except BaseException:
            log_exc("worker failed")
            code = 1
        finally:
            os._exit(code)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            proc = self.pool.pop(pid, None)
            if proc is None:
                continue  # not one of ours (an app may fork helpers)
            if self.stats:
                self.stats.reaped(proc, status, self.board)  # before the slot is cleared
            if self.board and proc.slot >= 0:
                self.board.clear(proc.slot)
            if os.WIFSIGNALED(status):
                how = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
                abnormal = True
            else:
                code = os.waitstatus_to_exitcode(status)
                how, abnormal = f"exited with status {code}", code != 0
            (warning if abnormal else debug)(f"worker {pid} {how}")
            if self.pool.holds_back(proc, abnormal):
                respawn = time.monotonic() + self.config.err_respawn_interval
                self.pool.next_fork = max(self.pool.next_fork, respawn)

    def _kill(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # already gone; reaped on the next turn

    def _signal_workers(self, now: float) -> None:
        """TERM every worker that must go (repeated each RESEND seconds); the timeouts."""
        if now >= self.pool.next_term:
            doomed = self.pool.leaving()
            retire = self.pool.to_retire()
            if retire is not None:
                self.pool[retire].generation = RETIRED  # one more worker leaves the pool
                doomed.append(retire)
                log(f"retiring worker {retire} ({len(self.pool.current())} left)")
            for pid in doomed:
                proc = self.pool[pid]
                if proc.told is None:
                    proc.told = now
                self._kill(pid, signal.SIGTERM)
            self.pool.next_term = now + (self.config.spawn_interval if self.pool.retiring else RESEND)
        grace = self.config.graceful_timeout
        for pid in self.pool.overdue(now):
            warning(
                f"worker {pid} still running {grace:g}s after it was told to stop "
                "(--graceful-timeout); its traceback follows"
            )
            self._dump(pid, now)
        if self.board is not None and self.config.request_timeout:
            self._check_requests(self.board, now)
        for pid in self.pool.kills_due(now):
            self._kill_due(pid)

    def _kill_due(self, pid: int) -> None:
        """SIGKILL a worker whose traceback was asked for, unless it was for a request
        (--request-timeout) that has ended since: it then leaves gracefully (it is
        RETIRED), and the request it may have taken meanwhile is answered."""
        proc = self.pool[pid]
        if proc.seq is not None and self.board is not None:
            slot = proc.slot
            if not self.board.started(slot) or self.board.seq(slot) != proc.seq:
                log(f"worker {pid}: that request ended before the SIGKILL; not killed, it leaves gracefully")
                proc.kill_at = proc.seq = None
                return
        warning(f"worker {pid}: SIGKILL")
        proc.killed = True
        self._kill(pid, signal.SIGKILL)

    def _check_requests(self, board: scoreboard.Board, now: float) -> None:
        """--request-timeout: dump, then kill, a worker stuck in one request; replace it now."""
        starts = {
            pid: board.started(p.slot) for pid, p in self.pool.items() if p.slot >= 0 and p.kill_at is None
        }
        limit = self.config.request_timeout
        for pid in pool.stuck(starts, now, limit):
            proc = self.pool[pid]
            seq = board.seq(proc.slot)  # before the start: a request begun in between is spared
            seen = board.read(proc.slot)
            if seen is None:
                continue  # it finished, or began another request, just now
            start, line = seen
            proc.seq = seq
            warning(
                f"worker {pid}: request {line!r} has run {now - start:.1f}s "
                f"(--request-timeout {limit:g}); its traceback follows"
            )
            self._dump(pid, now)
            proc.generation = RETIRED  # out of the pool: its replacement forks now

    def _dump(self, pid: int, now: float) -> None:
        """Ask ``pid`` for its traceback (faulthandler, to stderr); SIGKILL it DUMP_GRACE later."""
        self.pool[pid].kill_at = now + pool.DUMP_GRACE
        self._kill(pid, DUMP)

    # -- the loop -----------------------------------------------------------
    def run(self) -> int:
        """Serve until TERM/INT/QUIT (or USR1 has retired every worker); exit status."""
        self._install()
        set_title("master", self.config.app)
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
                if (self.pool.stopping or self.pool.retiring) and not self.pool:
                    break
                self._signal_workers(now)
                due = self.pool.forks_due(now)
                if due:
                    self._spawn(due)
                    now = time.monotonic()
                if self.ready_due and len(self.pool.current()) >= self.pool.size:
                    self.ready_due = False
                    self.notify.ready(f"serving with {self.pool.size} workers")
                self._shed(now)
                self._wait(self.pool.next_wake(now) - now)
        finally:
            close_all(self.listeners)
            if self.stats:
                self.stats.close()
        log("all workers gone; exiting")
        return 0

    def _wait(self, timeout: float) -> None:
        """Sleep until a signal arrives or ``timeout`` passes; with keep-alive, also until
        a connection waits in a listener's queue (see _shed)."""
        if self.pending:
            return
        fds: list[Any] = [self._wake_r]
        if self.watched and self.seen is None:
            fds += self.watched
        elif self.seen is not None:
            timeout = min(timeout, self.seen + pool.SHED_DELAY - time.monotonic())
        reads, writes = self.stats.fds() if self.stats else ([], [])
        ready, out, _ = select.select(fds + reads, writes, [], max(timeout, 0.0))
        if self.stats:
            ready = self.stats.handle(ready, out, self)  # answers its clients; the rest is ours
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        if self.seen is None and len(ready) > (self._wake_r in ready):
            self.seen = time.monotonic()  # a connection waits: does a free worker take it?

    def _shed(self, now: float) -> None:
        """Connections still waiting SHED_DELAY after one was seen: the board says the
        pool is crowded, so responses that end now close their connections (no race with
        a client).  Still waiting SHED_DELAY later, while workers sit idle on kept-alive
        connections: tell as many of those as connections wait to close them
        (Worker._on_shed).  An idle connection must never keep a waiting one from being
        served (docs/design.md, "Keep-alive")."""
        if self.seen is None or now < self.seen + pool.SHED_DELAY or self.board is None:
            return
        board = self.board
        waiting = select.select(self.watched, [], [], 0)[0]
        procs = [(pid, p.slot) for pid, p in self.pool.items() if p.slot >= 0 and not p.killed]
        if not waiting or any(board.free(slot) for _, slot in procs):
            # Gone; or a worker in accept() will take it, late only for want of CPU.
            self.seen = None if not waiting else now
            board.crowd(False)
            return
        if board.crowded():  # since the last look, and connections still wait
            idle = [pid for pid, slot in procs if board.idle(slot)]
            count = min(len(idle), sum(queue_length(sock) for sock in waiting))
            if count:
                debug(f"connections wait in the accept queue: {count} idle kept-alive workers close theirs")
            for pid in idle[:count]:
                self._kill(pid, SHED)
        board.crowd(True)
        self.seen = now  # look again after SHED_DELAY
