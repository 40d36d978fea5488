"""Exceptions that carry the HTTP status a client should get for them."""

from __future__ import annotations


class HTTPError(Exception):
    """A request the server refuses; ``status`` is the answer, then close."""

    status = 400
    reason = "Bad Request"

    def __init__(self, message: str = "", status: int | None = None) -> None:
        super().__init__(message or self.reason)
        if status is not None:
            self.status = status
            self.reason = REASONS.get(status, "Error")


class BadRequest(HTTPError):
    """Malformed syntax (RFC 9112 §2.2 and friends): 400."""


class URITooLong(HTTPError):
    status, reason = 414, "URI Too Long"


class HeadersTooLarge(HTTPError):
    status, reason = 431, "Request Header Fields Too Large"


class NotImplementedCoding(HTTPError):
    """A transfer coding we do not decode (RFC 9112 §6.1): 501."""

    status, reason = 501, "Not Implemented"


class ExpectationFailed(HTTPError):
    status, reason = 417, "Expectation Failed"


class RequestTimeout(HTTPError):
    status, reason = 408, "Request Timeout"


class ClientDisconnected(OSError):
    """The client went away, stalled, or broke the body: the connection is unusable.

    An OSError, so an app reading ``wsgi.input`` sees a truncated upload as an
    I/O error.  ``status`` is what the client gets if no response started yet.
    """

    status = 400


class BodyTimeout(ClientDisconnected, TimeoutError):
    """A read or write made no progress within ``--timeout``."""

    status = 408


class BadBody(ClientDisconnected):
    """The request body is malformed (bad chunk syntax)."""


class ConfigError(ValueError):
    """A bad option value or APP: reported in one line, exit status 2."""


REASONS = {
    400: "Bad Request",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}
