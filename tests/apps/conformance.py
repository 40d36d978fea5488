"""The WSGI app behind tests/conformance: one small handler per case.

``application`` is ``wsgiref.validate.validator(inner)``, so every request is
also checked for PEP 3333 compliance from both sides.  ``inner`` dispatches on
the ``X-Case`` request header when present (for the cases where the path
itself is under test), else on the first segment of ``PATH_INFO``.

Data files (and the markers written by ``close()``) live in the directory
named by the ``CONFORMANCE_DATA`` environment variable; the tests create it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.validate import validator

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], None]]
Body = Iterable[bytes]

DATA = Path(os.environ.get("CONFORMANCE_DATA", "/nonexistent"))


Handler = Callable[[Environ, StartResponse], Body]
HANDLERS: dict[str, Handler] = {}


def route(handler: Handler) -> Handler:
    """Register ``handler`` under its own name (the first path segment)."""
    HANDLERS[handler.__name__] = handler
    return handler


def status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def text(
    start_response: StartResponse,
    body: str | bytes,
    code: int = 200,
    extra: list[tuple[str, str]] | None = None,
    length: bool = False,
) -> Body:
    """A text/plain response; ``length`` adds a Content-Length header."""
    data = body.encode("latin-1") if isinstance(body, str) else body
    headers = [("Content-Type", "text/plain"), *(extra or [])]
    if length:
        headers.append(("Content-Length", str(len(data))))
    start_response(status(code), headers)
    return [data]


def query(environ: Environ, name: str, default: str = "") -> str:
    values: list[str] = parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])
    return values[0]


def read_all(environ: Environ) -> bytes:
    """Read wsgi.input to its end in pieces (validator: read takes one argument)."""
    pieces: list[bytes] = []
    while True:
        piece = environ["wsgi.input"].read(8192)
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)


# -- environ ---------------------------------------------------------------


@route
def env(environ: Environ, start_response: StartResponse) -> Body:
    """Every CGI-style key, plus the wsgi.* facts the tests check, as JSON."""
    out: dict[str, Any] = {k: v for k, v in environ.items() if "." not in k}
    out["wsgi.version"] = list(environ["wsgi.version"])
    for key in ("wsgi.url_scheme", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"):
        out[key] = environ[key]
    out["wsgi.input_terminated"] = environ.get("wsgi.input_terminated")
    out["has_file_wrapper"] = callable(environ.get("wsgi.file_wrapper"))
    out["has_errors"] = hasattr(environ["wsgi.errors"], "write")
    return [_json(start_response, out)]


def _json(start_response: StartResponse, obj: object) -> bytes:
    data = json.dumps(obj, sort_keys=True).encode("ascii")
    start_response(status(200), [("Content-Type", "application/json")])
    return data


@route
def validate_env(environ: Environ, start_response: StartResponse) -> Body:
    keys = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT")
    return text(start_response, "".join(f"{k}:{environ[k]}\n" for k in keys))


@route
def header(environ: Environ, start_response: StartResponse) -> Body:
    """Body: the environ value named by ?key=; X-Exists says whether it was there."""
    key = query(environ, "key")
    exists = "1" if key in environ else "0"
    return text(start_response, environ.get(key, "(none)"), extra=[("X-Exists", exists)])


@route
def path_info(environ: Environ, start_response: StartResponse) -> Body:
    return text(start_response, environ["PATH_INFO"])


@route
def request_uri(environ: Environ, start_response: StartResponse) -> Body:
    uris = {k: environ.get(k) for k in ("REQUEST_URI", "RAW_URI", "PATH_INFO", "QUERY_STRING")}
    return [_json(start_response, uris)]


# -- request bodies ----------------------------------------------------------


@route
def hello(environ: Environ, start_response: StartResponse) -> Body:
    return text(start_response, "Hello, " + environ["QUERY_STRING"])


@route
def post(environ: Environ, start_response: StartResponse) -> Body:
    body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    extra = [
        ("Client-Content-Length", environ["CONTENT_LENGTH"]),
        ("Client-Content-Type", environ["CONTENT_TYPE"]),
    ]
    return text(start_response, b"Hello, " + body, extra=extra)


@route
def echo(environ: Environ, start_response: StartResponse) -> Body:
    body = read_all(environ)
    extra = [("Client-Content-Length", environ.get("CONTENT_LENGTH", "(none)"))]
    return text(start_response, body, extra=extra)


@route
def digest(environ: Environ, start_response: StartResponse) -> Body:
    body = read_all(environ)
    info = {
        "length": len(body),
        "sha1": hashlib.sha1(body).hexdigest(),
        "CONTENT_LENGTH": environ.get("CONTENT_LENGTH"),
        "HTTP_TRANSFER_ENCODING": environ.get("HTTP_TRANSFER_ENCODING"),
    }
    return [_json(start_response, info)]


@route
def input_twice(environ: Environ, start_response: StartResponse) -> Body:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    first = environ["wsgi.input"].read(size)
    second = environ["wsgi.input"].read(size)
    third = environ["wsgi.input"].read(8192)
    reads = {"first": first, "second": second, "third": third}
    return [_json(start_response, {k: v.decode("latin-1") for k, v in reads.items()})]


@route
def empty_input(environ: Environ, start_response: StartResponse) -> Body:
    """Reading the input of a request without a body returns b'' at once."""
    data = environ["wsgi.input"].read(8192)
    line = environ["wsgi.input"].readline()
    return text(start_response, "OK" if data == b"" and line == b"" else f"read {data!r}")


@route
def reject(environ: Environ, start_response: StartResponse) -> Body:
    """413 without touching wsgi.input (so no 100 Continue may go out)."""
    return text(start_response, "too big", code=413)


# -- response bodies ---------------------------------------------------------


@route
def url_scheme(environ: Environ, start_response: StartResponse) -> Body:
    return text(start_response, environ["wsgi.url_scheme"])


@route
def glob(environ: Environ, start_response: StartResponse) -> Body:
    """A plain file object, no Content-Length: streamed to EOF."""
    start_response(status(200), [("Content-Type", "text/plain")])
    return open(__file__, "rb")  # noqa: SIM115 - the server closes it


def _data_file(environ: Environ) -> Path:
    name = query(environ, "name")
    assert "/" not in name and name, name
    return DATA / name


@route
def file_plain(environ: Environ, start_response: StartResponse) -> Body:
    f = open(_data_file(environ), "rb")  # noqa: SIM115 - the server closes it
    size = os.fstat(f.fileno()).st_size
    start_response(status(200), [("Content-Type", "image/jpeg"), ("Content-Length", str(size))])
    return f


@route
def file_wrapper(environ: Environ, start_response: StartResponse) -> Body:
    f = open(_data_file(environ), "rb")  # noqa: SIM115 - the server closes it
    size = os.fstat(f.fileno()).st_size
    start_response(status(200), [("Content-Type", "image/jpeg"), ("Content-Length", str(size))])
    wrapped: Body = environ["wsgi.file_wrapper"](f, 8192)
    return wrapped


class CalledClose:
    """Yields b'1'..b'4'; close() writes the marker file closed-<token>."""

    def __init__(self, token: str, fail_after: int | None = None) -> None:
        self.token = token
        self.fail_after = fail_after
        self.i = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.fail_after is not None and self.i >= self.fail_after:
            raise RuntimeError("body iterator failed on purpose")
        if self.i >= 4:
            raise StopIteration
        self.i += 1
        return str(self.i).encode()

    def close(self) -> None:
        assert self.token.isalnum(), self.token
        (DATA / f"closed-{self.token}").write_text(str(self.i))


@route
def call_close(environ: Environ, start_response: StartResponse) -> Body:
    start_response(status(200), [("Content-Type", "text/plain")])
    return CalledClose(query(environ, "token"))


@route
def raise_mid(environ: Environ, start_response: StartResponse) -> Body:
    """Two chunks, then an exception: headers are already out."""
    start_response(status(200), [("Content-Type", "text/plain")])
    return CalledClose(query(environ, "token"), fail_after=2)


@route
def has_errors(environ: Environ, start_response: StartResponse) -> Body:
    errors = environ["wsgi.errors"]
    ok = all(hasattr(errors, m) for m in ("write", "writelines", "flush"))
    return text(start_response, "1" if ok else "0")


@route
def status_line(environ: Environ, start_response: StartResponse) -> Body:
    return text(start_response, "1")


@route
def die(environ: Environ, start_response: StartResponse) -> Body:
    raise RuntimeError("Throwing an exception from app handler. Server shouldn't crash.")


@route
def multi_headers(environ: Environ, start_response: StartResponse) -> Body:
    headers = [("Content-Type", "text/plain"), ("X-Foo", "foo"), ("X-Foo", "bar, baz")]
    start_response(status(200), headers)
    return [b"hi"]


@route
def cookie(environ: Environ, start_response: StartResponse) -> Body:
    extra = [("X-Cookie", "1" if "COOKIE" in environ else "0")]
    return text(start_response, environ.get("HTTP_COOKIE", ""), extra=extra)


@route
def not_modified(environ: Environ, start_response: StartResponse) -> Body:
    start_response(status(304), [])
    return []


@route
def delayed(environ: Environ, start_response: StartResponse) -> Body:
    """A generator body: start_response is called on the first next()."""
    yield from []
    start_response(status(200), [("Content-Type", "text/plain")])
    yield b"Hello, "
    yield environ["QUERY_STRING"].encode("latin-1")


@route
def writer(environ: Environ, start_response: StartResponse) -> Body:
    write = start_response(status(200), [("Content-Type", "text/plain")])
    write(b"Hello, ")
    write(environ["QUERY_STRING"].encode("latin-1"))
    return []


@route
def crlf(environ: Environ, start_response: StartResponse) -> Body:
    return text(start_response, "Foo: Bar\r\n\r\nHello World")


@route
def newlines(environ: Environ, start_response: StartResponse) -> Body:
    return text(start_response, "Bar\nBaz", length=True)


@route
def not_found(environ: Environ, start_response: StartResponse) -> Body:
    return text(start_response, "Not Found", code=404)


@route
def fixed(environ: Environ, start_response: StartResponse) -> Body:
    """A body with an app-given Content-Length (for HEAD and keep-alive)."""
    return text(start_response, "fixed body\n", length=True)


@route
def stream(environ: Environ, start_response: StartResponse) -> Body:
    start_response(status(200), [("Content-Type", "text/plain")])
    yield from (b"chunk one\n", b"chunk two\n", b"chunk three\n")


@route
def empty_items(environ: Environ, start_response: StartResponse) -> Body:
    """b'' items must not end a chunked response early."""
    start_response(status(200), [("Content-Type", "text/plain")])
    yield from (b"", b"a", b"", b"", b"bc", b"")


@route
def single_empty(environ: Environ, start_response: StartResponse) -> Body:
    return text(start_response, b"")


@route
def server_header(environ: Environ, start_response: StartResponse) -> Body:
    return text(start_response, "mine", extra=[("Server", "my-app/1.0")])


def inner(environ: Environ, start_response: StartResponse) -> Body:
    name = environ.get("HTTP_X_CASE") or environ["PATH_INFO"].lstrip("/").split("/", 1)[0]
    handler = HANDLERS.get(name)
    if handler is None:
        return text(start_response, f"no handler {name!r}", code=404)
    return handler(environ, start_response)


application = validator(inner)  # type: ignore[arg-type]
