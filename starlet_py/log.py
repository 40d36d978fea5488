"""One line per event on stderr: a timestamp, the pid, the level, the message.  Routine events
(a worker spawned or recycled) are ``debug``, an abnormal one ``warning`` or above.  When stderr
is the journal, each line starts with its syslog priority (``<6>``)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import partial

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
TAGS = {10: ("DEBUG", 7), 20: ("INFO", 6), 30: ("WARNING", 4), 40: ("ERROR", 3)}  # and syslog's priority
_state = [LEVELS["info"], False]  # the threshold, and whether stderr is the journal


def setup(level: str, environ: Mapping[str, str]) -> None:
    """Log at ``level`` (one of LEVELS) and above; use the journal's priorities if stderr is it
    (JOURNAL_STREAM is inherited by a child whose stderr was redirected: hence the fstat)."""
    _state[0] = LEVELS[level]
    try:
        st = os.fstat(sys.stderr.fileno())
        _state[1] = environ.get("JOURNAL_STREAM") == f"{st.st_dev}:{st.st_ino}"
    except (OSError, ValueError):
        _state[1] = False  # no usable stderr: log() writes nothing anyway


def log(message: str, level: int = 20) -> None:
    """Write ``message`` (may span lines, e.g. a traceback) to stderr, prefixed."""
    if level < _state[0]:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    name, priority = TAGS[level]
    line = f"{stamp}Z [{os.getpid()}] [{name}] {message.rstrip()}"
    if _state[1]:  # the journal makes each line an entry: each gets the priority
        line = f"<{priority}>" + line.replace("\n", f"\n<{priority}>")
    with suppress(OSError, ValueError):  # stderr closed under us: logging must never take the server down
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


@contextmanager
def quiet() -> Iterator[None]:
    """Nothing but errors while the block runs (the prewarm's own requests)."""
    saved = _state[0]
    _state[0] = max(saved, LEVELS["error"])
    try:
        yield
    finally:
        _state[0] = saved


debug = partial(log, level=10)
info = partial(log, level=20)
warning = partial(log, level=30)


def log_exc(message: str) -> None:
    import traceback  # only on errors: not loaded into every worker before it needs it

    log(f"{message}:\n{traceback.format_exc()}", 40)
