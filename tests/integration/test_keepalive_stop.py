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
import socket
import time
from collections.abc import Callable

from tests.support import Response, Server, pid_alive, split_response, wait_for

MakeServer = Callable[..., Server]

REQUEST = b"GET /pid HTTP/1.1\r\nHost: localhost\r\n\r\n"


def keepalive(timeout: int) -> list[str]:
    return ["--max-keepalive-reqs", "100", "--keepalive-timeout", str(timeout)]


def read_response(sock: socket.socket, timeout: float = 10.0) -> Response:
    """Read exactly one response with a Content-Length from a kept-alive connection."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a whole response: {data!r}"
        data += chunk
        try:
            resp, rest = split_response(data)
        except AssertionError:
            continue  # head or body not complete yet
        assert rest == b"", f"bytes after the response: {rest!r}"
        return resp


def test_stopping_worker_answers_the_next_request_with_connection_close(make_server: MakeServer) -> None:
    server = make_server("procs:application", keepalive(30), workers=1)
    (worker,) = server.workers()
    with server.connect() as conn:
        conn.sendall(REQUEST)
        first = read_response(conn)
        assert (first.status, first.body, first.header("connection")) == (200, str(worker).encode(), None)
        os.kill(worker, signal.SIGTERM)
        started = time.monotonic()
        conn.sendall(REQUEST)
        second = read_response(conn)
        assert (second.status, second.body) == (200, str(worker).encode())
        assert second.header("connection") == "close"
        assert conn.recv(1) == b""  # and then the worker closes it
    wait_for(lambda: not pid_alive(worker), timeout=10, what="the stopped worker to exit")
    assert time.monotonic() - started < 15, "the worker waited for its keep-alive timeout"


def test_stopping_worker_closes_an_idle_connection_at_its_keepalive_timeout(make_server: MakeServer) -> None:
    server = make_server("procs:application", keepalive(1), workers=1)
    (worker,) = server.workers()
    with server.connect() as conn:
        conn.sendall(REQUEST)
        assert read_response(conn).status == 200
        os.kill(worker, signal.SIGTERM)
        started = time.monotonic()
        conn.settimeout(10)
        assert conn.recv(1) == b""
        waited = time.monotonic() - started
    wait_for(lambda: not pid_alive(worker), timeout=10, what="the stopped worker to exit")
    assert 0.5 <= waited < 5, f"closed after {waited:.2f}s, want about --keepalive-timeout (1 s)"


def test_without_a_keepalive_timeout_a_stopping_worker_closes_idle_connections_at_once(
    make_server: MakeServer,
) -> None:
    server = make_server("procs:application", keepalive(0), workers=1)
    (worker,) = server.workers()
    with server.connect() as conn:
        conn.sendall(REQUEST)
        assert read_response(conn).status == 200
        os.kill(worker, signal.SIGTERM)
        conn.settimeout(10)
        assert conn.recv(1) == b""  # would block forever if the wait were not cut short
    wait_for(lambda: not pid_alive(worker), timeout=10, what="the stopped worker to exit")
