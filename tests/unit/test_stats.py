"""--stats' pure parts: a slot's counters, exit reasons, request lines, the text format
(stats.py)."""

from __future__ import annotations

import os
import signal
import socket
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from starlet_py import scoreboard
from starlet_py.listeners import Listener
from starlet_py.pool import Pool, Proc
from starlet_py.scoreboard import LINE, RECYCLED, RSS, Board, Slot
from starlet_py.stats import REASONS, Stats, exit_reason, metrics_text, request_of


def test_a_slot_counts_requests_and_busy_seconds_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    board = Board(2)
    slot = Slot(board, 1)
    monkeypatch.setattr(scoreboard, "slot", slot)  # this process's, as attach sets it in a worker
    for _ in range(3):
        slot.begin("GET", b"/", "1.1")
        slot.end()
    slot.begin("GET", b"/slow", "1.1")
    assert board.seq(1) == 4.0 and board.started(1) > 0
    assert 0 < board.busy(1) < 1 and board.busy(0) == 0.0
    slot.idle(1)
    scoreboard.leaving(RSS)
    scoreboard.leaving(RECYCLED)  # the first reason stays
    assert (board.idle(1), board.why(1)) == (True, RSS)
    board.clear(1)
    slot.begin("PROPFIND", b"/dav?x", "1.0")  # a method not in METHODS: its name is written too
    assert board.read(1) == (board.started(1), "PROPFIND /dav?x HTTP/1.0")
    slot.begin("MKCALENDAR", b"/" + b"c" * 500, "1.1")
    assert board.read(1) == (board.started(1), "MKCALENDAR /" + "c" * (LINE - 12) + " HTTP/1.1")
    board.clear(1)
    assert (board.started(1), board.seq(1), board.busy(1), board.idle(1), board.why(1)) == (
        0.0,
        0.0,
        0.0,
        False,
        0,
    )


def _status(code: int = 0, sig: int = 0) -> int:
    return sig if sig else code << 8  # as waitpid reports them


def _proc(killed: bool = False, seq: float | None = None) -> Proc:
    proc = Proc(0, 0, killed=killed)
    proc.seq = seq
    return proc


@pytest.mark.parametrize(
    ("proc", "status", "why", "reason"),
    [
        (_proc(), _status(0), RECYCLED, "recycled"),
        (_proc(), _status(0), RSS, "rss"),
        (_proc(killed=True, seq=7.0), _status(sig=signal.SIGKILL), 0, "request_timeout"),
        (_proc(killed=True), _status(sig=signal.SIGKILL), 0, "graceful_timeout"),
        (_proc(), _status(3), 0, "crashed"),
        (_proc(), _status(sig=signal.SIGSEGV), RECYCLED, "crashed"),
        (_proc(), _status(sig=signal.SIGKILL), 0, "crashed"),  # not ours: the OOM killer
        (_proc(), _status(0), 0, "stopped"),
    ],
)
def test_exit_reasons(proc: Proc, status: int, why: int, reason: str) -> None:
    assert os.WIFSIGNALED(status) or os.WIFEXITED(status)
    assert exit_reason(proc, os.waitstatus_to_exitcode(status), why) == reason


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /a/b?token=s3cret HTTP/1.1", ("GET", "/a/b")),
        ("POST /login#frag HTTP/1.0", ("POST", "/login")),
        ("GET http://h/p?q=1 HTTP/1.1", ("GET", "http://h/p")),
        ("GET /cut-at-the-slot's-end?tok", ("GET", "/cut-at-the-slot's-end")),
        ("OPTIONS * HTTP/1.1", ("OPTIONS", "*")),
    ],
)
def test_request_of_leaves_the_query_out(line: str, expected: tuple[str, str]) -> None:
    assert request_of(line) == expected


def test_prometheus_reads_every_metric() -> None:
    snap = {
        "workers": {"busy": 1, "idle": 3, "leaving": 2, "max": 4},
        "requests_total": 12,
        "busy_seconds_total": 0.25,
        "listen_queue": {'[::1]:80"\\': {"queued": 2, "max": 511}},
        "worker_exits_total": dict.fromkeys(REASONS, 0) | {"crashed": 1},
        "reloads_total": 2,
        "start_time_seconds": 1700000000.5,
    }
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics_text(snap))
        for s in family.samples
    }
    p = "starlet_py_"
    assert got == {
        (p + "workers", (("state", "busy"),)): 1,
        (p + "workers", (("state", "idle"),)): 3,
        (p + "workers", (("state", "leaving"),)): 2,
        (p + "workers_max", ()): 4,
        (p + "requests_total", ()): 12,
        (p + "busy_seconds_total", ()): 0.25,
        (p + "listen_queue", (("listener", '[::1]:80"\\'),)): 2,
        (p + "listen_queue_max", (("listener", '[::1]:80"\\'),)): 511,
        **{(p + "worker_exits_total", (("reason", r),)): int(r == "crashed") for r in REASONS},
        (p + "reloads_total", ()): 2,
        (p + "start_time_seconds", ()): 1700000000.5,
    }
    types = {f.name: f.type for f in text_string_to_metric_families(metrics_text(snap))}
    assert types[p + "requests"] == types[p + "busy_seconds"] == types[p + "worker_exits"] == "counter"
    assert types[p + "workers"] == types[p + "listen_queue"] == "gauge"


def test_an_idle_worker_on_its_way_out_is_leaving_not_idle() -> None:
    """Stats.snapshot: an idle worker of the old generation, or one told to stop, cannot take
    a request: state "leaving" in /status, counted apart in /metrics."""
    pool = Pool(4, 0.0, 30.0)
    pool.generation = 2
    pool.update({1: Proc(2, 0), 2: Proc(1, 1), 3: Proc(2, 2, told=5.0)})
    master = SimpleNamespace(listeners=[], pool=pool, board=Board(4), ready_due=False)
    with socket.socket(socket.AF_UNIX) as sock:
        snap = Stats(Listener(sock, "localhost", "0")).snapshot(master)
    assert snap["workers"] == {"busy": 0, "idle": 1, "leaving": 2, "max": 4}
    assert {w["pid"]: (w["state"], w["leaving"]) for w in snap["pool"]} == {
        1: ("idle", False),
        2: ("leaving", True),
        3: ("leaving", True),
    }
