"""A worker: after-fork setup, the accept loop, recycling and the stop flag (stopping:
docs/design.md, "Signals and stopping")."""

from __future__ import annotations

import errno
import gc
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import scoreboard
from .accesslog import AccessLog
from .config import Config
from .connection import Connection
from .fork import SHED, STOP_SIGNALS, Handler
from .listeners import Listener, peer_names, set_timeouts
from .log import log, log_exc
from .response import error_answer
from .scoreboard import FREE
from .wsgi import builder, template

if TYPE_CHECKING:
    import random

# accept() errors that concern one connection, not the listener (accept(2), "Error handling").
_TRANSIENT = {errno.ECONNABORTED, errno.EAGAIN, errno.EPROTO, errno.ENETDOWN, errno.ENOPROTOOPT,
              errno.EHOSTDOWN, errno.ENONET, errno.EHOSTUNREACH, errno.EOPNOTSUPP,
              errno.ENETUNREACH, errno.EINTR}  # fmt: skip
_NOFD = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
# An accept() that returns faster than this did not wait: the connection waited in the queue,
# and its client may have left meanwhile (Connection.serve checks before the app runs).
QUEUED = 0.0002
STOP_GRACE = 0.5  # seconds a stopping worker still waits for a request on an idle connection


def recycle_limit(config: Config, rng: random.Random | None = None) -> int:
    """Requests a worker serves before it is replaced (0: never); with --min-reqs-per-child,
    drawn uniformly from [min, max], so a pool started together does not recycle at once."""
    high, low = config.max_reqs_per_child, config.min_reqs_per_child
    if not high or low is None:
        return high
    # Only now: the master never imports random.  Seeded from os.urandom: each fork's own.
    import random

    return (rng or random.Random()).randint(low, high)


class Worker:
    """Serves connections from ``listeners`` until stopped or recycled."""

    def __init__(
        self,
        app: Callable[..., Any],
        config: Config,
        listeners: list[Listener],
        child_exit: Callable[[], Any] | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.listeners = listeners
        self.child_exit = child_exit
        self.stopping = False
        self._idle: Connection | None = None  # a kept-alive connection between requests
        self.requests = 0
        self.limit = 0  # requests before recycling; 0 = never
        self.access: AccessLog | None = None  # --access-log, opened after the fork
        self.build = builder(config.forwarded_allow_ips)  # believes trusted proxies, if any
        self.base = template()  # every environ starts as a copy (made here: in the master)

    def count_request(self) -> None:
        """Called as each request starts; reaching the limit ends this worker's life."""
        self.requests += 1
        if self.limit and self.requests >= self.limit:
            self.stopping = True
            scoreboard.leaving(scoreboard.RECYCLED)

    def idle(self, conn: Connection | None) -> None:
        """``conn`` now waits for its next request (None: no longer); see _end_wait."""
        self._idle = conn
        slot = scoreboard.slot
        if slot is not None:
            slot.idle(conn is not None)
        if conn is not None and self.stopping:
            self._end_wait(conn, True)

    def _end_wait(self, conn: Connection, stop: bool) -> None:
        """No more requests on the idle ``conn`` but one arriving: a stop waits STOP_GRACE for it
        (recv() retried under the new SO_RCVTIMEO), a SHED's shutdown wakes recv() at once."""
        conn.limit = 0
        with suppress(OSError):
            if stop:
                set_timeouts(conn.sock, self.config.timeout, STOP_GRACE)
            else:
                conn.sock.shutdown(socket.SHUT_RD)

    def _on_shed(self, signum: int, frame: FrameType | None) -> None:
        if self._idle is not None:  # see master.Master._shed
            self._end_wait(self._idle, False)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        # Refuse new connections at once, and end a blocked accept() with EBADF: a
        # connection already accepted is still served.  A supervisor's copy keeps the port.
        for lst in self.listeners:
            lst.sock.close()
        if self._idle is not None:
            self._end_wait(self._idle, True)

    def handlers(self) -> list[tuple[int, Handler]]:
        """Its signal handlers (USR2 is fork.DUMP's): a forked worker inherits them."""
        return [*((sig, self._on_stop) for sig in STOP_SIGNALS), (SHED, self._on_shed)]

    def run(self, forked: bool = True) -> None:
        """Signals, the access log, the recycle limit; serve until ``stopping``; the child-exit hook."""
        if not forked:  # alone: HUP and USR1 are a master's, ignored here
            for sig, handler in self.handlers():
                signal.signal(sig, handler)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        path = self.config.access_log
        if path:
            # Line-buffered O_APPEND: each line is one write(), whole even with many workers.
            stream = sys.stderr if path == "-" else open(path, "a", buffering=1)
            self.access = AccessLog(stream, self.config.access_log_format)
        if self.config.max_worker_rss:
            self.app = self._watch_rss(self.app)
        gc.enable()  # cli.main disabled it for the master (copy-on-write friendly forks)
        if forked:
            self.limit = recycle_limit(self.config)
        try:
            self._accept(self.base)
        finally:
            if self.child_exit is not None:
                try:
                    self.child_exit()
                except Exception:
                    log_exc("error in --child-exit hook")

    def _watch_rss(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """``app``, then a pread of /proc/self/statm (docs/design.md): over --max-worker-rss,
        ``stopping`` (`Connection: close`); the worker exits 0, replaced at once."""
        fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        page = os.sysconf("SC_PAGE_SIZE")
        limit = self.config.max_worker_rss << 20

        def app_watched(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            result = app(environ, start_response)
            if not self.stopping:
                rss = int(os.pread(fd, 64, 0).split()[1]) * page  # statm: size resident ...
                if rss > limit:
                    log(f"worker {os.getpid()}: resident memory {rss / 1048576:.1f} MiB is over "
                        f"--max-worker-rss {limit >> 20} MiB; exiting after this request")  # fmt: skip
                    self.stopping = True
                    scoreboard.leaving(scoreboard.RSS)
            return result

        return app_watched

    def _accept(self, base: dict[str, Any]) -> None:
        lst = self.listeners[0]
        # socket.accept() wraps the new fd through enum-typed properties: plain ints save
        # that on every connection (docs/design.md, "Private interpreter APIs").
        accept, family, kind = lst.sock._accept, lst.family, lst.kind  # type: ignore[attr-defined]
        ready = self._ready() if len(self.listeners) > 1 else None
        new, clock, slot = socket.socket, time.monotonic, scoreboard.slot
        while not self.stopping:
            try:
                if slot is not None:
                    slot.idle(FREE)  # the master's _shed: a free worker will take what waits
                t = clock()
                if ready is not None:  # several listeners: the next one poll() found ready
                    got = next(ready, None)
                    if got is None:
                        continue  # a signal: see ``stopping``
                    lst = got
                    accept, family, kind = lst.sock._accept, lst.family, lst.kind  # type: ignore[attr-defined]
                fd, addr = accept()
                queued = clock() - t < QUEUED
                if slot is not None:
                    slot.idle(0)
                conn = new(family, kind, 0, fd)
            except OSError as e:
                if self.stopping:
                    break
                if e.errno in _NOFD:
                    log(f"accept failed ({e.strerror}); pausing a moment")
                    select.select([], [], [], 0.5)  # back off instead of spinning on a full fd table
                elif e.errno not in _TRANSIENT:
                    raise
                continue
            try:
                if lst.is_unix:  # TCP connections inherit these from the listener (listeners.tune)
                    set_timeouts(conn, self.config.timeout, self.config.keepalive_timeout)
                Connection(conn, peer_names(conn, addr, lst), self, queued).serve(base)
            except Exception:
                # A bug of ours: log it, lose this connection (a 500 if we can, and closed, so
                # that the client never hangs), keep the worker.
                log_exc("internal error serving a connection")
                with suppress(OSError):
                    conn.send(error_answer(500), socket.MSG_DONTWAIT)
                conn.close()

    def _ready(self) -> Iterator[Listener | None]:
        """Each listener poll() finds ready, in turn; None when a signal woke it up.  They are
        non-blocking (listeners.tune): whoever loses the race for a connection gets EAGAIN."""
        # A byte lands in ``wake`` on every signal: poll() wakes up (set first: see fd < 0).
        wake, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        poller = select.poll()
        by_fd: dict[int, Listener | None] = {wake: None}
        for lst in self.listeners:
            fd = lst.sock.fileno()  # read once: the stop handler may close it at any time
            if fd < 0:
                return  # stopped already
            poller.register(fd, select.POLLIN)
            by_fd[fd] = lst
        poller.register(wake, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd == wake:
                    with suppress(BlockingIOError):
                        os.read(fd, 512)
                yield by_fd[fd]
