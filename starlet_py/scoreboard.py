"""Worker slots in shared memory (docs/design.md, "Stats"): who is in which request since
when, who waits on a kept-alive connection, what each worker has done.

The master maps it before it forks; only its worker writes a slot (no system call per
request).  A slot, SLOT bytes: doubles: the start (CLOCK_MONOTONIC; 0.0: in no request), the
request's sequence number @8, busy seconds of finished requests @16; the shape (uint @24: the
target's length + 2**16 * (2 * the method's place in METHODS + 1 for HTTP/1.0)); ushorts: the
idle flag @28 (IDLE, FREE or 0), why it leaves @30 (RECYCLED, RSS; 0); the target (@32, cut at
LINE; a method not in METHODS goes first).  The worker writes the start last; the master
reads the start, the target, then the start again, and trusts the target only if unchanged.
"""

from __future__ import annotations

import mmap
import time

SLOT = 256
LINE = SLOT - 32
_T = SLOT // 8  # a slot's stride in the array of doubles
_I = SLOT // 4  # ... in the array of unsigned ints (the request's shape is at 6)
_H = SLOT // 2  # ... and in the array of unsigned shorts
_IDLE, _WHY = 14, 15  # the shorts' places in a slot
RECYCLED, RSS = 1, 2  # why a worker leaves on its own (exit status 0): its slot says
IDLE, FREE = 1, 2  # the idle flag: waiting on a kept-alive connection, or in accept()
METHODS = ("", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
_CODES = {m: i for i, m in enumerate(METHODS) if m}
_clock = time.monotonic


class Board:
    """``slots`` slots, and one more whose first ushort is the "crowded" flag (Master._shed)."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.map = mmap.mmap(-1, (slots + 1) * SLOT)  # MAP_SHARED | MAP_ANONYMOUS
        view = memoryview(self.map)
        self.times = view.cast("d")
        self.ints = view.cast("I")
        self.shorts = view.cast("H")
        self.flag = slots * _H  # where the crowded flag is, in ``shorts``

    def crowd(self, crowded: bool) -> None:
        self.shorts[self.flag] = crowded

    def crowded(self) -> bool:
        return self.shorts[self.flag] == 1

    def clear(self, i: int) -> None:
        """Ready slot ``i`` for a new worker: all but the target zero."""
        self.map[i * SLOT : i * SLOT + 32] = bytes(32)

    def started(self, i: int) -> float:
        return self.times[i * _T]

    def seq(self, i: int) -> float:
        return self.times[i * _T + 1]

    def busy(self, i: int) -> float:
        return self.times[i * _T + 2]

    def idle(self, i: int) -> int:
        return self.shorts[i * _H + _IDLE]  # IDLE, FREE or 0

    def why(self, i: int) -> int:
        return self.shorts[i * _H + _WHY]

    def read(self, i: int) -> tuple[float, str] | None:
        """(start, request line) of slot ``i``'s request; None if none, or it just changed."""
        start = self.times[i * _T]
        if not start:  # most slots, most of the time: nothing to decode
            return None
        shape = self.ints[i * _I + 6]
        n, how = min(shape & 0xFFFF, LINE), shape >> 16
        target = self.map[i * SLOT + 32 : i * SLOT + 32 + n].decode("latin-1")
        if self.times[i * _T] != start:
            return None
        method = METHODS[how >> 1]
        return start, f"{method}{' ' if method else ''}{target} HTTP/1.{0 if how & 1 else 1}"


class Slot:
    """A worker's own slot: ``begin`` as a request enters the app, ``end`` once answered."""

    __slots__ = ("_map", "_times", "_ints", "_shorts", "_t", "_s", "_h", "_off", "_flag")

    def __init__(self, board: Board, i: int) -> None:
        self._map, self._times, self._ints, self._shorts = board.map, board.times, board.ints, board.shorts
        self._t, self._s, self._h, self._off = i * _T, i * _I + 6, i * _H, i * SLOT + 32
        self._flag = board.flag

    def begin(self, method: str, target: bytes, version: str) -> None:
        # Per request with --stats: the bytes as they came, one store for the shape.
        code = _CODES.get(method, 0)
        n = len(target)
        if not code or n > LINE:  # a rare method (its name goes first), a long target
            target = (target if code else method.encode("latin-1") + b" " + target)[:LINE]
            n = len(target)
        self._map[self._off : self._off + n] = target
        self._ints[self._s] = n | (code << 1 | (version == "1.0")) << 16
        times, t = self._times, self._t
        times[t + 1] += 1.0
        times[t] = _clock()  # last: the master trusts the target after it

    def end(self) -> None:
        # The start is cleared before the busy time grows: the master reads the busy time
        # first, so it never counts a request both as finished and as still running.
        times, t = self._times, self._t
        start = times[t]
        times[t] = 0.0
        times[t + 2] += _clock() - start

    def idle(self, flag: int) -> None:
        self._shorts[self._h + _IDLE] = flag

    def crowded(self) -> bool:
        return self._shorts[self._flag] == 1


# This worker's slot: ``slot`` whenever there is a board, ``mine`` when the master reads
# its requests (--request-timeout, --stats).
mine: Slot | None = None
slot: Slot | None = None


def attach(board: Board, i: int, requests: bool) -> None:
    """In a freshly forked worker: slot ``i`` is its own."""
    global mine, slot
    slot = Slot(board, i)
    mine = slot if requests else None


def leaving(why: int) -> None:
    """This worker exits on its own after this request (RECYCLED, RSS); the first reason stays."""
    if slot is not None and not slot._shorts[slot._h + _WHY]:
        slot._shorts[slot._h + _WHY] = why
