"""Helpers shared by the integration and conformance tests.

Every server here is a real ``starlet-py`` process.  The test binds the
listening socket itself (port 0 on loopback), then hands it over as
``--listen fd://N``: no port races, and the socket-adoption path is exercised
by every test.  Waiting is always "poll for a condition until a deadline".
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
APPS = TESTS / "apps"
IN_CI = os.environ.get("CI", "").lower() == "true"


def starlet_command() -> list[str]:
    """The installed console script next to this interpreter, else ``-m``."""
    script = Path(sys.executable).with_name("starlet-py")
    if script.exists():
        return [str(script)]
    found = shutil.which("starlet-py")
    return [found] if found else [sys.executable, "-m", "starlet_py"]


def need_program(name: str) -> str:
    """Path of an external program; skip the test without it (fail under CI)."""
    import pytest

    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed (apt-get install it to run this test)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def wait_for(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def children(pid: int) -> list[int]:
    """Direct child pids of ``pid`` (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class Server:
    """A running ``starlet-py`` on a loopback socket the test bound itself."""

    def __init__(
        self,
        app: str,
        args: Sequence[str] = (),
        *,
        family: int = socket.AF_INET,
        env: dict[str, str] | None = None,
        workers: int | None = 2,
        cwd: Path = APPS,
    ) -> None:
        self.family = family
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.listener.bind((self.host, 0))
        self.listener.listen(128)
        self.port: int = self.listener.getsockname()[1]
        fd = self.listener.fileno()
        cmd = [*starlet_command(), "--listen", f"fd://{fd}"]
        if workers is not None:
            cmd += ["--max-workers", str(workers)]
        cmd += [*args, app]
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        tmp = Path(os.environ.get("TMPDIR", "/tmp"))
        self.stderr_path = tmp / f"starlet-test-{os.getpid()}-{id(self)}.log"
        self._stderr = open(self.stderr_path, "w+b")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=full_env, pass_fds=(fd,), stderr=self._stderr, stdout=subprocess.DEVNULL
        )
        # The server holds its own copy now; ours would keep the port open after it exits.
        self.listener.close()
        self.pid = self.proc.pid
        if workers:
            wait_for(lambda: len(self.workers()) >= workers, what=f"{workers} workers")

    # -- process helpers -------------------------------------------------
    def workers(self) -> list[int]:
        return children(self.pid)

    def log(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int:
        """TERM the master (if alive) and return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # Workers first: once the master is gone they are no longer its children.
            for pid in self.workers():
                os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            rc = self.proc.wait(5)
        self._stderr.close()
        return rc

    # -- client helpers --------------------------------------------------
    def connect(self, timeout: float = 10.0) -> socket.socket:
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        return s

    def raw(self, data: bytes, timeout: float = 10.0) -> bytes:
        """Send ``data`` on a new connection and read until the server closes."""
        with self.connect(timeout) as s:
            s.sendall(data)
            return read_all(s)

    def get(self, path: str = "/", headers: str = "") -> Response:
        """One HTTP/1.0-style request (``Connection: close``), parsed."""
        req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\r\n"
        return parse_response(self.raw(req.encode("latin-1")))


def read_all(s: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


class Response:
    """A parsed HTTP response: status, headers (lower-case names, in order), body."""

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers!r} {self.body[:200]!r}>"


def parse_response(data: bytes, head_only: bool = False) -> Response:
    """Parse one complete response from ``data`` (de-chunking a chunked body)."""
    resp, rest = split_response(data, head_only=head_only)
    return resp


def split_response(data: bytes, head_only: bool = False) -> tuple[Response, bytes]:
    """Parse the first response in ``data``; return it and the bytes after it.

    A body with neither Content-Length nor chunked framing runs to the end.
    """
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"incomplete response head: {data[:300]!r}")
    lines = head.decode("latin-1").split("\r\n")
    version, status, *reason = lines[0].split(" ", 2)
    assert version in ("HTTP/1.1", "HTTP/1.0"), lines[0]
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip().lower(), v.strip()))
    resp = Response(int(status), reason[0] if reason else "", headers, b"")
    code = int(status)
    if head_only or code in (204, 304) or 100 <= code < 200:
        return resp, rest
    te = resp.header("transfer-encoding")
    cl = resp.header("content-length")
    if te is not None:
        assert te.lower() == "chunked", te
        body = bytearray()
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                # No trailers from us: the terminating CRLF follows at once.
                assert rest[:2] == b"\r\n", rest[:20]
                rest = rest[2:]
                break
            body += rest[:size]
            assert rest[size : size + 2] == b"\r\n", "bad chunk framing"
            rest = rest[size + 2 :]
        resp.body = bytes(body)
    elif cl is not None:
        n = int(cl)
        assert len(rest) >= n, f"short body: {len(rest)} < {n}"
        resp.body, rest = rest[:n], rest[n:]
    else:
        resp.body, rest = rest, b""
    return resp, rest


@contextmanager
def running(app: str, args: Sequence[str] = (), **kw: Any) -> Iterator[Server]:
    """Start a server for the duration of a ``with`` block; stop it after."""
    server = Server(app, args, **kw)
    try:
        yield server
    finally:
        server.stop()
