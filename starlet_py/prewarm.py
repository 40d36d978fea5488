"""Requests the master serves through the server's own request path (a Connection over a
socketpair, a Worker as host) before gc.freeze() and the fork, so what they leave (specialised
bytecode, caches) is shared by every worker (docs/design.md, "Memory").  prewarm(): a built-in
app, unlogged; a failure only skips it.  warm(): --warmup's GETs through the user's app."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from . import response, rfc
from .config import Config
from .connection import SMALL, Connection
from .errors import ConfigError
from .listeners import Listener, PeerNames, hostport, peer_names, set_timeouts
from .log import debug, quiet
from .worker import Worker

CONNECTIONS = 20  # of REQUESTS each: 260 requests in all

_BROWSER = (b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
            b"Accept: text/html,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
            b"Accept-Encoding: gzip, deflate, br\r\nX-Forwarded-For: 203.0.113.7\r\n")  # fmt: skip
# One connection's requests, pipelined: the common shapes (a bare GET as load generators
# send it, a browser's through a proxy, HEAD, HTTP/1.0, POSTs, a chunked, a generated, a
# large and a file response), the last one closing the connection.  A branch of the request
# path that only workers took would be specialised, so written, in each of them.
REQUESTS = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /page?name=world&n=2 HTTP/1.1\r\nHost: localhost:8080\r\n" + _BROWSER + b"\r\n",
    b"GET /%7Euser/ HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /gen HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 11\r\n\r\nname=world&",
    b"POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /in-parts HTTP/1.1\r\nHost: localhost\r\nContent-Length: 20000\r\n\r\n" + b"x" * 20000,
    b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /file HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /bye HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
)
HELLO = b"Hello, World!"
BIG = b"x" * SMALL  # sent with sendmsg()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """The built-in app: a fixed answer, the length of a body read (whole, or in parts as
    frameworks read it), a generator, a large body or a file (this module's own)."""
    path = environ["PATH_INFO"]
    if path == "/gen":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (HELLO for _ in range(2))
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"))
    body = BIG if path == "/big" else HELLO
    if environ["REQUEST_METHOD"] == "POST":
        size = 8192 if path == "/in-parts" else -1  # in parts, as frameworks read
        body = b"%d" % sum(map(len, iter(lambda: environ["wsgi.input"].read(size), b"")))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _exchange(host: Worker, names: PeerNames, requests: bytes, queued: bool = False) -> bytes:
    """Serve ``requests`` on a new connection to ``host``; everything it answered.  A queued
    one's client stays: one bodiless request that closes the connection, or it would wait."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        set_timeouts(theirs, host.config.timeout, host.config.keepalive_timeout)
        # All sent first, and every answer fits the socket buffers: no thread, and
        # serve() returns after the last request (end of file, or the limit).
        ours.sendall(requests)
        if not queued:
            ours.shutdown(socket.SHUT_WR)
        Connection(theirs, names, host, queued).serve(host.base)
        return b"".join(iter(lambda: ours.recv(65536), b""))


def prewarm(config: Config, listeners: list[Listener], connections: int = CONNECTIONS) -> int:
    """Serve ``connections`` × len(REQUESTS) requests to ``app``; how many were answered (0 on failure)."""
    names = PeerNames("127.0.0.1", "0", "localhost", "80")
    # As many requests per connection as --max-keepalive-reqs lets through (1 by default).
    per = min(config.max_keepalive_reqs, len(REQUESTS))
    answered = 0
    try:
        host = Worker(app, config, listeners)
        host.limit = 1 << 20  # as a worker's (Worker.count_request; a one-digit int, as theirs)
        for n in range(connections * len(REQUESTS) // per):
            if per == 1:  # the server closes each connection after one request
                requests = [REQUESTS[n % len(REQUESTS)]]
            else:  # the last one closes it: every request is answered
                start = n * (per - 1) % (len(REQUESTS) - 1)
                requests = [*(REQUESTS[:-1] * 2)[start : start + per - 1], REQUESTS[-1]]
            for lst in listeners:  # as each accepted connection is named
                peer_names(lst.sock, ("127.0.0.1", 0), lst)
            response._date[0] = 0  # as each second turns
            rfc.HOSTS.clear()  # as a Host value comes for the first time
            out = _exchange(host, names, b"".join(requests))
            answered += out.count(b"HTTP/1.1 200 OK\r\n")
            if n % 4 == 1:  # as if it had waited in the accept queue (Connection._gone)
                _exchange(host, names, REQUESTS[-1], True)
    except Exception as e:
        debug(f"prewarming skipped: {type(e).__name__}: {e}")
        return 0
    return answered


def warm(app: Callable[..., Any], config: Config, server_name: str, server_port: str) -> None:
    """GET each of ``config.warmup`` (``/PATH``, or ``http://HOST/PATH`` to name the Host) through
    ``app``, once, in order; its body is discarded (the client gets a 204).  A one-line ConfigError
    naming the path if the app raises or answers anything but 2xx, or the server refuses it."""
    failed: list[str] = []  # what went wrong in the app, "" if nothing

    def watched(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        status = ["(none)"]

        def record(st: str, headers: list[tuple[str, str]], exc: Any = None) -> Callable[[bytes], None]:
            status[0] = st
            return lambda data: None

        try:
            body = app(environ, record)
            try:
                for _ in body:
                    pass
            finally:
                if hasattr(body, "close"):
                    body.close()
        except Exception as e:  # any app failure is a bad --warmup, not a crash
            failed.append(f"the app raised {type(e).__name__}: {e}".splitlines()[0])
        else:
            ok = status[0][:1] == "2" and status[0][:3].isdigit()
            failed.append("" if ok else f"status {status[0]}, expected 2xx")
        start_response("204 No Content", [])
        return []

    host = Worker(watched, config, [])
    names = PeerNames("127.0.0.1", "0", server_name, server_port)
    # The listener's address; no port if 80, nor for a unix socket (its path is the port).
    default = hostport(server_name, server_port if server_port.isdigit() else 80).removesuffix(":80")
    for path in config.warmup:
        field = path[7:].partition("/")[0].partition("?")[0] if path[:7] == "http://" else default
        with quiet():  # a refusal is reported below, in one line
            answer = _exchange(host, names, f"GET {path} HTTP/1.1\r\nHost: {field}\r\n\r\n".encode())
        # No outcome: the app did not run, the server refused the request (its body says why).
        refusal = answer.partition(b"\r\n\r\n")[2].decode().strip()
        problem = failed.pop() if failed else f"status {refusal}, expected 2xx"
        if problem:
            raise ConfigError(f"--warmup {path}: {problem}")
