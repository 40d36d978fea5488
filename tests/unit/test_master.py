"""The master's decisions (starlet_py/pool.py) as tables: no fork, no signal, no clock;
plus the scoreboard's slots, the systemd notifier, the signal set-up a batch of forks
inherits, in this process, and the lifeline across a real fork."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from starlet_py import fork
from starlet_py.config import Config
from starlet_py.master import Master, notify
from starlet_py.pool import RETIRED, Pool, Proc
from starlet_py.scoreboard import LINE, Board, Slot


def make(procs: dict[int, Proc], size: int = 2, grace: float = 0.0, **state: float) -> Pool:
    """A pool in the given state: the master's fields the decisions read (generation 1 unless said)."""
    p = Pool(size, 0.0, grace)
    p.update(procs)
    for name, value in {"generation": 1, **state}.items():
        assert name in ("generation", "stopping", "retiring", "next_fork", "next_term"), name
        setattr(p, name, value)
    return p


GEN1 = {11: Proc(1), 12: Proc(1)}
MIXED = {11: Proc(0, told=5.0), 12: Proc(1), 13: Proc(RETIRED, told=7.0)}


@pytest.mark.parametrize(
    ("procs", "generation", "stopping", "expected"),
    [
        (GEN1, 1, False, []),  # a settled pool: nobody goes
        (GEN1, 1, True, [11, 12]),  # TERM: everybody
        (GEN1, 2, False, [11, 12]),  # after HUP: the old generation
        (MIXED, 1, False, [11, 13]),  # old generation and retired, not the current
        (MIXED, 1, True, [11, 12, 13]),
        ({}, 0, True, []),
    ],
)
def test_leaving(procs: dict[int, Proc], generation: int, stopping: bool, expected: list[int]) -> None:
    assert make(procs, generation=generation, stopping=stopping).leaving() == expected


@pytest.mark.parametrize(
    ("procs", "stopping", "retiring", "expected"),
    [
        (GEN1, False, True, 11),  # USR1: the oldest first
        (GEN1, False, False, None),
        (GEN1, True, True, None),  # TERM after USR1: everybody goes anyway
        ({11: Proc(RETIRED), 12: Proc(1)}, False, True, 12),
        ({11: Proc(RETIRED)}, False, True, None),  # all retired already
    ],
)
def test_to_retire(procs: dict[int, Proc], stopping: bool, retiring: bool, expected: int | None) -> None:
    assert make(procs, stopping=stopping, retiring=retiring).to_retire() == expected


@pytest.mark.parametrize(
    ("procs", "now", "grace", "expected"),
    [
        ({1: Proc(0, told=10.0)}, 39.9, 30.0, []),
        ({1: Proc(0, told=10.0)}, 40.0, 30.0, [1]),  # S seconds after it was told
        ({1: Proc(0, told=10.0)}, 1e6, 0.0, []),  # 0 waits forever
        ({1: Proc(0)}, 1e6, 30.0, []),  # never told to stop
        ({1: Proc(0, told=10.0, kill_at=40.5)}, 41.0, 30.0, []),  # already being killed
        ({1: Proc(0, told=10.0), 2: Proc(0, told=20.0)}, 45.0, 30.0, [1]),
    ],
)
def test_overdue(procs: dict[int, Proc], now: float, grace: float, expected: list[int]) -> None:
    assert make(procs, grace=grace).overdue(now) == expected


@pytest.mark.parametrize(
    ("starts", "now", "limit", "expected"),
    [
        ({1: 100.0}, 105.0, 5.0, []),  # exactly at the limit: not over it
        ({1: 100.0}, 105.01, 5.0, [1]),
        ({1: 0.0}, 1e9, 5.0, []),  # in no request (idle, or an idle kept-alive connection)
        ({1: 100.0, 2: 104.0, 3: 0.0}, 106.0, 5.0, [1]),
        ({1: 100.0}, 1e9, 0.0, []),  # off
        ({1: 200.0}, 100.0, 5.0, []),  # a start in the future never counts
    ],
)
def test_stuck(starts: dict[int, float], now: float, limit: float, expected: list[int]) -> None:
    procs = {pid: Proc(0, slot=pid) for pid in starts}  # slot i starts at starts[i]
    assert make(procs).stuck(starts.__getitem__, now, limit) == expected


@pytest.mark.parametrize(
    ("proc", "now", "due"),
    [
        (Proc(0), 1e9, False),
        (Proc(0, kill_at=10.0), 9.9, False),
        (Proc(0, kill_at=10.0), 10.0, True),
        (Proc(0, kill_at=10.0, killed=True), 20.0, False),  # sent once, then waiting for the reap
    ],
)
def test_kills_due(proc: Proc, now: float, due: bool) -> None:
    assert make({1: proc}).kills_due(now) == ([1] if due else [])


@pytest.mark.parametrize(
    ("procs", "size", "stopping", "retiring", "now", "next_fork", "interval", "expected"),
    [
        ({}, 2, False, False, 0.0, 0.0, 0.0, 2),  # the whole pool at once, back to back
        ({}, 2, False, False, 0.0, 0.0, 1.0, 1),  # --spawn-interval: one at a time
        (GEN1, 2, False, False, 0.0, 0.0, 0.0, 0),  # whole
        (GEN1, 3, False, False, 5.0, 6.0, 0.0, 0),  # short, but --spawn-interval / err-respawn
        (GEN1, 3, False, False, 6.0, 6.0, 0.0, 1),
        (GEN1, 1, False, False, 0.0, 0.0, 0.0, 0),  # over (--max-workers lowered): none, not -1
        ({}, 2, True, False, 0.0, 0.0, 0.0, 0),  # stopping: never
        ({}, 2, False, True, 0.0, 0.0, 0.0, 0),  # retiring: never
        ({11: Proc(1), 12: Proc(RETIRED)}, 2, False, False, 0.0, 0.0, 0.0, 1),  # one being killed
        ({11: Proc(0), 12: Proc(0)}, 2, False, False, 0.0, 0.0, 0.0, 2),  # after HUP
    ],
)
def test_forks_due(
    procs: dict[int, Proc], size: int, stopping: bool, retiring: bool,
    now: float, next_fork: float, interval: float, expected: int,
) -> None:  # fmt: skip
    p = make(procs, size=size, stopping=stopping, retiring=retiring, next_fork=next_fork)
    p.spawn_interval = interval
    assert p.forks_due(now) == expected


@pytest.mark.parametrize(
    ("proc", "abnormal", "stopping", "expected"),
    [
        (Proc(0), True, False, True),  # a crash: hold the next fork back
        (Proc(0), False, False, False),  # recycled
        (Proc(0), True, True, False),  # no forks while stopping anyway
        (Proc(0, kill_at=1.0, killed=True), True, False, False),  # we killed it: replace at once
    ],
)
def test_holds_back(proc: Proc, abnormal: bool, stopping: bool, expected: bool) -> None:
    assert make({}, stopping=stopping).holds_back(proc, abnormal) is expected


@pytest.mark.parametrize(
    ("slots", "taken", "count", "expected"),
    [
        (4, [], 1, [0]),
        (4, [0, 1], 1, [2]),
        (4, [1, 0, 3], 1, [2]),
        (2, [0, 1], 1, [-1]),
        (0, [], 1, [-1]),
        (4, [-1], 1, [0]),
        (4, [1], 3, [0, 2, 3]),  # a batch: distinct slots, lowest first
        (3, [1], 3, [0, 2, -1]),  # more forks than free slots
        (0, [], 2, [-1, -1]),  # no scoreboard
    ],
)
def test_free_slots(slots: int, taken: list[int], count: int, expected: list[int]) -> None:
    procs = {100 + i: Proc(0, slot=s) for i, s in enumerate(taken)}
    assert make(procs).free_slots(slots, count) == expected


# (pool, stopping, retiring, next_term, next_fork, graceful) -> wake, with now = 100.0
@pytest.mark.parametrize(
    ("procs", "stopping", "retiring", "next_term", "next_fork", "grace", "expected"),
    [
        (GEN1, False, False, 0.0, 0.0, 30.0, 101.0),  # settled: the TICK
        ({}, False, False, 0.0, 100.3, 30.0, 100.3),  # short: the next fork
        (GEN1, False, False, 0.0, 100.3, 30.0, 101.0),  # whole: the fork time does not matter
        (GEN1, True, False, 100.5, 0.0, 30.0, 100.5),  # stopping: the next TERM
        (GEN1, False, True, 100.2, 0.0, 30.0, 100.2),  # retiring: the next retirement
        ({11: Proc(1, told=75.0)}, True, False, 101.0, 0.0, 30.0, 101.0),
        ({11: Proc(1, told=70.4)}, True, False, 101.0, 0.0, 30.0, 100.4),  # grace ends
        ({11: Proc(1, told=70.4)}, True, False, 101.0, 0.0, 0.0, 101.0),  # no grace
        ({11: Proc(1, kill_at=100.1)}, False, False, 0.0, 200.0, 30.0, 100.1),  # SIGKILL due
        ({11: Proc(1, kill_at=99.0, killed=True)}, False, False, 0.0, 200.0, 30.0, 101.0),
        ({11: Proc(0), 12: Proc(1)}, False, False, 100.7, 0.0, 30.0, 100.0),  # HUP: fork now
    ],
)
def test_next_wake(
    procs: dict[int, Proc], stopping: bool, retiring: bool, next_term: float,
    next_fork: float, grace: float, expected: float,
) -> None:  # fmt: skip
    p = make(procs, stopping=stopping, retiring=retiring, next_term=next_term, next_fork=next_fork)
    p.grace = grace
    assert p.next_wake(100.0) == pytest.approx(expected)


# -- the scoreboard --------------------------------------------------------------
def test_slot_begin_read_end() -> None:
    board = Board(3)
    assert [board.started(i) for i in range(3)] == [0.0, 0.0, 0.0]
    slot = Slot(board, 1)
    slot.begin("GET", b"/a", "1.1")
    start = board.started(1)
    assert start > 0 and board.started(0) == board.started(2) == 0.0
    assert board.read(1) == (start, "GET /a HTTP/1.1")
    slot.begin("GET", b"/b", "1.0")  # a shorter line after a longer one leaves no tail behind
    assert board.read(1) == (board.started(1), "GET /b HTTP/1.0")
    slot.end()
    assert board.started(1) == 0.0 and board.read(1) is None


def test_slot_cuts_a_long_line_and_keeps_latin1() -> None:
    board = Board(2)
    long = "/" + "x" * 1000
    Slot(board, 0).begin("GET", long.encode(), "1.1")
    Slot(board, 1).begin("GET", "/caf\xe9".encode("latin-1"), "1.1")
    read0, read1 = board.read(0), board.read(1)
    assert read0 is not None and read0[1] == f"GET {long[:LINE]} HTTP/1.1"
    assert read1 is not None and read1[1] == "GET /caf\xe9 HTTP/1.1"


def test_slots_are_shared_with_a_forked_child() -> None:
    board = Board(1)
    pid = os.fork()
    if pid == 0:
        Slot(board, 0).begin("POST", b"/child", "1.1")
        os._exit(0)
    os.waitpid(pid, 0)
    seen = board.read(0)
    assert seen is not None and seen[1] == "POST /child HTTP/1.1"


def test_master_sets_up_its_wake_pipe_fields_in_init() -> None:

    master = Master(lambda e, s: [], Config(app="x:y", request_timeout=2.0), [])
    assert (master._wake_r, master._wake_w) == (-1, -1)
    assert master.board is not None and master.board.slots == 2 * 10 + 2
    assert Master(lambda e, s: [], Config(app="x:y"), []).board is None  # off: no mapping


# -- systemd notify ---------------------------------------------------------------
@pytest.mark.parametrize("abstract", [False, True])
def test_notify_sends_one_datagram(tmp_path: Path, abstract: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        if abstract:
            name = f"starlet-test-{os.getpid()}-{id(sock)}"
            sock.bind("\0" + name)
            address = "@" + name
        else:
            address = str(tmp_path / "notify")
            sock.bind(address)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        master = Master(lambda e, s: [], Config(app="x:y"), [])
        assert "NOTIFY_SOCKET" not in os.environ  # taken out: workers and the app must not see it
        notify(master.notify_socket, "READY=1", f"MAINPID={os.getpid()}", "STATUS=serving")
        assert sock.recv(4096).decode().split("\n") == ["READY=1", f"MAINPID={os.getpid()}", "STATUS=serving"]
        notify(master.notify_socket, "STOPPING=1")
        assert sock.recv(4096) == b"STOPPING=1"


def test_notify_without_socket_does_nothing_and_a_dead_socket_is_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notify(None, "READY=1")
    notify(str(tmp_path / "nobody"), "STOPPING=1")
    err = capsys.readouterr().err
    assert f"cannot notify NOTIFY_SOCKET={tmp_path / 'nobody'}: No such file or directory" in err


def test_handed_down_lends_the_workers_handlers_then_puts_the_masters_back() -> None:
    """What a batch of forks inherits (fork.handed_down): nothing blocked, CHLD at its
    default, the worker's handler run in a child only, the master's wake-up fd kept; after
    it, the master's own handlers back and a CHLD byte on its wake-up pipe."""
    ran: list[int] = []

    def masters(signum: int, frame: object) -> None: ...

    def workers(signum: int, frame: object) -> None:
        ran.append(signum)

    before_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    old_handler = signal.signal(signal.SIGUSR1, masters)
    old_chld = signal.signal(signal.SIGCHLD, masters)
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    old_fd = signal.set_wakeup_fd(w)
    try:
        with fork.handed_down([(signal.SIGUSR1, workers)], w):
            assert signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL
            assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before_mask
            os.kill(os.getpid(), signal.SIGUSR1)  # in the master: only the wake-up byte
            assert ran == []
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                os.kill(os.getpid(), signal.SIGUSR1)
                os._exit(0 if ran == [signal.SIGUSR1] else 1)
            assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        assert signal.getsignal(signal.SIGUSR1) is masters
        assert signal.getsignal(signal.SIGCHLD) is masters
        assert signal.set_wakeup_fd(old_fd) == w
        assert os.read(r, 64) == bytes((signal.SIGUSR1, signal.SIGCHLD))
    finally:
        signal.signal(signal.SIGUSR1, old_handler)
        signal.signal(signal.SIGCHLD, old_chld)
        os.close(r)
        os.close(w)


def test_the_lifeline_sends_term_to_a_worker_once_the_master_lets_go() -> None:
    """fork.Lifeline across a real fork, this process as the master: the worker owns its
    end of the pipe; when the last writer (ours) closes, the kernel sends it TERM."""
    life = fork.Lifeline()
    try:
        with life.batch(2):
            ends = list(life.ends)
            assert len(ends) == 2 and min(ends) >= 0
            pid = os.fork()
            if pid == 0:  # the first worker of the batch
                code = 1
                try:
                    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])  # for sigtimedwait
                    life.arm(0)
                    code = 0 if signal.sigtimedwait([signal.SIGTERM], 10) else 2  # 2: no TERM
                finally:
                    os._exit(code)
        assert life.ends == []
        for end in ends:  # the master's copies are closed once the batch is forked
            with pytest.raises(OSError):
                os.fstat(end)
    finally:
        os.close(life.write)  # the master dies
    _, status = os.waitpid(pid, 0)
    os.close(life.read)
    assert os.waitstatus_to_exitcode(status) == 0
