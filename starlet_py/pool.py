"""The master's decisions (whom to signal, whether to fork, when to wake) as pure methods of
its pool: no I/O, no signals, no clock (tests/unit/test_master.py checks them as tables)."""

from __future__ import annotations

from collections.abc import Callable

RESEND = 1.0  # seconds between TERMs to workers that are still alive (one may race accept)
TICK = 1.0  # the master wakes at least this often: the scoreboard and the timeouts are read then
DUMP_GRACE = 0.5  # seconds between asking a worker for its traceback and SIGKILLing it
# With keep-alive: how long a connection may wait in the accept queue before responses stop
# keeping their connections, and as long again before idle kept-alive workers make way.
SHED_DELAY = 0.2
RETIRED = -1  # the generation of a worker that left the pool (USR1, or being killed)


class Proc:
    """One worker as the master tracks it (times: time.monotonic(); no dataclass: "Memory")."""

    __slots__ = ("generation", "slot", "told", "kill_at", "killed", "seq")

    def __init__(
        self,
        generation: int,
        slot: int = -1,
        *,
        told: float | None = None,
        kill_at: float | None = None,
        killed: bool = False,
    ) -> None:
        self.generation = generation
        self.slot = slot  # its scoreboard slot (-1: none)
        self.told = told  # when it was first told to stop (TERM)
        self.kill_at = kill_at  # its traceback was asked for; SIGKILL is due then
        self.killed = killed  # SIGKILL sent, not yet reaped
        # The sequence number of the request that ran past --request-timeout: the SIGKILL's.
        self.seq: float | None = None


class Pool(dict[int, Proc]):
    """The workers by pid, and the rest of the state that the decisions read."""

    def __init__(self, size: int, spawn_interval: float = 0.0, grace: float = 0.0) -> None:
        super().__init__()
        self.size = size  # --max-workers
        self.spawn_interval = spawn_interval
        self.grace = grace  # --graceful-timeout
        self.generation = 0
        self.stopping = False  # TERM/INT/QUIT: no more forks, exit when the pool is gone
        self.retiring = False  # USR1: retire one worker per --spawn-interval, then exit
        self.next_fork = 0.0  # before which we must not fork
        self.next_term = 0.0  # when to (re-)send TERM to workers that must go

    def current(self) -> list[int]:
        """The workers that count towards the pool's size."""
        return [pid for pid, p in self.items() if p.generation == self.generation]

    def leaving(self) -> list[int]:
        """The workers to (re-)send TERM: all of them when stopping, else the other generations."""
        return [pid for pid, p in self.items() if self.stopping or p.generation != self.generation]

    def to_retire(self) -> int | None:
        """With USR1 (and not stopping), the next worker to leave the pool: the oldest one."""
        return next(iter(self.current()), None) if self.retiring and not self.stopping else None

    def overdue(self, now: float) -> list[int]:
        """Workers still alive --graceful-timeout seconds after they were first told to stop."""
        told = [(pid, p.told) for pid, p in self.items() if p.told is not None and p.kill_at is None]
        return [pid for pid, t in told if now >= t + self.grace] if self.grace else []

    def kills_due(self, now: float) -> list[int]:
        """Workers whose traceback was asked for DUMP_GRACE ago: SIGKILL them now."""
        return [pid for pid, p in self.items() if p.kill_at is not None and not p.killed and now >= p.kill_at]

    def forks_due(self, now: float) -> int:
        """How many to fork now: all that are missing, or one with --spawn-interval."""
        if self.stopping or self.retiring or now < self.next_fork:
            return 0
        short = max(self.size - len(self.current()), 0)
        return min(short, 1) if self.spawn_interval > 0 else short

    def holds_back(self, proc: Proc, abnormal: bool) -> bool:
        """Hold the next fork back by --err-respawn-interval (unless we killed it ourselves)?"""
        return abnormal and not self.stopping and proc.kill_at is None

    def free_slots(self, slots: int, count: int) -> list[int]:
        """``count`` scoreboard slots no worker holds, lowest first; -1 for each one short."""
        taken = {p.slot for p in self.values()}
        free = [i for i in range(slots) if i not in taken][:count]
        return free + [-1] * (count - len(free))

    def next_wake(self, now: float) -> float:
        """When the loop must act next without a signal: at most TICK from now, at least now."""
        wake = [now + TICK]
        ending = self.stopping or self.retiring
        if ending or any(p.generation != self.generation for p in self.values()):
            wake.append(self.next_term)
        if not ending and len(self.current()) < self.size:
            wake.append(self.next_fork)
        wake += [p.kill_at for p in self.values() if p.kill_at is not None and not p.killed]
        if self.grace:  # (kill_at: its SIGKILL is due, or sent)
            wake += [p.told + self.grace for p in self.values() if p.told is not None and p.kill_at is None]
        return max(min(wake), now)

    def stuck(self, started: Callable[[int], float], now: float, limit: float) -> list[int]:
        """Workers not yet being killed whose request began (``started``; 0.0: none) over ``limit`` ago."""
        starts = [(pid, started(p.slot)) for pid, p in self.items() if p.slot >= 0 and p.kill_at is None]
        return [pid for pid, t in starts if t and now - t > limit] if limit else []
