"""The Python floor: the least a prefork Python WSGI server can do per request.

Each worker: accept, parse with httptools (callbacks that only collect), a
minimal environ, the app, one ``sendall`` of head and body, keep-alive when
the client asks.  No timeouts, no limits, no strictness, no logging, no
recycling: what a Python worker costs before everything a real server must
do.  starlet-py can approach it, not pass it.

The master imports what starlet-py's master imports (its modules), so the
shared part of the pool is the same size; it then runs ~200 requests through
the loop over a socketpair (prewarming, with the app's four routes: quickened
code and caches are built once, before ``gc.freeze()`` and the fork, and shared) and forks ``--workers``
children.  SIGTERM/SIGINT are passed to the children by pid.

usage: python3 pyfloor.py --port P [--host 127.0.0.1] [--workers 2] module:callable
(the app's folder is the working directory, as for the other servers)
"""

from __future__ import annotations

import _signal
import gc
import importlib
import io
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import httptools  # type: ignore[import-untyped,unused-ignore]

for _name in ("starlet_py.cli", "starlet_py.master", "starlet_py.worker"):
    importlib.import_module(_name)  # the same imports as starlet-py's master

App = Callable[..., Any]
BASE = {"SCRIPT_NAME": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "0", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "0", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False}


class Collect:
    """httptools callbacks: collect the pieces; completed requests queue in ``done``."""

    def __init__(self) -> None:
        self.parser: Any = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.done: list[tuple[bytes, bytes, list[tuple[bytes, bytes]], bytes, bool]] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        p = self.parser
        self.done.append((p.get_method(), self.url, self.headers, b"".join(self.body), p.should_keep_alive()))
        self.url, self.headers, self.body = b"", [], []


def respond(app: App, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]], body: bytes,
            keep: bool) -> list[bytes]:
    path, _, query = url.partition(b"?")
    env = BASE.copy()
    env["REQUEST_METHOD"] = method.decode("latin-1")
    env["PATH_INFO"] = path.decode("latin-1")
    env["QUERY_STRING"] = query.decode("latin-1")
    for name, value in headers:
        key = name.decode("latin-1").upper().replace("-", "_")
        env[key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else "HTTP_" + key] = value.decode("latin-1")
    env["wsgi.input"] = io.BytesIO(body)
    status: list[Any] = []
    result = app(env, lambda st, hs, exc=None: status.extend((st, hs)))
    try:
        data = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    head = "".join([f"HTTP/1.1 {status[0]}\r\n", *(f"{k}: {v}\r\n" for k, v in status[1]),
                    "" if keep else "Connection: close\r\n", "\r\n"])
    return [head.encode("latin-1"), data]


def handle(app: App, conn: socket.socket) -> None:
    cb = Collect()
    parser = cb.parser = httptools.HttpRequestParser(cb)
    try:
        while data := conn.recv(65536):
            parser.feed_data(data)
            for method, url, headers, body, keep in cb.done:
                pieces = respond(app, method, url, headers, body, keep)
                sent = conn.sendmsg(pieces)  # no copy of head + body into one bytes
                if sent < len(pieces[0]) + len(pieces[1]):
                    conn.sendall(b"".join(pieces)[sent:])
                if not keep:
                    return
            cb.done.clear()
    finally:
        cb.parser = None  # parser <-> callbacks: no cycle left for the collector


def serve(app: App, ls: socket.socket) -> None:
    while True:
        conn, _ = ls.accept()
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            handle(app, conn)
        except (OSError, httptools.HttpParserError):
            pass
        conn.close()


def prewarm(app: App, n: int = 200) -> None:
    """``n`` keep-alive requests through ``handle`` over a socketpair, in this process:
    bench/apps/hello.py's four routes in turn (the requests bench/run.py sends)."""
    post = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 16384\r\n\r\n" + b"p" * 16384
    routes = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /64k HTTP/1.1\r\nHost: x\r\n\r\n",
              b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n", post]
    ours, theirs = socket.socketpair()
    reader = threading.Thread(target=lambda: [None for _ in iter(lambda: ours.recv(262144), b"")])
    writer = threading.Thread(target=lambda: ours.sendall(
        b"".join(routes[i % 4] for i in range(n - 1)) + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"))
    reader.start()
    writer.start()
    handle(app, theirs)
    theirs.close()
    writer.join()
    reader.join()
    ours.close()


def main() -> None:
    # By hand, not argparse: starlet-py's master does not import it either.
    opts, words = {"--host": "127.0.0.1", "--workers": "2"}, iter(sys.argv[1:])
    for word in words:
        if word in ("--host", "--port", "--workers"):
            opts[word] = next(words, "")
        else:
            opts["app"] = word
    if "--port" not in opts or "app" not in opts:
        raise SystemExit(__doc__)
    host, port, workers = opts["--host"], int(opts["--port"]), int(opts["--workers"])
    gc.disable()  # as starlet-py's master: no freed holes for the workers to fill
    sys.path.insert(0, os.getcwd())
    module, _, attr = opts["app"].partition(":")
    app = getattr(importlib.import_module(module), attr or "application")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1024)
    prewarm(app)
    gc.freeze()
    kids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                # _signal directly: signal.signal() builds enums and reprs, touching shared pages
                _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
                _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
                gc.enable()
                serve(app, ls)
            finally:
                os._exit(1)
        kids.append(pid)

    def stop(signum: int, frame: object) -> None:
        for pid in kids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break


if __name__ == "__main__":
    main()
