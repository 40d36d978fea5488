"""A per-worker resource opened by the README's post-fork hook (``at_fork:application``).

The app is imported once, in the master, before the workers are forked: a
connection or a thread made at import would be shared by (or lost in) every
worker.  ``os.register_at_fork(after_in_child=...)`` opens one in each worker.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from typing import Any

pool: sqlite3.Connection | None = None  # one per worker: opened after each fork
opened_by = 0


def open_pool() -> None:
    global pool, opened_by
    pool = sqlite3.connect(":memory:")
    opened_by = os.getpid()


os.register_at_fork(after_in_child=open_pool)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    assert pool is not None, "no fork yet"
    (one,) = pool.execute("select 1").fetchone()
    body = f"{os.getpid()} {opened_by} {one}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
