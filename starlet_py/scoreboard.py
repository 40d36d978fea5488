"""Worker slots in shared memory: who is in which request since when, and who is idle on
a kept-alive connection.

The master creates one anonymous shared mapping before it forks (with
--request-timeout, or when keep-alive is on), so every worker writes into pages
the master reads; it gives each worker a slot.  A worker only stores into its own
slot (a clock read through the vDSO and a few stores: no system call per request);
the master reads the slots when it wakes.

A slot is SLOT bytes: the start (a double, CLOCK_MONOTONIC seconds, which is
system-wide on Linux; 0.0 = in no request), the request's sequence number (a
double at byte 8: the master kills a worker only while it is still in the
request that ran too long), the request line's length (an unsigned short at byte
16), the idle flag (an unsigned short at byte 18: 1 while the worker waits for
the next request on a kept-alive connection) and the request line from byte 24
(cut at LINE bytes).  The worker writes the line first and the start last; the
master reads the start, then the line, then the start again, and trusts the line
only if the start did not change meanwhile.
"""

from __future__ import annotations

import mmap
import time

SLOT = 256
LINE = SLOT - 24
_T = SLOT // 8  # a slot's stride in the array of doubles
_H = SLOT // 2  # ... and in the array of unsigned shorts


class Board:
    """The shared mapping: ``slots`` slots, all clear, and one more for the pool: its
    first unsigned short is the master's "crowded" flag (connections wait in the accept
    queue: a response ending now closes its connection instead of keeping it)."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.map = mmap.mmap(-1, (slots + 1) * SLOT)  # MAP_SHARED | MAP_ANONYMOUS
        view = memoryview(self.map)
        self.times = view.cast("d")
        self.shorts = view.cast("H")
        self.flag = slots * _H  # where the crowded flag is, in ``shorts``

    def crowd(self, crowded: bool) -> None:
        self.shorts[self.flag] = crowded

    def crowded(self) -> bool:
        return self.shorts[self.flag] == 1

    def clear(self, i: int) -> None:
        self.times[i * _T] = 0.0
        self.shorts[i * _H + 9] = 0

    def started(self, i: int) -> float:
        """When slot ``i``'s request entered the app; 0.0 when it is in none."""
        return self.times[i * _T]

    def seq(self, i: int) -> float:
        """How many requests slot ``i``'s worker has begun (the current one included)."""
        return self.times[i * _T + 1]

    def idle(self, i: int) -> bool:
        """Slot ``i``'s worker waits for the next request on a kept-alive connection."""
        return self.shorts[i * _H + 9] == 1

    def read(self, i: int) -> tuple[float, str] | None:
        """(start, request line) of slot ``i``'s request; None if none, or it just changed."""
        start = self.times[i * _T]
        if not start:
            return None
        n = min(self.shorts[i * _H + 8], LINE)
        line = self.map[i * SLOT + 24 : i * SLOT + 24 + n].decode("latin-1")
        return (start, line) if self.times[i * _T] == start else None


class Slot:
    """A worker's own slot: ``begin`` as a request enters the app, ``end`` when it is
    answered; ``idle`` around the wait for a kept-alive connection's next request."""

    __slots__ = ("_map", "_times", "_shorts", "_t", "_h", "_off", "_flag")

    def __init__(self, board: Board, i: int) -> None:
        self._map, self._times, self._shorts = board.map, board.times, board.shorts
        self._t, self._h, self._off, self._flag = i * _T, i * _H + 8, i * SLOT + 24, board.flag

    def begin(self, request_line: str) -> None:
        raw = request_line.encode("latin-1", "replace")[:LINE]
        self._map[self._off : self._off + len(raw)] = raw
        self._shorts[self._h] = len(raw)
        self._times[self._t + 1] += 1.0
        self._times[self._t] = time.monotonic()  # last: the master trusts the line after it

    def end(self) -> None:
        self._times[self._t] = 0.0

    def idle(self, flag: int) -> None:
        self._shorts[self._h + 1] = flag

    def crowded(self) -> bool:
        return self._shorts[self._flag] == 1


# This process's slot, set in a worker right after the fork (master.py): ``mine`` when
# the master reads its requests (--request-timeout), ``slot`` whenever there is a board.
mine: Slot | None = None
slot: Slot | None = None


def attach(board: Board, i: int, requests: bool) -> None:
    """Make slot ``i`` of ``board`` this process's own (in a freshly forked worker)."""
    global mine, slot
    slot = Slot(board, i)
    mine = slot if requests else None
