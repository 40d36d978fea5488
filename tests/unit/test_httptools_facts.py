"""The httptools (llhttp) behaviour starlet_py relies on, one test per section of
docs/http.md, driving ``httptools.HttpRequestParser`` directly (no starlet code).

If an httptools upgrade changes one of these facts, its test fails here, and the
code that depends on it (named in the section) must be looked at again.
"""

from __future__ import annotations

from typing import Any

import httptools
import pytest

Event = tuple[Any, ...]


class Recorder:
    """Records every callback, with the parser's per-request state where it is read."""

    def __init__(self, **leniencies: bool) -> None:
        self.events: list[Event] = []
        self.parser = httptools.HttpRequestParser(self)
        if leniencies:
            self.parser.set_dangerous_leniencies(**leniencies)

    def feed(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.events.append(("begin",))

    def on_url(self, piece: bytes) -> None:
        self.events.append(("url", piece))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.events.append(("header", name, value))

    def on_headers_complete(self) -> None:
        p = self.parser
        self.events.append(("head", p.get_method(), p.get_http_version(), p.should_keep_alive()))

    def on_body(self, data: bytes) -> None:
        self.events.append(("body", data))

    def on_message_complete(self) -> None:
        self.events.append(("complete",))

    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]

    def heads(self) -> list[Event]:
        return [e for e in self.events if e[0] == "head"]


def parse(data: bytes, **leniencies: bool) -> tuple[Recorder, Exception | None]:
    """Feed ``data`` in one piece; the recorder and the exception raised, if any."""
    rec = Recorder(**leniencies)
    try:
        rec.feed(data)
    except Exception as e:  # the fact under test is often which exception comes out
        return rec, e
    return rec, None


def test_no_pause() -> None:
    """One feed_data runs the callbacks of every pipelined request it holds."""
    rec, err = parse(
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /b HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi"
    )
    assert err is None
    assert rec.kinds() == [
        "begin", "url", "header", "head", "complete",
        "begin", "url", "header", "head", "body", "complete",
    ]  # fmt: skip
    assert rec.heads() == [("head", b"GET", "1.1", True), ("head", b"POST", "1.0", False)]


def test_per_request_state() -> None:
    """get_method/get_http_version/should_keep_alive are right only inside the callbacks."""
    rec, err = parse(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert err is None
    assert rec.heads() == [("head", b"GET", "1.1", False)]
    # After feed_data returned, the parser already describes the next message.
    assert rec.parser.should_keep_alive() is True
    rec, _ = parse(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.0\r\n\r\n")
    assert rec.heads()[0] == ("head", b"GET", "1.1", True)
    assert (rec.parser.get_method(), rec.parser.get_http_version()) == (b"POST", "1.0")


def test_broken_after_an_error() -> None:
    """After an error the parser refuses everything, even a valid request."""
    rec, err = parse(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n")
    assert type(err) is httptools.HttpParserError
    with pytest.raises(httptools.HttpParserError):
        rec.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert "head" not in rec.kinds()


def test_errors_from_callbacks() -> None:
    """An exception in a callback comes out as HttpParserCallbackError, the original
    in ``__context__``."""

    class TooLong(Exception):
        pass

    class Refusing(Recorder):
        def on_url(self, piece: bytes) -> None:
            raise TooLong("target too long")

    rec = Refusing()
    with pytest.raises(httptools.HttpParserCallbackError) as info:
        rec.feed(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert isinstance(info.value, httptools.HttpParserError)
    assert type(info.value.__context__) is TooLong
    assert str(info.value.__context__) == "target too long"


def test_upgrade() -> None:
    """CONNECT, or ``Connection: upgrade`` with ``Upgrade:``: the message completes,
    then HttpParserUpgrade (not an HttpParserError); a body is not parsed."""
    head = (
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
        b"Content-Length: 3\r\n\r\n"
    )
    rec = Recorder()
    with pytest.raises(httptools.HttpParserUpgrade) as info:
        rec.feed(head + b"abcGET / HTTP/1.1\r\n")
    assert not isinstance(info.value, httptools.HttpParserError)
    assert info.value.args == (len(head),)  # where the other protocol's bytes begin
    assert rec.kinds() == ["begin", "url", "header", "header", "header", "header", "head", "complete"]
    rec = Recorder()
    with pytest.raises(httptools.HttpParserUpgrade):
        rec.feed(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\nxx")
    assert rec.kinds()[-2:] == ["head", "complete"]
    # Upgrade: without the Connection token is an ordinary request.
    rec, err = parse(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
    assert err is None and rec.kinds()[-1] == "complete"


def test_pieces() -> None:
    """The target comes in pieces (some empty); header values keep trailing
    whitespace; names keep their case; bytes >= 0x80 pass."""
    rec = Recorder()
    pieces = (b"GET /ab", b"cd", b"ef HTTP/1.1\r\nHo", b"st:  x y \t\r\nX-A: caf\xe9\r\nMiXed: 1 \r\n\r\n")
    for piece in pieces:
        rec.feed(piece)
    assert [e[1] for e in rec.events if e[0] == "url"] == [b"/ab", b"cd", b"ef"]
    # Header fields, unlike the target, come whole even when split across feeds.
    assert [e[1:] for e in rec.events if e[0] == "header"] == [
        (b"Host", b"x y \t"),
        (b"X-A", b"caf\xe9"),
        (b"MiXed", b"1 "),
    ]
    rec = Recorder()
    data = b"GET /abc HTTP/1.1\r\nHost: x\r\n\r\n"
    for i in range(len(data)):
        rec.feed(data[i : i + 1])
    assert [e[1] for e in rec.events if e[0] == "url"] == [b"/", b"a", b"b", b"c", b""]


def test_trailers() -> None:
    """Trailer fields arrive through on_header after on_headers_complete; Host is let
    through there, Content-Length and Transfer-Encoding are refused."""
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
    rec, err = parse(head + b"Host: evil\r\nX-T: 1\r\n\r\n")
    assert err is None
    assert rec.events[-4:] == [
        ("body", b"abc"),
        ("header", b"Host", b"evil"),
        ("header", b"X-T", b"1"),
        ("complete",),
    ]
    for field in (b"Content-Length: 5", b"Transfer-Encoding: chunked"):
        rec, err = parse(head + field + b"\r\n\r\n")
        assert type(err) is httptools.HttpParserError, field
        assert "complete" not in rec.kinds()


def test_framing() -> None:
    """Nothing reports the framing: Transfer-Encoding means chunked, else
    Content-Length, else no body (what follows is the next request)."""
    public = {n for n in dir(httptools.HttpRequestParser) if not n.startswith("_")}
    assert public == {
        "feed_data", "get_http_version", "get_method", "set_dangerous_leniencies",
        "should_keep_alive", "should_upgrade",
    }  # fmt: skip
    rec, err = parse(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    assert err is None and rec.events[-2:] == [("body", b"abc"), ("complete",)]
    rec, err = parse(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert err is None and rec.events[-2:] == [("body", b"abc"), ("complete",)]
    rec, err = parse(b"POST / HTTP/1.1\r\nHost: x\r\n\r\nabc")
    assert rec.kinds() == ["begin", "url", "header", "head", "complete", "begin"]
    assert type(err) is httptools.HttpParserInvalidMethodError  # "abc" read as a method
    # Both at once is refused in the head (the smuggling case).
    rec, err = parse(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
    assert type(err) is httptools.HttpParserError and "head" not in rec.kinds()


def test_no_limits() -> None:
    """No bound on the target, the number or size of fields, chunk extensions;
    Content-Length up to 2**64 - 1."""
    fields = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 10000) for i in range(500))
    rec, err = parse(b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert err is None
    assert rec.kinds().count("header") == 501 and rec.kinds()[-1] == "complete"
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    rec, err = parse(chunked + b"3;" + b"e" * 100000 + b"\r\nabc\r\n0\r\n\r\n")
    assert err is None and rec.events[-2:] == [("body", b"abc"), ("complete",)]
    rec, err = parse(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n")
    assert err is None and rec.kinds()[-1] == "head"
    rec, err = parse(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n")
    assert type(err) is httptools.HttpParserError


@pytest.mark.parametrize(
    ("raw", "head"),
    [
        (b"GET /\r\n\r\n", (b"GET", "0.9")),  # HTTP/0.9
        (b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", (b"GET", "0.9")),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", (b"GET", "2.0")),
        (b"GET / RTSP/1.0\r\nHost: x\r\n\r\n", (b"GET", "1.0")),  # another protocol
        (b"SOURCE / HTTP/1.1\r\nHost: x\r\n\r\n", (b"SOURCE", "1.1")),  # Icecast's
        (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", (b"GET", "1.1")),
        (b"GET / HTTP/1.1\r\n\r\n", (b"GET", "1.1")),  # no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", (b"GET", "1.1")),
        (b"GET / HTTP/1.1\r\nHost: a b<>\r\n\r\n", (b"GET", "1.1")),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", (b"POST", "1.0")),
        (b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", (b"PUT", "1.1")),
    ],
)
def test_accepted_but_wrong(raw: bytes, head: tuple[bytes, str]) -> None:
    """Strict mode accepts each of these whole, though a server must refuse them."""
    rec, err = parse(raw)
    assert err is None
    assert [h[1:3] for h in rec.heads()] == [head]
    assert rec.kinds()[-1] == "complete"


def test_accepted_but_wrong_versions() -> None:
    """Strict mode refuses HTTP/1.2 and 3.0 while it accepts 0.9 and 2.0;
    ``lenient_version`` lets any single digits through (protocol.py decides)."""
    for refused in (b"1.2", b"3.0"):
        _, err = parse(b"GET / HTTP/%s\r\nHost: x\r\n\r\n" % refused)
        assert type(err) is httptools.HttpParserError, refused
    for version in ("1.2", "9.9"):
        rec, err = parse(b"GET / HTTP/%s\r\nHost: x\r\n\r\n" % version.encode(), lenient_version=True)
        assert err is None and rec.heads()[0][2] == version
    _, err = parse(b"GET / HTTP/10.0\r\nHost: x\r\n\r\n", lenient_version=True)
    assert type(err) is httptools.HttpParserError


def target_passes(target: bytes) -> bool:
    rec, err = parse(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    url = b"".join(e[1] for e in rec.events if e[0] == "url")
    return err is None and url == target and rec.kinds()[-1] == "complete"


@pytest.mark.parametrize("where", [b"/a%sb", b"/a?b%sc", b"/a#b%sc", b"http://h/a%sb", b"http://h?a%sb"])
def test_target_bytes(where: bytes) -> None:
    """In strict mode a path, query or fragment may hold every visible ASCII byte
    (0x21-0x7E: `"<>[]\\^`{|}#%` included); controls, space, DEL and bytes from 0x80
    are refused.  `%00`, `%zz` are plain bytes to it."""
    passed = bytes(c for c in range(256) if target_passes(where.replace(b"%s", bytes([c]))))
    assert passed == bytes(range(0x21, 0x7F))
    assert target_passes(where.replace(b"%s", b"%00%zz%"))


def test_target_authority_bytes() -> None:
    """The authority of an absolute-form target allows only RFC 3986's characters, and
    ends at "/" or "?" (`http://h#f` is refused); `rfc.check_host` checks the rest."""
    passed = bytes(c for c in range(256) if target_passes(b"http://h" + bytes([c]) + b"x/"))
    assert passed == b"!$%&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz~"
    assert not target_passes(b"http://h#f") and target_passes(b"http://h/#f")


@pytest.mark.parametrize(
    "first", [b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"GET /a HTTP/1.0\r\n\r\n"]
)
def test_data_after_close(first: bytes) -> None:
    """Bytes after a request that closes the connection are an error, raised after
    that request completed; ``lenient_data_after_close`` ignores them instead."""
    second = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    rec, err = parse(first + second)
    assert type(err) is httptools.HttpParserError
    assert rec.kinds().count("complete") == 1 and rec.kinds()[-1] == "complete"
    rec, err = parse(first + second, lenient_data_after_close=True)
    assert err is None
    assert rec.kinds().count("begin") == 1 and rec.kinds()[-1] == "complete"  # nothing after it parsed


def test_parse_url() -> None:
    """parse_url is the old http-parser's: it refuses ``host:443`` and port 99999,
    and accepts ``/%zz``."""
    for bad in (b"host:443", b"http://h:99999/"):
        with pytest.raises(httptools.HttpParserInvalidURLError):
            httptools.parse_url(bad)
    url = httptools.parse_url(b"/%zz?q=1")
    assert (url.path, url.query, url.host) == (b"/%zz", b"q=1", None)


@pytest.mark.parametrize("method", [b"FOO", b"get", b"ICE"])
def test_methods(method: bytes) -> None:
    """Unknown or lower-case methods raise HttpParserInvalidMethodError, right after
    on_message_begin."""
    rec, err = parse(method + b" / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert type(err) is httptools.HttpParserInvalidMethodError
    assert isinstance(err, httptools.HttpParserError)
    assert rec.events == [("begin",)]


def test_no_end_of_input() -> None:
    """There is no end-of-input call: feeding b'' ends nothing (it may even report
    an empty body piece), so a request cut short is never completed nor refused."""
    rec = Recorder()
    rec.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    seen = len(rec.events)
    rec.feed(b"")
    assert "complete" not in rec.kinds()
    assert all(e == ("body", b"") for e in rec.events[seen:])
    rec = Recorder()
    rec.feed(b"GET / HTTP/1.1\r\nHo")
    rec.feed(b"")
    assert rec.kinds() == ["begin", "url"]
