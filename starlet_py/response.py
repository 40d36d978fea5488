"""The response side of a request, as bytes (no I/O): the app's status and headers checked,
``start_response``, the head and framing, keep-alive, and the server's own answers.  The
app's mistakes are TypeError/ValueError (PEP 3333), not HTTP errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from .log import debug
from .protocol import Request
from .rfc import TCHAR, remember

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
# RFC 9110 §7.6.1, PEP 3333: the server's.  Apps passing on an upstream's headers send them:
# dropped, as gunicorn does; only Transfer-Encoding, against our framing, is an error.
HOP_BY_HOP = frozenset(
    "connection keep-alive proxy-authenticate proxy-authorization te trailer trailers upgrade".split()
)
# Field values: visible, SP, HTAB, obs-text (RFC 9110 §5.5); names are tokens (rfc.TCHAR).
_VALUE = bytes([9, *range(32, 127), *range(128, 256)])
HAS_DATE, HAS_SERVER, IS_LENGTH = 1, 2, 4  # what a header is to the head (_check_one)
_FLAGS = {"date": HAS_DATE, "server": HAS_SERVER}  # the app's own: then we add none
# Checked statuses and headers (rfc.remember): cookies or ETags may never repeat.
status_cache: dict[str, tuple[bytes, int, bool]] = {}
_checked: dict[tuple[str, str], tuple[bytes, int, int]] = {}
_date = [0, b""]
_DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_told: set[str] = set()  # the hop-by-hop names this worker has logged


def date_line() -> bytes:
    """``Date:`` header line, formatted once per second."""
    now = int(time.time())
    if now != _date[0]:
        # RFC 9110 §5.6.7 IMF-fixdate, by hand: email.utils would cost every worker memory.
        t = time.gmtime(now)
        day = f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year}"
        _date[1] = f"Date: {day} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT\r\n".encode()
        _date[0] = now
    return _date[1]  # type: ignore[return-value]


def error_answer(status: int, why: str = "") -> bytes:
    """The whole answer to a request the server refuses itself; the connection then closes.
    ``why`` (the server's words, never the client's bytes) goes into the body, escaped."""
    reason = REASONS.get(status, "Error")
    why = why.encode("ascii", "backslashreplace").decode("ascii")
    text = reason + ": " + "".join(c if c.isprintable() else "?" for c in why) if why else reason
    body = f"{status} {text}\n".encode()
    head = b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n"
    return head % (status, reason.encode(), len(body)) + date_line() + SERVER + b"\r\n" + body


def parse_status(status: str) -> tuple[bytes, int, bool]:
    """``(status line, code, whether the code forbids a body)`` (1xx, 204, 304: RFC 9112
    §6.3), or TypeError / ValueError.  Callers look in ``status_cache`` first."""
    if type(status) is not str:
        raise TypeError(f"status must be str, not {type(status).__name__}")
    code, sep, reason = status.partition(" ")
    if not (len(code) == 3 and code.isascii() and code.isdigit() and sep and code[0] != "0"):
        raise ValueError(f"status must be 'NNN Reason', got {status!r}")
    raw = status.encode("latin-1")
    if raw.translate(None, _VALUE):
        raise ValueError(f"control character in status {status!r}")
    number = int(code)
    entry = (b"HTTP/1.1 " + raw + b"\r\n", number, number < 200 or number == 204 or number == 304)
    return remember(status_cache, status, entry)


def check_headers(headers: list[tuple[str, str]]) -> tuple[bytes, int]:
    """The app's headers checked and serialized, with our Date and Server lines unless it
    sent its own: ``(CRLF-terminated lines, its Content-Length or -1)``."""
    if type(headers) is not list:
        raise TypeError(f"headers must be a list, not {type(headers).__name__}")
    out = []
    flags = 0
    length = -1
    get = _checked.get
    for item in headers:
        try:
            entry = get(item)
        except TypeError:  # unhashable: certainly not a (str, str) tuple
            entry = None
        if entry is None or type(item) is not tuple:
            entry = _check_one(item)
        out.append(entry[0])
        flag = entry[1]
        if flag:
            if flag != IS_LENGTH:
                flags |= flag
            elif length >= 0:
                raise ValueError("repeated Content-Length")
            else:
                length = entry[2]
    if not flags & HAS_DATE:
        out.append(date_line())
    if not flags & HAS_SERVER:
        out.append(SERVER)
    return b"".join(out), length


def _check_one(item: tuple[str, str]) -> tuple[bytes, int, int]:
    """One header as ``(its line, flag, its Content-Length or -1)``, remembered."""
    if type(item) is not tuple or len(item) != 2:
        raise TypeError(f"each header must be a (name, value) tuple, got {item!r}")
    name, value = item
    if type(name) is not str or type(value) is not str:
        raise TypeError(f"header name and value must be str: {item!r}")
    bname = name.encode("latin-1")
    bvalue = value.encode("latin-1")
    if not bname or bname.translate(None, TCHAR):
        raise ValueError(f"invalid header name {name!r}")
    if bvalue.translate(None, _VALUE):
        raise ValueError(f"control character (CR, LF, ...) in header {name!r}")
    lname = name.lower()
    if lname == "transfer-encoding":
        raise ValueError(f"hop-by-hop header {name!r} is the server's to send")
    line = bname + b": " + bvalue + b"\r\n"
    if lname in HOP_BY_HOP:
        if lname not in _told:  # once per worker and name: the app may want to know
            _told.add(lname)
            debug(f"hop-by-hop header {name!r} from the app dropped: the server's to send")
        entry = (b"", 0, -1)
    elif lname == "content-length":
        if not (value.isascii() and value.isdigit()):
            raise ValueError(f"bad Content-Length {value!r}")
        entry = (line, IS_LENGTH, int(value))
    else:
        entry = (line, _FLAGS.get(lname, 0), -1)
    return remember(_checked, item, entry, 1024)


class Response:
    """One request's response: ``start_response`` records, the other methods return bytes.
    ``decide`` (Connection._keep_alive) gives ``keep`` as the head is built; ``intact`` ends False when
    only closing the connection frames the body (not its Content-Length, a failing close())."""

    __slots__ = tuple(
        "write decide method http11 status code lines no_body head_sent chunked remaining delimited "
        "keep intact sent".split()
    )
    lines: bytes
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
        self.remaining = -1  # body bytes still owed under a Content-Length; -1: none
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
        line, self.code, no_body = status_cache.get(status) or parse_status(status)
        self.lines, self.remaining = check_headers(headers)
        self.status = line
        self.no_body = no_body or self.method == "HEAD"  # HEAD never carries one either
        return self.write

    def head(self, total: int | None) -> bytes:
        """The head, with framing and keep-alive; ``total``: the body's length, if known."""
        if self.status is None:
            raise AssertionError("the app returned a body before calling start_response")
        framing = b""
        if self.remaining >= 0:
            pass  # the app's Content-Length frames it
        elif self.no_body:
            # HEAD: the length GET would have, when it is known (never for 204/304).
            if total is not None and self.method == "HEAD" and self.code in _HEAD_LENGTH_OK:
                framing = b"Content-Length: %d\r\n" % total
        elif total is not None:
            framing = b"Content-Length: %d\r\n" % total
            self.remaining = total
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
        return b"".join((self.status, self.lines, framing, end))

    def whole(self, body: bytes) -> tuple[bytes, bytes]:
        """(head, body bytes) of a one-item list, the common case: head, piece, finish at once."""
        size = len(body)
        head = self.head(size)
        if self.no_body:
            return head, b""
        remaining = self.remaining  # head() counted the app's Content-Length, or made it size
        if size != remaining:
            # Longer than the app's Content-Length: cut, close; shorter: only closing frames it.
            self.intact = False
            body = body[:remaining]
            size = len(body)
        self.sent = size
        self.remaining = remaining - size
        return head, body

    def take(self, size: int) -> int:
        """How many of ``size`` body bytes go out (charged to the Content-Length)."""
        if self.no_body:
            return 0
        remaining = self.remaining
        if remaining >= 0:
            if size > remaining:  # more than the app's Content-Length: cut, close
                size = remaining
                self.intact = False
            self.remaining = remaining - size
        return size

    def piece(self, data: bytes) -> tuple[bytes, bytes]:
        """(head or b'', body bytes for the wire) of one block the app writes or yields; the
        head goes with the first non-empty block."""
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"body items must be bytes, not {type(data).__name__}")
            data = bytes(data)
        head = b""
        if not self.head_sent:
            if not data:
                return b"", b""
            head = self.head(None)
        if self.chunked:
            self.sent += len(data)
            return head, b"%x\r\n%b\r\n" % (len(data), data) if data else b""  # an empty chunk would end it
        size = self.take(len(data))
        self.sent += size
        return head, data if size == len(data) else data[:size]

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
