"""systemd's notify protocol (sd_notify(3)) with the standard library: one datagram per state.
The master pops NOTIFY_SOCKET (a path, or ``@`` and an abstract name) from its environment,
as sd_notify's ``unset_environment`` does: no worker or subprocess takes it for its own."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import MutableMapping

from .log import warning


class Notifier:
    """Sends states to systemd; does nothing when there is no NOTIFY_SOCKET."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str]) -> Notifier:
        return cls(environ.pop("NOTIFY_SOCKET", None))

    def send(self, *lines: str) -> None:
        """One datagram of ``lines``; a failure is logged, never raised (systemd may be gone)."""
        if self.address is None:
            return
        target = os.fsencode(self.address)
        if target.startswith(b"@"):
            target = b"\0" + target[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.sendto("\n".join(lines).encode(), target)
        except OSError as e:
            warning(f"cannot notify NOTIFY_SOCKET={self.address}: {e.strerror or e}")

    def ready(self, status: str) -> None:
        self.send("READY=1", f"MAINPID={os.getpid()}", f"STATUS={status}")

    def reloading(self) -> None:
        # MONOTONIC_USEC is what Type=notify-reload asks for; plain Type=notify ignores it.
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        self.send("STOPPING=1")
