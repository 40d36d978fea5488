"""An app whose requests can hang, for --graceful-timeout and --request-timeout (``stuck:application``).

Paths:
  /hang?mark=P      touch file P (if given) with the pid, then hang in ``stuck_forever``
                    (which never returns), so a traceback must name it
  /sleep?s=S&mark=P touch P, sleep S seconds, answer 200 'slept'
  /pid              the worker's pid
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs


def stuck_forever() -> None:
    while True:
        time.sleep(3600)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    path = environ.get("PATH_INFO", "")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    mark = query.get("mark")
    if mark and path in ("/hang", "/sleep"):
        with open(mark, "w") as f:
            f.write(str(os.getpid()))
    if path == "/hang":
        stuck_forever()
    if path == "/sleep":
        time.sleep(float(query.get("s", "1")))
        body = b"slept"
    else:
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
