"""Raw-socket helpers for the conformance tests (on top of tests/support.py).

``Conn`` reads responses one at a time from a connection that stays open
(keep-alive, pipelining, ``100 Continue``), which ``Server.raw`` (read until
close) cannot do.  Framing is decided from the raw bytes, never guessed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.support import Response, Server, read_all, split_response

APP = "conformance:application"
TIMEOUT = 5.0

# The data files the app serves, generated per test session (not committed).
DATA_FILES = {"face.bin": 4745, "medium.bin": 14750, "kyoto.bin": 2397701}


def make_data(directory: Path) -> Path:
    """Write the deterministic pseudo-random data files into ``directory``."""
    rng = random.Random(20240229)
    for name, size in DATA_FILES.items():
        (directory / name).write_bytes(rng.randbytes(size))
    return directory


def head_end(data: bytes) -> int | None:
    """Index just past the blank line ending the response head, or None."""
    i = data.find(b"\r\n\r\n")
    return None if i < 0 else i + 4


def _raw_headers(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    code = int(lines[0].split(" ", 2)[1])
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
    return code, fields


def chunked_end(data: bytes, pos: int) -> int | None:
    """End of a complete chunked body starting at ``pos`` (trailers included), or None."""
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(data[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            while True:  # trailer fields, then the empty line
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return pos + 2
                pos = eol + 2
        if len(data) < pos + size + 2:
            return None
        pos += size + 2


def response_end(data: bytes, head_only: bool = False) -> int | None:
    """Length of the first complete response in ``data``; None if incomplete
    or close-delimited (those end at EOF)."""
    end = head_end(data)
    if end is None:
        return None
    code, fields = _raw_headers(data[:end])
    if head_only or code in (204, 304) or 100 <= code < 200:
        return end
    if "transfer-encoding" in fields:
        return chunked_end(data, end)
    if "content-length" in fields:
        n = end + int(fields["content-length"])
        return n if len(data) >= n else None
    return None


class Conn:
    """One client connection that reads responses one at a time."""

    def __init__(self, server: Server, timeout: float = TIMEOUT) -> None:
        self.sock = server.connect(timeout)
        self.buf = b""
        self.eof = False

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        self.buf += data

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n and not self.eof:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_raw_response(self, head_only: bool = False) -> bytes:
        """The raw bytes of the next complete response (close-delimited: up to EOF)."""
        while True:
            n = response_end(self.buf, head_only)
            if n is not None:
                out, self.buf = self.buf[:n], self.buf[n:]
                return out
            if self.eof:
                assert head_end(self.buf) is not None, f"no response before EOF: {self.buf!r}"
                out, self.buf = self.buf, b""
                return out
            self._fill()

    def read_response(self, head_only: bool = False) -> Response:
        resp, rest = split_response(self.read_raw_response(head_only), head_only=head_only)
        assert rest == b"", rest
        return resp

    def read_to_eof(self) -> bytes:
        """Everything until the server closes; fails if it does not within the timeout."""
        try:
            while not self.eof:
                self._fill()
        except TimeoutError as e:
            raise AssertionError(f"the server did not close; got {self.buf[:200]!r}") from e
        out, self.buf = self.buf, b""
        return out

    def closed_by_peer(self) -> bool:
        """True if the server closes the connection (EOF, nothing more) within the timeout."""
        try:
            while not self.eof:
                self._fill()
        except TimeoutError:
            return False
        return self.buf == b""


def send_and_read(server: Server, data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send ``data`` (tolerating a reset: the server may answer early and close) and
    read until the server closes."""
    with server.connect(timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_all(s)


def request(
    method: str,
    path: str,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
    version: str = "HTTP/1.1",
    host: str | None = "localhost",
    close: bool = True,
) -> bytes:
    """Build one raw request; ``Content-Length`` is added for a non-empty body."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    lines = [f"{method} {path} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in items]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in items):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def fetch(server: Server, method: str, path: str, **kw: Any) -> Response:
    """One request on a fresh connection (``Connection: close``), parsed."""
    raw = server.raw(request(method, path, **kw), timeout=TIMEOUT)
    resp, rest = split_response(raw, head_only=method == "HEAD")
    assert rest == b"", f"bytes after the response: {rest[:200]!r}"
    return resp


def fetch_json(server: Server, method: str, path: str, **kw: Any) -> Any:
    resp = fetch(server, method, path, **kw)
    assert resp.status == 200, resp
    assert resp.header("content-type") == "application/json", resp
    return json.loads(resp.body)


def chunks(raw_body: bytes) -> list[bytes]:
    """Split a raw chunked body into its data pieces, checking the framing
    exactly: one zero-size chunk, at the very end, no trailers."""
    pieces: list[bytes] = []
    pos = 0
    while True:
        eol = raw_body.index(b"\r\n", pos)
        size = int(raw_body[pos:eol], 16)
        pos = eol + 2
        if size == 0:
            assert raw_body[pos:] == b"\r\n", f"after the last chunk: {raw_body[pos:]!r}"
            return pieces
        pieces.append(raw_body[pos : pos + size])
        assert raw_body[pos + size : pos + size + 2] == b"\r\n", raw_body
        pos += size + 2
