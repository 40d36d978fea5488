"""The prefork model and the master's signals, on real processes (docs/design.md,
"Process model" and "Signals and stopping")."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.integration.proctools import (
    CLK_TCK,
    holds_for,
    kill_leftovers,
    listening_tcp_inodes,
    socket_inodes,
    start_ticks,
)
from tests.support import Server, parse_response, pid_alive, read_all, wait_for

APP = "procs:application"
MakeServer = Callable[..., Server]


@pytest.fixture
def orphans() -> Iterator[set[int]]:
    """Worker pids a test saw; any still alive at teardown (orphans) are killed."""
    pids: set[int] = set()
    yield pids
    kill_leftovers(pids)


def pool_when(server: Server, pred: Callable[[list[int]], bool]) -> Callable[[], list[int] | None]:
    """A wait_for condition: the worker list once ``pred`` holds for it."""
    return lambda: w if pred(w := server.workers()) else None


def pid_of(server: Server) -> int:
    resp = server.get("/pid")
    assert resp.status == 200, resp
    return int(resp.body)


def test_pool_is_exactly_n_workers_sharing_the_masters_listener(make_server: MakeServer) -> None:
    server = make_server(APP, workers=3)
    workers = sorted(server.workers())
    assert len(workers) == 3
    holds_for(lambda: sorted(server.workers()) == workers, 0.5, "a pool of exactly 3")
    served = {pid_of(server) for _ in range(10)}
    assert served <= set(workers)
    assert sorted(server.workers()) == workers

    listening = listening_tcp_inodes(server.port)
    assert len(listening) == 1, f"LISTEN sockets on port {server.port}: {listening}"
    inode = listening.pop()
    assert inode in socket_inodes(server.pid)
    for pid in workers:
        assert inode in socket_inodes(pid), f"worker {pid} lacks socket:[{inode}]"


def test_sigkilled_worker_is_replaced(make_server: MakeServer) -> None:
    server = make_server(APP, workers=3)
    old = server.workers()
    victim = old[0]
    os.kill(victim, signal.SIGKILL)
    now = wait_for(
        pool_when(server, lambda w: len(w) == 3 and victim not in w),
        what="the killed worker to be replaced",
    )
    assert not pid_alive(victim)
    assert len(set(now) - set(old)) == 1
    assert set(old) - set(now) == {victim}
    for _ in range(6):
        assert server.get("/pid").status == 200


def test_max_reqs_per_child_recycles_the_worker(make_server: MakeServer) -> None:
    server = make_server(APP, ["--max-reqs-per-child", "5"], workers=1)
    (first,) = server.workers()
    answers = [pid_of(server) for _ in range(5)]
    assert answers == [first] * 5
    second = pid_of(server)
    assert second != first
    assert server.workers() == [second]
    wait_for(lambda: not pid_alive(first), what=f"recycled worker {first} to exit")


def test_min_max_reqs_per_child_bound_every_lifetime(make_server: MakeServer) -> None:
    server = make_server(APP, ["--min-reqs-per-child", "3", "--max-reqs-per-child", "5"], workers=1)
    served: dict[int, int] = {}
    for _ in range(60):
        pid = pid_of(server)
        served[pid] = served.get(pid, 0) + 1
    alive = set(server.workers())
    lifetimes = [n for pid, n in served.items() if pid not in alive]
    assert len(lifetimes) >= 11, served
    assert all(3 <= n <= 5 for n in lifetimes), lifetimes
    # Drawn per worker from [3, 5]: twelve equal draws would mean no draw (or no reseed).
    assert len(set(lifetimes)) > 1, lifetimes


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT], ids=lambda s: s.name)
def test_graceful_stop_finishes_the_request_in_flight(
    make_server: MakeServer, orphans: set[int], tmp_path: Path, sig: signal.Signals
) -> None:
    # Keep-alive allowed: the Connection: close below must come from the shutdown.
    server = make_server(APP, ["--max-keepalive-reqs", "100"], workers=2)
    workers = server.workers()
    orphans.update(workers)
    mark = tmp_path / "in-flight"
    req = f"GET /sleep?s=1.5&mark={quote(str(mark))} HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with server.connect(timeout=10) as conn:
        conn.sendall(req.encode())
        wait_for(mark.exists, what="the slow request to reach the app")
        server.signal(sig)
        resp = parse_response(read_all(conn))
    assert resp.status == 200, resp
    assert resp.body == b"slept"
    assert resp.header("connection") == "close"
    assert server.proc.wait(15) == 0
    assert [pid for pid in workers if pid_alive(pid)] == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=5).close()


def test_hup_recycles_the_pool_without_dropping_a_request(make_server: MakeServer) -> None:
    # No recycling during the test: every pid seen is of the old or the new pool.
    server = make_server(APP, ["--max-reqs-per-child", "100000"], workers=3)
    old = set(server.workers())
    master = server.pid
    results: list[object] = []
    stop = threading.Event()

    def client() -> None:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline and len(results) < 5000:
            try:
                resp = server.get("/pid")
                results.append(resp.status if resp.status != 200 else int(resp.body))
            except Exception as exc:  # every failure is recorded, none is fatal here
                results.append(repr(exc))

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(results) >= 10, what="the client loop to get going")
        server.signal(signal.SIGHUP)
        new = set(
            wait_for(
                pool_when(server, lambda w: len(w) == 3 and not set(w) & old),
                timeout=15,
                what="a fully renewed pool of 3",
            )
        )
        after = len(results)
        wait_for(lambda: len(results) >= after + 20, what="requests served by the new pool")
    finally:
        stop.set()
        thread.join(15)
    failures = [r for r in results if not isinstance(r, int) or r <= 0]
    assert failures == [], failures[:5]
    pids = [r for r in results if isinstance(r, int)]
    assert set(pids) <= old | new
    assert set(pids[-10:]) <= new
    assert server.proc.poll() is None
    assert server.pid == master
    assert len(server.workers()) == 3


def test_usr1_retires_workers_one_by_one_then_exits(make_server: MakeServer, orphans: set[int]) -> None:
    server = make_server(APP, ["--spawn-interval", "0.3"], workers=3)
    old = set(server.workers())
    orphans.update(old)
    server.signal(signal.SIGUSR1)
    gone_at: dict[int, float] = {}
    newcomers: set[int] = set()
    counts = [3]
    deadline = time.monotonic() + 15
    while server.proc.poll() is None and time.monotonic() < deadline:
        now = set(server.workers())
        t = time.monotonic()
        newcomers |= now - old
        for pid in old - now - gone_at.keys():
            gone_at[pid] = t
        if server.proc.poll() is None and len(now) != counts[-1]:
            counts.append(len(now))
        time.sleep(0.01)
    assert server.proc.wait(5) == 0
    assert newcomers == set(), "USR1 must not respawn"
    assert [pid for pid in old if pid_alive(pid)] == []
    assert counts == sorted(counts, reverse=True), counts
    times = sorted(gone_at.get(pid, time.monotonic()) for pid in old)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(gap >= 0.2 for gap in gaps), f"retirement gaps {gaps} (interval 0.3 s)"


def test_abnormal_death_waits_err_respawn_interval(make_server: MakeServer) -> None:
    server = make_server(APP, ["--err-respawn-interval", "1.0"], workers=1)
    (victim,) = server.workers()
    assert server.raw(b"GET /crash HTTP/1.1\r\nHost: localhost\r\n\r\n") == b""
    died = time.monotonic()  # the connection closes when the worker's process ends
    new = wait_for(
        pool_when(server, lambda w: len(w) == 1 and victim not in w),
        timeout=5,
        what="the crashed worker's replacement",
    )
    delay = time.monotonic() - died
    assert not pid_alive(victim)
    assert len(new) == 1
    assert 0.8 <= delay <= 3.0, f"replacement after {delay:.2f}s (err-respawn-interval 1.0)"
    assert pid_of(server) == new[0]


def test_spawn_interval_spaces_the_forks(make_server: MakeServer) -> None:
    server = make_server(APP, ["--spawn-interval", "0.5"], workers=3)
    starts = sorted(start_ticks(pid) for pid in server.workers())
    gaps = [(b - a) / CLK_TCK for a, b in zip(starts, starts[1:], strict=False)]
    assert len(gaps) == 2
    assert all(gap >= 0.4 for gap in gaps), f"fork gaps {gaps} s (spawn-interval 0.5)"


def test_child_exit_hook_runs_in_each_exiting_worker(make_server: MakeServer, tmp_path: Path) -> None:
    record = tmp_path / "exits.txt"
    server = make_server(
        APP,
        ["--child-exit", "procs:child_exit", "--max-reqs-per-child", "1"],
        workers=1,
        env={"STARLET_TEST_CHILD_EXIT": str(record)},
    )
    (first,) = server.workers()
    assert pid_of(server) == first
    wait_for(lambda: record.exists() and record.read_text() == f"{first}\n", what="hook on recycle")
    (second,) = wait_for(pool_when(server, lambda w: len(w) == 1 and first not in w), what="the next worker")
    assert server.stop() == 0
    assert record.read_text().split() == [str(first), str(second)]


def test_zero_workers_serve_in_the_master(make_server: MakeServer) -> None:
    server = make_server(APP, workers=0)
    assert pid_of(server) == server.pid
    assert server.workers() == []
    assert pid_of(server) == server.pid
    assert server.stop() == 0


def test_usr1_without_spawn_interval_replaces_the_workers_and_reopens_the_access_log(
    make_server: MakeServer, orphans: set[int], tmp_path: Path
) -> None:
    # What a logrotate snippet written for gunicorn does: rotate, then USR1 to reopen.
    log = tmp_path / "access.log"
    server = make_server(APP, ["--access-log", str(log)], workers=2)
    old = set(server.workers())
    orphans.update(old)
    assert server.get("/pid").status == 200
    log.rename(tmp_path / "access.log.1")
    server.signal(signal.SIGUSR1)
    wait_for(
        lambda: len(set(server.workers()) - old) == 2 and not set(server.workers()) & old, what="new workers"
    )
    orphans.update(server.workers())
    assert server.proc.poll() is None, "USR1 stopped the server"
    assert server.get("/pid").status == 200
    wait_for(lambda: log.exists() and log.read_text().count("\n") == 1, what="a line in the new access log")
    assert "received SIGUSR1: replacing the workers" in server.log()


def test_the_readmes_post_fork_hook_gives_each_worker_its_own_resource(
    make_server: MakeServer, orphans: set[int]
) -> None:
    server = make_server("at_fork:application", workers=2)
    workers = set(server.workers())
    orphans.update(workers)
    seen: dict[int, int] = {}
    deadline = time.monotonic() + 10
    while set(seen) != workers and time.monotonic() < deadline:
        resp = server.get("/")
        assert resp.status == 200
        pid, opened_by, one = map(int, resp.body.split())
        seen[pid] = opened_by
        assert one == 1
    assert seen == {pid: pid for pid in workers}  # each worker opened its own, after its fork
