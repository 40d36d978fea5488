"""Hostile clients and apps against real server processes with small --timeout values.

Each test asserts what docs/design.md ("Timeouts", "Keep-alive") and issue 4
promise: a worker is never wedged by a client (slowloris, stalled upload, a
client that never reads, idle keep-alive connections, a pipelining flood), never
killed by an app (a raising ``close()``, a ``str`` body item), and a worker
killed under a request is replaced while the others keep serving.  No fixed sleeps: every wait polls for
a condition with a deadline; the only pauses pace a deliberately slow client.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support import (
    Reader,
    Response,
    Server,
    parse_response,
    read_all,
    running,
    split_response,
    wait_for,
)

APP = "hostile_app:application"
TIMEOUT = 2.0  # --timeout of these servers
MARGIN = 3.0  # scheduling slack on top of a server-side limit
ALARMING = ("Traceback", "internal error", "error in app")


def request(path: str, extra: str = "", close: bool = True) -> bytes:
    conn = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n{conn}{extra}\r\n".encode()


def fetch(server: Server, path: str = "/", timeout: float = 10.0) -> Response:
    return parse_response(server.raw(request(path), timeout=timeout))


def log_since(server: Server, mark: int) -> str:
    return server.log()[mark:]


def quiet(text: str) -> bool:
    """True when a log excerpt holds nothing alarming (tracebacks, internal errors)."""
    return not any(word in text for word in ALARMING)


class Trickle(threading.Thread):
    """A client that sends ``data`` one byte every ``interval`` seconds until stopped or cut off."""

    def __init__(self, sock: socket.socket, data: bytes, interval: float) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.data = data
        self.interval = interval
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        for i in range(len(self.data)):
            try:
                self.sock.send(self.data[i : i + 1])
            except OSError:
                return
            self.sent += 1
            if self.stop.wait(self.interval):  # pacing a deliberately slow client
                return


def recv_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Read until the peer closes; (bytes, seconds it took).  Fails after ``timeout``."""
    sock.settimeout(timeout)
    start = time.monotonic()
    try:
        data = read_all(sock)
    except TimeoutError:
        raise AssertionError(f"connection still open after {timeout}s") from None
    return data, time.monotonic() - start


@pytest.fixture
def hostile() -> Iterator[Server]:
    """Two workers, --timeout 2."""
    with running(APP, ["--timeout", str(TIMEOUT), "--max-reqs-per-child", "0"], workers=2) as server:
        yield server


@pytest.fixture
def keepalive() -> Iterator[Server]:
    """One worker, --timeout 2, keep-alive on (10 requests per connection)."""
    args = ["--timeout", str(TIMEOUT), "--max-keepalive-reqs", "10", "--max-reqs-per-child", "0"]
    with running(APP, args, workers=1) as server:
        yield server


@pytest.fixture
def single() -> Iterator[Server]:
    """One worker, --timeout 2: anything that wedges it shows at once."""
    with running(APP, ["--timeout", str(TIMEOUT), "--max-reqs-per-child", "0"], workers=1) as server:
        yield server


# -- slow and stalled clients ---------------------------------------------------------


def test_slowloris_head_is_cut_off_while_others_are_served(hostile: Server) -> None:
    pids = sorted(hostile.workers())
    slow = hostile.connect()
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    trickle = Trickle(slow, head, 0.3)
    start = time.monotonic()
    trickle.start()
    try:
        # Meanwhile the other worker serves everyone else.
        for _ in range(5):
            assert fetch(hostile, timeout=5).status == 200
        data, _ = recv_until_closed(slow, TIMEOUT + MARGIN + 1)
        elapsed = time.monotonic() - start
    finally:
        trickle.stop.set()
        slow.close()
    # The whole head must arrive within --timeout (docs/design.md, "Timeouts"); the
    # first bytes came at once, so the head had begun: it is refused with 408.
    assert TIMEOUT * 0.8 <= elapsed <= TIMEOUT + MARGIN, elapsed
    assert trickle.sent < len(head)
    assert parse_response(data).status == 408, data[:200]
    assert sorted(hostile.workers()) == pids
    assert fetch(hostile).status == 200


def test_stalled_body_raises_oserror_in_app_and_the_worker_lives(single: Server) -> None:
    pid = single.workers()
    mark = len(single.log())
    with single.connect() as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"b" * 10)
        data, _ = recv_until_closed(client, TIMEOUT + MARGIN)
    # The app's read made no progress within --timeout: nothing was sent yet, so 408.
    assert parse_response(data).status == 408, data[:200]
    line = wait_for(
        lambda: [ln for ln in log_since(single, mark).splitlines() if "hostile-app: read raised" in ln],
        what="the app's report of its failed read",
    )[0]
    assert "OSError subclass: True" in line, line
    assert quiet(log_since(single, mark)), log_since(single, mark)
    assert single.workers() == pid
    assert fetch(single).status == 200


def test_truncated_upload_never_looks_complete(single: Server) -> None:
    """The client sends half its body and half-closes: the app's read raises, no 200 goes out."""
    pid = single.workers()
    mark = len(single.log())
    with single.connect() as client:
        # The half-close comes once the app reads (its 100 Continue): a client that half-closes
        # before its request is taken is one that left (docs/http.md, "Clients that left").
        client.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"
        )
        assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.sendall(b"b" * 50)
        client.shutdown(socket.SHUT_WR)
        data, _ = recv_until_closed(client, TIMEOUT + MARGIN)
    # End-of-file inside the body: nothing was sent yet, so the client (still reading) gets 400.
    assert parse_response(data).status == 400, data[:200]
    line = wait_for(
        lambda: [ln for ln in log_since(single, mark).splitlines() if "hostile-app: read raised" in ln],
        what="the app's report of its failed read",
    )[0]
    assert "OSError subclass: True" in line, line
    assert quiet(log_since(single, mark)), log_since(single, mark)
    assert single.workers() == pid
    assert fetch(single).status == 200


def test_client_that_never_reads_is_dropped_when_the_write_stalls(single: Server) -> None:
    pid = single.workers()
    mark = len(single.log())
    lazy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no autotuning: the write must stall
    lazy.connect((single.host, single.port))
    try:
        lazy.sendall(request("/big?mib=20"))
        start = time.monotonic()
        # The only worker is busy writing to `lazy`; this waits for it, then must be served.
        resp = fetch(single, timeout=TIMEOUT + MARGIN + 5)
        elapsed = time.monotonic() - start
        assert resp.status == 200
        # --timeout bounds a write that makes *no progress* (SO_SNDTIMEO): while the kernel
        # still takes bytes into its send buffer (it grows it for a while), each partial
        # send resets the clock. Seen: two partial sends, then the stall, so ~3 x timeout.
        assert elapsed <= 3 * TIMEOUT + MARGIN, (
            f"the only worker stayed {elapsed:.1f}s on a client that reads nothing (--timeout {TIMEOUT})"
        )
        got, _ = recv_until_closed(lazy, 10)
        assert len(got) < 20 << 20, "the whole 20 MiB went out: the write never stalled"
    finally:
        lazy.close()
    assert quiet(log_since(single, mark)), log_since(single, mark)
    assert single.workers() == pid


def test_idle_keepalive_connections_do_not_starve_fresh_clients() -> None:
    """50 idle kept-alive connections, 2 workers: each pins a worker for at most
    --keepalive-timeout, so fresh clients are all served within 50/2 x 1 s + margin."""
    idle_count, fresh_count, keepalive = 50, 10, 1.0
    args = ["--max-keepalive-reqs", "100", "--keepalive-timeout", str(keepalive), "--timeout", "5"]
    with running(APP, args, workers=2) as server:
        sel = selectors.DefaultSelector()
        bufs: dict[socket.socket, bytearray] = {}
        idle = [server.connect() for _ in range(idle_count)]
        for s in idle:
            s.sendall(request("/", close=False))  # kept alive after its response, then idle
        fresh = [server.connect() for _ in range(fresh_count)]
        for s in fresh:
            s.sendall(request("/n/fresh"))
        for s in idle + fresh:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            bufs[s] = bytearray()
        deadline = time.monotonic() + idle_count / 2 * keepalive + 10
        open_ = set(idle + fresh)
        try:
            while open_ & set(fresh) and time.monotonic() < deadline:
                for key, _ in sel.select(0.5):
                    ready = key.fileobj
                    assert isinstance(ready, socket.socket)
                    try:
                        data = ready.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    if data:
                        bufs[ready] += data
                    else:
                        sel.unregister(ready)
                        open_.discard(ready)
            late = [s for s in fresh if s in open_]
            assert not late, f"{len(late)} fresh clients not served by the deadline"
            for s in fresh:
                resp = parse_response(bytes(bufs[s]))
                assert (resp.status, resp.body) == (200, b"/n/fresh")
            # Every idle connection that was served got its answer before the server closed it.
            for s in idle:
                if s not in open_:
                    assert parse_response(bytes(bufs[s])).status == 200
        finally:
            sel.close()
            for s in idle + fresh:
                s.close()


def test_idle_keepalive_connection_is_closed_after_keepalive_timeout() -> None:
    args = ["--max-keepalive-reqs", "100", "--keepalive-timeout", "1", "--timeout", "5"]
    with running(APP, args, workers=1) as server, server.connect() as client:
        client.sendall(request("/", close=False))
        client.settimeout(5)
        reader = Reader(client)
        assert reader.read_response().status == 200 and reader.buf == b""
        data, elapsed = recv_until_closed(client, 1 + MARGIN)
        assert data == b""
        assert 0.5 <= elapsed <= 1 + MARGIN, elapsed


# -- workers killed, apps misbehaving ------------------------------------------------------


def test_sigkill_of_a_worker_mid_request(hostile: Server) -> None:
    mark = len(hostile.log())
    with hostile.connect() as victim:
        victim.sendall(request("/sleep?s=30"))
        line = wait_for(
            lambda: [
                ln for ln in log_since(hostile, mark).splitlines() if "hostile-app: sleeping in pid" in ln
            ],
            what="the app to start sleeping",
        )[0]
        pid = int(line.rsplit(" ", 1)[1])
        assert pid in hostile.workers()
        os.kill(pid, signal.SIGKILL)
        data, _ = recv_until_closed(victim, 5)
    assert data == b"", data[:200]  # closed, no response
    for _ in range(5):
        assert fetch(hostile).status == 200
    wait_for(
        lambda: len(hostile.workers()) == 2 and pid not in hostile.workers(), what="a replacement worker"
    )
    assert fetch(hostile).status == 200


def test_app_raising_in_close_is_logged_and_the_next_request_fine(single: Server) -> None:
    pid = single.workers()
    mark = len(single.log())
    resp = fetch(single, "/close-raises")
    assert (resp.status, resp.body) == (200, b"fine!\n")
    wait_for(
        lambda: "hostile close() exploded" in log_since(single, mark), what="the close() error in the log"
    )
    assert fetch(single).status == 200
    assert single.workers() == pid


def test_app_returning_a_str_item_gets_500_and_the_worker_lives(single: Server) -> None:
    pid = single.workers()
    mark = len(single.log())
    resp = fetch(single, "/str")
    assert resp.status == 500
    wait_for(lambda: "Traceback" in log_since(single, mark), what="the app error in the log")
    assert fetch(single).status == 200
    assert single.workers() == pid


def test_str_item_after_headers_went_out_closes_the_connection(single: Server) -> None:
    pid = single.workers()
    data = single.raw(request("/str-late"), timeout=5)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"first block" in body
    assert not body.endswith(b"0\r\n\r\n"), "a truncated response must not look complete"
    assert fetch(single).status == 200
    assert single.workers() == pid


# -- pipelining and unread bodies -------------------------------------------------------------


def pipeline(server: Server, count: int) -> tuple[list[Response], bytes]:
    """Send ``count`` pipelined GETs (the last with close) in one go; read until the server closes."""
    blob = b"".join(request(f"/n/{i}", close=i == count - 1) for i in range(count))
    with server.connect(timeout=20) as client:
        sender = threading.Thread(target=_send_quietly, args=(client, blob), daemon=True)
        sender.start()
        data = read_all(client)
        sender.join(10)
    responses = []
    while data:
        resp, data = split_response(data)
        responses.append(resp)
    return responses, data


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass  # the server closed first (a capped connection): expected there


def test_pipelining_flood_is_answered_in_order() -> None:
    args = ["--max-keepalive-reqs", "10000", "--max-reqs-per-child", "0"]
    with running(APP, args, workers=1) as server:
        responses, rest = pipeline(server, 2000)
    assert rest == b""
    assert len(responses) == 2000
    assert [r.body for r in responses] == [b"/n/%d" % i for i in range(2000)]
    assert all(r.status == 200 for r in responses)


def test_pipelining_flood_stops_cleanly_at_max_keepalive_reqs() -> None:
    """Never past --max-keepalive-reqs (docs/design.md, "Keep-alive"); the last answer
    says close, then EOF."""
    args = ["--max-keepalive-reqs", "100", "--max-reqs-per-child", "0"]
    with running(APP, args, workers=1) as server:
        responses, rest = pipeline(server, 2000)
    assert rest == b""
    assert [r.body for r in responses] == [b"/n/%d" % i for i in range(100)]
    assert responses[-1].header("connection") == "close"
    assert all(r.header("connection") != "close" for r in responses[:-1])


SMUGGLE = b"GET /n/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def test_small_unread_body_is_drained_and_the_connection_kept(keepalive: Server) -> None:
    body = SMUGGLE * (1000 // len(SMUGGLE))  # looks like requests: must stay body
    head = b"POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    with keepalive.connect() as client:
        client.sendall(head + body + request("/n/next"))
        data = read_all(client)
    first, data = split_response(data)
    second, data = split_response(data)
    assert (first.status, first.body) == (200, b"unread\n")
    assert (second.status, second.body) == (200, b"/n/next")
    assert data == b""


def test_large_unread_body_closes_the_connection_after_the_response(keepalive: Server) -> None:
    body = SMUGGLE * ((1 << 20) // len(SMUGGLE))  # ~1 MiB, far over the drain bound
    head = b"POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    with keepalive.connect() as client:
        sender = threading.Thread(target=_send_quietly, args=(client, head + body + request("/n/next")))
        sender.start()
        data, elapsed = recv_until_closed(client, TIMEOUT + MARGIN)
        sender.join(10)
    resp, rest = split_response(data)
    assert (resp.status, resp.body) == (200, b"unread\n")
    assert rest == b"", f"more after the response (body parsed as requests?): {rest[:200]!r}"
    assert fetch(keepalive).status == 200
