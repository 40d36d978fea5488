"""--stats: /metrics (Prometheus's text format 0.0.4), /status and /ready, served by the master
from its own select() (docs/design.md, "Stats"): non-blocking sockets, never a worker's time."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Mapping
from typing import Any, Protocol

from .config import Config, parse_address
from .errors import ConfigError
from .listeners import Listener, accept_queue, bind, close_all, hostport
from .log import log
from .pool import Pool, Proc
from .scoreboard import IDLE, RECYCLED, RSS, Board

DEADLINE = 1.0  # seconds a client has for its request and our answer (noticed on the master's tick)
MAX_HEAD = 8192  # bytes of request head we read at most
MAX_CLIENTS = 16  # at once; more wait in the stats socket's accept queue
REASONS = ("recycled", "rss", "request_timeout", "graceful_timeout", "crashed", "stopped")
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
FAMILIES = {  # name: (type, help), in the order shown
    "workers": (
        "gauge",
        "Workers inside a request (busy), free for one (idle), or done and on their way out (leaving).",
    ),
    "workers_max": ("gauge", "The configured pool size (--max-workers)."),
    "requests_total": ("counter", "Requests that reached the app, over the pool's life."),
    "busy_seconds_total": ("counter", "Seconds workers spent inside requests, summed."),
    "listen_queue": ("gauge", "Connections accepted by the kernel that no worker has taken yet."),
    "listen_queue_max": ("gauge", "The listener's backlog."),
    "worker_exits_total": ("counter", "Workers that exited, by reason."),
    "reloads_total": ("counter", "Reloads (HUP)."),
    "start_time_seconds": ("gauge", "When the master started, in seconds since the epoch."),
}


class MasterView(Protocol):
    """What the stats read of master.Master (a Protocol: no import of master here)."""

    listeners: list[Listener]
    pool: Pool
    board: Board | None
    ready_due: bool


def exit_reason(proc: Proc, code: int, why: int) -> str:
    """Why a reaped worker exited (``code``: os.waitstatus_to_exitcode's; ``why``: its slot's)."""
    if proc.killed:
        return "request_timeout" if proc.seq is not None else "graceful_timeout"
    if code:
        return "crashed"
    return "recycled" if why == RECYCLED else "rss" if why == RSS else "stopped"


def request_of(line: str) -> tuple[str, str]:
    """(method, path) of a request line; the query string (where tokens live) left out."""
    method, _, rest = line.partition(" ")
    return method, rest.partition(" ")[0].partition("?")[0].partition("#")[0]


def metrics_text(snap: Mapping[str, Any]) -> str:
    """``snap`` (Stats.snapshot) in Prometheus's text format."""
    w, queues = snap["workers"], snap["listen_queue"]
    quoted = {k: k.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for k in queues}
    samples = {name: [("", snap[name])] for name in FAMILIES if name in snap} | {
        "workers": [(f'{{state="{state}"}}', w[state]) for state in ("busy", "idle", "leaving")],
        "workers_max": [("", w["max"])],
        "listen_queue": [(f'{{listener="{quoted[k]}"}}', v["queued"]) for k, v in queues.items()],
        "listen_queue_max": [(f'{{listener="{quoted[k]}"}}', v["max"]) for k, v in queues.items()],
        "worker_exits_total": [(f'{{reason="{k}"}}', v) for k, v in snap["worker_exits_total"].items()],
    }
    out = []
    for name, (kind, text) in FAMILIES.items():
        out.append(f"# HELP starlet_py_{name} {text}\n# TYPE starlet_py_{name} {kind}\n")
        out += [f"starlet_py_{name}{labels} {value!r}\n" for labels, value in samples[name]]
    return "".join(out)


def answer(status: str, body: bytes, head: bool = False, ctype: str = "text/plain", extra: str = "") -> bytes:
    text = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra}"
    text += "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    return text.encode("ascii") + (b"" if head else body)  # HEAD: the body's length, no body


class Client:
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

    def fds(self) -> tuple[list[int], list[int]]:
        """What select() should watch for us: (readable, writable)."""
        reads = [fd for fd, c in self.clients.items() if not c.out]
        if len(self.clients) < MAX_CLIENTS and time.monotonic() >= self.paused:
            reads.append(self.listener.sock.fileno())
        return reads, [fd for fd, c in self.clients.items() if c.out]

    def handle(self, ready: list[Any], writable: list[Any], master: MasterView) -> list[Any]:
        """Serve our clients select() found ready, drop the late ones; return the master's fds."""
        now = time.monotonic()
        own = self.listener.sock.fileno()
        self.whole = self.whole or not master.ready_due
        for fd in [*writable, *ready]:
            if fd == own:
                try:
                    sock, _ = self.listener.sock.accept()
                except (BlockingIOError, ConnectionAbortedError):
                    continue  # gone before we took it
                except OSError:  # out of fds, say: it stays queued, and select() must not spin
                    self.paused = now + DEADLINE
                    continue
                sock.setblocking(False)
                self.clients[sock.fileno()] = Client(sock, now + DEADLINE)
            elif fd in self.clients:
                self._serve(self.clients[fd], master)
        for client in [c for c in self.clients.values() if c.deadline < now]:
            self._drop(client)
        return [fd for fd in ready if fd != own and fd not in self.clients]

    def reaped(self, proc: Proc, code: int, board: Board | None) -> None:
        """A worker is gone: keep its counts and why it left."""
        why = 0
        if board is not None and proc.slot >= 0:
            self.requests += board.seq(proc.slot)
            start = board.started(proc.slot)  # killed inside a request: that time was busy too
            self.busy += board.busy(proc.slot) + (time.monotonic() - start if start else 0.0)
            why = board.why(proc.slot)
        self.exits[exit_reason(proc, code, why)] += 1

    def inherited(self) -> list[int]:
        """Our fds, for a new worker to close: it must not keep a client waiting."""
        return [self.listener.sock.fileno(), *self.clients]

    def close(self) -> None:
        for client in list(self.clients.values()):
            self._drop(client)
        close_all([self.listener])

    def _serve(self, client: Client, master: MasterView) -> None:
        """Read more of a ready client's head, or send more of our answer; drop it once done."""
        try:
            if not client.out:
                data = client.sock.recv(MAX_HEAD)
                client.data += data
                if b"\r\n\r\n" in client.data or b"\n\n" in client.data:
                    client.out = self.respond(client.data.partition(b"\n")[0], master)
                elif len(client.data) >= MAX_HEAD:
                    client.out = answer("431 Request Header Fields Too Large", b"head too large\n")
                elif data:
                    return  # the rest of the head is yet to come
            if client.out:
                client.out = client.out[client.sock.send(client.out) :]
        except BlockingIOError:
            return
        except OSError:
            client.out = b""
        if not client.out:
            self._drop(client)  # answered, or gone

    def _drop(self, client: Client) -> None:
        self.clients.pop(client.sock.fileno(), None)
        client.sock.close()

    def respond(self, line: bytes, master: MasterView) -> bytes:
        text = line.rstrip(b"\r").decode("latin-1")
        parts = text.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return answer("400 Bad Request", b"bad request line\n")
        method, path = request_of(text)
        if method not in ("GET", "HEAD"):
            return answer("405 Method Not Allowed", b"GET or HEAD only\n", extra="Allow: GET, HEAD\r\n")
        status, ctype = "200 OK", "text/plain"
        if path == "/ready":
            ready = self.ready(master)
            status, body = ("200 OK", b"ready\n") if ready else ("503 Service Unavailable", b"not ready\n")
        elif path == "/metrics":
            body, ctype = metrics_text(self.snapshot(master)).encode(), PROMETHEUS
        elif path == "/status":
            body, ctype = json.dumps(self.snapshot(master), indent=1).encode() + b"\n", "application/json"
        else:
            status, body = "404 Not Found", b"/metrics, /status or /ready\n"
        return answer(status, body, method == "HEAD", ctype)

    def ready(self, master: MasterView) -> bool:
        return self.whole and not (master.pool.stopping or master.pool.retiring)

    def snapshot(self, master: MasterView) -> dict[str, Any]:
        """Everything /metrics and /status show."""
        board, now = master.board, time.monotonic()
        requests, busy, workers = self.requests, self.busy, []
        count = {"busy": 0, "idle": 0, "leaving": 0}
        for pid, proc in master.pool.items():
            if board is None or proc.slot < 0:
                workers.append({"pid": pid, "state": "unknown"})
                continue
            done = board.busy(proc.slot)  # before the start: see scoreboard.Slot.end
            seen, seq = board.read(proc.slot), board.seq(proc.slot)
            requests += seq
            busy += done + (now - seen[0] if seen else 0.0)
            leaving = proc.generation != master.pool.generation or proc.told is not None
            state = "busy" if seen else "leaving" if leaving else "idle"
            count[state] += 1
            entry: dict[str, Any] = {"pid": pid, "state": state, "requests": int(seq)}
            entry |= {"kept_alive": board.idle(proc.slot) == IDLE, "leaving": leaving}
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
        return {
            "workers": count | {"max": master.pool.size},
            "requests_total": int(requests),
            "busy_seconds_total": round(self.busy_shown, 6),
            "listen_queue": queues,
            "worker_exits_total": dict(self.exits),
            "reloads_total": master.pool.generation,
            "start_time_seconds": round(self.started, 3),
            "ready": self.ready(master),
            "pool": workers,
        }


def open_stats(config: Config, stats: str, gid: int) -> Stats:
    """Bind --stats before anything forks (a unix socket 0600 unless --socket-mode/-group say)."""
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
