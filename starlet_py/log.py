"""One line per event on stderr, with a timestamp and the pid."""

from __future__ import annotations

import os
import sys
import time


def log(message: str) -> None:
    """Write ``message`` (may span lines, e.g. a traceback) to stderr, prefixed."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    try:
        sys.stderr.write(f"{stamp}Z [{os.getpid()}] {message.rstrip()}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr closed under us: logging must never take the server down


def log_exc(message: str) -> None:
    """Log ``message`` with the traceback of the exception being handled."""
    import traceback  # only on errors: not loaded into every worker before it needs it

    log(f"{message}:\n{traceback.format_exc()}")


def access_line(remote: str, request_line: str, status: int, length: int | None) -> str:
    """A common-log-format line (the body size is '-' when it was not announced)."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    size = "-" if length is None else str(length)
    return f'{remote or "-"} - - [{stamp}] "{request_line}" {status or "-"} {size}\n'
