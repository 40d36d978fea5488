"""The two ways a request goes wrong, and a bad option."""

from __future__ import annotations


class HTTPError(Exception):
    """A request the server answers itself with ``status``, then closes; ``detail`` is why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class ClientDisconnected(OSError):
    """The client went away, stalled, or broke the body: the connection is unusable.  An OSError,
    so an app reading ``wsgi.input`` sees a truncated upload as an I/O error; ``status`` is what
    the client gets if no response started yet (408 when it stalled, else 400)."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.status = status


class ConfigError(ValueError):
    """A bad option value or APP: reported in one line, exit status 2."""
