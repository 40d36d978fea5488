"""Raw-socket helpers for the conformance tests (on top of tests/support.py, whose
``Reader`` reads responses one at a time from a connection that stays open)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.support import Response, Server, chunked_body, read_all, split_response

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
    found = chunked_body(raw_body, 0)
    assert found is not None, f"incomplete chunked body: {raw_body[:200]!r}"
    pieces, end = found
    assert end == len(raw_body), f"after the last chunk: {raw_body[end:]!r}"
    return pieces
