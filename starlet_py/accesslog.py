"""``--access-log``: one line per answered request, Apache's ``common`` or ``combined``, or ``json``
(nothing here runs when the log is off).  Clients control the request line, Referer and User-Agent:
every field is escaped, so no input can end a line or add a field (forged JSON: gunicorn #2457)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, TextIO

if TYPE_CHECKING:
    from .protocol import Request

FORMATS = ("common", "combined", "json")


class Record(NamedTuple):
    """One answered request (the json format's fields)."""

    remote: str  # '' for a unix-socket client (logged '-')
    time: float  # wall clock (time.time()) when the request's head was complete
    request: str  # the request line, '-' when none was parsed
    status: int
    bytes: int  # of body actually sent (not the announced Content-Length)
    duration: float  # seconds from the complete head to the end of the response
    referer: str | None
    user_agent: str | None


# Apache's escaping (mod_log_config): '"' (34) and '\' (92) get a backslash, anything outside
# printable ASCII becomes \xhh; strings here are latin-1, so every char is < 256.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0x100))} | {34: '\\"', 92: "\\\\"}


def quote(text: str) -> str:
    """``text`` made safe between double quotes in a log line."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text  # the common case: no copy
    return text.translate(_ESCAPES)


def common(r: Record) -> str:
    """Apache's common log format (time in UTC); the size is ``-`` when no body byte was sent."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(r.time))
    return f'{quote(r.remote) or "-"} - - [{stamp}] "{quote(r.request)}" {r.status or "-"} {r.bytes or "-"}\n'


def combined(r: Record) -> str:
    """Apache's combined format, then the duration in microseconds (Apache's ``%D``)."""
    referer = "-" if r.referer is None else quote(r.referer)
    agent = "-" if r.user_agent is None else quote(r.user_agent)
    return f'{common(r)[:-1]} "{referer}" "{agent}" {int(r.duration * 1e6)}\n'


def json_formatter() -> Callable[[Record], str]:
    """The ``json`` format; json is imported only here."""
    from json import dumps

    def json_line(r: Record) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(r.time)) + f".{int(r.time % 1 * 1000):03d}Z"
        fields = r._asdict()
        fields.update(remote=r.remote or "-", time=stamp, duration=round(r.duration, 6))
        return dumps(fields) + "\n"

    return json_line


class AccessLog:
    """A worker's access log: ``request()`` formats one line and writes it."""

    __slots__ = ("stream", "format", "headers")

    def __init__(self, stream: TextIO, name: str) -> None:
        self.stream = stream
        self.format = json_formatter() if name == "json" else combined if name == "combined" else common
        self.headers = name != "common"  # only the others look at Referer and User-Agent

    def request(self, remote: str, req: Request | None, status: int, sent: int, started: float) -> None:
        """Log one answer; ``started`` is time.monotonic() when its head was complete."""
        duration = time.monotonic() - started if started else 0.0
        line = req.request_line if req is not None and req.method else "-"
        referer = agent = None
        if self.headers and req is not None:
            for name, value in req.headers:
                if name == b"referer":
                    referer = value.decode("latin-1")
                elif name == b"user-agent":
                    agent = value.decode("latin-1")
        if type(remote) is not str:  # REMOTE_ADDR as the app (a middleware) left it
            remote = str(remote)
        record = Record(remote, time.time() - duration, line, status, sent, duration, referer, agent)
        try:
            self.stream.write(self.format(record))
        except (OSError, ValueError):
            pass  # a full disk or a closed log must not fail the request
