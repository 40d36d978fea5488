"""protocol.Protocol: bytes in, Request objects out (no sockets).

Every valid request of the corpus must parse to the same result whether it is
fed whole, byte by byte, or cut at random places (docs/http.md, "No pause",
"Per-request state", "Pieces"); every refused request must carry the right status.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator

import pytest

from starlet_py.errors import ClientDisconnected, HTTPError
from starlet_py.protocol import MAX_FIELD, MAX_FIELDS, MAX_HEAD, MAX_REQUEST_LINE, Protocol, Request

Headers = list[tuple[bytes, bytes]]
Parsed = tuple[str, bytes, str, Headers, bool, bytes, bool]


# -- helpers -------------------------------------------------------------------
def feed_all(pieces: Iterable[bytes]) -> Protocol:
    proto = Protocol()
    for piece in pieces:
        proto.feed(piece)
    return proto


def whole(data: bytes) -> Iterator[bytes]:
    yield data


def bytewise(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]


def random_split(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut at 1..12 random places (seeded)."""
    rng = random.Random(seed)
    if len(data) < 2:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 12))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def in_pieces(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def summary(req: Request) -> Parsed:
    return (
        req.method,
        req.target,
        req.version,
        list(req.headers),
        req.keep_alive,
        b"".join(req.body),
        req.complete,
    )


def parsed(proto: Protocol) -> list[Parsed]:
    for req in proto.queue:
        assert req.error is None, f"unexpected error {req.error!r}"
    return [summary(r) for r in proto.queue]


def refused(pieces: Iterable[bytes]) -> Request:
    """Feed ``pieces``; exactly one refused request must be queued."""
    proto = feed_all(pieces)
    assert proto.dead is True
    assert len(proto.queue) == 1, [summary(r) for r in proto.queue]
    req = proto.queue[0]
    assert isinstance(req.error, HTTPError), repr(req.error)
    assert (req.headers, list(req.body)) == ([], [])  # a fresh request: only its line, for the logs
    assert req.keep_alive is False
    return req


# -- the corpus of valid requests --------------------------------------------
H = b"Host: example.com\r\n"
HOST = (b"host", b"example.com")

CORPUS: list[tuple[str, bytes, list[Parsed]]] = [
    (
        "simple-get",
        b"GET /index.html HTTP/1.1\r\n" + H + b"\r\n",
        [("GET", b"/index.html", "1.1", [HOST], True, b"", True)],
    ),
    (
        "get-query-and-whitespace",
        b"GET /search?q=a+b&x=%20y HTTP/1.1\r\n" + H + b"User-Agent:   curl/8.0  \r\nAccept:*/*\r\n\r\n",
        [
            (
                "GET",
                b"/search?q=a+b&x=%20y",
                "1.1",
                [HOST, (b"user-agent", b"curl/8.0"), (b"accept", b"*/*")],
                True,
                b"",
                True,
            )
        ],
    ),
    (
        "post-content-length",
        b"POST /submit HTTP/1.1\r\n" + H + b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 14\r\n\r\nname=x&value=y",
        [
            (
                "POST",
                b"/submit",
                "1.1",
                [HOST, (b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"14")],
                True,
                b"name=x&value=y",
                True,
            )
        ],
    ),
    (
        "post-body-with-crlf-and-header-like-text",
        b"POST /p HTTP/1.1\r\n" + H + b"Content-Length: 26\r\n\r\nFoo: bar\r\n\r\nGET / HTTP/1.1",
        [
            (
                "POST",
                b"/p",
                "1.1",
                [HOST, (b"content-length", b"26")],
                True,
                b"Foo: bar\r\n\r\nGET / HTTP/1.1",
                True,
            )
        ],
    ),
    (
        "chunked-extensions-trailers",
        b"POST /up HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
        b'5;name=val\r\nhello\r\n6;a;b="q x"\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n',
        [
            (
                "POST",
                b"/up",
                "1.1",
                [HOST, (b"transfer-encoding", b"chunked")],
                True,
                b"hello world",
                True,
            )
        ],
    ),
    (
        "chunked-empty",
        b"POST /e HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        [("POST", b"/e", "1.1", [HOST, (b"transfer-encoding", b"chunked")], True, b"", True)],
    ),
    (
        "pipelined-gets",
        b"GET /1 HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n" + H + b"X-N: 2\r\n\r\n",
        [
            ("GET", b"/1", "1.1", [HOST], True, b"", True),
            ("GET", b"/2", "1.1", [HOST, (b"x-n", b"2")], True, b"", True),
        ],
    ),
    (
        "pipelined-post-then-get",
        b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n" + H + b"\r\n",
        [
            ("POST", b"/a", "1.1", [HOST, (b"content-length", b"5")], True, b"hello", True),
            ("GET", b"/b", "1.1", [HOST], True, b"", True),
        ],
    ),
    (
        "pipelined-chunked-then-close",
        b"PUT /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        b"DELETE /d HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
        [
            ("PUT", b"/c", "1.1", [HOST, (b"transfer-encoding", b"chunked")], True, b"abc", True),
            ("DELETE", b"/d", "1.1", [HOST, (b"connection", b"close")], False, b"", True),
        ],
    ),
    (
        "http10-no-keepalive",
        b"GET /old HTTP/1.0\r\n\r\n",
        [("GET", b"/old", "1.0", [], False, b"", True)],
    ),
    (
        "http10-keepalive",
        b"GET /old HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        [("GET", b"/old", "1.0", [(b"connection", b"Keep-Alive")], True, b"", True)],
    ),
    (
        "http10-post-keepalive-pipelined",
        b"POST /f HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nxyz"
        b"GET /g HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        [
            (
                "POST",
                b"/f",
                "1.0",
                [(b"connection", b"keep-alive"), (b"content-length", b"3")],
                True,
                b"xyz",
                True,
            ),
            ("GET", b"/g", "1.0", [(b"connection", b"keep-alive")], True, b"", True),
        ],
    ),
    (
        "http11-keepalive-close",
        b"GET / HTTP/1.1\r\n" + H + b"Connection: keep-alive, close\r\n\r\n",
        [("GET", b"/", "1.1", [HOST, (b"connection", b"keep-alive, close")], False, b"", True)],
    ),
    (
        "http10-keepalive-close",
        b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
        [("GET", b"/", "1.0", [(b"connection", b"keep-alive, close")], False, b"", True)],
    ),
    (
        "http11-close-in-second-connection-field",
        b"GET / HTTP/1.1\r\n" + H + b"Connection: keep-alive\r\nConnection: Close\r\n\r\n",
        [
            (
                "GET",
                b"/",
                "1.1",
                [HOST, (b"connection", b"keep-alive"), (b"connection", b"Close")],
                False,
                b"",
                True,
            )
        ],
    ),
    (
        "absolute-form",
        b"GET http://example.com/path?q=1 HTTP/1.1\r\n" + H + b"\r\n",
        [("GET", b"http://example.com/path?q=1", "1.1", [HOST], True, b"", True)],
    ),
    (
        "repeated-headers",
        b"GET / HTTP/1.1\r\n" + H + b"X-Foo: bar\r\nx-foo: baz\r\nCookie: a=1\r\nCOOKIE: b=2\r\n\r\n",
        [
            (
                "GET",
                b"/",
                "1.1",
                [HOST, (b"x-foo", b"bar"), (b"x-foo", b"baz"), (b"cookie", b"a=1"), (b"cookie", b"b=2")],
                True,
                b"",
                True,
            )
        ],
    ),
    (
        "options-star",
        b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
        [("OPTIONS", b"*", "1.1", [HOST], True, b"", True)],
    ),
    (
        "head-latin1-value",
        b"HEAD /h HTTP/1.1\r\n" + H + b"X-Name: caf\xe9\r\n\r\n",
        [("HEAD", b"/h", "1.1", [HOST, (b"x-name", b"caf\xe9")], True, b"", True)],
    ),
]
CORPUS_IDS = [name for name, _, _ in CORPUS]
SEEDS = range(60)


@pytest.mark.parametrize(("name", "raw", "expected"), CORPUS, ids=CORPUS_IDS)
def test_corpus_fed_whole(name: str, raw: bytes, expected: list[Parsed]) -> None:
    proto = feed_all(whole(raw))
    assert parsed(proto) == expected
    assert proto.dead is False


@pytest.mark.parametrize(("name", "raw", "expected"), CORPUS, ids=CORPUS_IDS)
def test_corpus_fed_byte_by_byte(name: str, raw: bytes, expected: list[Parsed]) -> None:
    proto = feed_all(bytewise(raw))
    assert parsed(proto) == expected
    assert proto.dead is False


@pytest.mark.parametrize(("name", "raw", "expected"), CORPUS, ids=CORPUS_IDS)
def test_corpus_fed_in_random_splits(name: str, raw: bytes, expected: list[Parsed]) -> None:
    for seed in SEEDS:
        pieces = random_split(raw, seed)
        assert b"".join(pieces) == raw
        proto = feed_all(pieces)
        assert parsed(proto) == expected, f"seed {seed}: {[len(p) for p in pieces]}"


def test_corpus_concatenated_is_one_pipelined_stream() -> None:
    """Every keep-alive request of the corpus, back to back on one connection."""
    stream, expected = b"", []
    for _, raw, exp in CORPUS:
        if all(p[4] for p in exp):  # a non-keep-alive request would end the stream
            stream += raw
            expected += exp
    assert len(expected) >= 12
    assert parsed(feed_all(whole(stream))) == expected
    for seed in range(10):
        assert parsed(feed_all(random_split(stream, seed))) == expected


def test_request_attributes() -> None:
    proto = feed_all(
        [b"PUT /x HTTP/1.1\r\nHost: Example.COM:8080\r\nContent-Length: 4\r\nExpect: 100-Continue\r\n\r\n"]
    )
    (req,) = proto.queue
    assert (req.host, req.content_length, req.expect, req.chunked, req.complete) == (
        b"Example.COM:8080",
        b"4",
        b"100-continue",
        False,
        False,
    )
    proto.feed(b"data")
    assert (list(req.body), req.complete) == ([b"data"], True)


def test_expect_100_continue_is_accepted_in_any_case() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-CONTINUE\r\nContent-Length: 1\r\n\r\n"
    (req,) = feed_all([raw]).queue
    assert (req.error, req.expect) == (None, b"100-continue")


@pytest.mark.parametrize(
    ("target", "authority"),
    [
        (b"/a?b", None),
        (b"*", None),
        (b"http://example.com:8080/p?q", b"example.com:8080"),
        (b"HTTPS://[::1]?q", b"[::1]"),
        (b"http://h", b"h"),
        # What real clients send unescaped passes; the authority is still checked.
        (b"/v?ids[]=1&filter[a]=x|y", None),
        (b'/[x]{y}^"`<b>\\%zz#f', None),
        (b"http://h:1/[x]?a[]=|#f", b"h:1"),
    ],
)
def test_authority_of_the_target_is_kept(target: bytes, authority: bytes | None) -> None:
    method = b"OPTIONS" if target == b"*" else b"GET"
    (req,) = feed_all([method + b" " + target + b" HTTP/1.1\r\nHost: other\r\n\r\n"]).queue
    assert (req.error, req.target, req.authority, req.host) == (None, target, authority, b"other")


def test_chunked_request_attributes() -> None:
    (req,) = feed_all([b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"]).queue
    assert (req.chunked, req.content_length, req.expect, req.complete) == (True, None, None, False)


def test_trailers_never_reach_headers_even_host() -> None:
    raw = (
        b"POST / HTTP/1.1\r\nHost: good\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\nHost: evil\r\nX-Trailer: t\r\n\r\n"
    )
    for pieces in (whole(raw), bytewise(raw)):
        (req,) = feed_all(pieces).queue
        assert req.error is None
        assert req.headers == [(b"host", b"good"), (b"transfer-encoding", b"chunked")]
        assert req.host == b"good"
        assert (b"".join(req.body), req.complete) == (b"ok", True)


# -- body arrival ---------------------------------------------------------------
def test_content_length_body_is_appended_piecewise() -> None:
    proto = Protocol()
    proto.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n")
    (req,) = proto.queue
    assert (list(req.body), req.complete) == ([], False)
    proto.feed(b"abc")
    assert (list(req.body), req.complete) == ([b"abc"], False)
    proto.feed(b"defg")
    assert (list(req.body), req.complete) == ([b"abc", b"defg"], False)
    proto.feed(b"hij")
    assert (list(req.body), req.complete) == ([b"abc", b"defg", b"hij"], True)


def test_chunked_body_is_appended_piecewise() -> None:
    proto = Protocol()
    proto.feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    (req,) = proto.queue
    proto.feed(b"6\r\nabc")
    proto.feed(b"def\r\n")
    assert (list(req.body), req.complete) == ([b"abc", b"def"], False)
    proto.feed(b"2\r\ngh\r\n0\r\n\r\n")
    assert (list(req.body), req.complete) == ([b"abc", b"def", b"gh"], True)


def test_bytes_after_content_length_body_are_the_next_request() -> None:
    proto = Protocol()
    proto.feed(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n")
    proto.feed(b"hel")
    proto.feed(b"loGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
    first, second = proto.queue
    assert (b"".join(first.body), first.complete) == (b"hello", True)
    assert (second.method, second.target, list(second.body), second.error) == ("GET", b"/next", [], None)


def test_get_without_body_is_complete_at_once() -> None:
    (req,) = feed_all([b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"]).queue
    assert (req.complete, list(req.body)) == (True, [])


def test_head_split_just_before_final_crlf_is_not_queued_early() -> None:
    proto = Protocol()
    proto.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r")
    assert len(proto.queue) == 0
    proto.feed(b"\n")
    assert len(proto.queue) == 1


# -- upgrade, close ------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
    ],
    ids=["websocket", "h2c-then-more"],
)
def test_upgrade_request_is_last_and_not_kept_alive(raw: bytes) -> None:
    for pieces in (whole(raw), bytewise(raw)):
        proto = feed_all(pieces)
        assert proto.dead is True
        assert [r.target for r in proto.queue] == [b"/ws"]
        assert proto.queue[-1].keep_alive is False
        assert proto.queue[-1].error is None


def test_upgrade_after_a_kept_alive_request() -> None:
    proto = feed_all(
        [
            b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        ]
    )
    assert proto.dead is True
    assert [(r.target, r.keep_alive) for r in proto.queue] == [(b"/1", True), (b"/ws", False)]


def test_nothing_is_parsed_once_dead() -> None:
    proto = feed_all([b"get / HTTP/1.1\r\nHost: h\r\n\r\n"])
    assert proto.dead is True
    proto.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert len(proto.queue) == 1


def test_bytes_after_connection_close_request_are_not_an_error_and_not_a_request() -> None:
    raw = b"GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
    proto = feed_all([raw])
    assert [(r.target, r.keep_alive, r.error) for r in proto.queue] == [(b"/1", False, None)]


# -- refused requests -----------------------------------------------------------
def fields(count: int) -> bytes:
    return b"".join(b"X-F%d: v\r\n" % i for i in range(count))


ERRORS: list[tuple[str, bytes, int]] = [
    (
        "cl-and-te",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "te-and-cl",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "duplicate-differing-cl",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
    ),
    ("cl-list", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabcd", 400),
    ("cl-not-a-number", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: x3\r\n\r\nabc", 400),
    ("gzip-chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    (
        "gzip-then-chunked-fields",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        501,
    ),
    ("http10-te", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("missing-host", b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    ("two-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("two-equal-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    ("http2", b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    ("http09", b"GET /\r\n\r\n", 400),
    ("rtsp", b"GET / RTSP/1.0\r\nHost: h\r\n\r\n", 400),
    ("connect", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
    # RFC 9110 §9.1: a method we do not know is 501 if it is a token, else 400.
    ("lowercase-method", b"get / HTTP/1.1\r\nHost: h\r\n\r\n", 501),
    ("unknown-method", b"FROB / HTTP/1.1\r\nHost: h\r\n\r\n", 501),
    ("unknown-method-tchars", b"M-SEARCH!~ * HTTP/1.1\r\nHost: h\r\n\r\n", 501),
    ("method-not-a-token", b"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("unknown-method-not-a-request-line", b"NOT HTTP AT ALL\r\n\r\n", 400),
    ("unknown-method-no-version", b"BREW /\r\n\r\n", 400),
    ("unknown-method-bad-version", b"BREW / HTTP/x.1\r\n\r\n", 400),
    ("method-with-nul", b"GE\x00 / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("method-tab", b"BREW\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("two-content-types", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: a\r\ncontent-type: a\r\n\r\n", 400),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),
    ("relative-target", b"GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("nul-escape-in-path", b"GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("nul-escape-in-absolute-path", b"GET http://h/a%00 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("raw-8-bit-in-target", b"GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("del-in-target", b"GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("bad-char-in-target-authority", b"GET http://h|x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("space-in-field-name", b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400),
    ("bare-lf-in-value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400),
    ("target-9000", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414),
    ("fields-101", b"GET / HTTP/1.1\r\nHost: h\r\n" + fields(100) + b"\r\n", 431),
    ("field-9000", b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n", 431),
    # RFC 9110 §10.1.1: an expectation we do not know, even on a request without a body
    ("expect-unknown", b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nab", 417),
    ("expect-on-get", b"GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 417),
    ("expect-http10", b"POST / HTTP/1.0\r\nExpect: 100-continue-ish\r\nContent-Length: 0\r\n\r\n", 417),
]
ERROR_IDS = [name for name, _, _ in ERRORS]


@pytest.mark.parametrize(("name", "raw", "status"), ERRORS, ids=ERROR_IDS)
def test_refused_fed_whole(name: str, raw: bytes, status: int) -> None:
    assert refused(whole(raw)).error.status == status  # type: ignore[union-attr]


@pytest.mark.parametrize(("name", "raw", "status"), ERRORS, ids=ERROR_IDS)
def test_refused_fed_byte_by_byte(name: str, raw: bytes, status: int) -> None:
    assert refused(bytewise(raw)).error.status == status  # type: ignore[union-attr]


@pytest.mark.parametrize(("name", "raw", "status"), ERRORS, ids=ERROR_IDS)
def test_refused_after_a_good_request(name: str, raw: bytes, status: int) -> None:
    proto = feed_all([b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n" + raw])
    assert proto.dead is True
    good, bad = proto.queue
    assert (good.target, good.error, good.keep_alive) == (b"/ok", None, True)
    assert isinstance(bad.error, HTTPError)
    assert bad.error.status == status


def test_limits_are_the_documented_ones() -> None:
    assert (MAX_REQUEST_LINE, MAX_FIELD, MAX_FIELDS, MAX_HEAD) == (8192, 8192, 100, 65536)


def test_request_line_at_the_limit_is_accepted_one_more_byte_is_414() -> None:
    # The limit is on the whole line, CRLF included: "GET " + target + " HTTP/1.1\r\n".
    target = b"/" + b"a" * (MAX_REQUEST_LINE - len(b"GET  HTTP/1.1\r\n") - 1)
    (req,) = feed_all([b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n"]).queue
    assert (req.error, req.target) == (None, target)
    bad = refused([b"GET " + target + b"a HTTP/1.1\r\nHost: h\r\n\r\n"])
    assert isinstance(bad.error, HTTPError) and bad.error.status == 414


def test_hundred_fields_are_accepted() -> None:
    (req,) = feed_all([b"GET / HTTP/1.1\r\nHost: h\r\n" + fields(99) + b"\r\n"]).queue
    assert req.error is None
    assert len(req.headers) == 100


def test_field_at_the_limit_is_accepted() -> None:
    value = b"v" * (MAX_FIELD - len(b"x-big"))
    (req,) = feed_all([b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + value + b"\r\n\r\n"]).queue
    assert req.error is None
    assert req.headers[-1] == (b"x-big", value)


def big_head(total: int) -> bytes:
    """A valid head of about ``total`` bytes made of 1000-byte fields (well under 100 of them)."""
    head = b"GET / HTTP/1.1\r\nHost: h\r\n"
    i = 0
    while len(head) < total:
        head += b"X-F%d: %s\r\n" % (i, b"v" * 990)
        i += 1
    return head + b"\r\n"


def test_head_over_64k_in_1k_pieces_is_431() -> None:
    raw = big_head(70_000)
    assert len(raw) > MAX_HEAD
    assert refused(in_pieces(raw, 1024)).error.status == 431  # type: ignore[union-attr]


@pytest.mark.parametrize("piece", [1024, 4096, 65536, 1 << 20], ids=["1k", "4k", "64k", "whole"])
def test_head_just_over_64k_is_431_however_it_is_cut(piece: int) -> None:
    """The last piece completing the head must not let it through (65,600 bytes)."""
    raw = big_head(65_590)
    assert MAX_HEAD < len(raw) < MAX_HEAD + 1024
    assert refused(in_pieces(raw, piece)).error.status == 431  # type: ignore[union-attr]


def test_head_under_64k_is_accepted() -> None:
    raw = big_head(60_000)
    (req,) = feed_all(in_pieces(raw, 1024)).queue
    assert req.error is None


def test_head_of_125k_read_in_64k_reads_is_431() -> None:
    """As the connection reads (64 KiB per recv): a 125 KiB head must not pass."""
    head = b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 5000) for i in range(25))
    raw = head + b"\r\n"
    assert len(raw) > 2 * 60_000
    assert refused(in_pieces(raw, 65536)).error.status == 431  # type: ignore[union-attr]


def test_second_pipelined_head_is_bounded_too() -> None:
    raw = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" + big_head(70_000)
    proto = feed_all(in_pieces(raw, 1024))
    assert proto.dead is True
    first, second = proto.queue
    assert (first.target, first.error) == (b"/1", None)
    assert isinstance(second.error, HTTPError) and second.error.status == 431


# -- a body broken after its head ------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"-1\r\n"],
    ids=["bad-size", "no-crlf-after-data", "negative-size"],
)
def test_bad_chunk_is_bad_body_on_a_started_request(body: bytes) -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    for pieces in ([body], list(bytewise(body))):
        proto = Protocol()
        proto.feed(head)
        req = proto.queue.popleft()  # the connection took it: the app is running
        for piece in pieces:
            proto.feed(piece)
        assert proto.dead is True
        assert not proto.queue
        assert req.method == "POST"
        assert isinstance(req.error, ClientDisconnected)
        assert isinstance(req.error, OSError)
        assert (req.keep_alive, req.complete) == (False, True)


@pytest.mark.parametrize(
    "body",
    [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"-1\r\n"],
    ids=["bad-size", "no-crlf-after-data", "negative-size"],
)
def test_bad_chunk_on_a_queued_request_refuses_it(body: bytes) -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    for pieces in ([head + body], [head, body], list(bytewise(head + body))):
        req = refused(pieces)
        assert isinstance(req.error, HTTPError) and req.error.status == 400


def test_bad_chunk_keeps_the_good_data_before_it() -> None:
    proto = Protocol()
    proto.feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    req = proto.queue.popleft()
    proto.feed(b"3\r\nabc\r\nzz\r\n")
    assert b"".join(req.body) == b"abc"
    assert isinstance(req.error, ClientDisconnected)


def test_error_request_shape() -> None:
    # What was parsed of the request line stays, for the logs; nothing else.
    req = refused([b"GET /x HTTP/2.0\r\nHost: h\r\n\r\n"])
    assert (req.method, req.target, req.headers, list(req.body), req.complete) == ("GET", b"/x", [], [], True)


@pytest.mark.parametrize(
    "body",
    [b"GET /b RTSP/1.0\r\n", b"log: GET /b 200 12ms\n"],
    ids=["rtsp-line-in-body", "access-log-line-in-body"],
)
def test_body_text_resembling_the_next_request_line_does_not_refuse_it(body: bytes) -> None:
    """The RTSP check looks for the request line in the raw bytes; a previous body that
    contains ``GET /b `` must not make the valid pipelined ``GET /b HTTP/1.1`` a 400."""
    raw = (
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
        + b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    for pieces in (whole(raw), bytewise(raw)):
        proto = feed_all(pieces)
        assert [(r.method, r.target, b"".join(r.body), r.error) for r in proto.queue] == [
            ("POST", b"/a", body, None),
            ("GET", b"/b", b"", None),
        ]
        assert proto.dead is False


# -- --max-request-body ------------------------------------------------------------
def test_content_length_over_the_limit_is_413_before_the_app() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n"
    for pieces in (whole(raw), bytewise(raw)):
        proto = Protocol(1 << 30)
        for piece in pieces:
            proto.feed(piece)
        (req,) = proto.queue
        assert isinstance(req.error, HTTPError) and req.error.status == 413
        assert proto.dead is True


def test_content_length_at_the_limit_is_accepted_one_more_is_413() -> None:
    ok = feed_with(Protocol(10), b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789")
    assert [(b"".join(r.body), r.complete, r.error) for r in ok.queue] == [(b"0123456789", True, None)]
    (req,) = feed_with(Protocol(10), b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n").queue
    assert isinstance(req.error, HTTPError) and req.error.status == 413


def test_no_limit_when_zero() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\nab"
    (req,) = feed_with(Protocol(0), raw).queue
    assert (req.error, b"".join(req.body), req.complete) == (None, b"ab", False)


CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("split", [whole, bytewise])
def test_chunked_body_past_the_limit_fails_the_app_read_with_413(split: object) -> None:
    proto = Protocol(10)
    proto.feed(CHUNKED_HEAD)
    req = proto.queue.popleft()  # the app runs
    for piece in split(b"6\r\nabcdef\r\n4\r\nghij\r\n1\r\nk\r\n0\r\n\r\n"):  # type: ignore[operator]
        proto.feed(piece)
    assert b"".join(req.body) == b"abcdefghij"  # never more than the limit
    assert isinstance(req.error, ClientDisconnected) and req.error.status == 413
    assert proto.dead is True and req.complete is True


def test_chunked_body_past_the_limit_before_the_app_ran_is_refused_whole() -> None:
    proto = feed_with(Protocol(10), CHUNKED_HEAD + b"b\r\nabcdefghijk\r\n0\r\n\r\n")
    (req,) = proto.queue
    assert isinstance(req.error, HTTPError) and req.error.status == 413
    assert (req.method, list(req.body), proto.dead) == ("POST", [], True)


def test_chunked_body_at_the_limit_completes() -> None:
    proto = Protocol(10)
    proto.feed(CHUNKED_HEAD + b"6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n")
    assert [(b"".join(r.body), r.complete, r.error) for r in proto.queue] == [(b"abcdefghij", True, None)]


def feed_with(proto: Protocol, data: bytes) -> Protocol:
    proto.feed(data)
    return proto


# -- chunk extensions with BWS (chunks.py) -------------------------------------------
BWS_BODIES = [
    b"5 ;a=b\r\nhello\r\n0\r\n\r\n",
    b"5\t;a=b\r\nhello\r\n0\r\n\r\n",
    b"5; a=b\r\nhello\r\n0\r\n\r\n",
    b"5;a = b\r\nhello\r\n0\r\n\r\n",
    b'5 ; a = b ; c ;d="x ; y"\r\nhello\r\n0 ; last\r\n\r\n',
    b"5;a=b\r\nhello\r\n0\r\nX-T: t\r\n\r\n",
]


@pytest.mark.parametrize("body", BWS_BODIES)
@pytest.mark.parametrize("split", [whole, bytewise])
def test_chunk_extension_bws_is_accepted(body: bytes, split: object) -> None:
    raw = CHUNKED_HEAD + body + b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
    proto = feed_all(split(raw))  # type: ignore[operator]
    assert [(r.target, b"".join(r.body), r.complete, r.error) for r in proto.queue] == [
        (b"/", b"hello", True, None),
        (b"/next", b"", True, None),
    ]
    assert proto.dead is False


@pytest.mark.parametrize(
    "body",
    [
        b"5 \r\nhello\r\n0\r\n\r\n",  # BWS not followed by ";"
        b"5;a \r\nhello\r\n0\r\n\r\n",  # BWS at the end of the line
        b"5; a=b \r\nhello\r\n0\r\n\r\n",
        b"5 5;a=b\r\nhello\r\n0\r\n\r\n",  # a space inside the size
        b" 5;a=b\r\nhello\r\n0\r\n\r\n",  # before the size
        b"5 ;a=b\nhello\r\n0\r\n\r\n",  # bare LF
        b"5 ;a b\r\nhello\r\n0\r\n\r\n",  # a space inside the extension
        b"5 ; =b\r\nhello\r\n0\r\n\r\n",  # no name
        b"5 ;a=\r\nhello\r\n0\r\n\r\n",  # no value
        b'5 ;a="b\r\nhello\r\n0\r\n\r\n',  # an unterminated quoted-string
        b"5 ;a=b\rc\r\nhello\r\n0\r\n\r\n",  # a bare CR
        b"0x5 ;a=b\r\nhello\r\n0\r\n\r\n",
        b"5 ;a=b\r\nhelloXX0\r\n\r\n",  # no CRLF after the data
        b"5 ;a=\x01\r\nhello\r\n0\r\n\r\n",
    ],
)
def test_chunk_lines_outside_the_grammar_are_still_refused(body: bytes) -> None:
    for pieces in ([CHUNKED_HEAD + body], list(bytewise(CHUNKED_HEAD + body))):
        req = refused(pieces)
        assert isinstance(req.error, HTTPError) and req.error.status == 400


def test_chunk_data_that_looks_like_a_bws_line_is_not_touched() -> None:
    data = b"5 ;a = b\r\n"
    raw = CHUNKED_HEAD + b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
    for pieces in (whole(raw), bytewise(raw)):
        (req,) = feed_all(pieces).queue
        assert (b"".join(req.body), req.error) == (data, None)


@pytest.mark.parametrize(
    "before",
    [
        b"",
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
    ],
    ids=["alone", "after-a-get", "after-a-post"],
)
def test_a_chunked_request_in_one_read_with_others_is_cut_and_parsed_once(before: bytes) -> None:
    """Fed whole, the chunked head stops llhttp (Protocol._recut): every request is queued
    once, in order, and the BWS extension is accepted."""
    raw = before + CHUNKED_HEAD + b"5 ; a = b\r\nhello\r\n0\r\n\r\n" + b"GET /z HTTP/1.1\r\nHost: h\r\n\r\n"
    proto = feed_all([raw])
    got = [(r.target, b"".join(r.body), r.error) for r in proto.queue]
    assert got == [(b"/a", b"abc" if b"POST" in before else b"", None)] * bool(before) + [
        (b"/", b"hello", None),
        (b"/z", b"", None),
    ]


def test_the_recut_leaves_no_cyclic_garbage() -> None:
    import gc

    gc.collect()
    gc.disable()
    try:
        bws = CHUNKED_HEAD + b"5 ;a=b\r\nhello\r\n0\r\n\r\n"
        for raw in (bws, b"GET / HTTP/1.1\r\nHost: h\r\n\r\nBREW / HTTP/1.1\r\n\r\n"):
            proto = feed_all([raw])
            assert len(proto.queue) in (1, 2)
            proto.close()
            del proto
        assert gc.collect() == 0
    finally:
        gc.enable()
