"""Helpers shared by the integration and conformance tests.

Every server here is a real ``starlet-py`` process.  The test binds the
listening socket itself (port 0 on loopback), then hands it over as
``--listen fd://N``: no port races, and the socket-adoption path is exercised
by every test.  Waiting is always "poll for a condition until a deadline".
"""

from __future__ import annotations

import functools
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
    """Everything until the peer closes (a reset counts as the close)."""
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


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody was bound to a moment ago, for a program that binds it itself.

    Only where the port must be named in advance (``--listen PORT``, a supervisor's
    ``--port``); everything else binds port 0 and passes the socket.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@functools.cache
def has_ipv6_loopback() -> bool:
    """True if ``::1`` can be bound on this machine."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# -- the one HTTP response parser ------------------------------------------------
#
# Framing is decided from the raw bytes, never guessed: a response ends where its
# Content-Length or its last chunk says, or at EOF when it has neither.  The server
# never sends chunk extensions or trailers, so they count as broken framing.


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


def head_end(data: bytes) -> int | None:
    """Index just past the blank line ending the response head, or None."""
    i = data.find(b"\r\n\r\n")
    return None if i < 0 else i + 4


def _parse_head(head: bytes) -> Response:
    lines = head.decode("latin-1").split("\r\n")
    version, status, *reason = lines[0].split(" ", 2)
    assert version in ("HTTP/1.1", "HTTP/1.0"), lines[0]
    assert len(status) == 3 and status.isdigit(), lines[0]
    headers = []
    for line in lines[1:]:
        if line:
            k, sep, v = line.partition(":")
            assert sep, f"header line without a colon: {line!r}"
            headers.append((k.strip().lower(), v.strip()))
    return Response(int(status), reason[0] if reason else "", headers, b"")


def chunked_body(data: bytes, pos: int) -> tuple[list[bytes], int] | None:
    """The data pieces of the chunked body starting at ``data[pos]`` and the index just
    past it; None if it is not all there yet.  Fails on anything but exact framing."""
    pieces = []
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_line = data[pos:eol]
        assert size_line and not size_line.strip(b"0123456789abcdefABCDEF"), f"bad chunk size {size_line!r}"
        size = int(size_line, 16)
        pos = eol + 2
        if len(data) < pos + size + 2:
            return None
        if size == 0:
            assert data[pos : pos + 2] == b"\r\n", f"after the last chunk: {data[pos : pos + 20]!r}"
            return pieces, pos + 2
        pieces.append(data[pos : pos + size])
        assert data[pos + size : pos + size + 2] == b"\r\n", f"bad chunk framing: {data[pos : pos + 40]!r}"
        pos += size + 2


def _frame(data: bytes, head_only: bool, eof: bool) -> tuple[Response, int] | None:
    """The first response in ``data`` (body filled in) and its length; None if incomplete.

    ``eof``: nothing more will come, so a body with neither Content-Length nor
    chunked framing ends here.
    """
    end = head_end(data)
    if end is None:
        return None
    resp = _parse_head(data[: end - 4])
    if head_only or resp.status in (204, 304) or 100 <= resp.status < 200:
        return resp, end
    te, cl = resp.header("transfer-encoding"), resp.header("content-length")
    if te is not None:
        assert te.lower() == "chunked", te
        found = chunked_body(data, end)
        if found is None:
            return None
        pieces, total = found
        resp.body = b"".join(pieces)
        return resp, total
    if cl is not None:
        total = end + int(cl)
        if len(data) < total:
            return None
        resp.body = data[end:total]
        return resp, total
    if not eof:
        return None
    resp.body = data[end:]
    return resp, len(data)


def response_end(data: bytes, head_only: bool = False, eof: bool = False) -> int | None:
    """Length of the first complete response in ``data``, or None if more is needed."""
    found = _frame(data, head_only, eof)
    return None if found is None else found[1]


def split_response(data: bytes, head_only: bool = False) -> tuple[Response, bytes]:
    """Parse the first response in ``data``, all that will come; return it and the bytes
    after it.  A body with neither Content-Length nor chunked framing runs to the end."""
    found = _frame(data, head_only, eof=True)
    if found is None:
        raise AssertionError(f"incomplete response: {data[:300]!r}")
    resp, n = found
    return resp, data[n:]


def parse_response(data: bytes, head_only: bool = False) -> Response:
    """Parse one complete response from ``data`` (de-chunking a chunked body)."""
    return split_response(data, head_only=head_only)[0]


class Stalled(AssertionError):
    """Nothing arrived within the socket's timeout: the server neither answered nor closed."""


class Reader:
    """Reads responses one at a time from a connection that may stay open (keep-alive,
    pipelining, ``100 Continue``), which ``read_all`` (read until close) cannot do.

    A reset counts as end-of-file (``reset`` tells them apart); a recv that times
    out raises Stalled.  Closes the socket on leaving a ``with`` block.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.reset = False

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def fill(self) -> None:
        """One recv into ``buf``."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data, self.reset = b"", True
        except TimeoutError:
            raise Stalled(f"nothing within {self.sock.gettimeout()}s; have {self.buf[:200]!r}") from None
        if not data:
            self.eof = True
        self.buf += data

    def read_raw_response(self, head_only: bool = False) -> bytes:
        """The raw bytes of the next response, interim (1xx) ones included."""
        while (n := response_end(self.buf, head_only, self.eof)) is None:
            if self.eof:
                raise AssertionError(f"connection closed before a whole response: {self.buf[:300]!r}")
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_only: bool = False) -> Response:
        """The next response, interim (1xx) ones included."""
        return split_response(self.read_raw_response(head_only), head_only=head_only)[0]

    def read_final_response(self, head_only: bool = False) -> Response | None:
        """The next final response (1xx skipped); None if the server closes first."""
        while True:
            while not self.buf and not self.eof:
                self.fill()
            if not self.buf:
                return None
            resp = self.read_response(head_only)
            if not 100 <= resp.status < 200:
                return resp

    def read_to_eof(self) -> bytes:
        """Everything until the server closes (Stalled if it does not)."""
        while not self.eof:
            self.fill()
        out, self.buf = self.buf, b""
        return out

    def closed_by_peer(self) -> bool:
        """True if the server closes the connection, with nothing more sent, within the timeout."""
        try:
            return self.read_to_eof() == b""
        except Stalled:
            return False


@contextmanager
def running(app: str, args: Sequence[str] = (), **kw: Any) -> Iterator[Server]:
    """Start a server for the duration of a ``with`` block; stop it after."""
    server = Server(app, args, **kw)
    try:
        yield server
    finally:
        server.stop()
