"""HTTP/1.1 request parsing on httptools: bytes in, ``Request`` objects out.

No sockets here.  Every request whose head is complete is appended to ``queue``;
its body keeps arriving in ``Request.body`` as the connection feeds what the
app's reads pull in, so the body is never buffered whole.  httptools has no
pause: one ``feed`` may complete several pipelined requests, so each one's
state is captured inside the callbacks (docs/http.md, "No pause", "Per-request state").
"""

from __future__ import annotations

from collections import deque

import httptools

from .chunks import Chunks, Cutter
from .errors import ClientDisconnected, HTTPError
from .request import Request as Request  # re-exported: the request is the protocol's product
from .rfc import check_codings, check_host, check_target, find_line, method_status, spoken_version

MAX_REQUEST_LINE = 8192  # longer target: 414
MAX_FIELD = 8192  # one header field (name + value): 431
MAX_FIELDS = 100  # number of header fields: 431
MAX_HEAD = 65536  # whole request head: 431
# Chunk-size lines with their extensions, and trailers: bytes read with no chunk data
# between them, counted over whole reads after the head (so the bound is loose by up to
# two reads); past it, 400.
MAX_CHUNK_META = 16384


class Protocol(Cutter):
    """Drives one ``httptools.HttpRequestParser`` for one connection."""

    __slots__ = ("queue", "dead", "_parser", "_cur", "_url", "_in_head", "_head_bytes", "_size",
                 "_connection", "_te", "_hay", "_scan", "_meta", "_max_body", "_left", "_chunks",
                 "_sniff", "_whole")  # fmt: skip

    def __init__(self, max_body: int = 0) -> None:
        self.queue: deque[Request] = deque()
        self.dead = False  # after an error or an upgrade: nothing more is parsed
        self._parser = self._new_parser()
        self._cur: Request | None = None  # the request whose bytes are being parsed
        self._in_head, self._head_bytes = False, 0  # bytes fed since the head began (MAX_HEAD)
        # Set by on_message_begin: the target, header bytes as sent, Connection tokens, TE.
        self._url: bytes
        self._size: int
        self._connection: list[bytes] | None
        self._te: bytes | None
        self._hay = b""  # raw bytes of the current head, searched by rfc.find_line ...
        self._scan = 0  # ... from here: past the previous request's line
        self._meta = 0  # bytes since a chunked body's last data: llhttp bounds none (CVE-2024-22019)
        self._max_body = max_body  # --max-request-body (0: none)
        self._left = 0  # Content-Length body: bytes to come; chunked: bytes --max-request-body allows
        self._chunks: Chunks | None = None  # the chunked body being passed through chunks.py
        self._sniff = False  # an unknown method: reading on to tell 501 from 400
        self._whole: int  # set by each feed: fed whole at a boundary, 1 + the queue's length

    def _new_parser(self) -> httptools.HttpRequestParser:
        parser = httptools.HttpRequestParser(self)
        # Bytes after a `Connection: close` request are not an error: we answer it and close
        # (docs/http.md, "Data after close"); which versions we speak is rfc.spoken_version's.
        parser.set_dangerous_leniencies(lenient_data_after_close=True, lenient_version=True)
        return parser

    def close(self) -> None:
        """Nothing more is parsed.  Drops the parser: it holds our bound callbacks, and
        without that cycle a connection's objects are freed by reference counting."""
        self.dead = True
        del self._parser

    def feed(self, data: bytes, piece: bool = False) -> None:
        """Parse ``data``; never raises for bad input.  ``piece``: one of _cut's pieces."""
        if self.dead:
            return
        cur = self._cur
        head = cur is None or self._in_head
        whole = 0
        if head:
            if not piece:
                if self._hay:
                    return self._cut(data)  # a head in pieces
                whole = len(self.queue) + 1  # a chunked head in here: _recut
            self._head_bytes += len(data)
        elif not piece and (self._chunks is not None or (not cur.chunked and 0 < self._left < len(data))):  # type: ignore[union-attr]
            return self._cut(data)
        elif cur.chunked:  # type: ignore[union-attr]
            self._meta += len(data)
        if self._hay:  # a head began in an earlier piece: its request line is in there
            self._hay += data
        else:
            self._hay, self._scan = data, 0
        self._whole = whole
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # CONNECT or `Upgrade:`; we never switch protocols: answer it, then close.
            self.dead = True
            if self.queue:
                self.queue[-1].keep_alive = False
            return
        except httptools.HttpParserInvalidMethodError:
            if not (whole and len(self.queue) >= whole):  # else after a request: _recut, to find its line
                self._sniff = True  # see _sniff_method
                if not piece:
                    self._sniff_method(b"")
                return
        except httptools.HttpParserError as e:  # a callback's own error (414, 431...) is the context
            ctx = e.__context__
            if type(ctx) is not _Recut:
                self._fail(ctx if isinstance(ctx, HTTPError) else HTTPError(400, str(e)))
                return
            ctx.__traceback__ = None  # its frames hold the old parser, which holds it
        else:
            whole = 0
        if whole:  # out of the except: a callback's error then gets its own context
            return self._recut(data, whole - 1)
        cur = self._cur
        if cur is not None and self._in_head:
            if self._head_bytes > MAX_HEAD:
                self._fail(HTTPError(431, f"request head over {MAX_HEAD} bytes"))
        else:
            self._hay = b""  # bounded: kept only while a head is incomplete (< MAX_HEAD)
            if cur is not None and self._meta > MAX_CHUNK_META:
                self._fail(HTTPError(400, "chunk extensions or trailers too long"))
            elif head and cur is not None and cur.chunked:
                self._chunks = Chunks()  # its head ended exactly where ``data`` ends

    def _sniff_method(self, data: bytes) -> None:
        """llhttp refuses a method it does not know at its first unknown byte: read on
        (the parser is dead) until the method ends, then 501 or 400 (rfc.method_status)."""
        self._hay += data
        status = method_status(self._hay, MAX_REQUEST_LINE)
        if status is not None:
            self._sniff = False
            self._fail(HTTPError(status, "unknown method" if status == 501 else "invalid method"))

    def _fail(self, error: HTTPError) -> None:
        self.dead = True
        error.__traceback__ = None  # raised in a callback: its frames hold us (a cycle)
        cur = parsed = self._cur
        queue = self.queue
        if cur is not None and queue and queue[-1] is cur:
            # Still queued, so the app has not started it: refuse it whole.  (llhttp checks
            # some fields, Transfer-Encoding syntax, only after on_headers_complete.)
            queue.pop()
            cur = None
        if cur is not None and not self._in_head:
            # The head was fine and the app may be reading: its input is now broken.
            why = "malformed" if error.status == 400 else "refused"
            cur.error = ClientDisconnected(f"{why} request body: {error}", error.status)
            cur.keep_alive = False
            cur.complete = True
        else:
            # A new request, keeping what was parsed of the head, for the logs.
            cur = Request()
            if parsed is not None:
                cur.method, cur.target, cur.version = parsed.method, parsed.target, parsed.version
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
        # The target may arrive in pieces, even empty ones (docs/http.md, "Pieces"): joined.
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
        elif name == b"content-type" and any(n == name for n, _ in req.headers):
            raise HTTPError(400, "more than one Content-Type field")  # RFC 9110 §8.3: a singleton

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
        self._scan = find_line(self._hay, self._scan, raw, target)
        if version not in ("1.1", "1.0"):
            version = spoken_version(version)  # llhttp checks only the digits (lenient_version)
        req.version = version
        if version == "1.1" and req.host is None:
            raise HTTPError(400, "HTTP/1.1 request without Host")  # RFC 9112 §3.2
        if method == "CONNECT":
            raise HTTPError(501, "CONNECT is not supported")
        if method == "SOURCE":
            raise HTTPError(400, "SOURCE is Icecast's, not HTTP's")
        if target[:1] != b"/" or b"%00" in target:
            req.authority = check_target(method, target)
        # (else origin-form without "%00": llhttp let only visible ASCII through, all accepted)
        host = req.host
        if host and host not in _GOOD_HOSTS:
            check_host(host)
            if len(_GOOD_HOSTS) < 256:  # a site sees a handful of Host values: remember them
                _GOOD_HOSTS.add(host)
        te = self._te
        if te is not None:
            check_codings(te, version)
            req.chunked = True
            self._left = self._max_body
        elif req.content_length is not None:
            # llhttp let only digits through, up to 2**64 - 1.
            self._left = length = int(req.content_length)
            if length > self._max_body > 0:
                raise HTTPError(413, f"Content-Length over --max-request-body ({self._max_body})")
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
        if req.chunked and self._whole:
            raise _Recut  # its body may follow in this same piece: cut it (Protocol._recut)
        self._in_head = False
        self._head_bytes = 0
        self._meta = 0
        self.queue.append(req)

    def on_body(self, data: bytes) -> None:
        cur = self._cur
        if cur is not None and data:
            self._left -= len(data)
            if cur.chunked:
                self._meta = 0
                if self._left < 0 and self._max_body:  # the piece past the limit is not kept
                    raise HTTPError(413, f"chunked body over --max-request-body ({self._max_body})")
            cur.body.append(data)

    def on_chunk_header(self) -> None:
        self._meta = 0

    def on_message_complete(self) -> None:
        cur = self._cur
        if cur is not None:
            cur.complete = True
        self._cur = None


class _Recut(Exception):
    """Raised by on_headers_complete to stop llhttp at a chunked head fed whole."""


def _method(raw: bytes) -> str:
    method = raw.decode("ascii")
    if len(_METHODS) < 64:  # llhttp's set is fixed (under 50): bounded anyway
        _METHODS[raw] = method
    return method


_METHODS: dict[bytes, str] = {}
_GOOD_HOSTS: set[bytes] = set()
_SPECIAL = frozenset(
    (b"host", b"connection", b"transfer-encoding", b"content-length", b"expect", b"content-type")
)
