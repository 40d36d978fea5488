"""One client connection: read, parse, run the app, write; until it closes.  Timeouts
(docs/design.md, "Timeouts"): SO_SNDTIMEO is ``--timeout`` (a client that stops reading makes a
send fail), SO_RCVTIMEO ``--keepalive-timeout``; reads inside a request poll against ``--timeout``."""

from __future__ import annotations

import os
import select
import socket
import time
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import scoreboard
from .accesslog import quote
from .config import Config
from .errors import ClientDisconnected
from .listeners import PeerNames
from .log import info, log_exc
from .protocol import Protocol, Request
from .response import CONTINUE, REASONS, Response, error_answer
from .wsgi import FileWrapper, Input

if TYPE_CHECKING:
    from .accesslog import AccessLog
    from .wsgi import Build

READ_SIZE = 65536  # one recv; also bounds what a pipelining client gets buffered at once
DRAIN_LIMIT = 65536  # unread body we read and discard to keep a connection alive
LINGER_TIME, LINGER_BYTES = 2.0, 8 << 20  # the lingering close after an answer leaving bytes unread
SMALL = 16384  # below this, head and body are joined into one buffer for one send()
POLLIN = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


class Host(typing.Protocol):
    """What a Connection needs of its worker (worker.Worker is one)."""

    app: Callable[..., Any]
    config: Config
    access: AccessLog | None  # the --access-log, if any
    build: Build  # the environ of a request (wsgi.build, or proxy's with --forwarded-allow-ips)
    stopping: bool  # answer with `Connection: close` from now on

    def count_request(self) -> None: ...  # as each request starts; it may set ``stopping``

    def idle(self, conn: Connection | None) -> None: ...  # see Worker.idle


class Connection:
    """Serves the requests of one accepted socket, in order, then closes it."""

    __slots__ = tuple(
        "sock names host limit proto served queued _poll _continue _req _resp _t0 _linger _waited "
        "_got".split()
    )
    _req: Request  # the request being answered (set by _handle)
    _resp: Response  # its response, while the app runs

    def __init__(self, sock: socket.socket, names: PeerNames, host: Host, queued: bool = False) -> None:
        self.sock = sock
        self.names = names
        self.host = host
        c = host.config
        self.limit = c.max_keepalive_reqs
        self.proto = Protocol(
            c.max_request_body, c.limit_request_line, c.limit_request_fields, c.limit_request_field_size
        )
        self.served = 0
        self.queued = queued  # it waited in the accept queue: its client may have left (_gone)
        self._poll: select.poll | None = None
        self._continue = False  # a `100 Continue` is owed before the next body read
        self._t0 = 0.0  # time.monotonic() as the current request was taken (only with --access-log)
        self._linger = False  # close lingeringly: request bytes may still come (serve)
        self._waited: float  # (set by _handle) the wait for body in pull; _got: bytes read
        self._got: int

    def serve(self, base: dict[str, Any]) -> None:
        """Answer requests until the connection should close; always closes it."""
        queue = self.proto.queue
        try:
            while True:
                if not queue and not self._read_head():
                    return
                req = queue.popleft()
                if self.host.access is not None:
                    self._t0 = time.monotonic()
                if req.error is not None:
                    self._refuse(req.error.status, req)
                    return
                if self.queued:
                    self.queued = False
                    if self._gone(req):
                        return
                self.served += 1
                self.host.count_request()
                if not self._handle(req, base):
                    return
        except ClientDisconnected:
            return  # the client reset, stalled or left: nothing to answer
        finally:
            self.proto.close()
            if self._linger:  # request bytes unread: a plain close could reset the answer (RFC 9112 §9.6)
                try:
                    self.sock.shutdown(socket.SHUT_WR)  # the FIN says the answer is complete
                    budget, deadline = LINGER_BYTES, time.monotonic() + LINGER_TIME
                    while budget > 0 and (data := self._read_within(deadline)):
                        budget -= len(data)  # read and discarded until EOF, time or budget
                except OSError:
                    pass
            self.sock.close()

    # -- reading ------------------------------------------------------------
    def _read_head(self) -> bool:
        """Read until a request (or an error) is queued; False to close quietly."""
        proto = self.proto
        data = self._first_read()
        deadline = None
        while data:
            proto.feed(data)
            if proto.queue:
                return True
            # The head is arriving in pieces: bound the whole head by --timeout.
            deadline = deadline or self._deadline()
            try:
                data = self._read_within(deadline)
            except ClientDisconnected as e:
                if e.status == 408:
                    if self.host.access is not None:
                        self._t0 = time.monotonic() - self.host.config.timeout
                    self._refuse(408, why=str(e))
                return False
        return False

    def _first_read(self) -> bytes:
        """The first bytes of a request: one blocking recv() (SO_RCVTIMEO), which a stop or
        the master's SHED ends on a kept-alive connection (Worker.idle)."""
        host = self.host
        idle = self.served > 0
        try:
            if idle:
                host.idle(self)
            return self.sock.recv(READ_SIZE)
        except BlockingIOError:
            if idle or host.stopping:
                return b""  # --keepalive-timeout passed, or stopping: close quietly
            # A new connection may take up to --timeout for its first bytes.
            try:
                return self._read_within(self._deadline(host.config.keepalive_timeout))
            except ClientDisconnected:
                return b""
        except OSError:
            return b""
        finally:
            if idle:
                host.idle(None)

    def _deadline(self, spent: float = 0.0) -> float | None:
        timeout = self.host.config.timeout
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
                    raise ClientDisconnected("no progress within --timeout or --min-body-rate", 408)
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
            self.send(CONTINUE)
        config, start = self.host.config, time.monotonic()
        deadline = start + config.timeout if config.timeout > 0 else None
        if deadline is not None and config.min_body_rate > 0:
            # mod_reqtimeout's MinRate: after the first --timeout, the wait allowed grows by
            # a second per min-body-rate bytes received.  Only time spent here counts.
            deadline += min(0.0, self._got / config.min_body_rate - self._waited)
        data = self._read_within(deadline)
        self._waited += time.monotonic() - start
        self._got += len(data)
        if not data:
            req = self._req
            if not req.complete:
                req.error = ClientDisconnected("client closed the connection mid-body")
                req.complete = True
            return
        self.proto.feed(data)

    def _gone(self, req: Request) -> bool:
        """Has the client of a connection that waited in the accept queue left?  Then its
        request is not run: logged as 499 (docs/http.md, "Clients that left")."""
        poller = select.poll()
        # The fd, not the socket: register() would call its fileno() through the method machinery.
        poller.register(self.sock.fileno(), select.POLLRDHUP)
        if not poller.poll(0):
            return False
        access = self.host.access
        if access is not None:
            access.request(self.names.remote_addr, req, 499, 0, self._t0)
        return True

    # -- answering ----------------------------------------------------------
    def send(self, head: bytes, body: bytes = b"") -> None:
        """``head`` then ``body`` (either may be empty), in one system call when it can; every
        send but sendfile's goes through here, where a failure becomes ClientDisconnected."""
        sock = self.sock
        try:
            if len(body) < SMALL or not head:
                sock.sendall(head + body)
            else:
                sent = sock.sendmsg((head, body))  # two buffers, one syscall, no copy
                if sent < len(head) + len(body):
                    sock.sendall((head + body)[sent:])  # rare: the socket buffer was full
        except OSError as e:
            raise ClientDisconnected(f"write failed: {e}") from e

    def sendfile(self, head: bytes, fd: int, offset: int, count: int) -> int:
        """``head``, then ``count`` bytes of a regular file; returns the file bytes sent
        (fewer if the file shrank under us)."""
        sock = self.sock
        done = 0
        try:
            # Corked: the head leaves with the file's first bytes (not when nothing follows).
            sock.sendall(head, socket.MSG_MORE if count else 0)
            out = sock.fileno()
            while done < count:
                sent = os.sendfile(out, fd, offset + done, count - done)
                if sent == 0:
                    break  # the file shrank
                done += sent
        except OSError as e:
            raise ClientDisconnected(f"sendfile failed: {e}") from e
        return done

    def _refuse(
        self, status: int, req: Request | None = None, remote: str | None = None, why: str = ""
    ) -> None:
        """Answer a request we will not pass to the app, then the connection closes.  ``req``
        and ``remote`` (REMOTE_ADDR as the app left it) are for the logs; ``why`` defaults to
        the request's error.  One info line says who was refused and why (never the headers)."""
        if not why and req is not None and req.error is not None:
            why = str(req.error)
        answer = error_answer(status, why)
        self._linger = req is None or req.error is not None or not req.complete
        sent = 0
        try:
            self.send(answer)
            sent = len(answer) - answer.index(b"\r\n\r\n") - 4
        except ClientDisconnected:
            pass
        peer = self.names.remote_addr if remote is None else remote
        if status != 500:  # an app's error was logged with its traceback
            line = ""
            if req is not None and req.method:
                target = req.target[:200].decode("latin-1") + ("..." if len(req.target) > 200 else "")
                line = f' "{quote(f"{req.method} {target} HTTP/{req.version}")}"'
            info(f"refused {peer}: {status} {why or REASONS.get(status, '')}{line}")
        access = self.host.access
        if access is not None:
            access.request(peer, req, status, sent, self._t0)

    def _keep_alive(self, resp: Response) -> bool:
        """Asked once by Response.head (docs/design.md, "Keep-alive"); ``served`` counts this request."""
        if not self._req.keep_alive or not resp.delimited or self.served >= self.limit or self.host.stopping:
            return False
        # Not while connections wait in the accept queue (the master's flag): this worker
        # is needed there, and a `Connection: close` races no client, unlike a SHED.
        slot = scoreboard.slot
        return slot is None or not slot.crowded()

    def write(self, data: bytes) -> None:
        """The app's ``write()``, and how the server sends each block the app yields."""
        head, body = self._resp.piece(data)
        if head or body:
            self.send(head, body)

    def _handle(self, req: Request, base: dict[str, Any]) -> bool:
        """Run the app for ``req`` and send its response; True to keep the connection."""
        self._req = req
        self._waited, self._got = 0.0, 0
        # A reference cycle (the response holds our bound methods) until `del self._resp`.
        self._resp = resp = Response(req, self.write, self._keep_alive)
        if req.expect is not None:  # 100-continue: the protocol refused any other (417)
            # Sent lazily, at the app's first read: an app that refuses saves the upload.
            self._continue = not req.complete and req.version == "1.1"
        inp = Input(req, self.pull)
        env = self.host.build(base, req, self.names, inp)
        result: Any = None
        slot = scoreboard.mine  # None unless --request-timeout or --stats
        if slot is not None:
            slot.begin(req.method, req.target, req.version)
        try:
            result = self.host.app(env, resp.start_response)
            if req.error is not None and req.error.status == 413 and not resp.head_sent:
                raise req.error  # the body was refused: 413, whatever the app made of it
            sent = resp.head_sent  # the app called write(): the iterable's items follow
            if not sent and type(result) in (list, tuple) and len(result) == 1 and type(result[0]) is bytes:
                head, body = resp.whole(result[0])  # nothing is owed after it: no finish()
                self.send(head, body)
            else:
                if not sent and type(result) is FileWrapper and (spec := result.sendable()):
                    fd, offset, count = spec
                    head = resp.head(count)
                    want = resp.take(count)
                    resp.sent = self.sendfile(head, fd, offset, want)
                    if resp.sent < want:
                        resp.intact = False  # the file shrank: the Content-Length is not met
                else:
                    for data in result:
                        self.write(data)
                tail = resp.finish()
                if tail:
                    self.send(tail)
        except ClientDisconnected as e:
            if not resp.head_sent:
                self._refuse(e.status, req, env.get("REMOTE_ADDR", ""))
            return False
        except Exception:
            log_exc(f"error in app for {req.request_line!r}")
            if not resp.head_sent:
                self._refuse(500, req, env.get("REMOTE_ADDR", ""))
            return False
        finally:
            self._continue = False
            del self._resp
            close: Callable[[], Any] | None = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log_exc(f"error in close() for {req.request_line!r}")
                    resp.intact = False
            if slot is not None:
                slot.end()
            access = self.host.access
            if access is not None and resp.head_sent:  # else _refuse logged the answer
                access.request(env.get("REMOTE_ADDR", ""), req, resp.code, resp.sent, self._t0)
        # Decided with the head (resp.keep), unless the exchange broke or left too much body.
        if resp.keep and resp.intact:
            if req.complete and not req.body:
                return req.error is None
            # Not after `Expect: 100-continue`: the client may be waiting for a 100 we never sent.
            if req.expect is None and inp.drain(DRAIN_LIMIT):
                return True
        self._linger = not req.complete
        return False
