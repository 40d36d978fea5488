"""The parsed request: what Protocol makes of a head, and where its body arrives."""

from __future__ import annotations

from collections import deque

from .errors import ClientDisconnected, HTTPError


class Request:
    """One request as parsed.  ``error`` set on a request means: answer it, then close."""

    __slots__ = (
        "method", "target", "version", "headers", "keep_alive", "chunked",
        "content_length", "expect", "host", "authority", "body", "complete", "error",
    )  # fmt: skip

    def __init__(self) -> None:
        self.method = ""
        self.target = b""
        self.version = "1.1"
        # (lower-case name, value) in arrival order; names keep '-', values are stripped.
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = False
        self.chunked = False
        self.content_length: bytes | None = None
        self.expect: bytes | None = None
        self.host: bytes | None = None
        self.authority: bytes | None = None  # of an absolute-form target; it overrides Host
        self.body: deque[bytes] = deque()  # arrived but not yet read by the app
        self.complete = False  # the whole body has arrived
        # HTTPError: refused before the app ran.  ClientDisconnected: the body broke while
        # the app may be reading it (raised at its next read).
        self.error: HTTPError | ClientDisconnected | None = None

    @property
    def request_line(self) -> str:
        """For log lines: ``METHOD target HTTP/x.y``."""
        return f"{self.method} {self.target.decode('latin-1')} HTTP/{self.version}"
