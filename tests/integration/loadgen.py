"""A client loop for the restart tests, and helpers for servers run under supervisors.

``LoadLoop`` runs client threads that send ``GET /gen?size=N`` (tests/apps/deploy.py)
back to back until stopped, bounded by a request count and a deadline.  Each answer
must be complete: status 200, Content-Length N, exactly N body bytes naming the
generation and pid that served it.  Anything else -- a refused connect, a reset, a
timeout, a short or malformed answer -- is a failure, recorded with what was seen.

Client kinds:
  * close: one request per connection (``Connection: close``), like nginx without
    upstream keep-alive; nothing may fail, ever.
  * slow: the same, but the app sleeps ``slow_delay`` before answering, so restarts
    catch requests in flight; nothing may fail either.
  * keep-alive: requests reuse a connection.  A server may close an idle kept-alive
    connection at any moment (it is restarting), so a request that fails on a
    *reused* connection before one byte of answer arrived is retried once on a new
    connection, as RFC 9112 section 9.3.1 allows for idempotent requests (nginx does
    the same with its upstream pool).  Those are counted as ``retries``, not failures;
    anything else is a failure.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import (
    APPS,
    Reader,
    Response,
    Stalled,
    children,
    need_program,
    pid_alive,
    starlet_command,
    wait_for,
)

GEN_LINE = re.compile(rb"gen=(\S+) pid=(\d+) ppid=(\d+)")
Connect = Callable[[], socket.socket]


class Failed(Exception):
    """One request did not get a complete, correct answer."""

    def __init__(self, what: str, got_bytes: int = 0) -> None:
        super().__init__(what)
        self.got_bytes = got_bytes


def read_one(reader: Reader) -> Response:
    """The next response on ``reader``'s connection; any failure is a Failed that says
    how many bytes of it had arrived."""
    try:
        return reader.read_response()
    except Stalled:
        what = "timeout"
    except (AssertionError, ValueError) as e:  # cut short, or malformed
        what = "reset" if reader.reset else "closed" if reader.eof else f"bad answer ({e})"
    except OSError as e:
        what = f"recv failed ({e})"
    got = len(reader.buf)
    raise Failed(f"{what} after {got} bytes" + (f": {reader.buf[:100]!r}" if got else ""), got)


@dataclass
class Stats:
    sent: int = 0
    ok: int = 0
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    generations: Counter[str] = field(default_factory=Counter)
    pids: set[int] = field(default_factory=set)  # workers and their masters that answered
    masters: Counter[int] = field(default_factory=Counter)  # answers per master (the worker's ppid)

    @classmethod
    def merged(cls, parts: Sequence[Stats]) -> Stats:
        total = cls()
        for part in parts:
            total.sent += part.sent
            total.ok += part.ok
            total.retries += part.retries
            total.failures += part.failures
            total.generations.update(part.generations)
            total.pids |= part.pids
            total.masters.update(part.masters)
        return total

    def summary(self) -> str:
        return (
            f"sent={self.sent} ok={self.ok} failed={len(self.failures)} retries={self.retries} "
            f"generations={len(self.generations)}"
        )


class LoadLoop:
    """Client threads hammering ``/gen`` until ``stop()``; bounded by count and time."""

    def __init__(
        self,
        connect: Connect,
        *,
        close_threads: int = 4,
        keepalive_threads: int = 0,
        slow_threads: int = 0,
        slow_delay: float = 0.5,
        size: int = 4096,
        max_requests: int = 500_000,
        max_seconds: float = 180.0,
        timeout: float = 15.0,
    ) -> None:
        self.connect = connect
        self.size = size
        self.timeout = timeout
        self.max_requests = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.stats = Stats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        request = f"GET /gen?size={size} HTTP/1.1\r\nHost: localhost\r\n"
        self.close_request = (request + "Connection: close\r\n\r\n").encode()
        self.keep_request = (request + "\r\n").encode()
        slow = f"GET /gen?size={size}&delay={slow_delay} HTTP/1.1\r\nHost: localhost\r\n"
        self.slow_request = (slow + "Connection: close\r\n\r\n").encode()
        self.threads = [threading.Thread(target=self._close_loop, daemon=True) for _ in range(close_threads)]
        self.threads += [
            threading.Thread(target=self._close_loop, args=(True,), daemon=True) for _ in range(slow_threads)
        ]
        self.threads += [
            threading.Thread(target=self._keep_loop, daemon=True) for _ in range(keepalive_threads)
        ]

    # -- control ------------------------------------------------------------
    def start(self) -> LoadLoop:
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> Stats:
        self._stop.set()
        for t in self.threads:
            t.join(self.timeout + 5)
        assert not any(t.is_alive() for t in self.threads), "a client thread hung"
        return self.stats

    def running(self) -> bool:
        return (
            not self._stop.is_set()
            and time.monotonic() < self.deadline
            and self.stats.sent < self.max_requests
        )

    def served_by(self, gen: str) -> int:
        with self._lock:
            return self.stats.generations[gen]

    def served_by_master(self, pid: int) -> int:
        with self._lock:
            return self.stats.masters[pid]

    def ok_count(self) -> int:
        with self._lock:
            return self.stats.ok

    # -- one answer ---------------------------------------------------------
    def _check(self, resp: Response) -> None:
        body = resp.body
        if resp.status != 200:
            raise Failed(f"status {resp.status}: {body[:200]!r}")
        if resp.header("content-length") != str(self.size) or len(body) != self.size:
            raise Failed(f"short body: {len(body)} of {self.size} (CL {resp.header('content-length')})")
        match = GEN_LINE.match(body)
        if match is None or body[match.end() :] != b"." * (self.size - match.end()):
            raise Failed(f"wrong body: {body[:100]!r}")
        with self._lock:
            self.stats.ok += 1
            self.stats.generations[match.group(1).decode()] += 1
            self.stats.pids.update((int(match.group(2)), int(match.group(3))))
            self.stats.masters[int(match.group(3))] += 1

    def _count_sent(self) -> None:
        with self._lock:
            self.stats.sent += 1

    def _fail(self, what: str) -> None:
        with self._lock:
            self.stats.failures.append(what)

    def _open(self) -> socket.socket:
        try:
            sock = self.connect()
        except OSError as e:
            raise Failed(f"connect failed: {e}") from None
        sock.settimeout(self.timeout)
        return sock

    # -- the loops ------------------------------------------------------------
    def _close_loop(self, slow: bool = False) -> None:
        request = self.slow_request if slow else self.close_request
        kind = "slow client" if slow else "close client"
        while self.running():
            self._count_sent()
            try:
                with Reader(self._open()) as reader:
                    reader.send(request)
                    resp = read_one(reader)
                    if reader.buf:
                        raise Failed(f"bytes after the answer: {reader.buf[:100]!r}")
                    self._check(resp)
            except Failed as e:
                self._fail(f"{kind}: {e}")
            except OSError as e:
                self._fail(f"{kind}: send failed: {e}")

    def _keep_loop(self) -> None:
        conn: Reader | None = None
        reused = False
        try:
            while self.running():
                self._count_sent()
                for attempt in (1, 2):
                    if conn is None:
                        try:
                            conn, reused = Reader(self._open()), False
                        except Failed as e:
                            self._fail(f"keep-alive client: {e}")
                            break
                    try:
                        try:
                            conn.send(self.keep_request)
                        except OSError as e:
                            raise Failed(f"send failed: {e}") from None
                        resp = read_one(conn)
                        self._check(resp)
                    except Failed as e:
                        conn.sock.close()
                        conn = None
                        if attempt == 1 and reused and e.got_bytes == 0:
                            with self._lock:
                                self.stats.retries += 1
                            continue  # the server closed an idle connection: retry once
                        self._fail(f"keep-alive client (attempt {attempt}, reused={reused}): {e}")
                        break
                    reused = True
                    if (resp.header("connection") or "").lower() == "close":
                        conn.sock.close()
                        conn = None
                    break
        finally:
            if conn is not None:
                conn.sock.close()


# -- ports and processes ------------------------------------------------------


def group_members(pgid: int) -> list[int]:
    """Live pids in process group ``pgid`` (/proc/PID/stat field 5).

    Our supervisors run in a session of their own, so this is every process they
    started, even one orphaned and reparented elsewhere.  (Not the environment:
    setproctitle overwrites /proc/PID/environ.)
    """
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(name))
    return found


class Supervised:
    """A supervisor (start_server, systemd-socket-activate) or a bare starlet-py in its
    own session, so every process it starts stays in one process group we own."""

    def __init__(
        self, cmd: Sequence[str], log: Path, env: dict[str, str] | None = None, pass_fds: Sequence[int] = ()
    ) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.log_path = log
        self._log = open(log, "w+b")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            list(cmd),
            cwd=APPS,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
        self.pid = self.proc.pid

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kids(self) -> list[int]:
        return children(self.pid)

    def group(self) -> list[int]:
        """Every live process of ours: the session (and group) start_new_session made."""
        return group_members(self.pid)

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Signal the top process, wait for it; kill our process group if anything hangs."""
        rc: int | None = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            wait_for(lambda: not self.group(), 10, "our processes to exit")
        except AssertionError:
            pass
        if rc is None or self.group():
            try:
                os.killpg(self.pid, signal.SIGKILL)  # the group start_new_session made
            except ProcessLookupError:
                pass
            if rc is None:
                self.proc.wait(5)
        if not self._log.closed:
            self._log.close()
        return rc


def start_server_cmd(
    ports: Sequence[str], paths: Sequence[str], starlet_args: Sequence[str], starter_args: Sequence[str] = ()
) -> list[str]:
    cmd = ["start_server", *(f"--port={p}" for p in ports), *(f"--path={p}" for p in paths), *starter_args]
    return [*cmd, "--", *starlet_command(), *starlet_args, "deploy:application"]


def start_starter(
    log_dir: Path,
    ports: Callable[[], list[str]],
    paths: Sequence[str] = (),
    starlet_args: Sequence[str] = (),
    starter_args: Sequence[str] = (),
    workers: int = 2,
) -> tuple[Supervised, list[str]]:
    """start_server on ports picked by ``ports()`` (retried if one was taken meanwhile),
    returned once its first generation has ``workers`` workers."""
    need_program("start_server")
    log = ""
    for attempt in range(3):
        chosen = ports()
        args = [*starlet_args, "--max-workers", str(workers)]
        cmd = start_server_cmd(chosen, paths, args, starter_args)
        sup = Supervised(cmd, log_dir / f"starter-{attempt}.log")

        def ready(sup: Supervised = sup) -> str | None:
            if sup.exited():
                return "exited"
            masters = sup.kids()
            return "ready" if len(masters) == 1 and len(children(masters[0])) == workers else None

        try:
            state = wait_for(ready, 20, "start_server's first generation")
        except AssertionError:
            sup.stop()
            raise AssertionError(f"start_server did not come up:\n{sup.log()}") from None
        if state == "ready":
            return sup, chosen
        sup.stop()
        log = sup.log()
        if "Address already in use" not in log:
            raise AssertionError(f"start_server failed:\n{log}")
    raise AssertionError(f"no free port in three attempts:\n{log}")


def old_generation_exits(sup: Supervised, old_master: int, old_workers: Sequence[int]) -> str:
    """start_server's own record of how the old master ended."""
    assert not pid_alive(old_master)
    assert not any(pid_alive(p) for p in old_workers), "an old worker outlived its master"

    def reported() -> str | None:
        # start_server logs it once it has reaped the pid (a moment after it died).
        for line in sup.log().splitlines():
            if line.startswith(f"old worker {old_master} died"):
                return line
        return None

    return str(wait_for(reported, 10, f"start_server to report the end of {old_master}"))
