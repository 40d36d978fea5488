"""One client connection: read, parse, run the app, write; until it closes.

Timeouts (docs/design.md, "Timeouts"), with no extra system call on the common path: the
socket's SO_SNDTIMEO is ``--timeout``, so every write must progress; its
SO_RCVTIMEO is ``--keepalive-timeout``, which bounds the wait for a request's
first bytes on a kept-alive connection.  Reads inside a request (the rest of
a head that came in pieces, body reads) wait in poll() against ``--timeout``;
a head is bounded as a whole.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import scoreboard
from .errors import REASONS, BodyTimeout, ClientDisconnected, ExpectationFailed, RequestTimeout
from .log import access_line, log_exc
from .protocol import Protocol, Request
from .response import SERVER, Exchange, date_line
from .wsgi import FileWrapper, Input, build, peer_names

if TYPE_CHECKING:
    from .worker import Worker

READ_SIZE = 65536  # one recv; also bounds what a pipelining client gets buffered at once
DRAIN_LIMIT = 65536  # unread body we read and discard to keep a connection alive
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
POLLIN = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


class Connection:
    """Serves the requests of one accepted socket, in order, then closes it."""

    __slots__ = ("sock", "worker", "proto", "names", "served", "_poll", "_continue", "_req")

    def __init__(self, sock: socket.socket, addr: Any, worker: Worker, listener: Any) -> None:
        self.sock = sock
        self.worker = worker
        self.proto = Protocol()
        self.names = peer_names(sock, addr, listener)
        self.served = 0
        self._poll: select.poll | None = None
        self._continue = False  # a `100 Continue` is owed before the next body read
        self._req: Request | None = None

    def serve(self, base: dict[str, Any]) -> None:
        """Answer requests until the connection should close; always closes it."""
        worker = self.worker
        queue = self.proto.queue
        limit = worker.config.max_keepalive_reqs
        try:
            while True:
                if not queue and not self._read_head():
                    return
                req = queue.popleft()
                if req.error is not None:
                    self._refuse(getattr(req.error, "status", 400))
                    return
                self.served += 1
                worker.count_request()
                keep = req.keep_alive and self.served < limit and not worker.stopping
                if not self._handle(req, base, keep):
                    return
        except ClientDisconnected:
            return  # the client reset, stalled or left: nothing to answer
        finally:
            self.sock.close()

    # -- reading ------------------------------------------------------------
    def _read_head(self) -> bool:
        """Read until a request (or an error) is queued; False to close quietly."""
        data = self._first_read()
        if not data:
            return False
        proto = self.proto
        proto.feed(data)
        if proto.queue:
            return True
        # The head is arriving in pieces: bound the whole head by --timeout.
        deadline = self._deadline()
        while not proto.queue:
            try:
                data = self._read_within(deadline)
            except BodyTimeout:
                self._refuse(RequestTimeout.status)
                return False
            if not data:
                return False
            proto.feed(data)
        return True

    def _first_read(self) -> bytes:
        """The first bytes of a request: one blocking recv() in the common case.

        The socket's SO_RCVTIMEO is --keepalive-timeout (listeners.tune), so an
        idle kept-alive connection costs no poll().  When the worker is told to
        stop, an idle connection is still given its --keepalive-timeout: closing
        it at once would race a client (or nginx's pool) that is sending its next
        request right then, which a POST cannot survive.  A request that comes
        is answered with ``Connection: close``.  (With --keepalive-timeout 0 the
        wait would be unbounded: the stop handler then shuts our reading side
        down, and recv() returns what already arrived, or end-of-file.)
        """
        worker = self.worker
        idle = self.served > 0
        if idle:
            worker.idle_sock = self.sock
        try:
            if idle and worker.stopping and not worker.config.keepalive_timeout:
                return self.sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
            return self.sock.recv(READ_SIZE)
        except BlockingIOError:
            if idle or worker.stopping:
                return b""  # --keepalive-timeout passed, or stopping: close quietly
            # A new connection may take up to --timeout for its first bytes.
            try:
                return self._read_within(self._deadline(worker.config.keepalive_timeout))
            except BodyTimeout:
                return b""
        except OSError:
            return b""
        finally:
            worker.idle_sock = None

    def _deadline(self, spent: float = 0.0) -> float | None:
        timeout = self.worker.config.timeout
        return time.monotonic() + timeout - spent if timeout > 0 else None

    def _read_within(self, deadline: float | None) -> bytes:
        """A read inside a request: wait in poll() up to ``deadline`` (--timeout)."""
        sock = self.sock
        while True:
            if deadline is not None:
                if self._poll is None:
                    self._poll = select.poll()
                    self._poll.register(sock, POLLIN)
                left = deadline - time.monotonic()
                if left <= 0 or not self._poll.poll(left * 1000):
                    raise BodyTimeout("no progress within --timeout")
            try:
                return sock.recv(READ_SIZE, socket.MSG_DONTWAIT if deadline else 0)
            except BlockingIOError:
                continue  # woken without data, or (no --timeout) SO_RCVTIMEO passed: wait on
            except OSError as e:
                raise ClientDisconnected(f"read failed: {e}") from e

    def pull(self) -> None:
        """More body for ``wsgi.input``: one read, fed to the parser."""
        if self._continue:
            self._continue = False
            try:
                self.sock.sendall(CONTINUE)
            except OSError as e:
                raise ClientDisconnected(f"write failed: {e}") from e
        data = self._read_within(self._deadline())
        if not data:
            req = self._req
            if req is not None and not req.complete:
                req.error = ClientDisconnected("client closed the connection mid-body")
                req.complete = True
            return
        self.proto.feed(data)

    # -- answering ----------------------------------------------------------
    def _refuse(self, status: int) -> None:
        """Answer a request we will not pass to the app, then the connection closes."""
        reason = REASONS.get(status, "Error")
        body = f"{status} {reason}\n".encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        )
        try:
            self.sock.sendall(head.encode("latin-1") + date_line() + SERVER + b"\r\n" + body)
        except OSError:
            pass

    def _handle(self, req: Request, base: dict[str, Any], keep: bool) -> bool:
        """Run the app for ``req`` and send its response; True to keep the connection."""
        sock = self.sock
        self._req = req
        expect = req.expect
        if expect is not None:
            if expect != b"100-continue":
                self._refuse(ExpectationFailed.status)  # RFC 9110 §10.1.1
                return False
            # Sent lazily, at the app's first read: an app that refuses saves the upload.
            self._continue = not req.complete and req.version == "1.1"
        exch = Exchange(sock, req, keep, self.worker)
        inp = Input(req, self.pull)
        result: Any = None
        slot = scoreboard.mine  # None unless --request-timeout
        if slot is not None:
            slot.begin(req.request_line)
        try:
            result = self.worker.app(build(base, req, self.names, inp), exch.start_response)
            if not exch.head_sent and type(result) in (list, tuple) and len(result) == 1:
                exch.send_whole(result[0])
            elif not exch.head_sent and type(result) is FileWrapper and (spec := result.sendable()):
                exch.send_file(*spec)
            else:
                for data in result:
                    exch.write(data)
            exch.finish()
        except ClientDisconnected as e:
            if not exch.head_sent:
                self._refuse(e.status)
            return False
        except Exception:
            log_exc(f"error in app for {req.request_line!r}")
            if not exch.head_sent:
                self._refuse(500)
            return False
        finally:
            self._continue = False
            close: Callable[[], Any] | None = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log_exc(f"error in close() for {req.request_line!r}")
                    exch.keep_alive = False
            if slot is not None:
                slot.end()
        access = self.worker.access
        if access is not None:
            access.write(access_line(self.names[0], req.request_line, exch.code, exch.length))
        if not exch.keep_alive:
            return False
        if not req.complete or req.body:
            # Unread body: drain a little to keep the connection; otherwise close.
            if expect is not None or not inp.drain(DRAIN_LIMIT):
                return False
        return True

