"""The app of the access-log tests (``logged:application``).

Paths:
  /big      3,000,000 bytes, Content-Length announced (HEAD sends none of them)
  /chunked  3 blocks of 1000 bytes from a generator: no Content-Length, so chunked
  /raise    raises before start_response (the server answers 500)
  /cut      announces 10000 bytes, yields 1000, then raises (the response is cut short)
anything else  200 'ok'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any


def _cut() -> Iterator[bytes]:
    yield b"c" * 1000
    raise RuntimeError("logged-app: failing mid-stream")


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/big":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3000000")])
        return [b"b" * 3000000]
    if path == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"x" * 1000 for _ in range(3))
    if path == "/raise":
        raise RuntimeError("logged-app: failing before start_response")
    if path == "/cut":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10000")])
        return _cut()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
