"""Process-level helpers for the integration tests (Linux /proc based).

Kept apart from tests/support.py: sockets seen in /proc, process start times,
a command that runs as nobody (``as_nobody``), and a small runner for servers
that bind their own listeners (unix sockets, ``--listen PORT``) or start
through another command, which ``support.Server`` cannot start since it always
hands over an inherited TCP socket.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support import APPS, IN_CI, children, pid_alive, starlet_command, wait_for

CLK_TCK = os.sysconf("SC_CLK_TCK")
NOBODY = pwd.getpwnam("nobody")


def as_nobody(code: str) -> list[str]:
    """A command that runs Python ``code`` as nobody, without supplementary groups.

    The process starts as root and drops to nobody itself, after what it imports first
    (``code`` up to a ``# drop`` line), so nobody need not be able to read the
    interpreter's tree or this checkout: CI's Python lives under /root, and pip may write
    the console script with the installing user's umask."""
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("switching to nobody needs root")
        pytest.skip("switching to nobody needs root")
    before, _, after = code.partition("# drop\n")
    drop = f"import os\nos.setgroups([])\nos.setgid({NOBODY.pw_gid})\nos.setuid({NOBODY.pw_uid})\n"
    return [sys.executable, "-c", before + drop + after]


# Everything the refusal paths may import, loaded while still root.
STARLET_AS_NOBODY = (
    "import difflib, grp, importlib, pkgutil, sys, textwrap, traceback\n"
    "import starlet_py\n"
    "for m in pkgutil.iter_modules(starlet_py.__path__):\n"
    "    if m.name != '__main__':  # that one would serve\n"
    "        importlib.import_module('starlet_py.' + m.name)\n"
    "from starlet_py.cli import main\n"
    "sys.path.insert(0, '')\n"
    "import procs  # the app, from tests/apps (the cwd)\n"
    "# drop\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def socket_inodes(pid: int) -> set[int]:
    """Inodes of every socket ``pid`` holds open (``socket:[N]`` fd links)."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listening_tcp(port: int) -> dict[int, str]:
    """TCP (v4 and v6) sockets in state LISTEN on ``port``: inode -> local address (hex)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                found[inode] = local.rsplit(":", 1)[0]
    return found


def listening_tcp_inodes(port: int) -> set[int]:
    """Inodes of the TCP (v4 and v6) sockets in state LISTEN on ``port``."""
    return set(listening_tcp(port))


def start_ticks(pid: int) -> int:
    """Field 22 of /proc/PID/stat: start time after boot, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def holds_for(cond: Callable[[], Any], duration: float, what: str = "condition") -> None:
    """Assert ``cond`` stays true for ``duration`` seconds (polled, not slept blindly)."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert cond(), f"{what} stopped holding"
        time.sleep(0.02)


def is_starlet(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"starlet" in f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False


def kill_leftovers(pids: Iterable[int]) -> list[int]:
    """SIGKILL any of ``pids`` (our servers' workers) still alive; return them."""
    left = [pid for pid in pids if pid_alive(pid) and is_starlet(pid)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


class Spawned:
    """A ``starlet-py`` that binds its own listeners (started directly, not via Server)."""

    def __init__(
        self,
        args: Sequence[str],
        app: str = "procs:application",
        tag: str = "",
        command: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        cmd = [*(command or starlet_command()), *args, app]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        tmp = os.environ.get("TMPDIR", "/tmp")
        self.stderr_path = Path(tmp) / f"starlet-spawned-{os.getpid()}-{id(self)}{tag}.log"
        self._stderr = open(self.stderr_path, "w+b")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=APPS, env=env, stderr=self._stderr, stdout=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.seen: set[int] = set()

    def workers(self) -> list[int]:
        pids = children(self.pid)
        self.seen.update(pids)
        return pids

    def wait_workers(self, n: int, timeout: float = 10.0) -> list[int]:
        def ready() -> list[int] | None:
            assert self.proc.poll() is None, f"server exited early: {self.log()}"
            pids = self.workers()
            return pids if len(pids) == n else None

        return list(wait_for(ready, timeout, f"{n} workers"))

    def log(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """TERM the master (if alive), wait, and return its exit status."""
        self.workers()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_leftovers(self.workers())
            self.proc.kill()
            rc = self.proc.wait(5)
        kill_leftovers(self.seen)
        self._stderr.close()
        return rc


def run_cli(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 15.0
) -> subprocess.CompletedProcess[str]:
    """Run ``starlet-py ARGS`` to completion with a loopback fd as its listener.

    The fd keeps a misbehaving server (one that starts instead of refusing its
    arguments) off any real port; such a server is killed, workers first, at
    ``timeout`` and the result then carries returncode None.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        fd = lsock.fileno()
        cmd = [*starlet_command(), "--listen", f"fd://{fd}", *args]
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        proc = subprocess.Popen(
            cmd,
            cwd=APPS,
            env=full_env,
            pass_fds=(fd,),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        kill_leftovers(children(proc.pid))
        proc.kill()
        out, err = proc.communicate()
        rc = None
    return subprocess.CompletedProcess(cmd, rc, out, err)  # type: ignore[arg-type]
