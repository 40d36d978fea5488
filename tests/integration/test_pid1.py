"""starlet-py as PID 1, as in a container without an init: it handles its signals (the
kernel delivers to a namespace's init only the signals it has a handler for), reaps the
orphans an app leaves (they are adopted by PID 1) without a word, and exits with the
right status.  Run in a new PID namespace: ``unshare --pid --fork --mount-proc``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    APPS,
    children,
    need_program,
    parse_response,
    pid_alive,
    read_all,
    starlet_command,
    wait_for,
)


def ns_pid(pid: int) -> int:
    """``pid``'s number inside its own (innermost) PID namespace."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    raise AssertionError("no NSpid line")


class Pid1:
    """``starlet-py`` as the init of a new PID namespace, on a socket bound here."""

    def __init__(
        self, log: Path, app: str = "orphans:application", env: dict[str, str] | None = None
    ) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        fd = listener.fileno()
        cmd = ["unshare", "--pid", "--fork", "--mount-proc", *starlet_command(), "--listen", f"fd://{fd}",
               "--max-workers", "2", app]  # fmt: skip
        self.log_path = log
        self._log = open(log, "w+b")  # noqa: SIM115 - closed in close()
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(cmd, cwd=APPS, pass_fds=(fd,), stderr=self._log, env=full_env)
        listener.close()
        # unshare forks the namespace's first process: starlet-py's master, PID 1 in there.
        self.master: int = wait_for(lambda: next(iter(children(self.proc.pid)), 0), what="the master")

    def workers(self) -> list[int]:
        return [pid for pid in children(self.master) if pid_alive(pid)]

    def get(self, path: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            resp = parse_response(read_all(s))
        assert resp.status == 200, resp
        return resp.body

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            for pid in [*children(self.master), self.master]:
                os.kill(pid, signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def make_pid1(tmp_path: Path) -> Iterator[Callable[..., Pid1]]:
    """Factory: ``make_pid1(app, env)``; skips where no PID namespace may be made."""
    need_program("unshare")
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no new PID namespace here: {probe.stderr.decode().strip()}")
    started: list[Pid1] = []

    def factory(*a: Any, **kw: Any) -> Pid1:
        started.append(Pid1(tmp_path / f"pid1-{len(started)}.log", *a, **kw))
        return started[-1]

    yield factory
    for server in started:
        server.close()


def test_as_pid_1_it_reaps_orphans_silently_handles_signals_and_exits_0(
    make_pid1: Callable[..., Pid1],
) -> None:
    pid1 = make_pid1()
    workers = set(wait_for(lambda: len(w := pid1.workers()) == 2 and w, what="two workers"))
    assert ns_pid(pid1.master) == 1
    for _ in range(3):
        assert pid1.get("/orphan") == b"orphaned"
        # Its grandchild, orphaned, is the master's child now (for its 0.5 s).
        wait_for(lambda: set(children(pid1.master)) - workers, timeout=0.4, what="the orphan adopted")
    # Each one, once it exited, was reaped: no zombie stays among the master's children.
    wait_for(lambda: set(children(pid1.master)) == workers, what="the orphans reaped")
    os.kill(pid1.master, signal.SIGHUP)  # a handled signal: a fresh pool
    wait_for(lambda: len(new := pid1.workers()) == 2 and not workers & set(new), what="a new pool")
    os.kill(pid1.master, signal.SIGUSR2)  # ignored, and not fatal either
    wait_for(lambda: "received SIGUSR2: ignored" in pid1.log(), what="USR2 logged")
    assert pid1.get("/pid").isdigit()
    os.kill(pid1.master, signal.SIGTERM)
    assert pid1.proc.wait(15) == 0  # unshare passes on the master's exit status
    log = pid1.log()
    assert "all workers gone; exiting" in log
    assert "warning" not in log.lower() and "Traceback" not in log, log


def test_as_pid_1_a_stop_while_the_app_loads_is_not_lost(
    make_pid1: Callable[..., Pid1], tmp_path: Path
) -> None:
    """TERM must stop it while the app is imported (5 s here), before the master's own
    handlers are in place: the kernel drops a signal its init has no handler for."""
    mark = tmp_path / "importing"
    pid1 = make_pid1("slow_import:application", {"STARLET_TEST_MARK": str(mark)})
    wait_for(mark.exists, what="the app's import to begin")
    os.kill(pid1.master, signal.SIGTERM)
    assert pid1.proc.wait(3) == 128 + signal.SIGTERM  # as a shell reports a process TERM killed
