"""wsgi: the environ (PEP 3333, "environ Variables"), wsgi.input and file_wrapper."""

from __future__ import annotations

import io
import os
import random
import socket
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from starlet_py.errors import ClientDisconnected, HTTPError
from starlet_py.listeners import Listener, peer_names
from starlet_py.protocol import Protocol, Request
from starlet_py.wsgi import FileWrapper, Input, build, template

NAMES = ("10.0.0.2", "54321", "listener.example", "5000")


# -- helpers -------------------------------------------------------------------
@pytest.fixture
def tcp_listener() -> Iterator[Listener]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # never bound: only its family matters
    yield Listener(sock, "127.0.0.1", "5000")
    sock.close()


def no_pull() -> None:
    raise AssertionError("pull() called for a request whose body is complete")


def parse_one(raw: bytes) -> Request:
    proto = Protocol()
    proto.feed(raw)
    assert len(proto.queue) == 1
    req = proto.queue[0]
    assert req.error is None, repr(req.error)
    return req


def environ_for(raw: bytes, names: tuple[str, str, str, str] = NAMES) -> dict[str, Any]:
    req = parse_one(raw)
    return build(template(), req, names, Input(req, no_pull))


def get(target: str, *headers: str, version: str = "1.1") -> bytes:
    lines = [f"GET {target} HTTP/{version}"]
    if version == "1.1" and not any(h.lower().startswith("host:") for h in headers):
        lines.append("Host: example.com")
    lines += headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Body:
    inp: Input
    req: Request
    pulls: list[int]  # one element: how many times pull() ran


def body_input(head: bytes, pieces: list[bytes], truncated: bool = False) -> Body:
    """An Input over a request whose body arrives as ``pieces``, one per pull().

    When the pieces run out before the body is complete the client "closes the
    connection": pull() marks the request as Connection.pull does on EOF.
    """
    proto = Protocol()
    proto.feed(head)
    req = proto.queue.popleft()  # as Connection does before it runs the app
    assert not proto.queue
    rest = deque(pieces)
    pulls = [0]

    def pull() -> None:
        pulls[0] += 1
        assert not req.complete, "pull() after the body was complete"
        if rest:
            proto.feed(rest.popleft())
        else:
            req.error = ClientDisconnected("client closed the connection mid-body")
            req.complete = True

    return Body(Input(req, pull), req, pulls)


TEXT = b"first line\nsecond, somewhat longer line\n\n\r\n\nx\nno newline at the end"


def odd_pieces(data: bytes, sizes: tuple[int, ...] = (1, 2, 3, 5, 7, 11, 13)) -> list[bytes]:
    pieces, i, k = [], 0, 0
    while i < len(data):
        size = sizes[k % len(sizes)]
        pieces.append(data[i : i + size])
        i += size
        k += 1
    return pieces


def chunked(data: bytes, sizes: tuple[int, ...] = (4, 1, 9, 17)) -> bytes:
    out = b"".join(b"%x;ext=1\r\n%b\r\n" % (len(p), p) for p in odd_pieces(data, sizes))
    return out + b"0\r\nX-Trailer: t\r\n\r\n"


def cl_body(data: bytes = TEXT, truncated_at: int | None = None) -> Body:
    head = b"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(data)
    sent = data if truncated_at is None else data[:truncated_at]
    return body_input(head, odd_pieces(sent))


def chunked_body(data: bytes = TEXT) -> Body:
    head = b"POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    return body_input(head, odd_pieces(chunked(data), (3, 8, 1, 6)))


MAKERS: list[Callable[[], Body]] = [cl_body, chunked_body]
MAKER_IDS = ["content-length", "chunked"]


# -- environ -------------------------------------------------------------------
def test_template() -> None:
    base = template()
    assert base == {
        "SCRIPT_NAME": "",
        "SERVER_SOFTWARE": "starlet-py",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": FileWrapper,
    }


def test_environ_basic_request() -> None:
    env = environ_for(get("/a/b?x=1&y=%20", "User-Agent: test/1.0"))
    inp = env.pop("wsgi.input")
    assert isinstance(inp, Input)
    assert env == {
        "SCRIPT_NAME": "",
        "SERVER_SOFTWARE": "starlet-py",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": FileWrapper,
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/a/b",
        "QUERY_STRING": "x=1&y=%20",
        "REQUEST_URI": "/a/b?x=1&y=%20",
        "RAW_URI": "/a/b?x=1&y=%20",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.2",
        "REMOTE_PORT": "54321",
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "80",  # Host names no port: http's default
        "HTTP_HOST": "example.com",
        "HTTP_USER_AGENT": "test/1.0",
    }


def test_build_does_not_change_the_template() -> None:
    base = template()
    before = dict(base)
    req = parse_one(get("/x", "X-Foo: 1"))
    env = build(base, req, NAMES, Input(req, no_pull))
    assert base == before
    assert env is not base


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        ("/", "/", ""),
        ("/a%20b", "/a b", ""),
        ("/%E3%81%82", "/\xe3\x81\x82", ""),
        ("/foo%2cbar", "/foo,bar", ""),
        ("/foo%252cbar", "/foo%2cbar", ""),
        ("/a%2Fb", "/a/b", ""),
        ("/a%3Fb?c=d", "/a?b", "c=d"),
        ("//foo///bar/baz", "//foo///bar/baz", ""),
        ("/plus+sign", "/plus+sign", ""),
        ("/p?", "/p", ""),
        ("/p?a=%20b&c=d+e", "/p", "a=%20b&c=d+e"),
        ("/p?q=%E3%81%82&r=a?b", "/p", "q=%E3%81%82&r=a?b"),
        ("/%E3%81%82?%E3%81%82", "/\xe3\x81\x82", "%E3%81%82"),
        # What real clients send unescaped (docs/http.md, "Request targets"): passed as is.
        ("/version?ids[]=1&ids[]=2", "/version", "ids[]=1&ids[]=2"),  # axios
        ("/v?filter[name]=x&page[size]=10", "/v", "filter[name]=x&page[size]=10"),  # JSON:API
        ("/version/[x]", "/version/[x]", ""),
        ('/{x}^"`<b>|\\', '/{x}^"`<b>|\\', ""),
        ('/p?fields=a|b&q="{x}"^`<b>\\', "/p", 'fields=a|b&q="{x}"^`<b>\\'),
        ("/%5B%5d%7C", "/[]|", ""),
        # An invalid escape stays as it is (as Werkzeug and gunicorn leave it).
        ("/a%zz", "/a%zz", ""),
        ("/%zz%41%4%", "/%zzA%4%", ""),
        ("/p?q=%zz", "/p", "q=%zz"),
        ("/p?x=%00", "/p", "x=%00"),  # the query is raw: no NUL in it
        # A fragment is dropped (REQUEST_URI keeps it), as nginx's $uri drops it.
        ("/a#frag", "/a", ""),
        ("/a?b=1#c?d", "/a", "b=1"),
        ("/public#/../admin", "/public", ""),
        ("/a#%00", "/a", ""),
    ],
)
def test_path_info_decoded_query_string_raw(target: str, path: str, query: str) -> None:
    env = environ_for(get(target))
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == (path, query)
    assert env["REQUEST_URI"] == env["RAW_URI"] == target


@pytest.mark.parametrize(
    "target", [b"/%00", b"/a%00b?c", b"/a/%00#x", b"http://h/%00", b"HTTPS://h:1/a%00?b"]
)
def test_nul_in_the_path_is_refused_before_the_environ(target: bytes) -> None:
    """A %00 would put a NUL into PATH_INFO, which apps hand to C (open, stat): 400."""
    proto = Protocol()
    proto.feed(b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    (req,) = proto.queue
    assert isinstance(req.error, HTTPError) and req.error.status == 400


def test_absolute_form_target() -> None:
    env = environ_for(get("http://example.com/a%20b?x=1"))
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/a b", "x=1")
    assert env["REQUEST_URI"] == "http://example.com/a%20b?x=1"


def test_absolute_form_without_path() -> None:
    env = environ_for(get("http://example.com"))
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/", "")


def test_absolute_form_with_brackets_and_a_fragment() -> None:
    env = environ_for(get("http://example.com/#f"))
    assert (env["PATH_INFO"], env["QUERY_STRING"], env["SERVER_NAME"]) == ("/", "", "example.com")
    env = environ_for(get("http://example.com/[x]%zz?a[]=1|2#f"))
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/[x]%zz", "a[]=1|2")


def test_absolute_form_with_empty_path_keeps_the_query() -> None:
    """RFC 3986 §3: ``http://host?query`` has an empty path and a query."""
    env = environ_for(get("http://example.com?x=1"))
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/", "x=1")


def test_absolute_form_authority_names_the_server() -> None:
    """RFC 9112 §3.2.2: with an absolute-form target the server MUST ignore Host."""
    env = environ_for(get("http://example.com:8080/p", "Host: other.example"))
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("example.com", "8080")


def test_options_star() -> None:
    env = environ_for(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (env["REQUEST_METHOD"], env["REQUEST_URI"], env["QUERY_STRING"]) == ("OPTIONS", "*", "")


def test_headers_become_http_keys() -> None:
    env = environ_for(
        get(
            "/",
            "X-Foo: bar",
            "x-foo: baz",
            "Accept-Encoding: gzip",
            "Cookie: a=1",
            "Authorization: Basic Zm9v",
            "X-Long: " + "v" * 200,
        )
    )
    assert env["HTTP_X_FOO"] == "bar, baz"
    assert env["HTTP_ACCEPT_ENCODING"] == "gzip"
    assert env["HTTP_COOKIE"] == "a=1"
    assert env["HTTP_AUTHORIZATION"] == "Basic Zm9v"
    assert env["HTTP_X_LONG"] == "v" * 200
    assert "COOKIE" not in env


def test_three_repeated_headers_join_in_order() -> None:
    env = environ_for(get("/", "Accept: a", "Accept: b", "ACCEPT: c"))
    assert env["HTTP_ACCEPT"] == "a, b, c"


def test_header_names_with_underscore_are_dropped() -> None:
    env = environ_for(get("/", "X-Forwarded-For: 1.1.1.1", "X_Forwarded_For: 6.6.6.6", "Foo_Bar: x", "a_: y"))
    assert env["HTTP_X_FORWARDED_FOR"] == "1.1.1.1"
    assert "HTTP_FOO_BAR" not in env
    assert "HTTP_A_" not in env
    assert [k for k in env if k.startswith("HTTP_")] == ["HTTP_HOST", "HTTP_X_FORWARDED_FOR"]


def test_underscore_only_spelling_is_dropped_even_alone() -> None:
    env = environ_for(get("/", "X_Real_Ip: 6.6.6.6"))
    assert "HTTP_X_REAL_IP" not in env


def test_content_type_and_length_without_http_prefix() -> None:
    env = environ_for(
        b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 14\r\n\r\nname=x&value=y"
    )
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["CONTENT_LENGTH"] == "14"
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env
    assert env["REQUEST_METHOD"] == "POST"


def test_content_type_and_length_absent_when_not_sent() -> None:
    env = environ_for(get("/"))
    assert "CONTENT_TYPE" not in env
    assert "CONTENT_LENGTH" not in env


def test_chunked_request_has_no_content_length() -> None:
    req = parse_one(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    env = build({}, req, NAMES, Input(req, no_pull))
    assert "CONTENT_LENGTH" not in env
    assert env["HTTP_TRANSFER_ENCODING"] == "chunked"


def test_header_values_are_latin1_str() -> None:
    env = environ_for(get("/", "X-Name: caf\xe9 \xff"))
    assert env["HTTP_X_NAME"] == "caf\xe9 \xff"


def test_all_cgi_values_are_native_str() -> None:
    env = environ_for(
        b"POST /%E3%81%82?q=1 HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
        b"X-Bytes: \xe9\xff\r\n\r\n"
    )
    for key, value in env.items():
        if not key.startswith("wsgi."):
            assert type(value) is str, (key, value)
            value.encode("latin-1")
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"


@pytest.mark.parametrize(
    ("host", "name", "port"),
    [
        # No port in Host: http's default, not the listener's (gunicorn's rule; over a
        # unix socket the listener's would be its path).
        ("example.com", "example.com", "80"),
        ("example.com:8080", "example.com", "8080"),
        ("[::1]:8080", "::1", "8080"),
        ("[::1]", "::1", "80"),
        ("127.0.0.1:80", "127.0.0.1", "80"),
        ("Example.COM", "Example.COM", "80"),
    ],
)
def test_server_name_and_port_from_host(host: str, name: str, port: str) -> None:
    env = environ_for(get("/", f"Host: {host}"))
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == (name, port)
    assert env["HTTP_HOST"] == host


def test_server_name_and_port_from_listener_without_host() -> None:
    env = environ_for(get("/", version="1.0"))
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("listener.example", "5000")


def test_server_name_never_empty_with_empty_host() -> None:
    env = environ_for(get("/", "Host:", version="1.0"))
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("listener.example", "5000")


def test_remote_addr_and_port_from_names() -> None:
    env = environ_for(get("/"), ("::1", "40000", "::1", "8080"))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("::1", "40000")


# -- peer_names -------------------------------------------------------------------
class FakeConn:
    """The accepted socket: only its local address is asked."""

    def __init__(self, local: tuple[Any, ...]) -> None:
        self.local = local

    def getsockname(self) -> tuple[Any, ...]:
        return self.local


def test_peer_names_tcp(tcp_listener: Listener) -> None:
    conn = FakeConn(("127.0.0.1", 5000))
    names = peer_names(conn, ("10.1.2.3", 40000), tcp_listener)  # type: ignore[arg-type]
    assert names == ("10.1.2.3", "40000", "127.0.0.1", "5000")


def test_peer_names_wildcard_uses_the_local_address() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener = Listener(sock, None, "8000")
        conn = FakeConn(("192.168.1.5", 8000))
        names = peer_names(conn, ("192.168.1.9", 51000), listener)  # type: ignore[arg-type]
    finally:
        sock.close()
    assert names == ("192.168.1.9", "51000", "192.168.1.5", "8000")


def test_peer_names_ipv6_wildcard() -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        listener = Listener(sock, None, "8080")
        conn = FakeConn(("::1", 8080, 0, 0))
        names = peer_names(conn, ("::1", 41000, 0, 0), listener)  # type: ignore[arg-type]
    finally:
        sock.close()
    assert names == ("::1", "41000", "::1", "8080")


def test_peer_names_unix() -> None:
    a, b = socket.socketpair()
    try:
        listener = Listener(a, "localhost", "0")
        assert peer_names(b, "", listener) == ("", "0", "localhost", "0")
    finally:
        a.close()
        b.close()


# -- wsgi.input ------------------------------------------------------------------
@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
def test_read_all(make: Callable[[], Body]) -> None:
    body = make()
    assert body.inp.read() == TEXT
    assert body.inp.read() == b""
    assert body.inp.read(10) == b""
    assert body.inp.readline() == b""
    assert body.req.complete is True


@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
def test_read_none_and_negative_read_all(make: Callable[[], Body]) -> None:
    body = make()
    assert body.inp.read(None) == TEXT
    body = make()
    assert body.inp.read(-1) == TEXT


@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16, 64, 1000])
def test_read_n(make: Callable[[], Body], size: int) -> None:
    inp = make().inp
    got = []
    while block := inp.read(size):
        assert len(block) <= size
        got.append(block)
    assert b"".join(got) == TEXT
    assert all(len(b) == size for b in got[:-1])  # read(n) waits for n bytes unless the body ends


@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
def test_read_zero_pulls_nothing(make: Callable[[], Body]) -> None:
    body = make()
    assert body.inp.read(0) == b""
    assert body.inp.readline(0) == b""
    assert body.pulls[0] == 0


@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
def test_readline(make: Callable[[], Body]) -> None:
    inp = make().inp
    lines = []
    while line := inp.readline():
        lines.append(line)
    assert lines == TEXT.splitlines(keepends=True)
    assert lines == io.BytesIO(TEXT).readlines()


@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
@pytest.mark.parametrize("size", [1, 2, 4, 10, 11, 12, 30])
def test_readline_n(make: Callable[[], Body], size: int) -> None:
    inp = make().inp
    ref = io.BytesIO(TEXT)
    while True:
        want = ref.readline(size)
        assert inp.readline(size) == want
        if not want:
            break


@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
def test_readlines(make: Callable[[], Body]) -> None:
    assert make().inp.readlines() == io.BytesIO(TEXT).readlines()


@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
@pytest.mark.parametrize("hint", [0, 1, 11, 12, 40, 50, 1000, -1, None])
def test_readlines_hint(make: Callable[[], Body], hint: int | None) -> None:
    assert make().inp.readlines(hint) == io.BytesIO(TEXT).readlines(hint)


@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
def test_iteration(make: Callable[[], Body]) -> None:
    inp = make().inp
    assert iter(inp) is inp
    assert list(inp) == TEXT.splitlines(keepends=True)
    assert list(inp) == []


@pytest.mark.parametrize("make", MAKERS, ids=MAKER_IDS)
def test_mixed_operations_match_bytesio(make: Callable[[], Body]) -> None:
    """Random read/readline mixes (many seeds) return what io.BytesIO returns."""
    for seed in range(150):
        rng = random.Random(seed)
        inp, ref = make().inp, io.BytesIO(TEXT)
        for step in range(40):
            op = rng.choice(["read", "readn", "readline", "readlinen"])
            n = rng.randint(0, 15)
            if op == "read":
                got, want = inp.read(), ref.read()
            elif op == "readn":
                got, want = inp.read(n), ref.read(n)
            elif op == "readline":
                got, want = inp.readline(), ref.readline()
            else:
                got, want = inp.readline(n), ref.readline(n)
            assert got == want, (seed, step, op, n)


def test_never_reads_past_the_body() -> None:
    proto = Protocol()
    proto.feed(  # one feed: the body and the next request together
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    req, following = proto.queue
    inp = Input(req, no_pull)
    assert inp.read() == b"hello"
    assert inp.read(100) == b""
    assert inp.readline() == b""
    assert (following.target, list(following.body)) == (b"/next", [])


def test_no_body_reads_empty_without_pulling() -> None:
    req = parse_one(get("/"))
    inp = Input(req, no_pull)
    assert (inp.read(), inp.read(1), inp.readline(), inp.readlines(), list(inp)) == (b"", b"", b"", [], [])


def test_pull_only_when_the_arrived_body_is_used_up() -> None:
    body = cl_body()
    assert body.inp.read(1) == TEXT[:1]
    assert body.pulls[0] == 1  # the head came alone: one piece (of 1 byte) pulled
    assert body.inp.read(2) == TEXT[1:3]
    assert body.pulls[0] == 2


@pytest.mark.parametrize("op", ["read", "read-n", "readline", "readlines", "iterate"])
def test_client_closed_body_raises_oserror(op: str) -> None:
    body = cl_body(TEXT, truncated_at=20)
    inp = body.inp
    with pytest.raises(OSError) as caught:
        if op == "read":
            inp.read()
        elif op == "read-n":
            while inp.read(7):
                pass
        elif op == "readline":
            while inp.readline():
                pass
        elif op == "readlines":
            inp.readlines()
        else:
            list(inp)
    assert isinstance(caught.value, ClientDisconnected)
    # still broken: a truncated upload never looks complete
    with pytest.raises(OSError):
        inp.read()


def test_client_closed_body_delivers_what_arrived_first() -> None:
    inp = cl_body(TEXT, truncated_at=20).inp
    assert inp.read(20) == TEXT[:20]
    with pytest.raises(OSError):
        inp.read(1)


def test_bad_chunk_raises_bad_body() -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = body_input(head, [b"3\r\nabc\r\n", b"zz\r\n"])
    assert body.inp.read(3) == b"abc"
    with pytest.raises(ClientDisconnected, match="malformed request body") as caught:
        body.inp.read()
    assert isinstance(caught.value, OSError)


# -- drain ---------------------------------------------------------------------------
def test_drain_complete_body_is_cheap() -> None:
    proto = Protocol()
    proto.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + b"x" * 100)
    (req,) = proto.queue
    inp = Input(req, no_pull)
    assert inp.drain(0) is True
    assert list(req.body) == []
    assert inp.read() == b""


def test_drain_small_rest_reads_it() -> None:
    body = body_input(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 30\r\n\r\n", [b"a" * 10] * 3)
    assert body.inp.read(4) == b"aaaa"
    assert body.inp.drain(100) is True
    assert body.req.complete is True
    assert body.pulls[0] == 3
    assert body.inp.read() == b""


def test_drain_large_rest_gives_up_without_reading_it_all() -> None:
    body = body_input(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n", [b"b" * 10] * 100)
    assert body.inp.drain(25) is False
    assert body.req.complete is False
    assert body.pulls[0] <= 4  # at most the limit plus one read


def test_drain_after_readline_split_discards_the_rest() -> None:
    data = b"one\ntwo\nthree"
    body = body_input(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(data), [data])
    assert body.inp.readline() == b"one\n"
    assert body.inp.drain(0) is True
    assert body.inp.read() == b""


def test_drain_of_truncated_body_is_false() -> None:
    body = cl_body(TEXT, truncated_at=5)
    assert body.inp.drain(1 << 20) is False


def test_drain_of_bad_chunked_body_is_false() -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert body_input(head, [b"3\r\nabc\r\nzz\r\n"]).inp.drain(1 << 20) is False


def test_drain_without_body_is_true() -> None:
    assert Input(parse_one(get("/")), no_pull).drain(0) is True


# -- file_wrapper ------------------------------------------------------------------
def test_file_wrapper_iterates_in_blocks() -> None:
    wrapper = FileWrapper(io.BytesIO(b"0123456789"), 4)
    assert list(wrapper) == [b"0123", b"4567", b"89"]


def test_file_wrapper_default_block_iterates_whole_small_file() -> None:
    assert list(FileWrapper(io.BytesIO(b"abc"))) == [b"abc"]


def test_file_wrapper_empty_file() -> None:
    assert list(FileWrapper(io.BytesIO(b""), 4)) == []


def test_file_wrapper_bytesio_is_not_sendable() -> None:
    assert FileWrapper(io.BytesIO(b"data")).sendable() is None


def test_file_wrapper_without_fileno_is_not_sendable() -> None:
    class Reader:
        def read(self, n: int) -> bytes:
            return b""

    wrapper = FileWrapper(Reader())  # type: ignore[arg-type]
    assert wrapper.sendable() is None
    assert not hasattr(wrapper, "close")


def test_file_wrapper_close_closes_the_file() -> None:
    f = io.BytesIO(b"x")
    FileWrapper(f).close()
    assert f.closed is True


def test_file_wrapper_regular_file_is_sendable(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    with open(path, "rb") as f:
        wrapper = FileWrapper(f, 3)
        assert wrapper.sendable() == (f.fileno(), 0, 10)
        f.seek(4)
        assert wrapper.sendable() == (f.fileno(), 4, 6)
        assert list(wrapper) == [b"456", b"789"]


def test_file_wrapper_pipe_is_not_sendable() -> None:
    r, w = os.pipe()
    with open(r, "rb") as reader, open(w, "wb") as writer:
        writer.write(b"abc")
        writer.close()
        assert FileWrapper(reader).sendable() is None


def test_file_wrapper_closed_file_is_not_sendable(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    f = open(path, "rb")  # noqa: SIM115 - closed on purpose below
    f.close()
    assert FileWrapper(f).sendable() is None
