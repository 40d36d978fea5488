"""An app that leaves cyclic garbage on every request (``cycles:application``).

Each request builds two objects that refer to each other (with 10 KiB in them)
and drops them: only the cyclic collector can free them.  The body is how many
such pairs are still alive in this worker, and its pid: ``ALIVE PID``.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None
        self.payload = bytes(10240)


ALIVE: weakref.WeakSet[Node] = weakref.WeakSet()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    ALIVE.add(a)
    body = b"%d %d" % (len(ALIVE), os.getpid())
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
