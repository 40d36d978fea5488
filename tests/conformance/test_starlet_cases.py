"""Starlet's own HTTP test cases (Starlet 0.31, t/), its known defects, and the
HTTP/1.1 rules of docs/design.md ("Keep-alive", "Choices"), on raw loopback sockets.

Two servers for the module: ``plain`` with the defaults (no keep-alive, one
worker, so a stuck worker shows as a timeout) and ``keepalive`` with
``--max-keepalive-reqs 10`` and an idle timeout far above our read timeout
(so "the server closed" can never be an idle close in disguise).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from tests.conformance.helpers import (
    APP,
    TIMEOUT,
    chunks,
    fetch,
    fetch_json,
    make_data,
    request,
    send_and_read,
)
from tests.support import Reader, Server, head_end, read_all, running, split_response, wait_for

KEEPALIVE_ARGS = ["--max-keepalive-reqs", "10", "--keepalive-timeout", "30"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("starlet-cases-data"))


@pytest.fixture(scope="module")
def plain(data_dir: Path) -> Iterator[Server]:
    with running(APP, workers=1, env={"CONFORMANCE_DATA": str(data_dir)}) as s:
        yield s


@pytest.fixture(scope="module")
def keepalive(data_dir: Path) -> Iterator[Server]:
    env = {"CONFORMANCE_DATA": str(data_dir)}
    with running(APP, KEEPALIVE_ARGS, workers=2, env=env) as s:
        yield s


def raw_body(raw: bytes) -> bytes:
    """The bytes after the response head, unparsed."""
    end = head_end(raw)
    assert end is not None, raw[:300]
    return raw[end:]


# -- request bodies ------------------------------------------------------------


def test_chunked_upload_79838_bytes(plain: Server) -> None:
    body = random.Random(79838).randbytes(79838)
    sizes = [1, 7, 100, 1000, 4096, 8192, 3, 16384, 0x1FFF, 65536]
    with Reader(plain.connect(TIMEOUT)) as c:
        head = request("POST", "/digest", headers={"Transfer-Encoding": "chunked"}, close=False)
        c.send(head)
        pos = i = 0
        while pos < len(body):
            piece = body[pos : pos + sizes[i % len(sizes)]]
            ext = b";name=value" if i % 3 == 0 else b""  # chunk extensions are ignored
            c.send(b"%X%s\r\n%s\r\n" % (len(piece), ext, piece))
            pos += len(piece)
            i += 1
        c.send(b"0\r\nX-Trailer: ignored\r\n\r\n")
        resp = c.read_response()
    assert resp.status == 200, resp
    info = json.loads(resp.body)
    assert info["length"] == 79838
    assert info["sha1"] == hashlib.sha1(body).hexdigest()
    assert info["CONTENT_LENGTH"] is None, "CONTENT_LENGTH is absent when not sent"


def test_empty_items_in_body_are_skipped(keepalive: Server) -> None:
    with Reader(keepalive.connect(TIMEOUT)) as c:
        c.send(request("GET", "/empty_items", close=False) + request("GET", "/fixed"))
        raw = c.read_raw_response()
        second = c.read_response()
        assert c.closed_by_peer()
    resp = split_response(raw)[0]
    assert (resp.status, resp.header("transfer-encoding")) == (200, "chunked")
    # b'' items produce no chunk at all: a zero-size one would end the body early.
    assert chunks(raw_body(raw)) == [b"a", b"bc"]
    assert (second.status, second.body) == (200, b"fixed body\n")


def test_single_empty_string_body(keepalive: Server) -> None:
    # validate hides len() == 1, but no body byte came before the end of the iterable:
    # the headers are still unsent and the length is known to be 0.
    with Reader(keepalive.connect(TIMEOUT)) as c:
        c.send(request("GET", "/single_empty", close=False) + request("GET", "/fixed"))
        raw = c.read_raw_response()
        second = c.read_response()
        assert c.closed_by_peer()
    resp = split_response(raw)[0]
    assert resp.status == 200, resp
    framing = (resp.header("content-length"), resp.header("transfer-encoding"), raw_body(raw))
    assert framing == ("0", None, b""), framing
    assert (second.status, second.body) == (200, b"fixed body\n")


def test_truncated_post_then_normal_post(plain: Server) -> None:
    with plain.connect(TIMEOUT) as s:
        # Half-closed once the app reads (its 100 Continue): before the request is taken, a
        # half-close is a client that left (docs/http.md, "Clients that left").
        s.sendall(request("POST", "/echo", headers={"Content-Length": "100", "Expect": "100-continue"}))
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"x" * 10)
        s.shutdown(socket.SHUT_WR)
        first = read_all(s)  # a timeout here: the worker did not give up on the body
    # End-of-file inside the body: the app's read raises, nothing was sent yet, so 400.
    assert split_response(first)[0].status == 400, first[:200]
    resp = fetch(plain, "POST", "/echo", body=b"the second body")
    assert (resp.status, resp.body) == (200, b"the second body")
    assert resp.header("client-content-length") == "15"


# -- Expect --------------------------------------------------------------------


@pytest.mark.parametrize("expect", ["100-continue", "100-Continue"])
def test_expect_100_continue(plain: Server, expect: str) -> None:
    hdr = {"Expect": expect, "Content-Length": "11"}
    with Reader(plain.connect(TIMEOUT)) as c:
        c.send(request("POST", "/echo", headers=hdr, close=False))
        assert c.read_raw_response() == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.send(b"hello world")
        resp = c.read_response()
        assert c.closed_by_peer()
    assert (resp.status, resp.body) == (200, b"hello world")


def test_expect_100_continue_not_sent_when_app_rejects(plain: Server) -> None:
    hdr = {"Expect": "100-continue", "Content-Length": "10"}
    raw = plain.raw(request("POST", "/reject", headers=hdr), timeout=TIMEOUT)
    assert raw.startswith(b"HTTP/1.1 413 "), raw[:100]
    assert b"100 Continue" not in raw
    resp, rest = split_response(raw)
    assert (resp.status, resp.body, rest) == (413, b"too big", b"")


def test_expect_unknown_is_417(plain: Server) -> None:
    hdr = {"Expect": "something-else", "Content-Length": "5"}
    raw = send_and_read(plain, request("POST", "/echo", headers=hdr, body=b"hello"))
    resp = split_response(raw)[0]
    assert (resp.status, resp.reason) == (417, "Expectation Failed")


# -- environ from the connection ------------------------------------------------


def test_remote_addr_and_port(plain: Server) -> None:
    with Reader(plain.connect(TIMEOUT)) as c:
        c.send(request("GET", "/env"))
        resp = c.read_response()
        local_port = c.sock.getsockname()[1]
    env = json.loads(resp.body)
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("127.0.0.1", str(local_port))


def test_environ_keys_per_design(plain: Server) -> None:
    hdrs = [("X-Dash", "1"), ("X_Under", "2"), ("X-Dash", "3")]
    env = fetch_json(plain, "GET", "/env", headers=hdrs)
    assert env["HTTP_X_DASH"] == "1, 3"
    assert "HTTP_X_UNDER" not in env, "names with '_' are dropped"
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
        assert key not in env, key
    assert (env["QUERY_STRING"], env["SCRIPT_NAME"], env["REQUEST_METHOD"]) == ("", "", "GET")
    assert env["wsgi.version"] == [1, 0]
    assert (env["wsgi.multiprocess"], env["wsgi.multithread"], env["wsgi.run_once"]) == (
        True,
        False,
        False,
    )
    assert env["wsgi.input_terminated"] is True
    assert env["has_file_wrapper"] is True
    post = fetch_json(plain, "POST", "/env", headers={"Content-Type": "a/b"}, body=b"xyz")
    assert (post["CONTENT_TYPE"], post["CONTENT_LENGTH"]) == ("a/b", "3")


# -- malformed and oversized requests: answered before the app, then closed ------

BAD_REQUESTS = [
    b"garbage\r\n\r\n",
    b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",  # not a token: not a method
    b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"GET /no-host HTTP/1.1\r\n\r\n",  # RFC 9112 3.2: 1.1 without Host
    b"GET /two-hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
]


@pytest.mark.parametrize("data", BAD_REQUESTS, ids=lambda d: repr(d.split(b"\r\n")[0])[2:-1])
def test_bad_request_line_is_400_and_closed(keepalive: Server, data: bytes) -> None:
    raw = send_and_read(keepalive, data)  # times out if the server keeps the connection
    resp, rest = split_response(raw)
    assert (resp.status, resp.reason) == (400, "Bad Request")
    assert rest == b""


UNKNOWN_METHODS = [b"get / HTTP/1.1\r\nHost: x\r\n\r\n", b"BREW /p HTTP/1.1\r\nHost: x\r\n\r\n"]


@pytest.mark.parametrize("data", UNKNOWN_METHODS)
def test_unknown_method_is_501_and_closed(keepalive: Server, data: bytes) -> None:
    """RFC 9110 §9.1: a method the server does not know (a token: lowercase get too) is 501."""
    resp, rest = split_response(send_and_read(keepalive, data))
    assert (resp.status, resp.reason, resp.header("connection")) == (501, "Not Implemented", "close")
    assert rest == b""


SMUGGLED = b"GET /hello?smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    "fields",
    [
        ["Content-Length: 5", "Transfer-Encoding: chunked"],
        ["Transfer-Encoding: chunked", "Content-Length: 5"],
        ["Content-Length: 5", "Content-Length: 5"],
        ["Content-Length: 5", "Content-Length: 6"],
    ],
    ids=["cl-te", "te-cl", "dup-cl-same", "dup-cl-differ"],
)
def test_ambiguous_body_length_is_400(keepalive: Server, fields: list[str]) -> None:
    head = "POST /echo HTTP/1.1\r\nHost: x\r\n" + "".join(f"{f}\r\n" for f in fields) + "\r\n"
    raw = send_and_read(keepalive, head.encode() + b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED)
    resp, rest = split_response(raw)
    assert resp.status == 400, resp
    assert rest == b"", "nothing after the 400: no smuggled request answered"


PAD = "".join(f"X-Pad-{i}: {'a' * 4000}\r\n" for i in range(17))  # ~68 KB
BIG_PAD = PAD * 3  # ~200 KB (Starlet dropped heads over 128 KiB silently)
FIELDS = "".join(f"X-F{i}: {i}\r\n" for i in range(99))  # + Host = 100 fields
LIMITS = [
    ("head over 64 KiB", f"GET /fixed HTTP/1.1\r\nHost: x\r\n{PAD}\r\n".encode(), 431),
    ("head over 128 KiB", f"GET /fixed HTTP/1.1\r\nHost: x\r\n{BIG_PAD}\r\n".encode(), 431),
    ("101 fields", f"GET /fixed HTTP/1.1\r\nHost: x\r\nX-F: x\r\n{FIELDS}\r\n".encode(), 431),
    ("100 fields", f"GET /fixed HTTP/1.1\r\nHost: x\r\n{FIELDS}\r\n".encode(), 200),
    ("line over 8 KiB", b"GET /fixed?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("line of 4 KiB", b"GET /fixed?" + b"q" * 4000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 200),
    (
        "gzip, chunked",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), LIMITS, ids=[c[0] for c in LIMITS])
def test_limits(plain: Server, name: str, data: bytes, expected: int) -> None:
    raw = send_and_read(plain, data)  # ka=1: the server closes after its answer
    assert raw, "the server closed without an answer"
    resp, rest = split_response(raw)
    assert resp.status == expected, resp
    if expected == 200:
        assert resp.body == b"fixed body\n"
    assert rest == b""


# -- HEAD --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/fixed", "/stream"])
def test_head_has_get_headers_and_no_body(plain: Server, path: str) -> None:
    get = fetch(plain, "GET", path)
    raw = plain.raw(request("HEAD", path), timeout=TIMEOUT)
    head, rest = split_response(raw, head_only=True)
    assert rest == b"", f"HEAD sent body bytes: {rest[:100]!r}"
    assert head.status == get.status == 200
    if path == "/fixed":
        assert head.header("content-length") == get.header("content-length") == "11"
    skip = ("date", "transfer-encoding")
    assert [h for h in head.headers if h[0] not in skip] == [h for h in get.headers if h[0] not in skip]


def test_head_then_get_on_one_connection(keepalive: Server) -> None:
    with Reader(keepalive.connect(TIMEOUT)) as c:
        c.send(request("HEAD", "/fixed", close=False) + request("GET", "/fixed"))
        head = c.read_response(head_only=True)
        get = c.read_response()
        assert c.closed_by_peer()
    assert (head.status, head.header("content-length")) == (200, "11")
    assert (get.status, get.body) == (200, b"fixed body\n")


# -- keep-alive and pipelining -------------------------------------------------------


def test_connection_keep_alive_close_tokens(keepalive: Server) -> None:
    with Reader(keepalive.connect(TIMEOUT)) as c:
        c.send(request("GET", "/fixed", headers={"Connection": "keep-alive, close"}, close=False))
        resp = c.read_response()
        assert c.closed_by_peer(), "Connection: close among the tokens: the server must close"
    assert (resp.status, resp.header("connection")) == (200, "close")


def test_http11_keepalive_up_to_max_keepalive_reqs(keepalive: Server) -> None:
    with Reader(keepalive.connect(TIMEOUT)) as c:
        c.send(request("GET", "/fixed", close=False))
        first = c.read_response()
        # HTTP/1.1 keeps the connection by default: no Connection field until the last answer.
        assert (first.status, first.header("connection")) == (200, None)
        c.send(request("GET", "/fixed", close=False) * 10)  # 11 in all, 10 allowed
        rest = [c.read_response() for _ in range(9)]
        assert c.closed_by_peer(), "more than --max-keepalive-reqs 10 on one connection"
    assert [r.body for r in rest] == [b"fixed body\n"] * 9
    assert [r.header("connection") for r in rest] == [None] * 8 + ["close"]


def test_pipelined_request_after_a_body(keepalive: Server) -> None:
    with Reader(keepalive.connect(TIMEOUT)) as c:
        c.send(request("POST", "/echo", body=b"hello", close=False) + request("GET", "/hello?2nd"))
        first = c.read_response()
        second = c.read_response()
        assert c.closed_by_peer()
    assert (first.status, first.body, first.header("client-content-length")) == (200, b"hello", "5")
    assert (second.status, second.body) == (200, b"Hello, 2nd")


def test_pipelined_without_keepalive_answers_one(plain: Server) -> None:
    data = request("GET", "/hello?1st", close=False) + request("GET", "/hello?2nd", close=False)
    resp, rest = split_response(send_and_read(plain, data))
    assert (resp.status, resp.body, resp.header("connection")) == (200, b"Hello, 1st", "close")
    assert rest == b"", "pipelined bytes must not force keep-alive"


def test_http10_keepalive_only_when_asked(keepalive: Server) -> None:
    with Reader(keepalive.connect(TIMEOUT)) as c:
        c.send(request("GET", "/fixed", version="HTTP/1.0", close=False))
        resp = c.read_response()
        assert c.closed_by_peer(), "HTTP/1.0 without keep-alive: close"
    assert (resp.status, resp.body) == (200, b"fixed body\n")
    ka = {"Connection": "keep-alive"}
    with Reader(keepalive.connect(TIMEOUT)) as c:
        for _ in range(2):
            c.send(request("GET", "/fixed", headers=ka, version="HTTP/1.0", close=False))
            resp = c.read_response()
            assert (resp.status, resp.header("connection")) == (200, "keep-alive")
        c.send(request("GET", "/fixed", version="HTTP/1.0", close=False))
        assert c.read_response().status == 200
        assert c.closed_by_peer()


def test_generator_body_framing(plain: Server) -> None:
    expected = b"chunk one\nchunk two\nchunk three\n"
    raw = plain.raw(request("GET", "/stream"), timeout=TIMEOUT)
    resp = split_response(raw)[0]
    assert (resp.header("transfer-encoding"), resp.header("content-length")) == ("chunked", None)
    assert b"".join(chunks(raw_body(raw))) == expected
    raw = plain.raw(request("GET", "/stream", version="HTTP/1.0", close=False), timeout=TIMEOUT)
    resp = split_response(raw)[0]
    assert (resp.header("transfer-encoding"), resp.header("content-length")) == (None, None)
    assert raw_body(raw) == expected, "close-delimited on HTTP/1.0"


def test_error_after_headers_closes_connection(keepalive: Server, data_dir: Path) -> None:
    with Reader(keepalive.connect(TIMEOUT)) as c:
        c.send(request("GET", "/raise_mid?token=mid", close=False))
        raw = c.read_to_eof()
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw[:100]
    body = raw_body(raw)
    # Two chunks, then the connection ends: no zero-size chunk, so it cannot look complete.
    assert body == b"1\r\n1\r\n1\r\n2\r\n", body
    marker = data_dir / "closed-mid"
    wait_for(marker.exists, timeout=TIMEOUT, what="close() after the app error")
    assert marker.read_text() == "2"


# -- Date and Server -------------------------------------------------------------------

DATE_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d\d:\d\d:\d\d GMT$"
)


def test_date_and_server_headers(plain: Server) -> None:
    resp = fetch(plain, "GET", "/fixed")
    assert resp.header_all("server") == ["starlet-py"]
    dates = resp.header_all("date")
    assert len(dates) == 1 and DATE_RE.match(dates[0]), dates
    assert abs(parsedate_to_datetime(dates[0]).timestamp() - time.time()) < 5


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"garbage\r\n\r\n", 400),
        (request("POST", "/echo", headers={"Expect": "something-else"}, body=b"x"), 417),
        (b"GET /fixed HTTP/1.1\r\nHost: x\r\n" + BIG_PAD.encode() + b"\r\n", 431),
    ],
    ids=["400", "417", "431"],
)
def test_date_on_server_generated_4xx(plain: Server, data: bytes, code: int) -> None:
    # RFC 9110 6.6.1: an origin server with a clock MUST send Date in every 4xx.
    resp = split_response(send_and_read(plain, data))[0]
    assert resp.status == code, resp
    dates = resp.header_all("date")
    assert len(dates) == 1 and DATE_RE.match(dates[0]), resp.headers


def test_app_server_header_is_kept(plain: Server) -> None:
    resp = fetch(plain, "GET", "/server_header")
    assert (resp.status, resp.body) == (200, b"mine")
    assert resp.header_all("server") == ["my-app/1.0"]
    assert len(resp.header_all("date")) == 1
