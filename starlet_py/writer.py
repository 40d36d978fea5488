"""Every send of one connection, and the one place a failed send becomes ClientDisconnected.

SO_SNDTIMEO is ``--timeout``: a client that stops reading makes a send fail (EAGAIN), a disconnect too.
"""

from __future__ import annotations

import os
import socket

from .errors import ClientDisconnected

SMALL = 16384  # below this, head and body are joined into one buffer for one send()


class Writer:
    """Sends to ``sock``."""

    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, head: bytes, body: bytes = b"") -> None:
        """``head`` then ``body`` (either may be empty), in one system call when it can."""
        sock = self.sock
        try:
            if len(body) < SMALL or not head:
                sock.sendall(head + body)
            else:
                sent = sock.sendmsg((head, body))  # two buffers, one syscall, no copy
                if sent < len(head) + len(body):
                    sock.sendall((head + body)[sent:])  # rare: the socket buffer was full
        except OSError as e:
            raise ClientDisconnected(f"write failed: {e}") from e

    def sendfile(self, head: bytes, fd: int, offset: int, count: int) -> int:
        """``head``, then ``count`` bytes of a regular file; returns the file bytes sent
        (fewer if the file shrank under us)."""
        sock = self.sock
        done = 0
        try:
            # Corked: the head leaves with the file's first bytes (not when nothing follows).
            sock.sendall(head, socket.MSG_MORE if count else 0)
            out = sock.fileno()
            while done < count:
                sent = os.sendfile(out, fd, offset + done, count - done)
                if sent == 0:
                    break  # the file shrank
                done += sent
        except OSError as e:
            raise ClientDisconnected(f"sendfile failed: {e}") from e
        return done
