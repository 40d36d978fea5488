"""An app for the --warmup tests (``warmup_app:application``).

Paths:
  /warm    records the pid of the process it runs in (module state: a warm-up in
           the master before the fork is inherited by every worker), answers 200
  /state   JSON: ``pid`` (the serving process) and ``warmed`` (the pids /warm ran in)
  /boom    raises RuntimeError
anything else  404
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

WARMED: list[int] = []


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/warm":
        WARMED.append(os.getpid())
        body = b"warm"
    elif path == "/state":
        body = json.dumps({"pid": os.getpid(), "warmed": WARMED}).encode()
    elif path == "/boom":
        raise RuntimeError("boom at warm-up")
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
