"""Request-side limits on the real server (issue 10): --max-request-body, --min-body-rate,
the lingering close after an error answer, --max-worker-rss.

Clients that trickle run in threads that stop when the server answers; nothing
waits on a fixed sleep: every wait is a read with a timeout, or wait_for.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time

from tests.support import Reader, Response, Server, parse_response, running, wait_for

APP = "limits_app:application"
BIG = 1 << 20


def body_reply(data: bytes) -> bytes:
    return b"%d %s\n" % (len(data), hashlib.sha1(data).hexdigest().encode())


def post(path: str, length: int, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n{extra}\r\n".encode()


def chunked_head(path: str, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n{extra}\r\n".encode()


def started(server: Server) -> int:
    return server.log().count("limits-app: started")


class Trickle(threading.Thread):
    """Sends ``pieces`` one every ``every`` seconds until done or the server answers."""

    def __init__(self, sock: socket.socket, pieces: list[bytes], every: float) -> None:
        super().__init__(daemon=True)
        self.sock, self.pieces, self.every = sock, pieces, every
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        for piece in self.pieces:
            if self.stop.wait(self.every):
                return
            try:
                self.sock.sendall(piece)
            except OSError:
                return
            self.sent += len(piece)


# -- --max-request-body ------------------------------------------------------------
def test_content_length_2_64_minus_1_is_413_at_once_and_the_app_never_runs() -> None:
    with running(APP) as server, server.connect(timeout=10) as sock:
        reader = Reader(sock)
        sock.sendall(post("/read", 18446744073709551615))  # the head alone: no body ever comes
        resp = reader.read_response()
        assert resp.status == 413
        assert resp.header("connection") == "close"
        assert reader.read_to_eof() == b""
        assert started(server) == 0


def test_a_body_at_the_limit_is_read_whole_one_byte_more_is_413() -> None:
    data = bytes(range(256)) * 400  # 102400 bytes
    with running(APP, ["--max-request-body", str(len(data))]) as server:
        resp = parse_response(server.raw(post("/read", len(data), "Connection: close\r\n") + data))
        assert (resp.status, resp.body) == (200, body_reply(data))
        resp = parse_response(server.raw(post("/read", len(data) + 1) + data + b"x"))
        assert resp.status == 413
        assert started(server) == 1


def test_a_chunked_body_past_the_limit_fails_the_read_with_413_and_the_app_saw_at_most_the_limit() -> None:
    with running(APP, ["--max-request-body", "1000"]) as server, server.connect(timeout=10) as sock:
        reader = Reader(sock)
        sock.sendall(chunked_head("/read", "Expect: 100-continue\r\n"))
        assert reader.read_response(head_only=True).status == 100  # the app is reading now
        sock.sendall(b"".join(b"12c\r\n" + b"c" * 300 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n")
        resp = reader.read_final_response()
        assert resp is not None and resp.status == 413
        assert resp.header("connection") == "close"
        # What a read returns before the failing one: at most the limit (here nothing, when
        # the whole body came in one read: the app's read(4096) raises instead of returning).
        seen = re.findall(r"limits-app: read failed after (\d+) bytes: refused request body", server.log())
        assert len(seen) == 1 and int(seen[0]) <= 1000, server.log()


def test_no_limit_with_zero() -> None:
    data = b"z" * 300_000
    with running(APP, ["--max-request-body", "0"]) as server:
        resp = parse_response(server.raw(post("/read", len(data), "Connection: close\r\n") + data))
        assert (resp.status, resp.body) == (200, body_reply(data))


# -- --min-body-rate ------------------------------------------------------------------
def test_a_trickling_body_is_cut_with_408() -> None:
    """4 bytes/s, each byte well within --timeout: only the rate cuts it (500 B/s after 2 s)."""
    with running(APP, ["--timeout", "2", "--min-body-rate", "500"]) as server:
        with server.connect(timeout=30) as sock:
            sock.sendall(post("/read", 200))
            trickle = Trickle(sock, [b"t"] * 200, 0.25)
            trickle.start()
            try:
                resp = Reader(sock).read_final_response()
            finally:
                trickle.stop.set()
            assert resp is not None and resp.status == 408
            assert trickle.sent < 200
        assert "limits-app: read failed after" in server.log()


def test_a_steady_8kib_upload_is_never_cut() -> None:
    pieces = [bytes([65 + i % 26]) * 1024 for i in range(48)]  # 48 KiB at 8 KiB/s: 6 s
    data = b"".join(pieces)
    with running(APP, ["--timeout", "2", "--min-body-rate", "500"]) as server, server.connect(30) as sock:
        sock.sendall(post("/read", len(data)))
        trickle = Trickle(sock, pieces, 0.125)
        trickle.start()
        resp = Reader(sock).read_final_response()
        trickle.join()
        assert resp is not None and (resp.status, resp.body) == (200, body_reply(data))


def test_time_the_app_spends_not_reading_does_not_count() -> None:
    """The app sleeps 3 s (over --timeout 1) before its first read; the client sends the
    body only after the `100 Continue` that read sends, at 2 KiB/s."""
    pieces = [b"p" * 512] * 8
    data = b"".join(pieces)
    with running(APP, ["--timeout", "1", "--min-body-rate", "500"]) as server, server.connect(30) as sock:
        reader = Reader(sock)
        sock.sendall(post("/sleep/3", len(data), "Expect: 100-continue\r\n"))
        assert reader.read_response(head_only=True).status == 100
        trickle = Trickle(sock, pieces, 0.25)
        trickle.start()
        resp = reader.read_final_response()
        trickle.join()
        assert resp is not None and (resp.status, resp.body) == (200, body_reply(data))


# -- lingering close ------------------------------------------------------------------
def refused_then_flooded(server: Server, head: bytes, flood: int) -> tuple[Response, Reader, list[str]]:
    """Send ``head`` and ``flood`` more bytes from a thread, then half-close; read the
    answer and on to the end.  Returns the answer, the reader (``reset``: the connection
    ended in a reset, not a FIN) and the sender's errors.

    Without a lingering close the server closes with the flood unread, the kernel
    answers with a reset, and a client still sending gets ECONNRESET or EPIPE: one
    that reads the answer only after sending (as most HTTP clients do) never sees it."""
    sock = server.connect(timeout=10)
    errors: list[str] = []

    def flood_it() -> None:
        try:
            sock.sendall(head + b"x" * flood)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(repr(e))

    sender = threading.Thread(target=flood_it, daemon=True)
    sender.start()
    reader = Reader(sock)
    try:
        raw = reader.read_raw_response()
        reader.read_to_eof()
        sender.join(10)
        return parse_response(raw), reader, errors
    finally:
        sock.close()


def test_a_refused_head_followed_by_a_mib_of_body_is_read_whole_not_reset() -> None:
    with running(APP) as server:
        for _ in range(3):
            resp, reader, errors = refused_then_flooded(server, post("/read", BIG, "Bad Field\r\n"), BIG)
            assert (resp.status, resp.body, reader.reset, errors) == (400, b"400 Bad Request\n", False, [])
            resp, reader, errors = refused_then_flooded(server, post("/read", 1 << 40), BIG)
            assert (resp.status, resp.body, reader.reset, errors) == (413, b"413 Content Too Large\n", False, [])  # noqa: E501


def test_an_answer_without_reading_a_big_body_is_read_whole_not_reset() -> None:
    with running(APP) as server:
        for _ in range(3):
            resp, reader, errors = refused_then_flooded(server, post("/ignore", 4 * BIG), 4 * BIG)
            assert (resp.status, resp.body, reader.reset, errors) == (200, b"ignored\n", False, [])
            assert resp.header("connection") == "close"


def test_lingering_is_bounded_in_time() -> None:
    """A client that neither sends more nor closes is let go after LINGER_TIME (2 s)."""
    with running(APP, workers=1) as server, server.connect(timeout=10) as sock:
        sock.sendall(post("/read", 10, "Bad Field\r\n"))
        reader = Reader(sock)
        assert reader.read_response().status == 400
        assert reader.read_to_eof() == b""  # the FIN came with the answer
        # The one worker serves the next connection within the bound.
        t0 = time.monotonic()
        assert server.get("/ignore").status == 200
        assert time.monotonic() - t0 < 8


# -- --max-worker-rss -----------------------------------------------------------------
def test_a_worker_over_max_worker_rss_closes_that_response_and_is_replaced_at_once() -> None:
    # A view that leaks 10 MiB a request and a 60 MiB limit: the worker leaves after the
    # very request during which it crossed the limit (it was checked every 16th).
    args = ["--max-worker-rss", "60", "--max-keepalive-reqs", "100", "--err-respawn-interval", "60"]
    with running(APP, args, workers=1) as server:
        (old,) = server.workers()
        with server.connect() as sock:
            reader = Reader(sock)
            for n in range(1, 17):  # noqa: B007 - n is read after the loop
                sock.sendall(b"GET /grow?mib=10 HTTP/1.1\r\nHost: x\r\n\r\n")
                resp = reader.read_response()
                assert resp.status == 200
                if resp.header("connection") == "close":
                    break
            assert reader.read_to_eof() == b""
        assert n < 16, "the worker served on past its limit"
        # Exit status 0: replaced without the 60 s --err-respawn-interval.
        wait_for(lambda: server.workers() not in ([], [old]), timeout=15, what="a new worker")
        log = server.log()
        line = rf"worker {old}: resident memory (\d+\.\d) MiB is over --max-worker-rss 60 MiB"
        found = re.search(line, log)
        assert found and 60 < float(found[1]) <= 70, log  # at most one request's leak past it
        assert server.get("/ignore").status == 200


def test_max_worker_rss_not_reached_keeps_the_worker() -> None:
    with running(APP, ["--max-worker-rss", "4096"], workers=1) as server:
        (old,) = server.workers()
        for _ in range(40):
            assert server.get("/grow").status == 200
        assert server.workers() == [old]
        assert "max-worker-rss" not in server.log()
