"""The WSGI app every Python server in bench/run.py serves (app.psgi is its Perl twin).

Routes (anything else answers like ``/``):

  GET  /      -> ``Hello, World!`` (13 bytes)
  GET  /64k   -> 65,536 bytes, one body item
  POST /echo  -> reads the whole request body, answers its length in decimal
  GET  /file  -> the file named by $BENCH_FILE through ``wsgi.file_wrapper``
                 (a server may ``sendfile`` it); without $BENCH_FILE, a 64 KiB file
                 made once in the temporary directory

Every answer: 200, ``Content-Type: text/plain``, an explicit ``Content-Length``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

HELLO = b"Hello, World!"
BIG = b"x" * 65536
FILE_SIZE = 65536
CT = ("Content-Type", "text/plain")

StartResponse = Callable[..., Any]


def bench_file() -> str:
    """The path of the file /file serves (created, 64 KiB, when $BENCH_FILE is not set)."""
    path = os.environ.get("BENCH_FILE")
    if path:
        return path
    import tempfile  # only here: with shutil, bz2, lzma and random, it would be in every server's master

    path = os.path.join(tempfile.gettempdir(), f"starlet-py-bench-{FILE_SIZE}.bin")
    if not os.path.exists(path) or os.path.getsize(path) != FILE_SIZE:
        with open(path, "wb") as f:
            f.write(bytes(range(97, 123)) * (FILE_SIZE // 26) + b"z" * (FILE_SIZE % 26))
    return path


FILE = bench_file()
FILE_LEN = str(os.path.getsize(FILE))


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO") or "/"
    if path == "/file":
        f = open(FILE, "rb")  # closed by the server, through the iterable
        start_response("200 OK", [CT, ("Content-Length", FILE_LEN)])
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(f, 65536)  # type: ignore[no-any-return]
        return iter(lambda: f.read(65536), b"")
    if path == "/64k":
        body = BIG
    elif path == "/echo":
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
        read = environ["wsgi.input"].read
        n = 0
        while remaining > 0:
            chunk = read(min(remaining, 65536))
            if not chunk:
                break
            n += len(chunk)
            remaining -= len(chunk)
        body = str(n).encode("ascii")
    else:
        body = HELLO
    start_response("200 OK", [CT, ("Content-Length", str(len(body)))])
    return [body]
