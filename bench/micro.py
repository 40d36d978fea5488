#!/usr/bin/env python3
"""Micro-benchmark of starlet-py's request path, without the network.

    python3 bench/micro.py            # about 15 s
    python3 bench/micro.py --quick    # about 1 s
    python3 bench/micro.py --cpu      # this process's CPU time, not wall time (a busy machine)

Feeds a request to ``starlet_py.protocol.Protocol``, builds its environ with
``starlet_py.wsgi.build``, calls the hello app of bench/apps/hello.py, and
produces the response with ``starlet_py.response``: the head alone through the
pure functions, and through a ``Response`` whose bytes ``Connection.send`` sends to a
socketpair, as ``Connection`` does.  Each
stage is timed on its own with ``time.perf_counter`` loops, then the whole path
in one loop ("total"), then ``Connection.serve`` answering one request on a
fresh socketpair (the worker's per-connection path minus accept and TCP).

Two requests: ``wrk`` (what wrk sends: request line and Host) and ``proxied``
(a browser's request as nginx passes it on to a keep-alive upstream: nine
header fields, a query).
Figures are µs per request: the median over --repeats runs of --number
iterations each, and the best run.  Socket reads that only empty the
socketpair are not timed.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import platform
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # the working tree's starlet_py

from starlet_py import response as resp  # noqa: E402
from starlet_py import scoreboard  # noqa: E402
from starlet_py.config import Config  # noqa: E402
from starlet_py.connection import Connection  # noqa: E402
from starlet_py.listeners import Listener, PeerNames  # noqa: E402
from starlet_py.protocol import Protocol, Request  # noqa: E402
from starlet_py.worker import Worker  # noqa: E402
from starlet_py.wsgi import Input, build, template  # noqa: E402

REQUESTS = {
    "wrk": b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    "proxied": (
        b"GET /hello?name=world&page=2 HTTP/1.1\r\n"
        b"Host: www.example.com\r\n"
        b"X-Real-IP: 203.0.113.7\r\n"
        b"X-Forwarded-For: 203.0.113.7\r\n"
        b"X-Forwarded-Proto: https\r\n"
        b"X-Request-ID: 7f9c2a4e-1b3d-4c5e-9f60-718293a4b5c6\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
        b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        b"Accept-Language: en-US,en;q=0.5\r\n"
        b"Accept-Encoding: gzip, deflate, br\r\n"
        b"\r\n"
    ),
}


def load_app() -> Callable[..., Any]:
    """bench/apps/hello.py's ``application``, the app the servers serve in bench/run.py."""
    spec = importlib.util.spec_from_file_location("bench_hello", BENCH / "apps" / "hello.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.application  # type: ignore[no-any-return]


application = load_app()
NAMES = PeerNames("203.0.113.7", "51234", "127.0.0.1", "8080")  # what accept() and the listener say
BATCH = 256  # sends between two (untimed) reads that empty the socketpair
Stage = Callable[[int], float]  # runs n iterations, returns the seconds that count


def no_pull() -> None:
    raise AssertionError("a GET has no body to pull")


def no_write(data: bytes) -> None:
    raise AssertionError("the hello app does not call write()")


def null_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def socketpair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    for s in (a, b):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return a, b


def drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(1 << 20):
            pass
    except BlockingIOError:
        pass


CLOCK = [time.perf_counter]  # --cpu: time.process_time


def stages(raw: bytes, listener: Listener, base: dict[str, Any]) -> dict[str, Stage]:
    """The stages of one request, each a timed loop."""
    proto = Protocol()
    proto.feed(raw)
    req: Request = proto.queue.popleft()
    env = build(base, req, NAMES, Input(req, no_pull))
    headers = [("Content-Type", "text/plain"), ("Content-Length", "13")]
    server, client = socketpair()
    worker = Worker(application, Config(app="hello:application"), [listener])
    out = Connection(server, NAMES, worker)  # its send(), and its keep-alive decision
    out._req, out.served, out.limit = req, 1, 100
    decide = out._keep_alive
    perf = CLOCK[0]

    def respond(r: resp.Response, result: list[bytes]) -> None:
        """What Connection._handle does with a one-item list (its common case)."""
        head, body = r.whole(result[0])
        out.send(head, body)

    def parse(n: int) -> float:
        p = Protocol()
        feed, queue = p.feed, p.queue
        t0 = perf()
        for _ in range(n):
            feed(raw)
            queue.popleft()
        return perf() - t0

    def parse_new(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            p = Protocol()
            p.feed(raw)
            p.queue.popleft()
        return perf() - t0

    def environ(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            build(base, req, NAMES, Input(req, no_pull))
        return perf() - t0

    def app(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            application(env, null_start_response)
        return perf() - t0

    def head(n: int) -> float:
        cache, parse_status, check_headers = resp.status_cache, resp.parse_status, resp.check_headers
        t0 = perf()
        for _ in range(n):
            lines, length = check_headers(headers)  # with our Date and Server lines
            b"".join(((cache.get("200 OK") or parse_status("200 OK"))[0], lines, b"\r\n"))
        return perf() - t0

    def exchange(n: int) -> float:
        total = 0.0
        for done in range(0, n, BATCH):
            t0 = perf()
            for _ in range(min(BATCH, n - done)):
                r = resp.Response(req, no_write, decide)
                r.start_response("200 OK", headers)
                respond(r, [b"Hello, World!"])
            total += perf() - t0
            drain(client)
        return total

    def whole(n: int) -> float:
        total = 0.0
        p = Protocol()
        feed, queue = p.feed, p.queue
        for done in range(0, n, BATCH):
            t0 = perf()
            for _ in range(min(BATCH, n - done)):
                feed(raw)
                q = queue.popleft()
                r = resp.Response(q, no_write, decide)
                respond(r, application(build(base, q, NAMES, Input(q, no_pull)), r.start_response))
            total += perf() - t0
            drain(client)
        return total

    def serve(n: int) -> float:
        total = 0.0
        for _ in range(n):
            a, b = socket.socketpair()
            b.sendall(raw)
            t0 = perf()
            Connection(a, NAMES, worker).serve(base)
            total += perf() - t0
            b.recv(65536)
            b.close()
        return total

    def slot(n: int) -> float:
        """What --stats adds to a request: the worker's stores into its scoreboard slot."""
        own = scoreboard.Slot(scoreboard.Board(1), 0)
        method, target, version = req.method, req.target, req.version
        t0 = perf()
        for _ in range(n):
            own.begin(method, target, version)
            own.end()
        return perf() - t0

    def serve_stats(n: int) -> float:
        scoreboard.mine = scoreboard.Slot(scoreboard.Board(1), 0)  # as a worker has it with --stats
        try:
            return serve(n)
        finally:
            scoreboard.mine = None

    return {
        "parse (one Protocol per connection)": parse,
        "parse (a new Protocol per request)": parse_new,
        "environ (wsgi.build + Input)": environ,
        "app (hello, start_response a no-op)": app,
        "response head (pure functions)": head,
        "Response: start_response + whole + finish, Connection.send (socketpair)": exchange,
        "total: parse + environ + app + Response/send": whole,
        "Connection.serve, one request, fresh socketpair": serve,
        "the same with --stats (the worker's scoreboard slot)": serve_stats,
        "--stats alone: Slot.begin + Slot.end": slot,
    }


def measure(stage: Stage, number: int, repeats: int) -> tuple[float, float]:
    """(median, best) µs per iteration."""
    stage(max(1, number // 10))  # warm up: caches, the Date line
    runs = []
    for _ in range(repeats):
        gc.collect()
        runs.append(stage(number) / number * 1e6)
    return statistics.median(runs), min(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    ap.add_argument("--number", type=int, help="iterations per run (default 20000; --quick 2000)")
    ap.add_argument("--repeats", type=int, help="runs per stage (default 7; --quick 3)")
    ap.add_argument("--cpu", action="store_true", help="time with this process's CPU clock "
                    "(time.process_time): steadier than wall time when other work shares the cores")
    args = ap.parse_args()
    if args.cpu:
        CLOCK[0] = time.process_time
    number = args.number or (2000 if args.quick else 20000)
    repeats = args.repeats or (3 if args.quick else 7)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # never bound: only names the environ
    listener = Listener(lsock, "127.0.0.1", "8080")
    base = template()
    results: dict[str, dict[str, tuple[float, float]]] = {}
    for label, raw in REQUESTS.items():
        for name, stage in stages(raw, listener, base).items():
            results.setdefault(name, {})[label] = measure(stage, number, repeats)
    lsock.close()

    clock = "CPU" if args.cpu else "wall"
    print(f"starlet-py request path, {clock} µs per request (median of {repeats} runs × {number:,}; best in "
          f"brackets); Python {platform.python_version()}, {platform.machine()}")
    print()
    labels = list(REQUESTS)
    print("| stage | " + " | ".join(f"`{label}` request" for label in labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name, by_label in results.items():
        cells = [f"{by_label[label][0]:.2f} ({by_label[label][1]:.2f})" for label in labels]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    crlf = b"\r\n"
    print("Requests: " + "; ".join(f"`{label}` {len(raw)} bytes, {raw.count(crlf) - 2} header field(s)"
                                   for label, raw in REQUESTS.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
