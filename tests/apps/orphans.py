"""An app that leaves orphans behind, for the PID 1 test (``orphans:application``).

Paths:
  /orphan  fork a child that forks a grandchild and exits at once: the grandchild,
           orphaned, is adopted by the PID namespace's init (starlet-py's master, as
           PID 1), sleeps 0.5 s and exits; answers 200 'orphaned'
  /pid     the worker's pid (in its own namespace)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    if environ.get("PATH_INFO") == "/orphan":
        child = os.fork()
        if child == 0:
            if os.fork() == 0:
                os.closerange(3, 65536)  # the client's connection too: it must see the end
                time.sleep(0.5)
            os._exit(0)
        os.waitpid(child, 0)
        body = b"orphaned"
    else:
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
