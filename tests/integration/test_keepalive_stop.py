"""What a stopping worker does with an idle kept-alive connection.

Closing it at TERM would race a client sending its next request at that very
moment (nginx answers a POST lost that way with 502), so the connection keeps
its --keepalive-timeout: its next request is answered with Connection: close,
or it is closed when the timeout runs out.  With --keepalive-timeout 0 (wait
forever) it is closed at once instead, or the stop could never end.

The TERM goes to the worker itself: the handler runs before the worker looks
at the next request whichever of the two arrives first, so the outcome is
deterministic.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from tests.support import Reader, Server, pid_alive, wait_for

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


def test_stopping_worker_closes_an_idle_connection_at_its_keepalive_timeout(make_server: MakeServer) -> None:
    server = make_server("procs:application", keepalive(1), workers=1)
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
    assert 0.5 <= waited < 5, f"closed after {waited:.2f}s, want about --keepalive-timeout (1 s)"


def test_without_a_keepalive_timeout_a_stopping_worker_closes_idle_connections_at_once(
    make_server: MakeServer,
) -> None:
    server = make_server("procs:application", keepalive(0), workers=1)
    (worker,) = server.workers()
    with Reader(server.connect()) as conn:
        conn.send(REQUEST)
        assert conn.read_response().status == 200
        os.kill(worker, signal.SIGTERM)
        conn.sock.settimeout(10)
        assert conn.closed_by_peer()  # would block forever if the wait were not cut short
    wait_for(lambda: not pid_alive(worker), timeout=10, what="the stopped worker to exit")
