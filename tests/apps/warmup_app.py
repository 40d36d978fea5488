"""An app for the --warmup tests (``warmup_app:application``).

Paths:
  /warm    records the pid of the process it runs in (module state: a warm-up in
           the master before the fork is inherited by every worker), answers 200
  /state   JSON: ``pid`` (the serving process), ``warmed`` (the pids /warm ran in) and
           ``calls`` (requests this app got in this process, this one included)
  /boom    raises RuntimeError
anything else  404
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

WARMED: list[int] = []
CALLS = [0]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    CALLS[0] += 1
    path = environ["PATH_INFO"]
    if path == "/warm":
        WARMED.append(os.getpid())
        body = b"warm"
    elif path == "/state":
        body = json.dumps({"pid": os.getpid(), "warmed": WARMED, "calls": CALLS[0]}).encode()
    elif path == "/boom":
        raise RuntimeError("boom at warm-up")
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
