"""HTTP/1.1 request parsing on httptools: bytes in, ``Request`` objects out (no sockets).

Each complete head is queued; its body arrives in ``Request.body`` as the app's reads pull
it in.  One ``feed`` may complete several pipelined requests, so each one's state is taken
inside the callbacks (docs/http.md, "No pause", "Per-request state").
"""

from __future__ import annotations

from collections import deque

import httptools

from .errors import ClientDisconnected, HTTPError
from .rfc import HOSTS, check_codings, check_host, check_target, find_line, method_status, spoken_version

# Protocol's limits (docs/http.md, "No limits"): the request line with its CRLF (414), the
# number of header fields and one field's name and value (431), the whole head (431), and
# chunk lines and trailers between data, counted over whole reads (400).
MAX_REQUEST_LINE = 8192
MAX_FIELDS = 100
MAX_FIELD = 8192
MAX_HEAD = 8 * max(MAX_REQUEST_LINE, MAX_FIELD)  # 64 KiB: a raised limit raises it
MAX_CHUNK_META = 16384


class Request:
    """One request as parsed.  ``error`` set on a request means: answer it, then close."""

    __slots__ = tuple(
        "method target version headers keep_alive chunked content_length expect host authority body "
        "complete error".split()
    )

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

    __slots__ = tuple(
        "queue dead _parser _cur _url _in_head _head_bytes _size _connection _te _hay _scan _meta "
        "_max_body _left _sniff _max_line _max_fields _max_field _max_head".split()
    )

    def __init__(
        self,
        max_body: int = 0,
        limit_request_line: int = MAX_REQUEST_LINE,
        limit_request_fields: int = MAX_FIELDS,
        limit_request_field_size: int = MAX_FIELD,
    ) -> None:
        self.queue: deque[Request] = deque()
        self.dead = False  # after an error or an upgrade: nothing more is parsed
        self._parser = httptools.HttpRequestParser(self)
        # Bytes after a `Connection: close` request are not an error: we answer it and close
        # (docs/http.md, "Data after close"); which versions we speak is rfc.spoken_version's.
        self._parser.set_dangerous_leniencies(lenient_data_after_close=True, lenient_version=True)
        self._cur: Request | None = None  # the request whose bytes are being parsed
        self._head_bytes = 0  # bytes fed since the head began (_max_head)
        self._hay = b""  # raw bytes of the current head, searched by rfc.find_line ...
        self._scan: int  # ... from here: past the previous request's line (set by feed)
        self._in_head: bool  # set by on_message_begin, as the next four are
        self._url: bytes
        self._size: int  # header bytes as sent
        self._connection: list[bytes] | None  # Connection tokens
        self._te: bytes | None
        self._meta: int  # bytes since a chunked body's last data (llhttp bounds none: CVE-2024-22019)
        self._left: int  # the body's bytes to come (Content-Length) or allowed (--max-request-body)
        self._max_body = max_body  # --max-request-body (0: none)
        self._sniff = False  # an unknown method: reading on to tell 501 from 400
        self._max_line = line = limit_request_line
        self._max_field = field = limit_request_field_size
        self._max_fields = limit_request_fields
        self._max_head = 8 * (line if line > field else field)

    def close(self) -> None:
        """Nothing more is parsed.  Drops the parser (it holds our bound callbacks: a cycle)."""
        self.dead = True
        del self._parser

    def feed(self, data: bytes) -> None:
        """Parse ``data``; complete heads go to ``queue``; never raises for bad input."""
        if self.dead:
            return
        if self._sniff:
            return self._sniff_method(data)
        cur = self._cur
        if cur is None or self._in_head:
            self._head_bytes += len(data)
        elif cur.chunked:
            self._meta += len(data)
        if self._hay:  # a head began in an earlier read: its request line is in there
            self._hay += data
        else:  # _scan 0: the read starts at a request (not inside a body), no line found yet
            self._hay, self._scan = data, 0 if cur is None else 1
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # CONNECT or `Upgrade:`; we never switch protocols: answer it, then close.
            self.dead = True
            if self.queue:
                self.queue[-1].keep_alive = False
            return
        except httptools.HttpParserInvalidMethodError:
            # Its line is found only at the start of _hay (_scan 0): else 400 (docs/http.md, "Methods").
            if self._scan:
                self._fail(HTTPError(400, "unknown or invalid method after another request"))
            else:
                self._sniff = True
                self._sniff_method(b"")
            return
        except httptools.HttpParserError as e:  # a callback's own error (414, 431...) is the context
            ctx = e.__context__
            self._fail(ctx if isinstance(ctx, HTTPError) else HTTPError(400, str(e)))
            return
        cur = self._cur
        if cur is not None and self._in_head:
            if self._head_bytes > self._max_head:
                self._fail(HTTPError(431, f"request head over {self._max_head} bytes"))
        else:
            self._hay = b""  # bounded: kept only while a head is incomplete (< _max_head)
            if cur is not None and self._meta > MAX_CHUNK_META:
                self._fail(HTTPError(400, "chunk extensions or trailers too long"))

    def _sniff_method(self, data: bytes) -> None:
        """llhttp refuses a method it does not know at its first unknown byte: read on
        (the parser is dead) until the method ends, then 501 or 400 (rfc.method_status)."""
        self._hay += data
        status = method_status(self._hay, self._max_line)
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
        if len(url) > self._max_line:
            raise HTTPError(414, f"request target over {self._max_line} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            return  # a chunked body's trailer field: never reaches the environ (docs/http.md, "Trailers")
        n = len(name) + len(value)
        self._size += n + 4  # as sent: "name: value\r\n"
        headers = self._cur.headers  # type: ignore[union-attr]
        if n > self._max_field or len(headers) >= self._max_fields or self._size > self._max_head:
            if n > self._max_field:  # one test on the common path, then which limit it was
                raise HTTPError(431, f"a header field over {self._max_field} bytes")
            if self._size > self._max_head:
                raise HTTPError(431, f"header fields over {self._max_head} bytes")
            raise HTTPError(431, f"over {self._max_fields} header fields")
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
        # llhttp knows a fixed set of methods (under 50): their str forms are remembered.
        req.method = method = _METHODS.get(raw) or _METHODS.setdefault(raw, raw.decode("ascii"))
        version = parser.get_http_version()
        req.target = target = self._url
        if len(raw) + len(target) + 12 > self._max_line:  # "M T HTTP/x.y\r\n"
            raise HTTPError(414, f"request line over {self._max_line} bytes")
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
        if host and host not in HOSTS:  # a site sees a handful of Host values
            check_host(host)
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
        tokens = self._connection or ()
        req.keep_alive = b"close" not in tokens and (version == "1.1" or b"keep-alive" in tokens)
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


_METHODS: dict[bytes, str] = {}
_SPECIAL = frozenset(b"host connection transfer-encoding content-length expect content-type".split())
