"""response: status line, header checks, framing, keep-alive and error answers, as bytes.

No sockets: a Response returns the bytes the connection sends, and these tests
compare them exactly (the Date line is pinned).  The rules: RFC 9112 §6 (framing),
RFC 9110 §6.4.1 and §9.3.2 (HEAD, 1xx, 204, 304), PEP 3333 (start_response).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from starlet_py import response
from starlet_py.protocol import Request
from starlet_py.response import (
    CONTINUE,
    HAS_DATE,
    HAS_SERVER,
    LAST_CHUNK,
    SERVER,
    Response,
    check_headers,
    date_line,
    error_answer,
    parse_status,
    status_cache,
)

DATE_RE = re.compile(
    r"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT"
)
DATE = b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
OURS = ("<date>", "<server>")  # in head(): our Date and Server lines
OK = "HTTP/1.1 200 OK"


# -- helpers -------------------------------------------------------------------
@pytest.fixture
def pinned_date(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every head built carries DATE, so whole responses compare as bytes."""
    monkeypatch.setattr(response, "date_line", lambda: DATE)
    yield


def make_request(version: str = "1.1", method: str = "GET") -> Request:
    req = Request()
    req.method = method
    req.version = version
    return req


class Wire:
    """A Response and every byte it produced, in order: what the connection sends.

    The server side allows keep-alive unless ``keep`` is False, so the head
    says close exactly when the framing (or ``keep``) demands it.
    """

    def __init__(self, version: str = "1.1", method: str = "GET", keep: bool = True) -> None:
        self.parts: list[bytes] = []
        self.resp = Response(make_request(version, method), self.write, lambda r: keep and r.delimited)

    def start(
        self, status: str = "200 OK", headers: list[tuple[str, str]] | None = None, exc_info: object = None
    ) -> Wire:
        self.resp.start_response(status, [] if headers is None else headers, exc_info)  # type: ignore[arg-type]
        return self

    def write(self, data: bytes) -> None:
        self.parts.extend(self.resp.piece(data))

    def whole(self, body: bytes) -> Wire:
        self.parts += [self.resp.head(len(body)), self.resp.piece(body)[1]]
        return self

    def finish(self) -> bytes:
        self.parts.append(self.resp.finish())
        return b"".join(self.parts)


def head(*lines: str) -> bytes:
    """A head from its lines; ``<date>`` and ``<server>`` stand for ours."""
    out = [DATE.decode() if line == "<date>" else "Server: starlet-py\r\n" if line == "<server>"
           else line + "\r\n" for line in lines]  # fmt: skip
    return "".join(out).encode("latin-1") + b"\r\n"


def exc_info_of(exc: BaseException) -> tuple[type[BaseException], BaseException, object]:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    assert info[0] is not None and info[1] is not None
    return info[0], info[1], info[2]


# -- parse_status ---------------------------------------------------------------
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
    assert parse_status(status)[0] == line
    assert status_cache[status][0] == line  # remembered


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
        parse_status(status)


@pytest.mark.parametrize("status", [b"200 OK", 200, None, ("200", "OK")])
def test_status_line_rejects_non_str(status: object) -> None:
    with pytest.raises(TypeError):
        parse_status(status)  # type: ignore[arg-type]


# -- check_headers -------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "block", "flags", "length"),
    [
        ([], b"", 0, -1),
        ([("Content-Type", "text/plain")], b"Content-Type: text/plain\r\n", 0, -1),
        ([("Content-Length", "42")], b"Content-Length: 42\r\n", 0, 42),
        ([("content-length", "0")], b"content-length: 0\r\n", 0, 0),
        ([("Date", "Sun, 06 Nov 1994")], b"Date: Sun, 06 Nov 1994\r\n", HAS_DATE, -1),
        ([("SERVER", "mine")], b"SERVER: mine\r\n", HAS_SERVER, -1),
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
            -1,
        ),
        ([("X-Tab", "a\tb")], b"X-Tab: a\tb\r\n", 0, -1),
        ([("X-Latin", "caf\xe9")], b"X-Latin: caf\xe9\r\n", 0, -1),
        ([("X-Empty", "")], b"X-Empty: \r\n", 0, -1),
        ([("X-Tok!#$%&'*+-.^_`|~9", "v")], b"X-Tok!#$%&'*+-.^_`|~9: v\r\n", 0, -1),
        ([("X-Long", "v" * 200)], b"X-Long: " + b"v" * 200 + b"\r\n", 0, -1),
    ],
)
def test_check_headers_accepts(
    pinned_date: None, headers: list[tuple[str, str]], block: bytes, flags: int, length: int
) -> None:
    # Our Date and Server lines follow the app's, unless it sent its own.
    ours = (b"" if flags & HAS_DATE else DATE) + (b"" if flags & HAS_SERVER else SERVER)
    assert check_headers(headers) == (block + ours, length)


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
        [("Transfer-Encoding", "chunked")],
        [("TRANSFER-ENCODING", "identity")],
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


@pytest.mark.parametrize(
    "name",
    ["Connection", "connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "Proxy-Authenticate",
     "Proxy-Authorization"],
)  # fmt: skip
def test_hop_by_hop_headers_from_the_app_are_dropped(pinned_date: None, name: str) -> None:
    # An app passing on an upstream response's headers: the server owns these.
    headers = [("X-A", "1"), (name, "keep-alive"), ("X-B", "2")]
    assert check_headers(headers) == (b"X-A: 1\r\nX-B: 2\r\n" + DATE + SERVER, -1)


def test_a_dropped_hop_by_hop_header_is_logged_once_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    from starlet_py import log, response

    response._told.discard("keep-alive")
    log.setup("debug", {})
    try:
        for value in ("timeout=5", "timeout=6"):
            check_headers([("Keep-Alive", value)])
    finally:
        log.setup("info", {})
    err = capsys.readouterr().err
    assert err.count("hop-by-hop header 'Keep-Alive' from the app dropped") == 1, err


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
    """HEAD, 1xx, 204 and 304 responses never carry a body (RFC 9112 §6.3)."""
    resp = Response(make_request(method=method), lambda data: None, lambda r: False)
    resp.start_response(f"{code} Whatever", [])
    assert resp.no_body is expected


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
    wire = Wire().start()
    assert wire.resp.piece(data)[1] == encoded
    assert wire.resp.piece(data) == (b"", encoded)


def test_last_chunk() -> None:
    assert LAST_CHUNK == b"0\r\n\r\n"


def test_continue() -> None:
    assert CONTINUE == b"HTTP/1.1 100 Continue\r\n\r\n"


# -- error answers ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "reason"),
    [(400, "Bad Request"), (408, "Request Timeout"), (414, "URI Too Long"), (417, "Expectation Failed"),
     (431, "Request Header Fields Too Large"), (500, "Internal Server Error"), (501, "Not Implemented"),
     (505, "HTTP Version Not Supported"), (499, "Error")],
)  # fmt: skip
def test_error_answer(pinned_date: None, status: int, reason: str) -> None:
    body = f"{status} {reason}\n".encode()
    assert (
        error_answer(status)
        == (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n"
        ).encode()
        + DATE
        + b"Server: starlet-py\r\n\r\n"
        + body
    )


# -- keep-alive: asked once (the decision: test_connection.py) ----------------------
def test_keep_alive_is_asked_once_as_the_head_is_built(pinned_date: None) -> None:
    asked: list[bool] = []

    def decide(resp: Response) -> bool:
        asked.append(resp.delimited)
        return False

    resp = Response(make_request("1.0"), lambda data: None, decide)
    resp.start_response("200 OK", [])
    assert resp.piece(b"ab") == (head(OK, *OURS, "Connection: close"), b"ab")
    assert (asked, resp.keep) == ([False], False)
    assert (resp.piece(b"cd"), resp.finish(), asked) == ((b"", b"cd"), b"", [False])


# -- framing table -------------------------------------------------------------
BODY = b"hello world"
PIECES = [b"hello", b"", b" world"]
CHUNKED = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
STATUSES = ["200 OK", "404 Not Found", "204 No Content", "304 Not Modified"]


def produce(wire: Wire, status: str, app_cl: bool, shape: str) -> bytes:
    headers = [("Content-Type", "text/plain")]
    if app_cl:
        headers.append(("Content-Length", str(len(BODY))))
    write = wire.resp.start_response(status, headers)
    if shape == "whole":
        wire.whole(BODY)
    elif shape == "writes":
        for piece in PIECES:
            write(piece)
    return wire.finish()


def expected_for(version: str, method: str, status: str, app_cl: bool, shape: str) -> tuple[bytes, bool]:
    """The response the framing rules prescribe, written independently of the code."""
    code = int(status[:3])
    no_body = method == "HEAD" or code in (204, 304)
    lines = [f"HTTP/1.1 {status}", "Content-Type: text/plain"]
    if app_cl:
        lines.append("Content-Length: 11")
    lines += [*OURS]
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
    return head(*lines) + body, keep


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
def test_framing(pinned_date: None, version: str, method: str, status: str, app_cl: bool, shape: str) -> None:
    wire = Wire(version, method)
    raw = produce(wire, status, app_cl, shape)
    assert (raw, wire.resp.keep) == expected_for(version, method, status, app_cl, shape)
    assert (wire.resp.head_sent, wire.resp.chunked, wire.resp.intact) == (True, False, True)


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_connection_close_when_not_keeping_alive(pinned_date: None, version: str) -> None:
    wire = Wire(version, keep=False)
    raw = produce(wire, "200 OK", False, "whole")
    assert raw == head(OK, "Content-Type: text/plain", *OURS,
                       "Content-Length: 11", "Connection: close") + BODY  # fmt: skip
    assert wire.resp.keep is False


def test_connection_close_on_a_chunked_body(pinned_date: None) -> None:
    raw = produce(Wire(keep=False), "200 OK", False, "writes")
    assert raw == head(OK, "Content-Type: text/plain", *OURS,
                       "Transfer-Encoding: chunked", "Connection: close") + CHUNKED  # fmt: skip


def test_single_empty_item_is_content_length_0_without_chunk_terminator(pinned_date: None) -> None:
    """``['']``: Starlet terminated it twice as a chunked body."""
    wire = Wire().start("200 OK", [("Content-Type", "text/plain")])
    raw = wire.whole(b"").finish()
    assert raw == head(OK, "Content-Type: text/plain", *OURS, "Content-Length: 0")
    assert (wire.resp.keep, wire.resp.intact) == (True, True)


def test_empty_writes_then_data_send_the_head_once(pinned_date: None) -> None:
    resp = Wire().start().resp
    assert resp.piece(b"") == (b"", b"")
    assert resp.head_sent is False
    assert resp.piece(b"abc") == (head(OK, *OURS, "Transfer-Encoding: chunked"),
                                  b"3\r\nabc\r\n")  # fmt: skip
    assert (resp.piece(b""), resp.piece(b"d")) == ((b"", b""), (b"", b"1\r\nd\r\n"))
    assert resp.finish() == LAST_CHUNK


def test_only_empty_writes_is_content_length_0(pinned_date: None) -> None:
    wire = Wire().start()
    wire.write(b"")
    wire.write(b"")
    assert wire.finish() == head(OK, *OURS, "Content-Length: 0")
    assert wire.resp.keep is True


def test_head_with_a_whole_body_keeps_its_content_length_but_sends_no_body(pinned_date: None) -> None:
    wire = Wire(method="HEAD").start("200 OK", [("Content-Type", "text/html")])
    assert wire.whole(b"x" * 1234).finish() == head(OK, "Content-Type: text/html", "<date>",
                                                    "<server>", "Content-Length: 1234")  # fmt: skip
    assert (wire.resp.keep, wire.resp.intact) == (True, True)


def test_head_with_app_content_length_keeps_it(pinned_date: None) -> None:
    wire = Wire(method="HEAD").start("200 OK", [("Content-Length", "99")])
    assert wire.finish() == head(OK, "Content-Length: 99", *OURS)
    assert (wire.resp.keep, wire.resp.intact) == (True, True)


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_head_with_unknown_length_gets_no_content_length(pinned_date: None, version: str) -> None:
    """An app that returns an empty iterable for HEAD did not say the GET body is empty:
    ``Content-Length: 0`` would be a false length (RFC 9110 §8.6, §9.3.2)."""
    wire = Wire(version, method="HEAD").start("200 OK", [("Content-Type", "text/plain")])
    keep = [] if version == "1.1" else ["Connection: keep-alive"]
    assert wire.finish() == head(OK, "Content-Type: text/plain", *OURS, *keep)
    assert wire.resp.keep is True


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("status", ["304 Not Modified", "204 No Content"])
@pytest.mark.parametrize("shape", ["whole", "writes", "none"])
def test_304_and_204_get_no_framing_headers_added(
    pinned_date: None, method: str, status: str, shape: str
) -> None:
    """RFC 9110 §8.6: never a Content-Length on 204; on 304 only the 200's, which we cannot know."""
    wire = Wire(method=method)
    assert produce(wire, status, False, shape) == head(f"HTTP/1.1 {status}", "Content-Type: text/plain",
                                                        *OURS)  # fmt: skip
    assert wire.resp.keep is True


def test_1xx_final_status_has_no_body_and_no_framing(pinned_date: None) -> None:
    raw = produce(Wire(), "103 Early Hints", False, "whole")
    assert raw == head("HTTP/1.1 103 Early Hints", "Content-Type: text/plain", *OURS)


# -- a body against its Content-Length --------------------------------------------
@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_app_content_length_shorter_than_a_whole_body_cuts_it(pinned_date: None, version: str) -> None:
    wire = Wire(version).start("200 OK", [("Content-Length", "5")])
    keep = [] if version == "1.1" else ["Connection: keep-alive"]
    assert wire.whole(b"hello world").finish() == head(OK, "Content-Length: 5", "<date>",
                                                       "<server>", *keep) + b"hello"  # fmt: skip
    assert (wire.resp.keep, wire.resp.intact) == (True, False)  # decided keep; the body broke it


def test_app_content_length_shorter_than_written_blocks_cuts_them(pinned_date: None) -> None:
    wire = Wire().start("200 OK", [("Content-Length", "5")])
    for block in (b"hel", b"lo world", b"more"):
        wire.write(block)
    assert wire.finish() == head(OK, "Content-Length: 5", *OURS) + b"hello"
    assert wire.resp.intact is False


def test_app_content_length_longer_than_the_body(pinned_date: None) -> None:
    wire = Wire().start("200 OK", [("Content-Length", "20")])
    wire.write(b"only ten b")
    assert wire.finish() == head(OK, "Content-Length: 20", *OURS) + b"only ten b"
    assert wire.resp.intact is False


def test_app_content_length_exact(pinned_date: None) -> None:
    wire = Wire().start("200 OK", [("Content-Length", "10")])
    wire.write(b"only ")
    wire.write(b"ten b")
    assert wire.finish() == head(OK, "Content-Length: 10", *OURS) + b"only ten b"
    assert (wire.resp.keep, wire.resp.intact) == (True, True)


@pytest.mark.parametrize(
    ("method", "headers", "size", "taken", "intact"),
    [
        ("GET", [], 70000, 70000, True),
        ("GET", [("Content-Length", "4")], 10, 4, False),
        ("GET", [("Content-Length", "10")], 10, 10, True),
        ("HEAD", [], 6, 0, True),
    ],
)
def test_take_a_file_body(
    pinned_date: None, method: str, headers: list[tuple[str, str]], size: int, taken: int, intact: bool
) -> None:
    """What a sendfile() sends: the file's size against the Content-Length, none for HEAD."""
    resp = Wire(method=method).start("200 OK", headers).resp
    length = headers[0][1] if headers else str(size)
    assert resp.head(size) == head(OK, *(f"{n}: {v}" for n, v in headers), *OURS,
                                   *([] if headers else [f"Content-Length: {length}"]))  # fmt: skip
    assert resp.take(size) == taken
    assert (resp.finish(), resp.intact) == (b"", intact)


# -- body items ------------------------------------------------------------------
def test_big_body_stays_whole_for_the_writer(pinned_date: None) -> None:
    big = bytes(range(256)) * 400
    wire = Wire().start()
    head_bytes, body = wire.resp.head(len(big)), wire.resp.piece(big)[1]
    assert (head_bytes, body) == (head(OK, *OURS, "Content-Length: 102400"), big)
    assert body is big  # not copied: the writer sends it with sendmsg


def test_big_chunked_writes(pinned_date: None) -> None:
    blocks = [bytes([i]) * 40000 for i in range(5)]
    wire = Wire().start()
    for block in blocks:
        wire.write(block)
    assert wire.finish() == head(OK, *OURS, "Transfer-Encoding: chunked") + b"".join(
        b"9c40\r\n" + b + b"\r\n" for b in blocks
    ) + LAST_CHUNK  # fmt: skip


def test_write_accepts_bytearray_and_memoryview() -> None:
    resp = Wire().start().resp
    assert resp.piece(bytearray(b"ab"))[1] == b"2\r\nab\r\n"  # type: ignore[arg-type]
    assert resp.piece(memoryview(b"cde")) == (b"", b"3\r\ncde\r\n")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["text", 5, None, ["list"]])
def test_write_of_non_bytes_is_type_error(bad: object) -> None:
    resp = Wire().start().resp
    with pytest.raises(TypeError, match="body items must be bytes"):
        resp.piece(bad)  # type: ignore[arg-type]
    assert resp.head_sent is False


def test_body_before_start_response_is_an_error() -> None:
    resp = Wire().resp
    with pytest.raises(AssertionError, match="before calling start_response"):
        resp.head(1)
    assert resp.head_sent is False


# -- start_response ----------------------------------------------------------------
def test_start_response_returns_the_write_it_was_given() -> None:
    wire = Wire()
    assert wire.resp.start_response("200 OK", []) == wire.write


def test_start_response_twice_without_exc_info_is_assertion_error(pinned_date: None) -> None:
    wire = Wire().start()
    with pytest.raises(AssertionError):
        wire.resp.start_response("500 Internal Server Error", [])
    assert wire.finish() == head(OK, *OURS, "Content-Length: 0")


def test_start_response_with_exc_info_after_the_head_reraises_the_original(pinned_date: None) -> None:
    original = RuntimeError("app failed mid-body")
    wire = Wire().start()
    wire.write(b"partial")
    with pytest.raises(RuntimeError) as caught:
        wire.resp.start_response("500 Internal Server Error", [], exc_info_of(original))  # type: ignore[arg-type]
    assert caught.value is original
    assert b"".join(wire.parts) == head(OK, *OURS, "Transfer-Encoding: chunked") \
        + b"7\r\npartial\r\n"  # fmt: skip


def test_start_response_with_exc_info_before_the_head_replaces_the_response(pinned_date: None) -> None:
    wire = Wire().start("200 OK", [("X-First", "1"), ("Content-Length", "100")])
    info = exc_info_of(ValueError("early"))
    wire.start("500 Internal Server Error", [("Content-Type", "text/plain")], info)
    assert (
        wire.whole(b"oops").finish()
        == head("HTTP/1.1 500 Internal Server Error", "Content-Type: text/plain", *OURS, "Content-Length: 4")
        + b"oops"
    )
    assert (wire.resp.keep, wire.resp.intact) == (True, True)


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        ("200", [], ValueError),
        (b"200 OK", [], TypeError),
        ("200 OK", [("Transfer-Encoding", "chunked")], ValueError),
        ("200 OK", [("X", "a\r\nb")], ValueError),
        ("200 OK", (("X", "a"),), TypeError),
    ],
)
def test_start_response_refuses_bad_arguments(
    pinned_date: None, status: object, headers: object, error: type[Exception]
) -> None:
    wire = Wire()
    with pytest.raises(error):
        wire.resp.start_response(status, headers)  # type: ignore[arg-type]
    # the app may still answer properly after its mistake
    assert wire.start().whole(b"ok").finish() == head(OK, *OURS,
                                                      "Content-Length: 2") + b"ok"  # fmt: skip


def test_app_date_and_server_suppress_ours() -> None:
    wire = Wire().start("200 OK", [("date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("SERVER", "custom/1.0")])
    assert wire.whole(b"x").finish() == (b"HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                         b"SERVER: custom/1.0\r\nContent-Length: 1\r\n\r\nx")  # fmt: skip


def test_app_server_only_keeps_our_date(pinned_date: None) -> None:
    wire = Wire().start("200 OK", [("Server", "mine")])
    assert wire.finish() == head(OK, "Server: mine", "<date>", "Content-Length: 0")


def test_our_date_is_now() -> None:
    raw = Wire().start().finish()
    assert DATE_RE.fullmatch(raw.split(b"\r\n")[1].decode())


def test_repeated_app_headers_are_all_sent_in_order(pinned_date: None) -> None:
    wire = Wire().start("200 OK", [("Set-Cookie", "a=1"), ("X-A", "1"), ("Set-Cookie", "b=2")])
    assert wire.finish() == head(OK, "Set-Cookie: a=1", "X-A: 1", "Set-Cookie: b=2", "<date>",
                                 "<server>", "Content-Length: 0")  # fmt: skip


# -- Response.whole: the one-step path Connection takes for a one-item list -----
WHOLE = [
    (version, method, status, app_cl, body)
    for version in ("1.1", "1.0")
    for method in ("GET", "HEAD")
    for status in (*STATUSES, "101 Switching", "500 Oops")
    for app_cl in (None, 0, 5, 11, 20)
    for body in (b"", b"hello", BODY, b"x" * 20000)
]


@pytest.mark.parametrize(("version", "method", "status", "app_cl", "body"), WHOLE)
def test_whole_is_head_body_finish(
    pinned_date: None, version: str, method: str, status: str, app_cl: int | None, body: bytes
) -> None:
    """Same bytes, same decision, same state as head(len) + body + finish()."""
    headers = [("Content-Type", "text/plain")]
    if app_cl is not None:
        headers.append(("Content-Length", str(app_cl)))
    steps, one = Wire(version, method), Wire(version, method)
    steps.start(status, headers).whole(body)
    expected = steps.finish()
    one.start(status, headers)
    head_bytes, body_bytes = one.resp.whole(body)
    assert one.resp.finish() == b""  # nothing is owed after whole()
    a, b = steps.resp, one.resp
    assert head_bytes + body_bytes == expected
    assert (b.keep, b.intact, b.sent, b.remaining, b.head_sent, b.chunked) == (
        a.keep, a.intact, a.sent, a.remaining, a.head_sent, a.chunked)  # fmt: skip


def test_status_is_parsed_once_with_its_code_and_bodylessness() -> None:
    assert parse_status("204 Nothing") == (b"HTTP/1.1 204 Nothing\r\n", 204, True)
    assert parse_status("199 Early") == (b"HTTP/1.1 199 Early\r\n", 199, True)
    assert parse_status("200 OK") == (b"HTTP/1.1 200 OK\r\n", 200, False)
    assert parse_status("304 Not Modified")[1:] == (304, True)
    for bad in ("2000 OK", "200", "abc OK", "200 O\r\nK"):
        with pytest.raises(ValueError):
            parse_status(bad)
