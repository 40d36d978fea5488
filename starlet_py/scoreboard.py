"""Request slots in shared memory, for --request-timeout: who is in which request, since when.

The master creates one anonymous shared mapping before it forks (only with
--request-timeout), so every worker writes into pages the master reads; it
gives each worker a slot.  A worker stamps its slot as a request enters the
app and clears it once the response is finished: a clock read (the vDSO, not a
system call) and a few stores into memory -- no system call per request.  The
master reads the slots when it wakes (at least every second).

A slot is SLOT bytes: the start (a double, CLOCK_MONOTONIC seconds, which is
system-wide on Linux; 0.0 = in no request), the request line's length (an
unsigned short at byte 8), and the request line from byte 16 (cut at LINE
bytes).  The worker writes the line first and the start last; the master reads
the start, then the line, then the start again, and trusts the line only if
the start did not change meanwhile.
"""

from __future__ import annotations

import mmap
import time

SLOT = 256
LINE = SLOT - 16
_T = SLOT // 8  # a slot's stride in the array of doubles
_H = SLOT // 2  # ... and in the array of unsigned shorts


class Board:
    """The shared mapping: ``slots`` slots, all clear."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.map = mmap.mmap(-1, max(slots, 1) * SLOT)  # MAP_SHARED | MAP_ANONYMOUS
        view = memoryview(self.map)
        self.times = view.cast("d")
        self.lens = view.cast("H")

    def clear(self, i: int) -> None:
        self.times[i * _T] = 0.0

    def started(self, i: int) -> float:
        """When slot ``i``'s request entered the app; 0.0 when it is in none."""
        return self.times[i * _T]

    def read(self, i: int) -> tuple[float, str] | None:
        """(start, request line) of slot ``i``'s request; None if none, or it just changed."""
        start = self.times[i * _T]
        if not start:
            return None
        n = min(self.lens[i * _H + 4], LINE)
        line = self.map[i * SLOT + 16 : i * SLOT + 16 + n].decode("latin-1")
        return (start, line) if self.times[i * _T] == start else None


class Slot:
    """A worker's own slot: ``begin`` as a request enters the app, ``end`` when it is answered."""

    __slots__ = ("_map", "_times", "_lens", "_t", "_h", "_off")

    def __init__(self, board: Board, i: int) -> None:
        self._map, self._times, self._lens = board.map, board.times, board.lens
        self._t, self._h, self._off = i * _T, i * _H + 4, i * SLOT + 16

    def begin(self, request_line: str) -> None:
        raw = request_line.encode("latin-1", "replace")[:LINE]
        self._map[self._off : self._off + len(raw)] = raw
        self._lens[self._h] = len(raw)
        self._times[self._t] = time.monotonic()  # last: the master trusts the line after it

    def end(self) -> None:
        self._times[self._t] = 0.0


# This process's slot: set in a worker right after the fork (master.py), else None.
mine: Slot | None = None


def attach(board: Board, i: int) -> None:
    """Make slot ``i`` of ``board`` this process's own (in a freshly forked worker)."""
    global mine
    mine = Slot(board, i)
