"""response: status line, header checks, framing, and Exchange over a socketpair.

DESIGN.md §4 (framing, HEAD/1xx/204/304, Date/Server, hop-by-hop refused) and
REFERENCE.md §5 (start_response rules).
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from starlet_py import response
from starlet_py.headers import HAS_DATE, HAS_SERVER, check_headers, status_line
from starlet_py.protocol import Request
from starlet_py.response import LAST_CHUNK, Exchange, bodyless, chunk, date_line

DATE_RE = re.compile(
    r"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT"
)


# -- helpers -------------------------------------------------------------------
class FakeWorker:
    """What an Exchange asks of its worker."""

    def __init__(self, stopping: bool = False) -> None:
        self.stopping = stopping


def make_request(version: str = "1.1", method: str = "GET") -> Request:
    req = Request()
    req.method = method
    req.version = version
    return req


def _read_all(sock: socket.socket, out: list[bytes]) -> None:
    while data := sock.recv(65536):
        out.append(data)


def exchange_bytes(
    act: Callable[[Exchange], None],
    version: str = "1.1",
    method: str = "GET",
    keep_alive: bool = True,
    stopping: bool = False,
) -> tuple[bytes, Exchange]:
    """Run ``act`` on an Exchange whose socket is one end of a socketpair; all bytes the
    other end received (a thread reads them, so big bodies cannot block the writer)."""
    ours, theirs = socket.socketpair()
    received: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(theirs, received))
    reader.start()
    try:
        exch = Exchange(ours, make_request(version, method), keep_alive, FakeWorker(stopping))
        act(exch)
    finally:
        ours.close()
        reader.join(10)
        theirs.close()
    assert not reader.is_alive()
    return b"".join(received), exch


def split_response(raw: bytes) -> tuple[list[str], bytes]:
    """(head lines with the Date value replaced by <date>, body bytes)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, f"no end of head in {raw!r}"
    lines = []
    for line in head.decode("latin-1").split("\r\n"):
        if line.startswith("Date: ") and DATE_RE.fullmatch(line):
            line = "Date: <date>"
        lines.append(line)
    return lines, body


def respond(
    act: Callable[[Exchange], None],
    version: str = "1.1",
    method: str = "GET",
    keep_alive: bool = True,
    stopping: bool = False,
) -> tuple[list[str], bytes, Exchange]:
    raw, exch = exchange_bytes(act, version, method, keep_alive, stopping)
    lines, body = split_response(raw)
    return lines, body, exch


def exc_info_of(exc: BaseException) -> tuple[type[BaseException], BaseException, object]:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    assert info[0] is not None and info[1] is not None
    return info[0], info[1], info[2]


# -- status_line ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "line"),
    [
        ("200 OK", b"HTTP/1.1 200 OK\r\n"),
        ("404 Not Found", b"HTTP/1.1 404 Not Found\r\n"),
        ("100 Continue", b"HTTP/1.1 100 Continue\r\n"),
        ("599 Some Custom Reason", b"HTTP/1.1 599 Some Custom Reason\r\n"),
        ("200 Caf\xe9", b"HTTP/1.1 200 Caf\xe9\r\n"),
        ("500 Internal\tError", b"HTTP/1.1 500 Internal\tError\r\n"),
    ],
)
def test_status_line_accepts(status: str, line: bytes) -> None:
    assert status_line(status) == line
    assert status_line(status) == line  # second call: from the cache


@pytest.mark.parametrize(
    "status",
    [
        "",
        "200",
        "200OK",
        "OK 200",
        "20 OK",
        "2000 OK",
        "2x0 OK",
        "abc OK",
        " 200 OK",
        "200\tOK",
        "099 Low",
        "200 OK\r\n",
        "200 OK\r\nX-Injected: 1",
        "200 OK\nX: y",
        "200 O\x00K",
        "200 O\x7fK",
        "200 \u2603",
        "\u00b200 OK",  # '²'.isdigit() is True, yet it is no digit of a status code
        "\u0662\u0660\u0660 OK",  # Arabic-Indic digits
    ],
)
def test_status_line_rejects_malformed(status: str) -> None:
    with pytest.raises(ValueError):
        status_line(status)


@pytest.mark.parametrize("status", [b"200 OK", 200, None, ("200", "OK")])
def test_status_line_rejects_non_str(status: object) -> None:
    with pytest.raises(TypeError):
        status_line(status)  # type: ignore[arg-type]


# -- check_headers -------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "block", "flags", "length"),
    [
        ([], b"", 0, None),
        ([("Content-Type", "text/plain")], b"Content-Type: text/plain\r\n", 0, None),
        ([("Content-Length", "42")], b"Content-Length: 42\r\n", 0, 42),
        ([("content-length", "0")], b"content-length: 0\r\n", 0, 0),
        ([("Date", "Sun, 06 Nov 1994")], b"Date: Sun, 06 Nov 1994\r\n", HAS_DATE, None),
        ([("SERVER", "mine")], b"SERVER: mine\r\n", HAS_SERVER, None),
        (
            [("date", "x"), ("Server", "y"), ("Content-Length", "7")],
            b"date: x\r\nServer: y\r\nContent-Length: 7\r\n",
            HAS_DATE | HAS_SERVER,
            7,
        ),
        (
            [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
            b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n",
            0,
            None,
        ),
        ([("X-Tab", "a\tb")], b"X-Tab: a\tb\r\n", 0, None),
        ([("X-Latin", "caf\xe9")], b"X-Latin: caf\xe9\r\n", 0, None),
        ([("X-Empty", "")], b"X-Empty: \r\n", 0, None),
        ([("X-Tok!#$%&'*+-.^_`|~9", "v")], b"X-Tok!#$%&'*+-.^_`|~9: v\r\n", 0, None),
        ([("X-Long", "v" * 200)], b"X-Long: " + b"v" * 200 + b"\r\n", 0, None),
    ],
)
def test_check_headers_accepts(
    headers: list[tuple[str, str]], block: bytes, flags: int, length: int | None
) -> None:
    assert check_headers(headers) == (block, flags, length)


@pytest.mark.parametrize(
    "headers",
    [
        (("Content-Type", "text/plain"),),  # a tuple of headers, not a list
        [["Content-Type", "text/plain"]],  # a list item
        [("Content-Type", "text/plain", "x")],
        [("Content-Type",)],
        [(b"Content-Type", "text/plain")],
        [("Content-Type", b"text/plain")],
        [("Content-Length", 5)],
        [("X-None", None)],
        ["Content-Type: text/plain"],
    ],
)
def test_check_headers_rejects_non_str(headers: object) -> None:
    with pytest.raises(TypeError):
        check_headers(headers)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Injected", "a\r\nSet-Cookie: evil=1")],
        [("X-LF", "a\nb")],
        [("X-CR", "a\rb")],
        [("X-NUL", "a\x00b")],
        [("X-DEL", "a\x7fb")],
        [("X-Ctl", "a\x1bb")],
        [("X-Snowman", "\u2603")],
        [("Bad Name", "v")],
        [("Bad:Name", "v")],
        [("", "v")],
        [("X-Name\r\n", "v")],
        [("X-\u00e9", "v")],
        [("X(y)", "v")],
        [("Connection", "close")],
        [("connection", "keep-alive")],
        [("Keep-Alive", "timeout=5")],
        [("Transfer-Encoding", "chunked")],
        [("TRANSFER-ENCODING", "identity")],
        [("Upgrade", "websocket")],
        [("TE", "trailers")],
        [("Trailer", "X-Sum")],
        [("Proxy-Authenticate", "Basic")],
        [("Proxy-Authorization", "Basic Zm9v")],
        [("Content-Length", "abc")],
        [("Content-Length", "-1")],
        [("Content-Length", "")],
        [("Content-Length", "1.5")],
        [("Content-Length", " 5")],
        [("Content-Length", "\u00b2")],
        [("Content-Length", "5"), ("Content-Length", "5")],
        [("Content-Length", "5"), ("content-length", "6")],
    ],
)
def test_check_headers_rejects_bad_values(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError):
        check_headers(headers)


def test_check_headers_rejects_list_subclass_items_of_wrong_type() -> None:
    with pytest.raises(TypeError):
        check_headers([("X-Ok", "1"), 42])  # type: ignore[list-item]


# -- small helpers -------------------------------------------------------------
def test_date_line_format_and_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [784111777.25]
    fake = SimpleNamespace(time=lambda: now[0], gmtime=response.time.gmtime)
    monkeypatch.setattr(response, "time", fake)
    assert date_line() == b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
    now[0] = 784111777.9
    assert date_line() == b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
    now[0] = 784111778.0
    assert date_line() == b"Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n"


def test_date_line_now_matches_http_date() -> None:
    line = date_line()
    assert line.endswith(b"\r\n")
    assert DATE_RE.fullmatch(line[:-2].decode("ascii"))


@pytest.mark.parametrize(
    ("method", "code", "expected"),
    [
        ("GET", 200, False),
        ("POST", 201, False),
        ("GET", 404, False),
        ("GET", 500, False),
        ("HEAD", 200, True),
        ("HEAD", 404, True),
        ("GET", 100, True),
        ("GET", 103, True),
        ("GET", 204, True),
        ("GET", 304, True),
        ("POST", 205, False),
    ],
)
def test_bodyless(method: str, code: int, expected: bool) -> None:
    assert bodyless(method, code) is expected


@pytest.mark.parametrize(
    ("data", "encoded"),
    [
        (b"hello", b"5\r\nhello\r\n"),
        (b"x", b"1\r\nx\r\n"),
        (b"y" * 255, b"ff\r\n" + b"y" * 255 + b"\r\n"),
        (b"z" * 4096, b"1000\r\n" + b"z" * 4096 + b"\r\n"),
        (b"0\r\n\r\n", b"5\r\n0\r\n\r\n\r\n"),
    ],
)
def test_chunk(data: bytes, encoded: bytes) -> None:
    assert chunk(data) == encoded


def test_last_chunk() -> None:
    assert LAST_CHUNK == b"0\r\n\r\n"


# -- framing table -------------------------------------------------------------
BODY = b"hello world"
PIECES = [b"hello", b"", b" world"]
CHUNKED = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
STATUSES = ["200 OK", "404 Not Found", "204 No Content", "304 Not Modified"]


def act_for(status: str, app_cl: bool, shape: str) -> Callable[[Exchange], None]:
    headers = [("Content-Type", "text/plain")]
    if app_cl:
        headers.append(("Content-Length", str(len(BODY))))

    def act(exch: Exchange) -> None:
        write = exch.start_response(status, list(headers))
        if shape == "whole":
            exch.send_whole(BODY)
        elif shape == "writes":
            for piece in PIECES:
                write(piece)
        exch.finish()

    return act


def expected_for(
    version: str, method: str, status: str, app_cl: bool, shape: str
) -> tuple[list[str], bytes, bool]:
    """The response the rules of DESIGN.md §4 prescribe, written independently of the code."""
    code = int(status[:3])
    no_body = method == "HEAD" or code in (204, 304)
    lines = [f"HTTP/1.1 {status}", "Content-Type: text/plain"]
    if app_cl:
        lines.append("Content-Length: 11")
    lines += ["Date: <date>", "Server: starlet-py"]
    keep = True
    body = b""
    if app_cl:
        body = b"" if no_body else BODY
    elif no_body:
        # HEAD: the Content-Length a GET would carry, when the body is known (RFC 9110 §9.3.2).
        if method == "HEAD" and code >= 200 and code not in (204, 304) and shape == "whole":
            lines.append("Content-Length: 11")
    elif shape == "whole":
        lines.append("Content-Length: 11")
        body = BODY
    elif shape == "none":
        lines.append("Content-Length: 0")
    elif version == "1.1":
        lines.append("Transfer-Encoding: chunked")
        body = CHUNKED
    else:
        keep = False  # close-delimited
        body = BODY
    if not keep:
        lines.append("Connection: close")
    elif version == "1.0":
        lines.append("Connection: keep-alive")
    return lines, body, keep


FRAMING = [
    (version, method, status, app_cl, shape)
    for version in ("1.1", "1.0")
    for method in ("GET", "HEAD")
    for status in STATUSES
    for app_cl in (False, True)
    for shape in ("whole", "writes", "none")
    if not (app_cl and shape == "none")  # announced but not sent: see its own test
]


@pytest.mark.parametrize(
    ("version", "method", "status", "app_cl", "shape"),
    FRAMING,
    ids=[f"{v}-{m}-{s[:3]}-{'cl' if c else 'nocl'}-{b}" for v, m, s, c, b in FRAMING],
)
def test_framing(version: str, method: str, status: str, app_cl: bool, shape: str) -> None:
    lines, body, exch = respond(act_for(status, app_cl, shape), version, method)
    want_lines, want_body, want_keep = expected_for(version, method, status, app_cl, shape)
    assert lines == want_lines
    assert body == want_body
    assert exch.keep_alive is want_keep
    assert exch.head_sent is True
    assert exch.chunked is False  # finished


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_connection_close_when_not_keeping_alive(version: str) -> None:
    lines, body, exch = respond(act_for("200 OK", False, "whole"), version, keep_alive=False)
    assert lines == [
        "HTTP/1.1 200 OK",
        "Content-Type: text/plain",
        "Date: <date>",
        "Server: starlet-py",
        "Content-Length: 11",
        "Connection: close",
    ]
    assert (body, exch.keep_alive) == (BODY, False)


def test_connection_close_when_the_worker_is_stopping() -> None:
    lines, body, exch = respond(act_for("200 OK", False, "writes"), stopping=True)
    assert lines[-2:] == ["Transfer-Encoding: chunked", "Connection: close"]
    assert (body, exch.keep_alive) == (CHUNKED, False)


def test_single_empty_item_is_content_length_0_without_chunk_terminator() -> None:
    """``['']``: Starlet terminated it twice as a chunked body."""

    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [("Content-Type", "text/plain")])
        exch.send_whole(b"")
        exch.finish()

    raw, exch = exchange_bytes(act)
    lines, body = split_response(raw)
    assert lines == ["HTTP/1.1 200 OK", "Content-Type: text/plain", "Date: <date>", "Server: starlet-py",
                     "Content-Length: 0"]  # fmt: skip
    assert body == b""
    assert raw.endswith(b"Content-Length: 0\r\n\r\n")
    assert exch.keep_alive is True


def test_empty_writes_then_data_send_the_head_once() -> None:
    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [])
        write(b"")
        assert exch.head_sent is False
        write(b"abc")
        assert exch.head_sent is True
        write(b"")
        exch.finish()

    raw, _ = exchange_bytes(act)
    assert raw.count(b"HTTP/1.1 200 OK") == 1
    assert split_response(raw)[1] == b"3\r\nabc\r\n0\r\n\r\n"


def test_only_empty_writes_is_content_length_0() -> None:
    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [])
        write(b"")
        write(b"")
        exch.finish()

    lines, body, exch = respond(act)
    assert lines[-1] == "Content-Length: 0"
    assert (body, exch.keep_alive) == (b"", True)


def test_head_with_send_whole_keeps_content_length_but_sends_no_body() -> None:
    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [("Content-Type", "text/html")])
        exch.send_whole(b"x" * 1234)
        exch.finish()

    raw, exch = exchange_bytes(act, method="HEAD")
    lines, body = split_response(raw)
    assert lines == ["HTTP/1.1 200 OK", "Content-Type: text/html", "Date: <date>", "Server: starlet-py",
                     "Content-Length: 1234"]  # fmt: skip
    assert body == b""
    assert exch.keep_alive is True


def test_head_with_app_content_length_keeps_it() -> None:
    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [("Content-Length", "99")])
        exch.finish()

    lines, body, exch = respond(act, method="HEAD")
    assert lines == ["HTTP/1.1 200 OK", "Content-Length: 99", "Date: <date>", "Server: starlet-py"]
    assert (body, exch.keep_alive) == (b"", True)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("status", ["304 Not Modified", "204 No Content"])
@pytest.mark.parametrize("shape", ["whole", "writes", "none"])
def test_304_and_204_get_no_framing_headers_added(method: str, status: str, shape: str) -> None:
    """RFC 9110 §8.6: never a Content-Length on 204; on 304 only the 200's, which we cannot know."""
    lines, body, exch = respond(act_for(status, False, shape), method=method)
    assert lines == [f"HTTP/1.1 {status}", "Content-Type: text/plain", "Date: <date>", "Server: starlet-py"]
    assert body == b""
    assert not any(line.lower().startswith(("content-length", "transfer-encoding")) for line in lines)
    assert exch.keep_alive is True


def test_1xx_final_status_has_no_body_and_no_framing() -> None:
    lines, body, _ = respond(act_for("103 Early Hints", False, "whole"))
    assert lines == ["HTTP/1.1 103 Early Hints", "Content-Type: text/plain", "Date: <date>",
                     "Server: starlet-py"]  # fmt: skip
    assert body == b""


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_app_content_length_shorter_than_body_cuts_and_closes_send_whole(version: str) -> None:
    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [("Content-Length", "5")])
        exch.send_whole(b"hello world")
        exch.finish()

    lines, body, exch = respond(act, version)
    assert "Content-Length: 5" in lines
    assert body == b"hello"
    assert exch.keep_alive is False


def test_app_content_length_shorter_than_body_cuts_and_closes_writes() -> None:
    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [("Content-Length", "5")])
        write(b"hel")
        write(b"lo world")
        write(b"more")
        exch.finish()

    lines, body, exch = respond(act)
    assert "Transfer-Encoding: chunked" not in lines
    assert body == b"hello"
    assert exch.keep_alive is False


def test_app_content_length_longer_than_body_closes() -> None:
    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [("Content-Length", "20")])
        write(b"only ten b")
        exch.finish()

    lines, body, exch = respond(act)
    assert "Content-Length: 20" in lines
    assert body == b"only ten b"
    assert exch.keep_alive is False


def test_app_content_length_exact_keeps_alive() -> None:
    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [("Content-Length", "10")])
        write(b"only ")
        write(b"ten b")
        exch.finish()

    _, body, exch = respond(act)
    assert (body, exch.keep_alive) == (b"only ten b", True)


def test_big_body_in_one_send_whole() -> None:
    big = bytes(range(256)) * 400  # 102,400 bytes: over SMALL, sent with sendmsg

    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [])
        exch.send_whole(big)
        exch.finish()

    lines, body, _ = respond(act)
    assert lines[-1] == "Content-Length: 102400"
    assert body == big


def test_big_chunked_writes() -> None:
    blocks = [bytes([i]) * 40000 for i in range(5)]

    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [])
        for block in blocks:
            write(block)
        exch.finish()

    _, body, _ = respond(act)
    assert body == b"".join(b"9c40\r\n" + b + b"\r\n" for b in blocks) + b"0\r\n\r\n"


def test_write_accepts_bytearray_and_memoryview() -> None:
    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [])
        write(bytearray(b"ab"))  # type: ignore[arg-type]
        write(memoryview(b"cde"))  # type: ignore[arg-type]
        exch.finish()

    _, body, _ = respond(act)
    assert body == b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"


@pytest.mark.parametrize("bad", ["text", 5, None, ["list"]])
def test_write_of_non_bytes_is_type_error(bad: object) -> None:
    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [])
        with pytest.raises(TypeError):
            write(bad)  # type: ignore[arg-type]
        assert exch.head_sent is False

    raw, _ = exchange_bytes(act)
    assert raw == b""


def test_start_response_returns_write() -> None:
    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [])
        assert write == exch.write
        exch.finish()

    exchange_bytes(act)


def test_start_response_twice_without_exc_info_is_assertion_error() -> None:
    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [])
        with pytest.raises(AssertionError):
            exch.start_response("500 Internal Server Error", [])
        exch.finish()

    lines, _, _ = respond(act)
    assert lines[0] == "HTTP/1.1 200 OK"


def test_start_response_with_exc_info_after_head_sent_reraises_the_original() -> None:
    original = RuntimeError("app failed mid-body")
    info = exc_info_of(original)

    def act(exch: Exchange) -> None:
        write = exch.start_response("200 OK", [])
        write(b"partial")
        with pytest.raises(RuntimeError) as caught:
            exch.start_response("500 Internal Server Error", [], info)  # type: ignore[arg-type]
        assert caught.value is original

    raw, _ = exchange_bytes(act)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"500" not in raw


def test_start_response_with_exc_info_before_head_sent_replaces_the_response() -> None:
    info = exc_info_of(ValueError("early"))

    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [("X-First", "1"), ("Content-Length", "100")])
        exch.start_response("500 Internal Server Error", [("Content-Type", "text/plain")], info)  # type: ignore[arg-type]
        exch.send_whole(b"oops")
        exch.finish()

    lines, body, exch = respond(act)
    assert lines == ["HTTP/1.1 500 Internal Server Error", "Content-Type: text/plain", "Date: <date>",
                     "Server: starlet-py", "Content-Length: 4"]  # fmt: skip
    assert (body, exch.keep_alive) == (b"oops", True)


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        ("200", [], ValueError),
        (b"200 OK", [], TypeError),
        ("200 OK", [("Connection", "close")], ValueError),
        ("200 OK", [("X", "a\r\nb")], ValueError),
        ("200 OK", (("X", "a"),), TypeError),
    ],
)
def test_start_response_refuses_bad_arguments(
    status: object, headers: object, error: type[Exception]
) -> None:
    def act(exch: Exchange) -> None:
        with pytest.raises(error):
            exch.start_response(status, headers)  # type: ignore[arg-type]
        # the app may still answer properly after its mistake
        exch.start_response("200 OK", [])
        exch.send_whole(b"ok")
        exch.finish()

    lines, body, _ = respond(act)
    assert (lines[0], body) == ("HTTP/1.1 200 OK", b"ok")


def test_body_before_start_response_is_an_error() -> None:
    def act(exch: Exchange) -> None:
        with pytest.raises(AssertionError):
            exch.send_whole(b"x")

    raw, _ = exchange_bytes(act)
    assert raw == b""


def test_app_date_and_server_suppress_ours() -> None:
    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [("date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("SERVER", "custom/1.0")])
        exch.send_whole(b"x")
        exch.finish()

    raw, _ = exchange_bytes(act)
    head = raw.partition(b"\r\n\r\n")[0].split(b"\r\n")
    assert head == [b"HTTP/1.1 200 OK", b"date: Sun, 06 Nov 1994 08:49:37 GMT", b"SERVER: custom/1.0",
                    b"Content-Length: 1"]  # fmt: skip


def test_app_server_only_keeps_our_date() -> None:
    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [("Server", "mine")])
        exch.finish()

    lines, _, _ = respond(act)
    assert lines == ["HTTP/1.1 200 OK", "Server: mine", "Date: <date>", "Content-Length: 0"]


def test_repeated_app_headers_are_all_sent_in_order() -> None:
    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [("Set-Cookie", "a=1"), ("X-A", "1"), ("Set-Cookie", "b=2")])
        exch.finish()

    lines, _, _ = respond(act)
    assert lines[1:4] == ["Set-Cookie: a=1", "X-A: 1", "Set-Cookie: b=2"]


# -- send_file -----------------------------------------------------------------
def _file(tmp_path: Path, data: bytes) -> int:
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    return os.open(path, os.O_RDONLY)


def file_act(
    fd: int, offset: int, count: int, headers: list[tuple[str, str]] | None = None
) -> Callable[[Exchange], None]:
    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", headers or [])
        exch.send_file(fd, offset, count)
        exch.finish()

    return act


def test_send_file(tmp_path: Path) -> None:
    data = os.urandom(70000)
    fd = _file(tmp_path, data)
    try:
        lines, body, exch = respond(file_act(fd, 100, len(data) - 100))
    finally:
        os.close(fd)
    assert lines[-1] == f"Content-Length: {len(data) - 100}"
    assert body == data[100:]
    assert exch.keep_alive is True


def test_send_file_head_sends_no_body(tmp_path: Path) -> None:
    fd = _file(tmp_path, b"abcdef")
    try:
        lines, body, _ = respond(file_act(fd, 0, 6), method="HEAD")
    finally:
        os.close(fd)
    assert lines[-1] == "Content-Length: 6"
    assert body == b""


def test_send_file_app_content_length_shorter_cuts(tmp_path: Path) -> None:
    fd = _file(tmp_path, b"abcdefghij")
    try:
        lines, body, _ = respond(file_act(fd, 0, 10, [("Content-Length", "4")]))
    finally:
        os.close(fd)
    assert "Content-Length: 4" in lines
    assert body == b"abcd"


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_head_with_unknown_length_gets_no_content_length(version: str) -> None:
    """An app that returns an empty iterable for HEAD did not say the GET body is empty:
    ``Content-Length: 0`` would be a false length (RFC 9110 §8.6, §9.3.2)."""

    def act(exch: Exchange) -> None:
        exch.start_response("200 OK", [("Content-Type", "text/plain")])
        exch.finish()

    lines, body, exch = respond(act, version, method="HEAD")
    assert not any(line.startswith("Content-Length") for line in lines)
    assert (body, exch.keep_alive) == (b"", True)
