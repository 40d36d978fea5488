"""The master: forks the pool, reaps, respawns, acts on signals; never parses HTTP.  A signal
only writes its number to a pipe; ``run``'s loop carries out what the pool (pool.py) decides."""

from __future__ import annotations

import gc
import importlib
import os
import select
import signal
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, NoReturn

from . import pool, scoreboard
from .config import Config
from .fork import DUMP, HANDLED, IGNORED, SHED, STOP_SIGNALS, Lifeline, handed_down
from .listeners import Listener, close_all, queue_length
from .log import debug, log, log_exc, warning
from .pool import RESEND, RETIRED, Pool, Proc
from .scoreboard import FREE, IDLE
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


def notify(address: str | None, *lines: str) -> None:
    """sd_notify(3) to NOTIFY_SOCKET (a path, or @abstract); a failure is only logged: systemd may be gone."""
    if not address:
        return
    target = os.fsencode(address)
    if target.startswith(b"@"):
        target = b"\0" + target[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.sendto("\n".join(lines).encode(), target)
    except OSError as e:
        warning(f"cannot notify NOTIFY_SOCKET={address}: {e.strerror or e}")


def _kill(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):  # already gone; reaped on the next turn
        os.kill(pid, sig)


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
        self.config = config
        self.listeners = listeners
        # Made once, here in the master: what a child builds, it builds in private pages.
        self.worker = Worker(app, config, listeners, child_exit)
        self.stats = stats  # --stats: served from this process's loop (_wait)
        self.pool = Pool(config.max_workers, config.spawn_interval, config.graceful_timeout)
        self.ready_due = True  # systemd's READY=1 is owed once the pool is whole
        # Taken out, as sd_notify's unset_environment does: no worker or subprocess takes it.
        self.notify_socket = os.environ.pop("NOTIFY_SOCKET", None)
        # Twice the pool: after HUP the old generation still holds its slots.
        keep_alive = config.max_keepalive_reqs != 1
        need = config.request_timeout or keep_alive or stats
        self.board = scoreboard.Board(2 * config.max_workers + 2) if need else None
        # With keep-alive, listeners watched for a queue (_shed); seen: when one was first seen.
        self.watched = [lst.sock for lst in listeners] if keep_alive else []
        self.seen: float | None = None
        # Made by run: the wake-up pipe and the workers' lifeline.
        self._wake_r, self._wake_w = -1, -1
        self.lifeline: Lifeline

    def _dispatch(self) -> None:
        try:  # the signals received since the last turn, one byte each (set_wakeup_fd)
            signals = os.read(self._wake_r, 4096)
        except BlockingIOError:
            return
        for sig in signals:
            if sig == signal.SIGCHLD:
                continue  # reaping happens on every loop turn
            name = signal.Signals(sig).name
            if sig in IGNORED:
                log(f"received {name}: ignored")
            elif sig in STOP_SIGNALS:
                log(f"received {name}: stopping gracefully")
                self.pool.next_term = 0.0
                if not self.pool.stopping:
                    self.pool.stopping = True
                    notify(self.notify_socket, "STOPPING=1")
                    # Refuse new connections at once (the workers close theirs: Worker._on_stop).
                    close_all(self.listeners)
                    self.listeners, self.watched = [], []
            elif sig == signal.SIGUSR1 and self.config.spawn_interval > 0:
                log(f"received {name}: retiring one worker every {self.config.spawn_interval}s")
                self.pool.retiring = True
                self.pool.next_term = 0.0
                notify(self.notify_socket, "STOPPING=1")
            elif not (self.pool.stopping or self.pool.retiring):
                # HUP, or USR1 without --spawn-interval (logrotate's reopen): new workers reopen --access-log.
                self.pool.generation += 1
                log(f"received {name}: replacing the workers (generation {self.pool.generation})")
                self.pool.next_term = 0.0
                self.ready_due = True
                # MONOTONIC_USEC is what Type=notify-reload asks for; plain Type=notify ignores it.
                usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
                notify(self.notify_socket, "RELOADING=1", f"MONOTONIC_USEC={usec}")

    def _spawn(self, count: int) -> None:
        """Fork ``count`` workers back to back, the bookkeeping after the last, so that
        what it writes stays shared by the whole batch (docs/design.md, "Memory")."""
        slots = self.pool.free_slots(self.board.slots if self.board else 0, count)
        for slot in slots:
            if slot >= 0 and self.board:
                self.board.clear(slot)  # before the fork: the child may stamp it at once
        fork, forked = os.fork, []
        try:
            with handed_down(self.worker.handlers(), self._wake_w), self.lifeline.batch(len(slots)):
                for i, slot in enumerate(slots):
                    pid = fork()
                    if pid == 0:
                        self._worker(slot, i)
                    forked.append(pid)
        except OSError as e:  # out of processes or memory: retry later, never die of it
            warning(f"fork failed ({e.strerror}); retrying in {self.config.err_respawn_interval}s")
            self.pool.next_fork = time.monotonic() + max(self.config.err_respawn_interval, 0.1)
        else:
            self.pool.next_fork = time.monotonic() + self.config.spawn_interval
        for pid, slot in zip(forked, slots[: len(forked)], strict=True):
            self.pool[pid] = Proc(self.pool.generation, slot)
            debug(f"worker {pid} spawned")

    def _worker(self, slot: int, i: int) -> NoReturn:
        """The batch's ``i``-th worker, in the child: undo the master's state, arm the lifeline, serve."""
        code = 0
        try:
            signal.set_wakeup_fd(-1)  # the master's, first (its handlers came set: fork.handed_down)
            os.close(self._wake_r)
            os.close(self._wake_w)
            self.lifeline.arm(i)
            if self.stats:
                for fd in self.stats.inherited():  # no stats client may wait on a worker's copy
                    os.close(fd)
            if self.board and slot >= 0:
                scoreboard.attach(self.board, slot, bool(self.config.request_timeout or self.stats))
            set_title("worker", self.config.app)
            self.worker.run()
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
            code = os.waitstatus_to_exitcode(status)  # -N: killed by signal N
            if self.stats:
                self.stats.reaped(proc, code, self.board)
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
            (warning if code else debug)(f"worker {pid} {how}")
            if self.pool.holds_back(proc, code != 0):
                respawn = time.monotonic() + self.config.err_respawn_interval
                self.pool.next_fork = max(self.pool.next_fork, respawn)

    def _signal_workers(self, now: float) -> None:
        """TERM every worker that must go (again each RESEND seconds); then the timeouts."""
        board = self.board
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
                _kill(pid, signal.SIGTERM)
            self.pool.next_term = now + (self.config.spawn_interval if self.pool.retiring else RESEND)
        grace, limit = self.config.graceful_timeout, self.config.request_timeout
        for pid in self.pool.overdue(now):
            why = f"worker {pid} still running {grace:g}s after it was told to stop (--graceful-timeout)"
            self._dump(pid, now, why)
        if board is not None and limit:
            for pid in self.pool.stuck(board.started, now, limit):
                proc = self.pool[pid]
                seq = board.seq(proc.slot)  # before the start: a request begun in between is spared
                seen = board.read(proc.slot)
                if seen is None:
                    continue  # it finished, or began another request, just now
                proc.seq = seq
                why = f"request {seen[1]!r} has run {now - seen[0]:.1f}s (--request-timeout {limit:g})"
                self._dump(pid, now, f"worker {pid}: {why}")
                proc.generation = RETIRED  # out of the pool: its replacement forks now
        for pid in self.pool.kills_due(now):
            proc = self.pool[pid]
            # A SIGKILL for --request-timeout is for that request only: ended since, the
            # worker (RETIRED) leaves gracefully and answers what it took meanwhile.
            slot, ran = proc.slot, proc.seq
            if board and ran is not None and (not board.started(slot) or board.seq(slot) != ran):
                log(f"worker {pid}: that request ended before the SIGKILL; not killed, it leaves gracefully")
                proc.kill_at = proc.seq = None
                continue
            warning(f"worker {pid}: SIGKILL")
            proc.killed = True
            _kill(pid, signal.SIGKILL)

    def _dump(self, pid: int, now: float, why: str) -> None:
        """Log ``why``, ask ``pid`` for its traceback (faulthandler); SIGKILL it DUMP_GRACE later."""
        warning(f"{why}; its traceback follows")
        self.pool[pid].kill_at = now + pool.DUMP_GRACE
        _kill(pid, DUMP)

    def run(self) -> int:
        """Serve until TERM/INT/QUIT (or USR1 has retired every worker); exit status."""
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.lifeline = Lifeline()
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for sig in (*HANDLED, *IGNORED):  # a handler, so that the signal is written to the pipe
            signal.signal(sig, lambda signum, frame: None)
        set_title("master", self.config.app)
        # Copy-on-write friendly (cli.main disabled the collector): docs/design.md, "Memory".
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
                    status = f"STATUS=serving with {self.pool.size} workers"
                    notify(self.notify_socket, "READY=1", f"MAINPID={os.getpid()}", status)
                self._shed(now)
                self._wait(self.pool.next_wake(now) - now)
        finally:
            close_all(self.listeners)
            if self.stats:
                self.stats.close()
        log("all workers gone; exiting")
        return 0

    def _wait(self, timeout: float) -> None:
        """Sleep until a signal, ``timeout``, or (keep-alive) a connection in a listener's queue."""
        fds: list[Any] = [self._wake_r]
        if self.watched and self.seen is None:
            fds += self.watched
        elif self.seen is not None:
            timeout = min(timeout, self.seen + pool.SHED_DELAY - time.monotonic())
        reads, writes = self.stats.fds() if self.stats else ([], [])
        ready, out, _ = select.select(fds + reads, writes, [], max(timeout, 0.0))
        if self.stats:
            ready = self.stats.handle(ready, out, self)  # answers its clients; the rest is ours
        if self.seen is None and len(ready) > (self._wake_r in ready):
            self.seen = time.monotonic()  # a connection waits: does a free worker take it?

    def _shed(self, now: float) -> None:
        """A queue SHED_DELAY old and no worker in accept(): the pool is crowded; SHED_DELAY later,
        SHED as many workers idle on kept-alive connections as connections wait ("Keep-alive")."""
        if self.seen is None or now < self.seen + pool.SHED_DELAY or self.board is None:
            return
        board = self.board
        waiting = select.select(self.watched, [], [], 0)[0]
        procs = [(pid, p.slot) for pid, p in self.pool.items() if p.slot >= 0 and not p.killed]
        if not waiting or any(board.idle(slot) == FREE for _, slot in procs):
            # Gone; or a worker in accept() will take it, late only for want of CPU.
            self.seen = None if not waiting else now
            board.crowd(False)
            return
        if board.crowded():  # since the last look, and connections still wait
            idle = [pid for pid, slot in procs if board.idle(slot) == IDLE]
            count = min(len(idle), sum(queue_length(sock) for sock in waiting))
            if count:
                debug(f"connections wait in the accept queue: {count} idle kept-alive workers close theirs")
            for pid in idle[:count]:
                _kill(pid, SHED)
        board.crowd(True)
        self.seen = now  # look again after SHED_DELAY
