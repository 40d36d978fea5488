"""A fork that fails is logged and retried, never fatal: the master keeps serving with
the workers it has and fills the pool once forks work again.

The failure is a real one: the master runs as nobody under a process limit
(RLIMIT_NPROC's soft limit) that leaves room for one worker, so the kernel refuses
the next fork() with EAGAIN; then another process of nobody raises that limit of
the running master (prlimit(2), which needs no privilege below the hard limit)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.proctools import NOBODY, STARLET_AS_NOBODY, Spawned, as_nobody
from tests.support import parse_response, read_all, wait_for

# Dropped to nobody, the master takes its limit from the environment before it starts.
UNDER_A_LIMIT = STARLET_AS_NOBODY.replace(
    "import starlet_py\n", "import resource\nimport starlet_py\n"
).replace(
    "# drop\n",
    "# drop\nlimit = int(os.environ['NPROC_LIMIT'])\n"
    "resource.setrlimit(resource.RLIMIT_NPROC, (limit, resource.getrlimit(resource.RLIMIT_NPROC)[1]))\n",
)
RAISE = (
    "import resource, sys\n"
    "# drop\n"
    "pid, soft = int(sys.argv[1]), int(sys.argv[2])\n"
    "resource.prlimit(pid, resource.RLIMIT_NPROC, (soft, resource.prlimit(pid, resource.RLIMIT_NPROC)[1]))\n"
)


def nobody_tasks() -> int:
    """What RLIMIT_NPROC counts for nobody: the threads of every process whose real user
    is nobody."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields["Uid"].split()[0]) == NOBODY.pw_uid:
            count += int(fields["Threads"])
    return count


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A directory nobody owns, for the server's unix socket."""
    path = Path(tempfile.mkdtemp(prefix="starlet-nproc-"))
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def soft_nproc(pid: int) -> int:
    """``pid``'s soft RLIMIT_NPROC, as /proc shows it to anyone."""
    with open(f"/proc/{pid}/limits") as f:
        line = next(line for line in f if line.startswith("Max processes"))
    return int(line.split()[2])


def serving_pid(path: Path) -> int:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resp = parse_response(read_all(s))
    assert resp.status == 200, resp
    return int(resp.body)


def test_a_refused_fork_is_retried_until_the_pool_is_full(run_dir: Path) -> None:
    command = as_nobody(UNDER_A_LIMIT)  # skips (or fails under CI=true) without root
    limit = nobody_tasks() + 2  # the master and one worker
    path = run_dir / "web.sock"
    server = Spawned(
        ["--max-workers", "3", "--err-respawn-interval", "0.2", "--listen", str(path)],
        command=command,
        env={"NPROC_LIMIT": str(limit)},
    )
    try:
        refused = "fork failed (Resource temporarily unavailable); retrying in 0.2s"
        wait_for(lambda: refused in server.log(), 15, "a refused fork in the log")
        assert soft_nproc(server.pid) == limit
        assert server.proc.poll() is None, server.log()
        # One worker (two if a process of nobody ended meanwhile), and it serves.
        before = server.workers()
        assert 1 <= len(before) < 3, before
        assert serving_pid(path) in before
        failures = server.log().count(refused)
        wait_for(lambda: server.log().count(refused) > failures, 10, "a retry, refused again")
        assert server.workers() == before

        subprocess.run([*as_nobody(RAISE), str(server.pid), str(limit + 16)], check=True, timeout=30)
        assert soft_nproc(server.pid) == limit + 16
        workers = server.wait_workers(3)
        assert set(before) <= set(workers)
        assert serving_pid(path) in workers
        assert "Traceback" not in server.log()
    finally:
        assert server.stop() == 0
