"""The app of tests/integration/test_limits.py, dispatched on PATH_INFO.

Lines it writes to ``wsgi.errors`` start with ``limits-app:`` so the tests can
find them in the server's log.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
_kept: list[bytes] = []  # /grow's allocations, kept for the worker's life


def _say(environ: Environ, line: str) -> None:
    environ["wsgi.errors"].write(f"limits-app: {line}\n")
    environ["wsgi.errors"].flush()


def _text(start_response: StartResponse, body: bytes) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    _say(environ, f"started {path}")
    if path == "/ignore":  # answers without reading the body
        return _text(start_response, b"ignored\n")
    if path == "/grow":  # keeps 1 MiB more each time (?mib=N: N MiB)
        mib = int(environ.get("QUERY_STRING", "").partition("mib=")[2] or 1)
        _kept.append(b"\x01" * (mib << 20))  # written: resident, unlike calloc's zero pages
        return _text(start_response, b"%d\n" % len(_kept))
    if path.startswith("/sleep/"):  # does not read for a while, then reads
        time.sleep(float(path[7:]))
    sha, seen = hashlib.sha1(), 0
    try:
        while piece := environ["wsgi.input"].read(4096):
            sha.update(piece)
            seen += len(piece)
    except OSError as e:
        _say(environ, f"read failed after {seen} bytes: {e}")
        raise
    return _text(start_response, b"%d %s\n" % (seen, sha.hexdigest().encode()))
