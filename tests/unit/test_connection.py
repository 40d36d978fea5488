"""connection.Connection over a socketpair: no fork, no TCP, a real Worker as its host.

The client's bytes are sent before ``serve`` runs (it then answers them all in
this thread), except where a test needs the server to wait: then ``serve`` runs
in a thread.  Responses are compared as bytes, with the Date line pinned.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from starlet_py import connection, response, scoreboard
from starlet_py.config import Config
from starlet_py.connection import Connection
from starlet_py.listeners import PeerNames, set_timeouts
from starlet_py.protocol import Request
from starlet_py.response import CONTINUE, REASONS, Response, error_answer
from starlet_py.worker import Worker
from starlet_py.wsgi import FileWrapper, template

App = Callable[[dict[str, Any], Callable[..., Any]], Any]
DATE = b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
NAMES = PeerNames("", "0", "localhost", "0")
GET = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
CLOSE = b"GET /y HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"


@pytest.fixture(autouse=True)
def pinned_date(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(response, "date_line", lambda: DATE)
    yield


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode()]


def answer(body: bytes, *extra: bytes) -> bytes:
    """What ``hello``-like apps produce: a text/plain body with its length."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + DATE + b"Server: starlet-py\r\n"
            b"Content-Length: %d\r\n" % len(body) + b"".join(extra) + b"\r\n" + body)  # fmt: skip


class Client:
    """The client end of a socketpair whose other end a Connection serves."""

    def __init__(self, app: App, **options: Any) -> None:
        self.worker = Worker(app, Config(app="tests:app", **options), [])
        self.server, self.sock = socket.socketpair()
        set_timeouts(self.server, self.worker.config.timeout, self.worker.config.keepalive_timeout)
        self.sock.settimeout(10)  # a hang fails the test instead of wedging the suite
        self.conn = Connection(self.server, NAMES, self.worker)

    def serve(self, *data: bytes, eof: bool = False) -> bytes:
        """Send ``data`` (then end-of-file), serve it here, and return everything answered."""
        for piece in data:
            self.sock.sendall(piece)
        if eof:
            self.sock.shutdown(socket.SHUT_WR)
        self.conn.serve(template())
        return self.read_all()

    def read_all(self) -> bytes:
        """All bytes until the server closed its end (the test fails on a timeout)."""
        out = []
        while data := self.sock.recv(65536):
            out.append(data)
        return b"".join(out)

    def in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.conn.serve, args=(template(),), daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.sock.close()
        self.server.close()


@pytest.fixture
def client() -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(app: App = hello, **options: Any) -> Client:
        made.append(Client(app, **options))
        return made[-1]

    yield make
    for c in made:
        c.close()


def test_a_request_is_answered_then_the_connection_closes(client: Callable[..., Client]) -> None:
    c = client()  # --max-keepalive-reqs 1 (the default): this is the last request
    assert c.serve(GET) == answer(b"/x", b"Connection: close\r\n")
    assert (c.conn.served, c.worker.requests, c.server.fileno()) == (1, 1, -1)


def test_keep_alive_then_close(client: Callable[..., Client]) -> None:
    c = client(max_keepalive_reqs=10)
    assert c.serve(GET, CLOSE) == answer(b"/x") + answer(b"/y", b"Connection: close\r\n")
    assert c.conn.served == 2


def test_keep_alive_until_the_client_leaves(client: Callable[..., Client]) -> None:
    c = client(max_keepalive_reqs=10)
    assert c.serve(GET, GET, eof=True) == answer(b"/x") * 2
    assert c.conn.served == 2


def test_the_last_request_under_max_keepalive_reqs_says_close(client: Callable[..., Client]) -> None:
    c = client(max_keepalive_reqs=2)
    assert c.serve(GET, GET, GET) == answer(b"/x") + answer(b"/x", b"Connection: close\r\n")


# -- keep-alive: one decision, as a table --------------------------------------------
def decision(
    version: str = "1.1", request_keeps: bool = True, delimited: bool = True,
    served: int = 1, limit: int = 100, stopping: bool = False, crowded: bool = False,
) -> bool:  # fmt: skip
    worker = Worker(hello, Config(app="tests:app", max_keepalive_reqs=limit), [])
    worker.stopping = stopping
    with socket.socket() as sock:
        conn = Connection(sock, NAMES, worker)
    conn._req = req = Request()
    req.version, req.keep_alive = version, request_keeps
    conn.served = served
    resp = Response(req, conn.write, conn._keep_alive)
    resp.delimited = delimited
    saved = scoreboard.slot
    scoreboard.slot = SimpleNamespace(crowded=lambda: crowded)  # type: ignore[assignment]
    try:
        return conn._keep_alive(resp)
    finally:
        scoreboard.slot = saved


@pytest.mark.parametrize(
    ("case", "kwargs", "keep"),
    [
        ("all allow it", {}, True),
        ("HTTP/1.0 keep-alive, delimited", {"version": "1.0"}, True),
        ("request says close (or 1.0 without keep-alive, or an upgrade)", {"request_keeps": False}, False),
        ("close-delimited body", {"delimited": False}, False),
        ("last request under --max-keepalive-reqs", {"served": 100}, False),
        ("one before the limit", {"served": 99}, True),
        ("--max-keepalive-reqs 1", {"served": 1, "limit": 1}, False),
        ("the worker is stopping", {"stopping": True}, False),
        ("connections wait in the accept queue (the master's flag)", {"crowded": True}, False),
        ("everything against it", {"request_keeps": False, "delimited": False, "stopping": True}, False),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_keep_alive_decision(case: str, kwargs: dict[str, object], keep: bool) -> None:
    assert decision(**kwargs) is keep  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "status", "why"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 request without Host"),
        (
            b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
            417,
            "unknown expectation",
        ),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414, "request target over 8192 bytes"),
    ],
    ids=["400", "417", "414"],
)
def test_a_refused_request_gets_its_answer_with_the_reason_and_the_socket_closes(
    client: Callable[..., Client], raw: bytes, status: int, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    called = []
    c = client(lambda env, sr: called.append(env) or hello(env, sr), max_keepalive_reqs=10)
    assert c.serve(GET, raw, GET) == answer(b"/x") + error_answer(status, why)
    assert error_answer(status, why).endswith(f"\r\n\r\n{status} {REASONS[status]}: {why}\n".encode())
    assert (called and len(called), c.worker.requests) == (1, 1)  # the app never saw it
    logged = capsys.readouterr().err
    assert f"refused : {status} {why}" in logged and "Host: h" not in logged


def test_the_reason_in_a_refusal_is_printable_ascii_whatever_it_holds() -> None:
    body = error_answer(400, "bad \x00\n\u00e9 <b>").split(b"\r\n\r\n", 1)[1]
    assert body == b"400 Bad Request: bad ??\\xe9 <b>\n"


def test_client_going_away_mid_body(client: Callable[..., Client]) -> None:
    seen: list[OSError] = []

    def reader(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as e:
            seen.append(e)
            raise
        raise AssertionError("a truncated body read as complete")

    c = client(reader, max_keepalive_reqs=10)
    raw = c.serve(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc", eof=True)
    assert raw == error_answer(400, "client closed the connection mid-body")  # no response had started
    assert [str(e) for e in seen] == ["client closed the connection mid-body"]


def test_a_broken_body_closes_even_after_a_good_response(client: Callable[..., Client]) -> None:
    def catcher(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError:
            pass
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"caught"]

    c = client(catcher, max_keepalive_reqs=10)
    thread = c.in_thread()
    c.sock.sendall(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    while c.conn.served == 0 and thread.is_alive():
        thread.join(0.01)  # until the app runs: then the body breaks under it
    c.sock.sendall(b"zz\r\n" + GET)
    assert c.read_all() == answer(b"caught", b"Connection: close\r\n")  # GET is not served
    thread.join(10)


def test_stop_flag_while_the_app_runs_means_connection_close(client: Callable[..., Client]) -> None:
    def stopped(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        c.worker.stopping = True  # as the TERM handler does
        return hello(environ, start_response)

    c = client(stopped, max_keepalive_reqs=10)
    assert c.serve(GET, GET) == answer(b"/x", b"Connection: close\r\n")  # the second is not served
    assert c.conn.served == 1


def test_the_recycle_limit_closes_after_its_last_request(client: Callable[..., Client]) -> None:
    c = client(max_keepalive_reqs=10)
    c.worker.limit = 2
    assert c.serve(GET, GET, GET) == answer(b"/x") + answer(b"/x", b"Connection: close\r\n")
    assert c.worker.stopping is True


def test_a_shed_ends_the_wait_of_an_idle_connection_at_once(client: Callable[..., Client]) -> None:
    c = client(max_keepalive_reqs=10, keepalive_timeout=0)
    thread = c.in_thread()
    c.sock.sendall(GET)
    assert c.sock.recv(65536) == answer(b"/x")
    while c.worker._idle is None and thread.is_alive():
        thread.join(0.01)  # until the connection waits for its next request
    c.worker._on_shed(signal.SIGURG, None)  # what the master's SHED runs: shuts the reading side
    thread.join(10)
    assert not thread.is_alive()
    assert (c.read_all(), c.worker._idle) == (b"", None)


def test_an_app_error_is_a_500(client: Callable[..., Client], capsys: pytest.CaptureFixture[str]) -> None:
    def broken(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        raise RuntimeError("boom")

    assert client(broken, max_keepalive_reqs=10).serve(GET, GET) == error_answer(500)
    assert "error in app for 'GET /x HTTP/1.1'" in capsys.readouterr().err


def test_a_failing_close_closes_the_connection(client: Callable[..., Client]) -> None:
    class Body(list[bytes]):
        def close(self) -> None:
            raise OSError("close failed")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Body:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body([b"a", b"b"])  # not a one-item list: sent block by block, chunked

    raw = client(app, max_keepalive_reqs=10).serve(GET, GET)
    assert raw == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + DATE + b"Server: starlet-py\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n")  # fmt: skip


def test_unread_small_body_is_drained_and_the_connection_kept(client: Callable[..., Client]) -> None:
    c = client(max_keepalive_reqs=10)
    post = b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    assert c.serve(post, CLOSE) == answer(b"/p") + answer(b"/y", b"Connection: close\r\n")


def test_100_continue_is_sent_at_the_first_read(client: Callable[..., Client]) -> None:
    def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    c = client(echo)
    thread = c.in_thread()
    c.sock.sendall(b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    assert c.sock.recv(65536) == CONTINUE
    c.sock.sendall(b"data")
    assert c.read_all() == answer(b"data", b"Connection: close\r\n")
    thread.join(10)


def test_expect_100_continue_unread_sends_no_100_and_closes(client: Callable[..., Client]) -> None:
    c = client(max_keepalive_reqs=10)
    raw = c.serve(b"PUT /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", GET)
    assert raw == answer(b"/e")  # the 100 was never owed; the client may still be waiting to send


def test_file_wrapper_goes_out_with_sendfile(
    client: Callable[..., Client], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int]] = []
    real = os.sendfile

    def sendfile(out: int, fd: int, offset: int, count: int) -> int:
        calls.append((offset, count))
        return real(out, fd, offset, count)

    monkeypatch.setattr(connection.os, "sendfile", sendfile)
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")

    def files(environ: dict[str, Any], start_response: Callable[..., Any]) -> FileWrapper:
        start_response("200 OK", [("Content-Type", "text/plain")])
        f = path.open("rb")
        f.seek(3)
        return FileWrapper(f)

    c = client(files, max_keepalive_reqs=10)
    assert c.serve(GET, eof=True) == answer(b"3456789")
    assert calls == [(3, 7)]  # the file's bytes went out with sendfile


@pytest.mark.parametrize(
    "data",
    [
        GET + CLOSE,
        b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" + CLOSE,
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n",
    ],
    ids=["keep-alive then close", "post", "no Host (400)", "bad target (400)"],
)
def test_a_connection_leaves_no_cyclic_garbage(data: bytes) -> None:
    """Everything a connection made is freed by reference counting (workers then need
    the cyclic collector only for the app's own cycles)."""
    Client(hello).serve(data)  # the first one fills the caches
    gc.collect()
    gc.disable()
    try:
        assert Client(hello).serve(data).startswith(b"HTTP/1.1 ")
        assert gc.collect() == 0
    finally:
        gc.enable()
