"""What a stopping worker does with an idle kept-alive connection.

It waits STOP_GRACE (0.5 s) more for a request already on its way (closing at
once would race a client sending its next request at that very moment: nginx
answers a POST lost that way with 502), answers it with Connection: close, and
otherwise closes the connection: a stop never waits for --keepalive-timeout
(nginx's pool would hold it for its own upstream keepalive_timeout).

The TERM goes to the worker itself: the handler runs before the worker looks
at the next request whichever of the two arrives first, so the outcome is
deterministic.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import Reader, Server, pid_alive, read_all, wait_for

MakeServer = Callable[..., Server]

REQUEST = b"GET /pid HTTP/1.1\r\nHost: localhost\r\n\r\n"


def keepalive(timeout: int) -> list[str]:
    return ["--max-keepalive-reqs", "100", "--keepalive-timeout", str(timeout)]


def test_stopping_worker_answers_the_next_request_with_connection_close(make_server: MakeServer) -> None:
    server = make_server("procs:application", keepalive(30), workers=1)
    (worker,) = server.workers()
    with Reader(server.connect()) as conn:
        conn.send(REQUEST)
        first = conn.read_response()
        assert (first.status, first.body, first.header("connection")) == (200, str(worker).encode(), None)
        os.kill(worker, signal.SIGTERM)
        started = time.monotonic()
        conn.send(REQUEST)
        second = conn.read_response()
        assert (second.status, second.body) == (200, str(worker).encode())
        assert second.header("connection") == "close"
        assert conn.closed_by_peer()  # and then the worker closes it
    wait_for(lambda: not pid_alive(worker), timeout=10, what="the stopped worker to exit")
    assert time.monotonic() - started < 15, "the worker waited for its keep-alive timeout"


@pytest.mark.parametrize("timeout", [30, 0])
def test_stopping_worker_closes_an_idle_connection_within_its_grace(
    make_server: MakeServer, timeout: int
) -> None:
    server = make_server("procs:application", keepalive(timeout), workers=1)
    (worker,) = server.workers()
    with Reader(server.connect()) as conn:
        conn.send(REQUEST)
        assert conn.read_response().status == 200
        os.kill(worker, signal.SIGTERM)
        started = time.monotonic()
        conn.sock.settimeout(10)
        assert conn.closed_by_peer()
        waited = time.monotonic() - started
    wait_for(lambda: not pid_alive(worker), timeout=10, what="the stopped worker to exit")
    assert 0.3 <= waited < 2, f"closed after {waited:.2f}s, want STOP_GRACE (0.5 s), not --keepalive-timeout"
    assert "Traceback" not in server.log()


# -- an idle kept-alive connection never starves a waiting one ----------------------------
def test_workers_idle_on_kept_alive_connections_make_way_for_a_waiting_one(make_server: MakeServer) -> None:
    server = make_server("procs:application", keepalive(30), workers=2)
    idle = [Reader(server.connect()) for _ in range(2)]
    pids = set()
    for conn in idle:
        conn.send(REQUEST)
        pids.add(int(conn.read_response().body))
    assert pids == set(server.workers())  # both workers now wait on an idle connection
    started = time.monotonic()
    fresh = server.get("/pid")
    assert fresh.status == 200 and int(fresh.body) in pids
    assert time.monotonic() - started < 1.0, "the new connection waited for an idle one to time out"
    # One connection waited, so one idle connection was closed; the other still serves.
    closed = []
    for conn in idle:
        conn.sock.settimeout(0.5)
        try:
            conn.send(REQUEST)
            closed.append(conn.read_response().status != 200)
        except (OSError, AssertionError):
            closed.append(True)
        conn.sock.close()
    assert sorted(closed) == [False, True]


def test_a_request_whose_client_left_while_it_waited_in_the_queue_is_not_run(
    make_server: MakeServer, tmp_path: Path
) -> None:
    server = make_server("stuck:application", ["--access-log", "-"], workers=1)
    busy = server.connect()
    busy.sendall(b"GET /sleep?s=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    mark = tmp_path / "ran"
    # A proxy that gave up: its POST waits behind the busy worker, then it closes.
    with server.connect() as gone:
        gone.sendall(
            f"POST /sleep?s=0&mark={mark} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".encode()
        )
    after = server.get("/sleep?s=0")
    assert after.status == 200 and read_all(busy).endswith(b"slept")
    busy.close()
    assert not mark.exists(), "the app ran a request whose client had gone"
    log = server.log()
    assert re.search(r'"POST /sleep\?s=0&mark=\S+ HTTP/1.1" 499 -\n', log), log
