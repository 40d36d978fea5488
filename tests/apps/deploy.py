"""The app of the deployment tests (``deploy:application``): supervisors, nginx, restarts.

Paths:
  /gen?size=N&delay=S  ``gen=G pid=P ppid=Q`` padded with dots to exactly N bytes (default
                   4096), Content-Length set: G is SERVER_STARTER_GENERATION ('-' when
                   unset), P the worker, Q its master; a client checks it got all N bytes.
                   With delay, the app sleeps S seconds first (a request still in flight
                   when a restart stops its worker)
  /env             JSON: the environ keys below, and which supervisor variables are
                   still in this process's os.environ (they must not leak to the app)
  /echo            the request body, as received (Content-Length answer)
  /upload          reads wsgi.input in 8 KiB pieces to EOF (no Content-Length needed);
                   answers JSON {length, sha256, content_length, transfer_encoding}
  /upload-refused  answers 403 without reading the body (behind the example's /upload)
  /stream?n=N&size=S  N chunks of S bytes each (byte i of chunk k is ``k % 10``),
                   from a generator: no Content-Length, so the server frames it;
                   with &wait=PATH, the chunks after the first wait until PATH exists
anything else    404
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

ENV_KEYS = (
    "REQUEST_METHOD",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "CONTENT_LENGTH",
    "HTTP_HOST",
    "HTTP_CONNECTION",
    "HTTP_TRANSFER_ENCODING",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_REAL_IP",
    "wsgi.url_scheme",
)
SUPERVISOR_VARS = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "SERVER_STARTER_PORT")

Start = Callable[..., Any]


def _query(environ: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def gen_body(size: int) -> bytes:
    line = f"gen={os.environ.get('SERVER_STARTER_GENERATION', '-')} pid={os.getpid()} ppid={os.getppid()}"
    body = line.encode()
    return body + b"." * max(size - len(body), 0)


def _json(start_response: Start, data: Any) -> list[bytes]:
    body = json.dumps(data, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _stream(n: int, size: int, wait: str | None = None) -> Iterator[bytes]:
    for k in range(n):
        if k == 1 and wait:  # the client has the first chunk only if nobody held it
            deadline = time.monotonic() + 30
            while not os.path.exists(wait) and time.monotonic() < deadline:
                time.sleep(0.01)
        yield str(k % 10).encode() * size


def application(environ: dict[str, Any], start_response: Start) -> Any:
    path = environ.get("PATH_INFO", "")
    query = _query(environ)
    if path == "/gen":
        if "delay" in query:
            time.sleep(float(query["delay"]))
        body = gen_body(int(query.get("size", "4096")))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/env":
        seen = {k: environ.get(k) for k in ENV_KEYS}
        seen["os.environ"] = {k: os.environ[k] for k in SUPERVISOR_VARS if k in os.environ}
        seen["pid"] = os.getpid()
        seen["ppid"] = os.getppid()
        return _json(start_response, seen)
    if path == "/echo":
        body = environ["wsgi.input"].read()
        headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]
    if path == "/upload-refused":
        body = b"refused\n"
        start_response("403 Forbidden", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/upload":
        digest, length = hashlib.sha256(), 0
        inp = environ["wsgi.input"]
        while data := inp.read(8192):
            digest.update(data)
            length += len(data)
        return _json(
            start_response,
            {
                "length": length,
                "sha256": digest.hexdigest(),
                "content_length": environ.get("CONTENT_LENGTH"),
                "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"),
            },
        )
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _stream(int(query.get("n", "10")), int(query.get("size", "1000")), query.get("wait"))
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]
