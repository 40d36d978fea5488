"""A prefork pool of bjoern loops: bjoern itself serves from one process.

The master imports the app, binds and listens once, forks ``--workers``
children that each run bjoern's libev loop on the inherited socket, replaces a
child that dies, and on SIGTERM/SIGINT passes the signal on to its children
(by pid) and exits when they are gone.

usage: python3 bjoern_prefork.py --port P [--host 127.0.0.1] [--workers 2] module:callable
(the app's folder is the working directory, as for the other servers)
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import bjoern  # type: ignore[import-not-found,import-untyped,unused-ignore]


def load(spec: str) -> Callable[..., Any]:
    module, _, attr = spec.partition(":")
    sys.path.insert(0, os.getcwd())
    obj: Any = importlib.import_module(module)
    for part in (attr or "application").split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


def spawn(sock: socket.socket, app: Callable[..., Any]) -> int:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        code = 0
        try:
            bjoern.server_run(sock, app)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    return pid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("app")
    args = ap.parse_args()
    app = load(args.app)
    sock = bjoern.bind_and_listen(args.host, args.port)

    children: set[int] = set()
    stopping = False

    def stop(signum: int, frame: object) -> None:
        # Pass it on from here: os.waitpid() below resumes after a handler (PEP 475).
        nonlocal stopping
        stopping = True
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    gc.collect()
    gc.freeze()
    children.update(spawn(sock, app) for _ in range(args.workers))
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while children:
        try:
            pid, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        children.discard(pid)
        if not stopping:
            time.sleep(0.1)  # a crashing app must not become a fork storm
            children.add(spawn(sock, app))

if __name__ == "__main__":
    main()
