"""PEP 3333 from the server's side: environ, wsgi.input, file_wrapper (not start_response)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

from . import proxy
from .listeners import PeerNames
from .protocol import Request
from .rfc import HOSTS, PCT, check_host, remember

# Lower-case field name -> environ key; None for names with '_' (they would alias
# the '-' spelling and let a client forge HTTP_X_FORWARDED_FOR behind a proxy).
_keys: dict[bytes, str | None] = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}


def _key(name: bytes) -> str | None:
    key = None if b"_" in name else "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
    return remember(_keys, name, key, 512)


def unquote(data: bytes) -> bytes:
    """urllib.parse.unquote_to_bytes, without importing urllib.parse into every worker."""
    parts = data.split(b"%")
    out = [parts[0]]
    for part in parts[1:]:
        byte = PCT.get(part[:2])
        out.append(b"%" + part if byte is None else byte + part[2:])
    return b"".join(out)


def template() -> dict[str, Any]:
    """The environ keys that are the same for every request (copied per request)."""
    return {
        "SCRIPT_NAME": "",
        "SERVER_SOFTWARE": "starlet-py",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": FileWrapper,
    }


def build(base: dict[str, Any], req: Request, names: PeerNames, inp: Input) -> dict[str, Any]:
    """The environ of one request (all values native str, bytes carried as latin-1)."""
    env = base.copy()
    # Decoded once: in latin-1, splitting the text is splitting the bytes.
    raw = target = req.target.decode("latin-1")
    host = req.host
    authority = req.authority
    if authority is not None:
        # absolute-form: its authority replaces Host (RFC 9112 §3.2.2); the rest is the path.
        host = authority
        target = raw[raw.index("://") + 3 + len(authority) :]
        if target[:1] != "/":
            target = "/" + target
    if "#" in target:
        # A fragment is the client's (RFC 3986 §3.5): dropped, as nginx's $uri drops it.
        target = target.partition("#")[0]
    path, _, query = target.partition("?")
    if "%" in path:
        path = unquote(path.encode("latin-1")).decode("latin-1")
    # OPTIONS * names no path: PATH_INFO is empty (REQUEST_URI keeps the "*").
    env["PATH_INFO"] = path if path != "*" else ""
    env["QUERY_STRING"] = query
    env["REQUEST_URI"] = env["RAW_URI"] = raw
    env["REQUEST_METHOD"] = req.method
    env["SERVER_PROTOCOL"] = "HTTP/1.1" if req.version == "1.1" else "HTTP/1.0"
    env["REMOTE_ADDR"], env["REMOTE_PORT"], server_name, server_port = names
    for name, value in req.headers:
        key = _keys.get(name) or _key(name)
        if key is None:
            continue
        if key in env:
            env[key] += ", " + value.decode("latin-1")
        else:
            env[key] = value.decode("latin-1")
    if host:
        hname, hport = HOSTS.get(host) or check_host(host)
        server_name = hname or server_name
        # No port in Host: the scheme's default (proxy.apply makes it 443 with https), as
        # gunicorn does; never the listener's, which for a unix socket is its path.
        server_port = hport or "80"
    env["SERVER_NAME"] = server_name
    env["SERVER_PORT"] = server_port
    env["wsgi.input"] = inp
    return env


Build = Callable[[dict[str, Any], Request, PeerNames, "Input"], dict[str, Any]]


def builder(spec: str) -> Build:
    """``build``, then proxy.apply for trusted peers if ``spec`` (--forwarded-allow-ips) names any."""
    trusted = proxy.parse(spec)
    if trusted is None:
        return build

    def build_behind_proxy(
        base: dict[str, Any], req: Request, names: PeerNames, inp: Input
    ) -> dict[str, Any]:
        env = build(base, req, names, inp)
        if trusted(names.remote_addr):
            proxy.apply(env)
        return env

    return build_behind_proxy


class Input:
    """``wsgi.input``: the request body, which ``pull`` reads into ``req.body`` as the app
    reads.  A body cut short raises ClientDisconnected (an OSError), never a short b''."""

    __slots__ = ("_req", "_pull")

    def __init__(self, req: Request, pull: Callable[[], None]) -> None:
        self._req = req
        self._pull = pull

    def _next_piece(self) -> bytes:
        """The next piece of body, or b'' at its end."""
        req = self._req
        body = req.body
        while not body:
            if req.error is not None:
                raise req.error
            if req.complete:
                return b""
            self._pull()
        return body.popleft()

    def read(self, size: int | None = -1, line: bool = False) -> bytes:
        """Up to ``size`` bytes (all with None or < 0); with ``line``, up to a newline too."""
        parts = []
        want = -1 if size is None or size < 0 else size
        while want != 0:
            piece = self._next_piece()
            if not piece:
                break
            end = len(piece)
            if line:
                end = piece.find(b"\n") + 1 or end
            if 0 <= want < end:
                end = want
            if end < len(piece):  # the unread tail goes back
                self._req.body.appendleft(piece[end:])
                piece = piece[:end]
            parts.append(piece)
            if line and piece[-1] == 10:  # b"\n"
                break
            if want > 0:
                want -= end
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        return self.read(size, True)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines, total = [], 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def drain(self, limit: int) -> bool:
        """Discard the unread body if at most ``limit`` bytes remain; True if it is all in."""
        req = self._req
        seen = 0
        while True:
            seen += sum(map(len, req.body))
            req.body.clear()
            if req.complete or req.error is not None:
                return req.error is None
            if seen > limit:
                return False
            self._pull()


class FileWrapper:
    """``wsgi.file_wrapper``: iterates a file in blocks; the server may ``sendfile`` it."""

    def __init__(self, filelike: IO[bytes], blksize: int = 65536) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        while block := read(self.blksize):
            yield block

    def sendable(self) -> tuple[int, int, int] | None:
        """(fd, offset, length) when the file is a regular file ``sendfile`` can send."""
        try:
            fd = self.filelike.fileno()
            st = os.fstat(fd)
            offset = self.filelike.tell()
        except (AttributeError, OSError, ValueError):
            return None
        return (fd, offset, max(st.st_size - offset, 0)) if st.st_mode & 0o170000 == 0o100000 else None
