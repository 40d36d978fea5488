"""What every process of the pool shares: its title, and a worker's safety nets after the fork.

Loaded by the master before it forks, so whatever these imports bring in
(ctypes above all) sits in pages the workers share instead of each copying it.
"""

from __future__ import annotations

import ctypes
import faulthandler
import importlib
import os
import signal
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

# The C functions under signal's, for what runs in a worker: the Python wrappers turn each
# old handler and mask into enums (failing, then building a repr), which cost every worker
# ~250 KiB of private memory.
_c_signal = importlib.import_module("_signal")
set_handler: Callable[[int, Callable[[int, FrameType | None], Any] | int], object] = _c_signal.signal
set_mask: Callable[[int, Iterable[int]], object] = _c_signal.pthread_sigmask
SIG_IGN: int = _c_signal.SIG_IGN  # its own int objects: the C function tells them by identity
SIG_DFL: int = _c_signal.SIG_DFL

DUMP = int(signal.SIGUSR2)  # a worker writes its threads' Python tracebacks to stderr on it
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_SIGTERM = int(signal.SIGTERM)
_prctl = ctypes.CDLL(None).prctl  # no use_errno: its per-thread errno slot costs every worker pages


def _title_setter() -> Callable[[str], None] | None:
    """setproctitle, if installed (optional).

    Imported by name so that mypy's verdict is the same with and without it installed.
    """
    try:
        module = importlib.import_module("setproctitle")
    except ImportError:
        return None
    setter: Callable[[str], None] = module.setproctitle
    return setter


setproctitle = _title_setter()


def set_title(role: str, app: str) -> None:
    if setproctitle is not None:
        setproctitle(f"starlet-py {role} {app}")


def arm(master: int) -> None:
    """In a new worker: dump tracebacks on DUMP, and never outlive the master.

    No orphans (README, "No orphans"): PR_SET_PDEATHSIG has the kernel send us
    TERM -- a graceful stop -- when the master dies, however it dies (SIGKILL,
    the OOM killer): nothing to poll, nothing per request.  The signals are
    still blocked here (Master._spawn), so a TERM is handled once Worker.setup
    has installed its handlers.
    """
    # Plain ints, and fd 2 rather than sys.stderr (whose fileno() and flush() would run):
    # each object a new worker touches is a page it copies (docs/design.md, "Memory").
    faulthandler.register(DUMP, file=2, all_threads=True)
    _prctl(PR_SET_PDEATHSIG, _SIGTERM, 0, 0, 0)
    if os.getppid() != master:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
