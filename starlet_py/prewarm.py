"""Prewarming: the master runs the server's own request path before gc.freeze() and the fork.

A function's first calls specialise ("quicken") its bytecode, and the request
path fills caches (header names, statuses, the Date line, type-attribute
caches) and interns strings: done in each worker, all of that is written into
pages the worker inherited, which then become its private copies.  Done once
in the master, it is shared by every worker, and a recycled worker is warm
from its first request (docs/design.md, "Memory").

The requests go through the real path (Connection over a socketpair, a Worker
as host, Response, Writer) but to a built-in app, never the user's: the app
sees no request it did not get from a client (its own warm-up is --warmup).
Nothing is logged or counted: the Worker used here is discarded, and has no
access log.  A failure here is logged at debug level and ignored: prewarming
is an optimisation, never a reason not to start.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

from .config import Config
from .connection import Connection
from .listeners import Listener, PeerNames, set_timeouts
from .log import debug
from .worker import Worker
from .wsgi import template

CONNECTIONS = 20  # of REQUESTS each: 200 requests in all

_BROWSER = (b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
            b"Accept: text/html,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
            b"Accept-Encoding: gzip, deflate, br\r\nX-Forwarded-For: 203.0.113.7\r\n")  # fmt: skip
# One connection's requests, pipelined: the common shapes (a bare GET as load generators
# send it, a browser's through a proxy, HEAD, HTTP/1.0, a POST, a chunked and a generated
# response), the last one closing the connection.
REQUESTS = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /page?name=world&n=2 HTTP/1.1\r\nHost: localhost:8080\r\n" + _BROWSER + b"\r\n",
    b"GET /%7Euser/ HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /gen HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 11\r\n\r\nname=world&",
    b"POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /bye HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
)
HELLO = b"Hello, World!"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """The built-in app: a fixed answer, the length of a body read, or a generator."""
    if environ["REQUEST_METHOD"] == "POST":
        body = b"%d" % len(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if environ["PATH_INFO"] == "/gen":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _blocks()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [HELLO]


def _blocks() -> Iterator[bytes]:
    yield HELLO
    yield HELLO


def prewarm(config: Config, listeners: list[Listener], connections: int = CONNECTIONS) -> int:
    """Serve ``connections`` × len(REQUESTS) requests to ``app`` over socketpairs; the
    number of responses that came back (0 if anything failed)."""
    try:
        return _run(Worker(app, config, listeners), connections)
    except Exception as e:
        debug(f"prewarming skipped: {type(e).__name__}: {e}")
        return 0


def _run(host: Worker, connections: int) -> int:
    names = PeerNames("127.0.0.1", "0", "localhost", "80")
    base = template()
    # As many requests per connection as --max-keepalive-reqs lets through (1 by default).
    per = min(host.config.max_keepalive_reqs, len(REQUESTS))
    answered = 0
    for n in range(connections * len(REQUESTS) // per):
        start = n * per % len(REQUESTS)
        ours, theirs = socket.socketpair()
        with ours, theirs:
            set_timeouts(theirs, host.config.timeout, host.config.keepalive_timeout)
            # All sent first, and every answer fits the socket buffers: no thread, and
            # serve() returns after the last request (end of file, or the limit).
            ours.sendall(b"".join((REQUESTS + REQUESTS)[start : start + per]))
            ours.shutdown(socket.SHUT_WR)
            Connection(theirs, names, host).serve(base)
            out = b""
            while chunk := ours.recv(65536):
                out += chunk
            answered += out.count(b"HTTP/1.1 200 OK\r\n")
    return answered
