"""Apps for tests/integration/test_hostile.py and test_soak.py, dispatched on PATH_INFO.

Not wrapped in ``wsgiref.validate``: some routes break PEP 3333 on purpose (a
``str`` body item, a ``close()`` that raises) to see the *server* cope, which
the validator would intercept first.  Lines the app writes to ``wsgi.errors``
start with ``hostile-app:`` so the tests can find them in the server's log.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
MIB = 1 << 20


def _say(environ: Environ, line: str) -> None:
    errors = environ["wsgi.errors"]
    errors.write(f"hostile-app: {line}\n")
    errors.flush()


def _arg(environ: Environ, name: str, default: str) -> str:
    return str(parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])[0])


def _text(start_response: StartResponse, body: bytes, status: str = "200 OK") -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Read the whole body; report a failed read (its class) on wsgi.errors, then re-raise."""
    seen = 0
    try:
        while piece := environ["wsgi.input"].read(65536):
            seen += len(piece)
    except Exception as e:
        kind = type(e)
        _say(
            environ,
            f"read raised {kind.__name__} (OSError subclass: {issubclass(kind, OSError)}) after {seen}",
        )
        raise
    return _text(start_response, b"%d\n" % seen)


def big(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """``?mib=N`` MiB of body, announced with Content-Length, in 1 MiB blocks."""
    n = int(_arg(environ, "mib", "20"))
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n * MIB))])
    block = b"x" * MIB
    return (block for _ in range(n))


class ExplodingClose:
    """A body whose ``close()`` raises (after the whole response was produced)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        yield self.body

    def close(self) -> None:
        raise RuntimeError("hostile close() exploded")


def close_raises(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
    return ExplodingClose(b"fine!\n")


def str_item(environ: Environ, start_response: StartResponse) -> Iterable[Any]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["a str, not bytes"]


def str_late(environ: Environ, start_response: StartResponse) -> Iterable[Any]:
    """First a bytes block (the head goes out with it), then a str."""
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen() -> Iterator[Any]:
        yield b"first block\n"
        yield "then a str"

    return gen()


def sleep(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    _say(environ, f"sleeping in pid {os.getpid()}")
    time.sleep(float(_arg(environ, "s", "30")))
    return _text(start_response, b"woke\n")


def unread(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Answer without reading the request body."""
    return _text(start_response, b"unread\n")


def path(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return _text(start_response, environ["PATH_INFO"].encode("latin-1"))


ROUTES: dict[str, Callable[[Environ, StartResponse], Iterable[Any]]] = {
    "echo": echo,
    "big": big,
    "close-raises": close_raises,
    "str": str_item,
    "str-late": str_late,
    "sleep": sleep,
    "unread": unread,
    "n": path,
}


def application(environ: Environ, start_response: StartResponse) -> Iterable[Any]:
    first = environ["PATH_INFO"].split("/")[1]
    route = ROUTES.get(first)
    if route is None:
        return _text(start_response, b"ok\n")
    return route(environ, start_response)
