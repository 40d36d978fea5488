"""The bundled demo app, ``starlet-py starlet_py.demo:application``: ``/`` says hello, ``/echo``
sends the request body back, ``/environ`` lists the WSGI environ (what a proxy in front passes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/echo":
        body = environ["wsgi.input"].read()
    elif path == "/environ":
        body = "".join(f"{k}: {v!r}\n" for k, v in sorted(environ.items())).encode("utf-8")
    elif path == "/":
        body = b"Hello from starlet-py!\n"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found\n"]
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body]
