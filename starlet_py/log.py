"""One line per event on stderr, with a timestamp, the pid and a level.

``--log-level`` (``set_level``) hides the levels below it; routine events (a
worker spawned or recycled) are ``debug``, an abnormal one ``warning`` or above.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_threshold = [LEVELS["info"]]


def set_level(name: str) -> None:
    """Log only at ``name`` (one of LEVELS) and above; raises KeyError otherwise."""
    _threshold[0] = LEVELS[name]


def log(message: str, level: int = 20) -> None:
    """Write ``message`` (may span lines, e.g. a traceback) to stderr, prefixed."""
    if level < _threshold[0]:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    try:
        sys.stderr.write(f"{stamp}Z [{os.getpid()}] {message.rstrip()}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr closed under us: logging must never take the server down


@contextmanager
def quiet() -> Iterator[None]:
    """Nothing but errors while the block runs (the prewarm's own requests)."""
    saved = _threshold[0]
    _threshold[0] = max(saved, LEVELS["error"])
    try:
        yield
    finally:
        _threshold[0] = saved


def debug(message: str) -> None:
    log(message, 10)


def info(message: str) -> None:
    log(message, 20)


def warning(message: str) -> None:
    log(message, 30)


def error(message: str) -> None:
    log(message, 40)


def log_exc(message: str) -> None:
    """Log ``message`` at error level with the traceback of the exception being handled."""
    import traceback  # only on errors: not loaded into every worker before it needs it

    error(f"{message}:\n{traceback.format_exc()}")

