"""The master's decisions, as pure functions of the pool table, the clock and the config.

No I/O and no signals here: master.py reads the clock and the scoreboard,
asks these functions what to do (whom to signal, whether to fork, when to
wake) and does it.  tests/unit/test_master.py checks them as tables.
"""

from __future__ import annotations

from collections.abc import Mapping

RESEND = 1.0  # seconds between TERMs to workers that are still alive (one may race accept)
TICK = 1.0  # the master wakes at least this often: the scoreboard and the timeouts are read then
DUMP_GRACE = 0.5  # seconds between asking a worker for its traceback and SIGKILLing it
# With keep-alive: how long a connection may wait in the accept queue for a free worker
# before responses stop keeping their connections, and as long again before workers idle
# on kept-alive connections are told to make way (Master._shed).
SHED_DELAY = 0.05
RETIRED = -1  # the generation of a worker that left the pool (USR1, or being killed)


class Proc:
    """One worker as the master tracks it (times are time.monotonic()).

    A plain class, not a dataclass: dataclasses would load inspect and ast into
    the master, and so into the memory every worker shares (docs/design.md, "Memory").
    """

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
        # The scoreboard's sequence number of the request that ran past --request-timeout:
        # the SIGKILL is only for that request (None: for whatever it does, --graceful-timeout).
        self.seq: float | None = None

    def __repr__(self) -> str:  # for the table tests' failure messages
        return f"Proc({self.generation}, {self.slot}, told={self.told}, kill_at={self.kill_at})"


Pool = Mapping[int, Proc]


def current(pool: Pool, generation: int) -> list[int]:
    """The workers that count towards the pool's size."""
    return [pid for pid, p in pool.items() if p.generation == generation]


def leaving(pool: Pool, generation: int, stopping: bool) -> list[int]:
    """The workers that must be (re-)sent TERM: all of them when stopping, else the others."""
    return [pid for pid, p in pool.items() if stopping or p.generation != generation]


def to_retire(pool: Pool, generation: int, stopping: bool, retiring: bool) -> int | None:
    """With USR1 (and not stopping), the next worker to leave the pool: the oldest one."""
    if stopping or not retiring:
        return None
    cur = current(pool, generation)
    return cur[0] if cur else None


def overdue(pool: Pool, now: float, graceful_timeout: float) -> list[int]:
    """Workers still alive --graceful-timeout seconds after they were first told to stop."""
    if not graceful_timeout:
        return []
    return [
        pid
        for pid, p in pool.items()
        if p.told is not None and p.kill_at is None and now >= p.told + graceful_timeout
    ]


def stuck(starts: Mapping[int, float], now: float, request_timeout: float) -> list[int]:
    """Workers whose request has been in the app longer than --request-timeout.

    ``starts`` maps a pid to its scoreboard start time, 0.0 when it is in no
    request (idle, or waiting on a kept-alive connection: never counted).
    """
    if not request_timeout:
        return []
    return [pid for pid, start in starts.items() if start and now - start > request_timeout]


def kills_due(pool: Pool, now: float) -> list[int]:
    """Workers whose traceback was asked for DUMP_GRACE ago: SIGKILL them now."""
    return [pid for pid, p in pool.items() if p.kill_at is not None and not p.killed and now >= p.kill_at]


def forks_due(
    pool: Pool, generation: int, max_workers: int, stopping: bool, retiring: bool,
    now: float, next_fork: float, spawn_interval: float,
) -> int:  # fmt: skip
    """How many workers to fork now: every one the pool is short of, or one at a time
    with --spawn-interval; none while stopping or before ``next_fork``."""
    if stopping or retiring or now < next_fork:
        return 0
    short = max(max_workers - len(current(pool, generation)), 0)
    return min(short, 1) if spawn_interval > 0 else short


def abnormal_delay(proc: Proc, abnormal: bool, stopping: bool) -> bool:
    """Hold the next fork back by --err-respawn-interval after this exit?

    Not for a worker we killed ourselves (a stuck request, --graceful-timeout):
    its replacement is due at once.  A crashing app must not become a fork storm.
    """
    return abnormal and not stopping and proc.kill_at is None


def free_slots(pool: Pool, slots: int, count: int) -> list[int]:
    """``count`` scoreboard slots for new workers, lowest first, that no worker holds;
    -1 for each one left without (all taken, or no scoreboard)."""
    taken = {p.slot for p in pool.values()}
    free = [i for i in range(slots) if i not in taken][:count]
    return free + [-1] * (count - len(free))


def next_wake(
    pool: Pool,
    generation: int,
    max_workers: int,
    stopping: bool,
    retiring: bool,
    now: float,
    next_term: float,
    next_fork: float,
    graceful_timeout: float,
) -> float:
    """When the loop must act next on its own (no signal): at most TICK from now, at least now."""
    wake = now + TICK
    if stopping or retiring or leaving(pool, generation, False):
        wake = min(wake, next_term)
    if not (stopping or retiring) and len(current(pool, generation)) < max_workers:
        wake = min(wake, next_fork)
    for p in pool.values():
        if p.killed:
            continue
        if p.kill_at is not None:
            wake = min(wake, p.kill_at)
        elif p.told is not None and graceful_timeout:
            wake = min(wake, p.told + graceful_timeout)
    return max(wake, now)
