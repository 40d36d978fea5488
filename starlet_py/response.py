"""The response side of a request, as bytes: ``start_response``, the head, the body's
framing, the keep-alive decision, and the answers the server makes itself.

No I/O: the connection sends what these return (writer.Writer).  Status and
header checks are in headers.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from .headers import HAS_DATE, HAS_SERVER, check_headers, parse_status, status_cache
from .protocol import Request

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Write = Callable[[bytes], None]

SERVER = b"Server: starlet-py\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"
REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}
_HEAD_LENGTH_OK = frozenset(range(200, 600)) - {204, 304}
_date = [0, b""]
_DAYS = (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")
_MONTHS = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec")


def date_line() -> bytes:
    """``Date:`` header line, formatted once per second."""
    now = int(time.time())
    if now != _date[0]:
        # RFC 9110 §5.6.7 IMF-fixdate, by hand: email.utils would cost every worker memory.
        t = time.gmtime(now)
        _date[1] = b"Date: %s, %02d %s %d %02d:%02d:%02d GMT\r\n" % (
            _DAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec
        )
        _date[0] = now
    return _date[1]  # type: ignore[return-value]


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body; ``data`` must not be empty (that would end it)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def error_answer(status: int, why: str = "") -> bytes:
    """The whole answer to a request the server refuses itself; the connection then closes.

    ``why`` (the server's own words, never the client's bytes) goes into the one-line
    text/plain body, escaped to printable ASCII all the same."""
    reason = REASONS.get(status, "Error").encode()
    if why:
        why = why.encode("ascii", "backslashreplace").decode("ascii")
        reason += b": " + "".join(c if c.isprintable() else "?" for c in why).encode()
    body = b"%d %s\n" % (status, reason)
    head = b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n"
    head %= (status, REASONS.get(status, "Error").encode(), len(body))
    return head + date_line() + SERVER + b"\r\n" + body


def keep_alive(req: Request, resp: Response, served: int, limit: int, stopping: bool) -> bool:
    """Whether the connection stays open after ``resp``: decided once, as its head is built.

    The request must allow it (its Connection field and version; not an upgrade
    or a broken body), the response must be delimited (not close-delimited),
    the connection under --max-keepalive-reqs (``served`` counts this request),
    and the worker not stopping (a stop signal, or its recycle limit).  After
    the response the connection still closes if the exchange left it unusable
    (Connection._handle).
    """
    return req.keep_alive and resp.delimited and served < limit and not stopping


class Response:
    """One request's response: ``start_response`` records, the other methods return bytes.

    The head goes out with the first non-empty body bytes (or at ``finish``).
    Framing: the app's Content-Length; else a known total length; else chunked
    on HTTP/1.1, close-delimited on HTTP/1.0.  ``decide`` (keep_alive) gives
    ``keep`` as the head is built.  ``intact`` ends False when the response did
    not end cleanly (a body longer or shorter than its Content-Length, a failing
    ``close()``): only closing the connection then frames it.
    """

    __slots__ = ("write", "decide", "method", "http11", "status", "code", "block", "flags", "length",
                 "no_body", "head_sent", "chunked", "remaining", "delimited", "keep", "intact",
                 "sent")  # fmt: skip
    block: bytes
    flags: int
    no_body: bool

    def __init__(self, req: Request, write: Write, decide: Callable[[Response], bool]) -> None:
        self.write = write  # the app's write(): what start_response returns (the connection's)
        self.decide = decide
        self.method = req.method
        self.http11 = req.version == "1.1"
        self.status: bytes | None = None
        self.code = 0
        self.head_sent = False
        self.chunked = False
        self.remaining = -1  # bytes still owed under a Content-Length, -1: not counted
        self.length: int | None = None  # the Content-Length announced, if any
        self.delimited = True  # False: the body ends only when the connection closes
        self.keep = False
        self.intact = True
        self.sent = 0  # body bytes framed for the wire (for the access log)

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Write:
        if exc_info is not None:
            try:
                if self.head_sent:  # too late to change anything: PEP 3333 says re-raise
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.status is not None:
            raise AssertionError("start_response called a second time without exc_info")
        # The status as parse_status caches it: line, code and "no body" in one lookup.
        line, self.code, no_body = status_cache.get(status) or parse_status(status)
        self.block, self.flags, self.length = check_headers(headers)
        self.status = line
        self.no_body = no_body or self.method == "HEAD"  # HEAD never carries one either
        return self.write

    def head(self, total: int | None) -> bytes:
        """The head, with the framing and the keep-alive decision; ``total`` is the
        whole body's length when known."""
        if self.status is None:
            raise AssertionError("the app returned a body before calling start_response")
        framing = b""
        length = self.length
        if length is not None:
            self.remaining = length
        elif self.no_body:
            # HEAD: the length GET would have, when it is known (never for 204/304).
            if total is not None and self.method == "HEAD" and self.code in _HEAD_LENGTH_OK:
                framing = b"Content-Length: %d\r\n" % total
        elif total is not None:
            framing = b"Content-Length: %d\r\n" % total
            self.remaining = self.length = total
        elif self.http11:
            framing = b"Transfer-Encoding: chunked\r\n"
            self.chunked = True
        else:
            self.delimited = False
        self.keep = keep = self.decide(self)
        if not keep:
            end = b"Connection: close\r\n\r\n"
        else:
            end = b"\r\n" if self.http11 else b"Connection: keep-alive\r\n\r\n"
        self.head_sent = True
        flags = self.flags
        if not flags:  # the common case: our Date and Server lines
            return b"".join((self.status, self.block, date_line(), SERVER, framing, end))
        return b"".join((self.status, self.block, b"" if flags & HAS_DATE else date_line(),
                         b"" if flags & HAS_SERVER else SERVER, framing, end))  # fmt: skip

    def whole(self, body: bytes) -> tuple[bytes, bytes]:
        """(head, body bytes) of a response that is the one block ``body`` (a one-item
        list, the common case): head, take and finish in one step; nothing is owed after."""
        size = len(body)
        head = self.head(size)
        if self.no_body:
            return head, b""
        # head(size) counted the app's Content-Length, or set it to size: remaining >= 0.
        remaining = self.remaining
        if size != remaining:
            # Longer than the app's Content-Length: cut, close; shorter: only closing frames it.
            self.intact = False
            if size > remaining:
                body, size = body[:remaining], remaining
        self.remaining = remaining - size
        self.sent = size
        return head, body

    def take(self, size: int) -> int:
        """How many of ``size`` body bytes go out: none without a body, else at most
        what the Content-Length has left (charged to it)."""
        if self.no_body:
            return 0
        remaining = self.remaining
        if remaining >= 0:
            if size > remaining:  # more than the app's Content-Length: cut, close
                size = remaining
                self.intact = False
            self.remaining = remaining - size
        return size

    def body(self, data: bytes) -> bytes:
        """One block of the body as it goes on the wire (after the head)."""
        if self.chunked:
            self.sent += len(data)
            return chunk(data) if data else b""
        size = self.take(len(data))
        self.sent += size
        return data if size == len(data) else data[:size]

    def piece(self, data: bytes) -> tuple[bytes, bytes]:
        """(head or b'', body bytes) for one block the app writes or yields; the head
        goes out with the first non-empty block.  TypeError for a non-bytes block."""
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"body items must be bytes, not {type(data).__name__}")
            data = bytes(data)
        if self.head_sent:
            return b"", self.body(data)
        if not data:
            return b"", b""
        return self.head(None), self.body(data)

    def finish(self) -> bytes:
        """What is still owed at the end: the head if nothing went out yet, the last chunk."""
        out = b""
        if not self.head_sent:
            # Nothing was written: an empty body, or (HEAD) a length we do not know.
            out = self.head(None if self.no_body else 0)
        elif self.chunked:
            self.chunked = False
            out = LAST_CHUNK
        if self.remaining > 0 and not self.no_body:
            self.intact = False  # the app sent less than it announced: only closing frames it
        return out
