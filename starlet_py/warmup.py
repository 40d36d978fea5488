"""--warmup: GET each PATH through the app in the master, before gc.freeze() and the fork,
so what a framework builds on its first requests is shared by every worker (README,
"Warming the app").  The request takes the server's request path (a Connection over a
socketpair, as prewarm.py does); the app's answer is checked here, its body iterated and
discarded (the socketpair need not hold a page), and the client gets an empty 204.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

from .config import Config
from .connection import Connection
from .errors import ConfigError
from .listeners import PeerNames
from .log import quiet
from .worker import Worker


def warm(
    app: Callable[..., Any], paths: Iterable[str], server_name: str = "localhost", server_port: str = "80"
) -> None:
    """GET each of ``paths`` (``/PATH``, or ``http://HOST/PATH`` to name the Host) through
    ``app``, once, in order; Host is otherwise the listener's address.

    Raises ConfigError (one line, naming the path) when the app raises or answers
    anything but 2xx, or the server refuses the request.
    """
    failed: list[str] = []  # what went wrong in the app, "" if nothing

    def watched(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        status = ["(none)"]

        def record(st: str, headers: list[tuple[str, str]], exc: Any = None) -> Callable[[bytes], None]:
            status[0] = st
            return lambda data: None

        try:
            body = app(environ, record)
            try:
                for _ in body:
                    pass
            finally:
                if hasattr(body, "close"):
                    body.close()
        except Exception as e:  # any app failure is a bad --warmup, not a crash
            failed.append(f"the app raised {type(e).__name__}: {e}".splitlines()[0])
        else:
            ok = status[0][:1] == "2" and status[0][:3].isdigit()
            failed.append("" if ok else f"status {status[0]}, expected 2xx")
        start_response("204 No Content", [])
        return []

    host = Worker(watched, Config(app="--warmup"), [])  # the default limits and timeouts
    name = f"[{server_name}]" if ":" in server_name else server_name
    default = f"{name}:{server_port}" if server_port.isdigit() and server_port != "80" else name
    for path in paths:
        field = path[7:].partition("/")[0].partition("?")[0] if path[:7] == "http://" else default
        ours, theirs = socket.socketpair()
        with ours, theirs, quiet():  # a refusal is reported below, in one line
            ours.sendall(f"GET {path} HTTP/1.1\r\nHost: {field}\r\n\r\n".encode())
            ours.shutdown(socket.SHUT_WR)
            Connection(theirs, PeerNames("127.0.0.1", "0", server_name, server_port), host).serve(host.base)
            refusal = ours.recv(4096).partition(b"\r\n\r\n")[2].decode().strip()
        # No outcome: the app did not run, the server refused the request (its body says why).
        problem = failed.pop() if failed else f"status {refusal}, expected 2xx"
        if problem:
            raise ConfigError(f"--warmup {path}: {problem}")
