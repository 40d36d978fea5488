"""The response side of a request: ``start_response``, framing, chunk encoding, and
the sends (one syscall for a head and a small body).  Status and header checks are
in headers.py.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from .errors import BodyTimeout, ClientDisconnected
from .headers import HAS_DATE, HAS_SERVER, check_headers, status_line
from .protocol import Request

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
SMALL = 16384  # below this, head and body are joined into one buffer for one send()

_date = [0, b""]
_DAYS = (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")
_MONTHS = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec")


_HEAD_LENGTH_OK = frozenset(range(200, 600)) - {204, 304}
SERVER = b"Server: starlet-py\r\n"


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


def bodyless(method: str, code: int) -> bool:
    """HEAD, 1xx, 204 and 304 responses never carry a body (RFC 9112 §6.3)."""
    return method == "HEAD" or code < 200 or code == 204 or code == 304


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body; ``data`` must not be empty (that would end it)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


class Stoppable(Protocol):
    """What an Exchange needs of its worker: whether it is shutting down."""

    stopping: bool


class Exchange:
    """One request's response: ``start_response``, ``write()`` and the framing.

    Headers go out with the first non-empty body bytes (or at ``finish``).
    Framing: the app's Content-Length; else a known total length; else chunked
    on HTTP/1.1, close-delimited on HTTP/1.0.  ``keep_alive`` ends False when
    the connection must close after this response.
    """

    __slots__ = ("sock", "worker", "method", "http11", "keep_alive", "status", "code", "block",
                 "flags", "length", "head_sent", "chunked", "remaining", "no_body", "sent")  # fmt: skip
    block: bytes
    flags: int
    no_body: bool

    def __init__(self, sock: socket.socket, req: Request, keep_alive: bool, worker: Stoppable) -> None:
        self.sock = sock
        self.worker = worker
        self.method = req.method
        self.http11 = req.version == "1.1"
        self.keep_alive = keep_alive
        self.status: bytes | None = None
        self.code = 0
        self.head_sent = False
        self.chunked = False
        self.remaining = -1  # bytes still owed under a Content-Length, -1: not counted
        self.length: int | None = None  # the Content-Length announced, if any
        self.sent = 0  # body bytes (without chunk framing) the kernel took, for the access log

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.head_sent:  # too late to change anything: PEP 3333 says re-raise
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.status is not None:
            raise AssertionError("start_response called a second time without exc_info")
        line = status_line(status)
        self.block, self.flags, self.length = check_headers(headers)
        self.status = line
        self.code = int(status[:3])
        self.no_body = bodyless(self.method, self.code)
        return self.write

    def _head(self, total: int | None) -> bytes:
        """The response head; ``total`` is the whole body's length when known."""
        if self.status is None:
            raise AssertionError("the app returned a body before calling start_response")
        parts = [self.status, self.block]
        flags = self.flags
        if not flags & HAS_DATE:
            parts.append(date_line())
        if not flags & HAS_SERVER:
            parts.append(SERVER)
        length = self.length
        if length is not None:
            self.remaining = length
        elif self.no_body:
            # HEAD: the length GET would have, when it is known (never for 204/304).
            if total is not None and self.method == "HEAD" and self.code in _HEAD_LENGTH_OK:
                parts.append(b"Content-Length: %d\r\n" % total)
        elif total is not None:
            parts.append(b"Content-Length: %d\r\n" % total)
            self.remaining = self.length = total
        elif self.http11:
            parts.append(b"Transfer-Encoding: chunked\r\n")
            self.chunked = True
        else:
            self.keep_alive = False  # close-delimited body
        if self.worker.stopping:  # TERM arrived while the app ran: this is the last one
            self.keep_alive = False
        if not self.keep_alive:
            parts.append(b"Connection: close\r\n\r\n")
        elif self.http11:
            parts.append(b"\r\n")
        else:
            parts.append(b"Connection: keep-alive\r\n\r\n")
        self.head_sent = True
        return b"".join(parts)

    def write(self, data: bytes) -> None:
        """The ``write()`` callable, and how the server sends each body block."""
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"body items must be bytes, not {type(data).__name__}")
            data = bytes(data)
        if not self.head_sent:
            if not data:
                return  # headers go out with the first non-empty block
            head = self._head(None)
            if self.no_body:
                self._sendall(head)
            else:
                self._send(head, data)
        elif data and not self.no_body:
            self._send(b"", data)

    def _frame(self, data: bytes) -> bytes:
        if self.chunked:
            return chunk(data)
        if self.remaining >= 0:
            if len(data) > self.remaining:  # more than the app's Content-Length: cut, close
                data = data[: self.remaining]
                self.keep_alive = False
            self.remaining -= len(data)
        return data

    def _sendall(self, data: bytes, flags: int = 0) -> None:
        try:
            self.sock.sendall(data, flags)
        except BlockingIOError:  # SO_SNDTIMEO expired: the client stopped reading
            raise BodyTimeout("write made no progress within --timeout") from None
        except OSError as e:
            raise ClientDisconnected(f"write failed: {e}") from e

    def _send(self, head: bytes, data: bytes) -> None:
        """Frame body bytes ``data`` and send them after ``head``; count them once sent."""
        body = self._frame(data)
        if len(body) < SMALL or not head:
            self._sendall(head + body if head else body)
        else:
            try:
                sent = self.sock.sendmsg([head, body])  # two buffers, one syscall, no copy
            except OSError as e:
                raise ClientDisconnected(f"write failed: {e}") from e
            if sent < len(head) + len(body):
                self._sendall((head + body)[sent:])  # rare: the socket buffer was full
        self.sent += len(data) if self.chunked else len(body)  # body: data as _frame cut it

    def send_whole(self, body: bytes) -> None:
        """Send a response whose whole body is ``body`` (the one-item-list fast path)."""
        if type(body) is not bytes:
            self.write(body)
            return
        head = self._head(len(body))
        if self.no_body or not body:
            self._sendall(head)
        else:
            self._send(head, body)

    def send_file(self, fd: int, offset: int, count: int) -> None:
        """Send ``count`` bytes of a regular file with ``os.sendfile``."""
        head = self._head(count)
        if self.no_body:
            self._sendall(head)
            return
        self._sendall(head, socket.MSG_MORE)  # corked: the head leaves with the file's first bytes
        if self.remaining >= 0:
            count = min(count, self.remaining)
        out = self.sock.fileno()
        while count > 0:
            try:
                sent = os.sendfile(out, fd, offset, count)
            except BlockingIOError:
                raise BodyTimeout("write made no progress within --timeout") from None
            except OSError as e:
                raise ClientDisconnected(f"sendfile failed: {e}") from e
            if sent == 0:
                break  # the file shrank under us
            offset += sent
            count -= sent
            self.remaining -= sent
            self.sent += sent

    def finish(self) -> None:
        """End the body: send the head if nothing went out yet, the last chunk, checks."""
        if not self.head_sent:
            # Nothing was written: an empty body, or (HEAD) a length we do not know.
            self._sendall(self._head(None if self.no_body else 0))
        elif self.chunked:
            self.chunked = False
            self._sendall(LAST_CHUNK)
        if self.remaining > 0 and not self.no_body:
            self.keep_alive = False  # the app sent less than it announced: only close frames it
