"""--stats: GET /metrics, /status and /ready, served by the master from its own select()
(docs/design.md, "Stats"): non-blocking sockets, never a worker's time."""

from __future__ import annotations

import json
import socket
import time
from typing import Any, Protocol

from .config import Config, parse_address
from .errors import ConfigError
from .listeners import Listener, accept_queue, bind, close_all, hostport
from .log import log
from .metrics import PROMETHEUS, REASONS, exit_reason, metrics_text, request_of
from .pool import Pool, Proc
from .scoreboard import Board

DEADLINE = 1.0  # seconds a client has for its request and our answer (noticed on the master's tick)
MAX_HEAD = 8192  # bytes of request head we read at most
MAX_CLIENTS = 16  # at once; more wait in the stats socket's accept queue


class MasterView(Protocol):
    """What the stats read of master.Master (a Protocol: no import of master here)."""

    config: Config
    listeners: list[Listener]
    pool: Pool
    board: Board | None
    ready_due: bool


def answer(
    status: str, body: bytes, head_only: bool = False, ctype: str = "text/plain", extra: str = ""
) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra}"
    head += "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    return head.encode("ascii") + (b"" if head_only else body)


class Client:
    __slots__ = ("sock", "data", "out", "deadline")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.data, self.out, self.deadline = sock, b"", b"", deadline


class Stats:
    """The stats socket, its clients, and the counters that outlive the workers."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        listener.sock.setblocking(False)
        self.clients: dict[int, Client] = {}
        self.requests = 0.0  # of reaped workers; the live ones' are in their slots
        self.busy = 0.0
        self.busy_shown = 0.0  # a counter never goes down (see snapshot)
        self.exits = dict.fromkeys(REASONS, 0)
        self.whole = False  # the pool was whole once: ready (until a stop)
        self.started = time.time()
        self.paused = 0.0  # accept() failed (out of fds): the socket is not watched until then

    # -- the master's hooks ------------------------------------------------------
    def fds(self) -> tuple[list[int], list[int]]:
        """What select() should watch for us: (readable, writable)."""
        reads = [fd for fd, c in self.clients.items() if not c.out]
        if len(self.clients) < MAX_CLIENTS and time.monotonic() >= self.paused:
            reads.append(self.listener.sock.fileno())
        return reads, [fd for fd, c in self.clients.items() if c.out]

    def handle(self, ready: list[Any], writable: list[Any], master: MasterView) -> list[Any]:
        """Serve our clients that select() found ready, drop the late ones; return the
        rest of ``ready`` (the master's own)."""
        now = time.monotonic()
        own = self.listener.sock.fileno()
        self.whole = self.whole or not master.ready_due
        for fd in writable:
            self._send(self.clients[fd])
        for fd in ready:
            if fd == own:
                self._accept(now)
            elif fd in self.clients:
                self._read(self.clients[fd], master)
        for client in [c for c in self.clients.values() if c.deadline < now]:
            self._drop(client)
        return [fd for fd in ready if fd != own and fd not in self.clients]

    def reaped(self, proc: Proc, status: int, board: Board | None) -> None:
        """A worker is gone: keep its counts (before its slot is cleared) and why it left."""
        why = 0
        if board is not None and proc.slot >= 0:
            i = proc.slot
            self.requests += board.seq(i)
            start = board.started(i)  # killed inside a request: that time was busy too
            self.busy += board.busy(i) + (time.monotonic() - start if start else 0.0)
            why = board.why(i)
        self.exits[exit_reason(proc, status, why)] += 1

    def inherited(self) -> list[int]:
        """Our fds, for a new worker to close: it must not keep a client waiting."""
        return [self.listener.sock.fileno(), *self.clients]

    def close(self) -> None:
        for client in list(self.clients.values()):
            self._drop(client)
        close_all([self.listener])

    # -- the exchange -------------------------------------------------------------
    def _accept(self, now: float) -> None:
        try:
            sock, _ = self.listener.sock.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return  # gone before we took it
        except OSError:  # out of fds, say: the connection stays queued, and select() must not spin
            self.paused = now + DEADLINE
            return
        sock.setblocking(False)
        self.clients[sock.fileno()] = Client(sock, now + DEADLINE)

    def _read(self, client: Client, master: MasterView) -> None:
        try:
            data = client.sock.recv(MAX_HEAD)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        client.data += data
        if b"\r\n\r\n" in client.data or b"\n\n" in client.data:
            client.out = self.respond(client.data.partition(b"\n")[0], master)
        elif len(client.data) >= MAX_HEAD:
            client.out = answer("431 Request Header Fields Too Large", b"head too large\n")
        if client.out:
            self._send(client)

    def _send(self, client: Client) -> None:
        try:
            sent = client.sock.send(client.out)
        except BlockingIOError:
            return
        except OSError:
            sent = len(client.out)
        client.out = client.out[sent:]
        if not client.out:
            self._drop(client)

    def _drop(self, client: Client) -> None:
        self.clients.pop(client.sock.fileno(), None)
        client.sock.close()

    def respond(self, line: bytes, master: MasterView) -> bytes:
        """The answer to one request line."""
        parts = line.rstrip(b"\r").decode("latin-1").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return answer("400 Bad Request", b"bad request line\n")
        method, path = request_of(" ".join(parts[:2]))
        if method not in ("GET", "HEAD"):
            return answer("405 Method Not Allowed", b"GET or HEAD only\n", extra="Allow: GET, HEAD\r\n")
        head_only = method == "HEAD"
        if path == "/ready":
            if self.ready(master):
                return answer("200 OK", b"ready\n", head_only)
            return answer("503 Service Unavailable", b"not ready\n", head_only)
        if path == "/metrics":
            return answer("200 OK", metrics_text(self.snapshot(master)).encode(), head_only, PROMETHEUS)
        if path == "/status":
            body = json.dumps(self.snapshot(master, True), indent=1).encode() + b"\n"
            return answer("200 OK", body, head_only, "application/json")
        return answer("404 Not Found", b"/metrics, /status or /ready\n", head_only)

    def ready(self, master: MasterView) -> bool:
        return self.whole and not (master.pool.stopping or master.pool.retiring)

    # -- the figures ----------------------------------------------------------------
    def snapshot(self, master: MasterView, each: bool = False) -> dict[str, Any]:
        """Everything /metrics and /status show; ``each``: one entry per worker too."""
        board, now = master.board, time.monotonic()
        requests, busy, count, workers = self.requests, self.busy, 0, []
        for pid, proc in master.pool.items():
            if board is None or proc.slot < 0:
                workers.append({"pid": pid, "state": "unknown"})
                continue
            i = proc.slot
            done = board.busy(i)  # before the start: see scoreboard.Slot.end
            seen, seq = board.read(i), board.seq(i)
            requests += seq
            busy += done + (now - seen[0] if seen else 0.0)
            count += seen is not None
            leaving = proc.generation != master.pool.generation or proc.told is not None
            entry: dict[str, Any] = {"pid": pid, "state": "busy" if seen else "idle", "requests": int(seq)}
            entry |= {"kept_alive": board.idle(i), "leaving": leaving}
            if seen:
                method, path = request_of(seen[1])
                entry |= {"method": method, "path": path, "seconds": round(now - seen[0], 6)}
            workers.append(entry)
        self.busy_shown = max(self.busy_shown, busy)  # a read racing a slot's end() may be short
        queues = {}
        for lst in master.listeners:
            if not lst.is_unix and lst.sock.fileno() >= 0:
                queued, backlog = accept_queue(lst.sock)
                queues[hostport(*lst.sock.getsockname()[:2])] = {"queued": queued, "max": backlog}
        snap = {
            "workers": {"busy": count, "idle": len(master.pool) - count, "max": master.config.max_workers},
            "requests_total": int(requests),
            "busy_seconds_total": round(self.busy_shown, 6),
            "listen_queue": queues,
            "worker_exits_total": dict(self.exits),
            "reloads_total": master.pool.generation,
            "start_time_seconds": round(self.started, 3),
            "ready": self.ready(master),
        }
        if each:
            snap["pool"] = workers
        return snap


def open_stats(config: Config, stats: str, gid: int) -> Stats:
    """Bind --stats before anything forks; a unix socket is 0600 unless --socket-mode or
    --socket-group say."""
    if config.max_workers == 0:
        raise ConfigError("--stats is served by the master: it needs --max-workers 1 or more")
    try:
        addr = parse_address(stats)
    except ConfigError as e:
        raise ConfigError(str(e).replace("--listen", "--stats", 1)) from None
    if addr.kind == "fd":
        raise ConfigError(f"bad --stats {stats!r}: HOST:PORT or a unix socket path")
    asked = config.socket_group is not None or config.socket_mode != 0o660
    try:
        listener = bind(addr, False, config.socket_mode if asked else 0o600, gid)
    except ConfigError as e:
        raise ConfigError(f"--stats: {e}") from None
    log(f"serving --stats (/metrics, /status, /ready) on {listener.describe()}")
    return Stats(listener)
