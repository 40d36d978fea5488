"""HTTP/1.1 request parsing on httptools: bytes in, ``Request`` objects out.

No sockets here.  The connection feeds whatever it read; every request whose
head is complete is appended to ``queue`` (its body keeps arriving in
``Request.body`` as later bytes are fed), so the app can start before the body
is in and the body is never buffered whole: the connection only reads more
when the app asks for more input.

httptools has no pause, so one ``feed`` may complete several pipelined
requests; each one's state is captured inside the callbacks, because after
``feed_data`` returns the parser already describes the next message
(docs/http.md, "No pause" and "Per-request state").
"""

from __future__ import annotations

from collections import deque

import httptools

from .errors import ClientDisconnected, HTTPError
from .rfc import PATH_QUERY, check_host, check_target

MAX_REQUEST_LINE = 8192  # longer target: 414
MAX_FIELD = 8192  # one header field (name + value): 431
MAX_FIELDS = 100  # number of header fields: 431
MAX_HEAD = 65536  # whole request head: 431
# Chunk-size lines with their extensions, and trailers: bytes read with no chunk data
# between them, counted over whole reads after the head (so the bound is loose by up to
# two reads); past it, 400.
MAX_CHUNK_META = 16384


class Request:
    """One request as parsed.  ``error`` set on a request means: answer it, then close."""

    __slots__ = (
        "method", "target", "version", "headers", "keep_alive", "chunked",
        "content_length", "expect", "host", "authority", "body", "complete", "error",
    )  # fmt: skip

    def __init__(self) -> None:
        self.method = ""
        self.target = b""
        self.version = "1.1"
        # (lower-case name, value) in arrival order; names keep '-', values are stripped.
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = False
        self.chunked = False
        self.content_length: bytes | None = None
        self.expect: bytes | None = None
        self.host: bytes | None = None
        self.authority: bytes | None = None  # of an absolute-form target; it overrides Host
        self.body: deque[bytes] = deque()  # arrived but not yet read by the app
        self.complete = False  # the whole body has arrived
        # HTTPError: refused before the app ran.  ClientDisconnected: the body broke while
        # the app may be reading it (raised at its next read).
        self.error: HTTPError | ClientDisconnected | None = None

    @property
    def request_line(self) -> str:
        """For log lines: ``METHOD target HTTP/x.y``."""
        return f"{self.method} {self.target.decode('latin-1')} HTTP/{self.version}"


class Protocol:
    """Drives one ``httptools.HttpRequestParser`` for one connection."""

    __slots__ = ("queue", "dead", "_parser", "_cur", "_url", "_in_head", "_head_bytes",
                 "_size", "_connection", "_te", "_hay", "_scan", "_meta")  # fmt: skip

    def __init__(self) -> None:
        self.queue: deque[Request] = deque()
        self.dead = False  # after an error or an upgrade: nothing more is parsed
        self._parser = httptools.HttpRequestParser(self)
        # The one leniency we allow: bytes after a `Connection: close` request are not
        # an error; we answer that request and close (docs/http.md, "Data after close").
        # lenient_version lets any digits through: which versions we speak is decided
        # in on_headers_complete (1.x later than 1.1 is treated as 1.1, 2+ gets 505).
        self._parser.set_dangerous_leniencies(lenient_data_after_close=True, lenient_version=True)
        self._cur: Request | None = None  # the request whose bytes are being parsed
        self._in_head = False
        self._head_bytes = 0  # bytes fed since the current head began (bounded by MAX_HEAD)
        # Set by on_message_begin, before any other callback reads them (not here: a
        # connection costs fewer stores): _url (the target so far), _size (bytes of header
        # fields so far, as sent: "name: value\r\n"), _connection (its tokens) and _te.
        self._url: bytes
        self._size: int
        self._connection: list[bytes] | None
        self._te: bytes | None
        # Raw bytes in which the current request line is searched (see _check_line),
        # and where the search resumes: past the previous request's line.
        self._hay = b""
        self._scan = 0
        # Bytes fed since a chunked body last yielded data: llhttp does not bound chunk
        # extensions or trailers (the CVE-2024-22019 class), so we do.
        self._meta = 0

    def close(self) -> None:
        """Nothing more is parsed.  Drops the parser: it holds our bound callbacks, and
        without that cycle a connection's objects are freed by reference counting."""
        self.dead = True
        del self._parser

    def feed(self, data: bytes) -> None:
        """Parse ``data``; complete heads go to ``queue``; never raises for bad input."""
        if self.dead:
            return
        cur = self._cur
        if cur is None or self._in_head:
            self._head_bytes += len(data)
        elif cur.chunked:
            self._meta += len(data)
        if self._hay:  # a head began in an earlier piece: its request line is in there
            self._hay += data
        else:
            self._hay, self._scan = data, 0
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # CONNECT or `Upgrade:`; we never switch protocols: answer it, then close.
            self.dead = True
            if self.queue:
                self.queue[-1].keep_alive = False
            return
        except httptools.HttpParserError as e:  # a callback's own error (414, 431...) is the context
            ctx = e.__context__
            self._fail(ctx if isinstance(ctx, HTTPError) else HTTPError(400, str(e)))
            return
        cur = self._cur
        if cur is not None and self._in_head:
            if self._head_bytes > MAX_HEAD:
                self._fail(HTTPError(431, f"request head over {MAX_HEAD} bytes"))
        else:
            self._hay = b""  # bounded: kept only while a head is incomplete (< MAX_HEAD)
            if cur is not None and self._meta > MAX_CHUNK_META:
                self._fail(HTTPError(400, "chunk extensions or trailers too long"))

    def _check_line(self, method: bytes, target: bytes) -> None:
        """The request line must name HTTP: llhttp reads `RTSP/1.0` as version 1.0.

        httptools does not report the protocol name, so find this request's line
        in the raw bytes (docs/http.md, "Accepted but wrong"), searching from the previous request's line.
        A body may contain look-alike lines, so any occurrence naming HTTP passes:
        at worst a crafted body lets an RTSP line pass as HTTP/1.x, while the
        framing, and so the request boundaries, stay llhttp's either way.
        """
        hay = self._hay
        needle = method + b" " + target + b" "
        start = hay.find(needle, self._scan)
        while start >= 0:
            start += len(needle)
            if hay[start : start + 5] == b"HTTP/":
                self._scan = start
                return
            start = hay.find(needle, start)
        # No "METHOD SP target SP HTTP/": another protocol, or other whitespace.
        raise HTTPError(400, "not an HTTP/1.x request line")  # RFC 9112 §2.3, §3

    def _fail(self, error: HTTPError) -> None:
        self.dead = True
        error.__traceback__ = None  # raised in a callback: its frames hold us (a cycle)
        cur = self._cur
        queue = self.queue
        if cur is not None and queue and queue[-1] is cur:
            # Still queued, so the app has not started it: refuse it whole.  (llhttp checks
            # some fields, Transfer-Encoding syntax, only after on_headers_complete.)
            queue.pop()
            cur = None
        if cur is not None and not self._in_head:
            # The head was fine and the app may be reading: its input is now broken.
            cur.error = ClientDisconnected(f"malformed request body: {error}")
            cur.keep_alive = False
            cur.complete = True
        else:
            cur = Request()
            cur.error, cur.complete = error, True
            self.queue.append(cur)
        self._cur = None

    # -- httptools callbacks ------------------------------------------------
    def on_message_begin(self) -> None:
        self._cur = Request()
        self._in_head = True
        self._url = b""
        self._size = 0
        self._connection = self._te = None

    def on_url(self, piece: bytes) -> None:
        # The target may arrive in several pieces, even empty ones (docs/http.md, "Pieces"):
        # joined as they come (it is one piece but in a head cut by a read).
        url = self._url = self._url + piece if self._url else piece
        if len(url) > MAX_REQUEST_LINE:
            raise HTTPError(414, f"request target over {MAX_REQUEST_LINE} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            return  # a chunked body's trailer field: never reaches the environ (docs/http.md, "Trailers")
        n = len(name) + len(value)
        self._size += n + 4  # as sent: "name: value\r\n"
        headers = self._cur.headers  # type: ignore[union-attr]
        if n > MAX_FIELD or len(headers) >= MAX_FIELDS or self._size > MAX_HEAD:
            raise HTTPError(431, f"over {MAX_FIELD} bytes, {MAX_FIELDS} fields or {MAX_HEAD} bytes of fields")
        name = name.lower()
        value = value.strip(b" \t")
        if name in _SPECIAL:
            self._special(name, value)
        headers.append((name, value))

    def _special(self, name: bytes, value: bytes) -> None:
        """The fields that decide framing and connection handling."""
        req = self._cur
        assert req is not None
        if name == b"host":
            if req.host is not None:
                raise HTTPError(400, "more than one Host field")  # RFC 9112 §3.2
            req.host = value
        elif name == b"connection":
            tokens = [t.strip().lower() for t in value.split(b",")]
            self._connection = tokens if self._connection is None else self._connection + tokens
        elif name == b"transfer-encoding":
            self._te = value if self._te is None else self._te + b"," + value
        elif name == b"content-length":
            req.content_length = value
        elif name == b"expect":
            req.expect = value.lower()

    def on_headers_complete(self) -> None:
        req = self._cur
        assert req is not None
        parser = self._parser
        raw = parser.get_method()
        # llhttp knows a fixed set of methods: their str forms are remembered.
        req.method = method = _METHODS.get(raw) or _method(raw)
        version = parser.get_http_version()
        req.target = target = self._url
        if len(raw) + len(target) + 12 > MAX_REQUEST_LINE:  # "M T HTTP/x.y\r\n"
            raise HTTPError(414, f"request line over {MAX_REQUEST_LINE} bytes")
        self._check_line(raw, target)
        if version not in ("1.1", "1.0"):
            # llhttp checks the digits; which versions we speak is ours (lenient_version).
            if version[:2] == "1.":
                version = "1.1"  # a later 1.x: treat as 1.1 (RFC 9110 §2.5)
            elif version[0] == "0":
                raise HTTPError(400, f"HTTP/{version} is not supported")
            else:
                raise HTTPError(505, f"HTTP/{version} is not supported")
        req.version = version
        if version == "1.1" and req.host is None:
            raise HTTPError(400, "HTTP/1.1 request without Host")  # RFC 9112 §3.2
        if method == "CONNECT":
            raise HTTPError(501, "CONNECT is not supported")
        if method == "SOURCE":
            raise HTTPError(400, "SOURCE is Icecast's, not HTTP's")
        if target[:1] != b"/" or b"%" in target or target.translate(None, PATH_QUERY):
            req.authority = check_target(method, target)
        # else: origin-form with only allowed characters and no escapes to check, which
        # check_target passes as is (authority None, Request's default), minus a call.
        host = req.host
        if host and host not in _GOOD_HOSTS:
            check_host(host)
            if len(_GOOD_HOSTS) < 256:  # a site sees a handful of Host values: remember them
                _GOOD_HOSTS.add(host)
        te = self._te
        if te is not None:
            if version == "1.0":
                raise HTTPError(400, "Transfer-Encoding in an HTTP/1.0 request")  # RFC 9112 §6.1
            # Empty list elements do not count (RFC 9110 §5.6.1.2).
            codings = [c for c in (c.strip().lower() for c in te.split(b",")) if c]
            if codings[-1:] != [b"chunked"]:
                raise HTTPError(400, "Transfer-Encoding without a final chunked")  # RFC 9112 §6.3
            if len(codings) > 1:
                raise HTTPError(501, "transfer coding other than chunked")  # §6.1
            req.chunked = True
        if req.expect is not None and req.expect != b"100-continue":
            raise HTTPError(417, "unknown expectation")  # RFC 9110 §10.1.1
        # Keep-alive by Connection tokens, never llhttp's guess (it keeps `keep-alive, close`
        # open on HTTP/1.0): 1.1 unless `close`; 1.0 only with `keep-alive` (RFC 9112 §9.3).
        tokens = self._connection
        if tokens is None:  # no Connection field
            req.keep_alive = version == "1.1"
        elif version == "1.1":
            req.keep_alive = b"close" not in tokens
        else:
            req.keep_alive = b"keep-alive" in tokens and b"close" not in tokens
        self._in_head = False
        self._head_bytes = 0
        self._meta = 0
        self.queue.append(req)

    def on_body(self, data: bytes) -> None:
        cur = self._cur
        if cur is not None and data:
            cur.body.append(data)
            self._meta = 0

    def on_chunk_header(self) -> None:
        self._meta = 0

    def on_message_complete(self) -> None:
        cur = self._cur
        if cur is not None:
            cur.complete = True
        self._cur = None


def _method(raw: bytes) -> str:
    method = raw.decode("ascii")
    if len(_METHODS) < 64:  # llhttp's set is fixed (under 50): bounded anyway
        _METHODS[raw] = method
    return method


_METHODS: dict[bytes, str] = {}
_GOOD_HOSTS: set[bytes] = set()
_SPECIAL = frozenset((b"host", b"connection", b"transfer-encoding", b"content-length", b"expect"))
