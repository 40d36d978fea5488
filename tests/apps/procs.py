"""A tiny WSGI app for the process and signal tests (``procs:application``).

Paths:
  /pid               the serving process's pid (a worker, or the master with 0 workers)
  /sleep?s=S&mark=P  touch file P (if given) when the request reaches the app, sleep S
                     seconds, then answer 200 'slept'; the mark lets a test see the
                     request in flight without guessing a delay
  /env               JSON of the environ keys the tests look at
  /crash             os._exit(3) inside the worker: an abnormal death, no response
anything else        404

``child_exit`` is the ``--child-exit procs:child_exit`` hook: a zero-argument
callable that appends the calling process's pid to the file named by the
environment variable STARLET_TEST_CHILD_EXIT.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

ENV_KEYS = (
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "PATH_INFO",
    "QUERY_STRING",
    "HTTP_HOST",
    "wsgi.multiprocess",
    "wsgi.multithread",
    "wsgi.run_once",
    "wsgi.url_scheme",
)


def _query(environ: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    path = environ.get("PATH_INFO", "")
    status = "200 OK"
    ctype = "text/plain"
    if path == "/pid":
        body = str(os.getpid()).encode()
    elif path == "/sleep":
        query = _query(environ)
        mark = query.get("mark")
        if mark:
            with open(mark, "w") as f:
                f.write(str(os.getpid()))
        time.sleep(float(query.get("s", "1")))
        body = b"slept"
    elif path == "/env":
        body = json.dumps({k: environ.get(k) for k in ENV_KEYS}).encode()
        ctype = "application/json"
    elif path == "/crash":
        os._exit(3)
    else:
        status, body = "404 Not Found", b"not found"
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def child_exit() -> None:
    """The --child-exit hook: record which process is exiting."""
    path = os.environ.get("STARLET_TEST_CHILD_EXIT")
    if path:
        with open(path, "a") as f:
            f.write(f"{os.getpid()}\n")
