"""--warmup: GET each PATH through the app in the master, before gc.freeze() and the fork.

Frameworks build much on their first request (Django imports its URLconf, views
and templates then; Flask/Werkzeug compile the URL map, Jinja compiles
templates).  Done in the master, that memory is shared copy-on-write by every
worker instead of being built privately in each (docs/design.md, "Memory").

No socket is involved: each request is an environ like a real request's, with
an empty ``wsgi.input``; the response is iterated and discarded and its
``close()`` called.  A warm-up request must not open connections or start
threads: a fork would share the socket, and a thread does not survive it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from .errors import ConfigError
from .wsgi import template, unquote


def environ(target: str, server_name: str = "localhost", server_port: str = "80") -> dict[str, Any]:
    """The environ of ``GET target HTTP/1.1`` from 127.0.0.1.

    ``target`` is a path (``Host`` is then the server's name and port) or an
    absolute ``http://HOST[:PORT]/path`` naming the ``Host`` an app may insist on
    (Django's ALLOWED_HOSTS).
    """
    host = server_name if server_port == "80" else f"{server_name}:{server_port}"
    path = target
    if target.startswith("http://"):
        host, slash, path = target[7:].partition("/")
        path = slash + path or "/"
        hname, _, hport = host.partition(":")
        server_name, server_port = hname, hport or "80"
    raw_path, _, query = path.partition("?")
    data = raw_path.encode("latin-1")
    env = template()  # the keys every real request shares
    env.update({
        "REQUEST_METHOD": "GET",
        "PATH_INFO": (unquote(data) if b"%" in data else data).decode("latin-1"),
        "QUERY_STRING": query,
        "REQUEST_URI": target,
        "RAW_URI": target,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "0",
        "HTTP_HOST": host,
        "wsgi.input": io.BytesIO(b""),
    })
    return env


def _request(app: Callable[..., Any], env: dict[str, Any]) -> str:
    """Run one request through ``app``; the status line it gave (empty if none)."""
    status: list[str] = []

    def start_response(st: str, headers: list[tuple[str, str]], exc: Any = None) -> Callable[[bytes], None]:
        status[:] = [st]
        return lambda data: None

    body: Iterable[bytes] = app(env, start_response)
    try:
        for _ in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return status[0] if status else ""


def warm(app: Callable[..., Any], paths: Iterable[str], server_name: str = "localhost",
         server_port: str = "80") -> None:
    """GET each of ``paths`` through ``app``, once, in order.

    Raises ConfigError (one line, naming the path) when the app raises or
    answers anything but 2xx.
    """
    for path in paths:
        try:
            status = _request(app, environ(path, server_name, server_port))
        except Exception as e:  # any app failure is a bad --warmup, not a crash
            text = f"{type(e).__name__}: {e}".splitlines()[0]
            raise ConfigError(f"--warmup {path}: the app raised {text}") from None
        if status[:1] != "2" or not status[:3].isdigit():
            raise ConfigError(f"--warmup {path}: status {status or '(none)'}, expected 2xx")
