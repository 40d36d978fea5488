"""Unix sockets we bind: their mode and group (--socket-mode, --socket-group), and bad
paths, which are one line and exit 2, also when starlet-py runs as an unprivileged user."""

from __future__ import annotations

import grp
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.proctools import NOBODY, STARLET_AS_NOBODY, Spawned, as_nobody
from tests.support import APPS, parse_response, read_all, starlet_command

NOBODY_GROUP = grp.getgrgid(NOBODY.pw_gid).gr_name  # "nogroup" on Debian, "nobody" elsewhere


@pytest.fixture
def tmp() -> Iterator[Path]:
    """A directory anyone may enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="starlet-unix-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def refused(args: list[str], nobody: bool = False) -> str:
    """Run starlet-py, as nobody if asked (serving in-process if it wrongly starts); assert
    one line, exit 2."""
    command = as_nobody(STARLET_AS_NOBODY) if nobody else starlet_command()
    cmd = [*command, "--max-workers", "0", *args, "procs:application"]
    try:
        result = subprocess.run(cmd, cwd=APPS, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{cmd} started instead of refusing") from None
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def connect_as_nobody(path: Path) -> str:
    """Connect to ``path`` as nobody: "ok" or the error's name."""
    code = (
        "import socket, sys\n"
        "# drop\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1]); print('ok')\n"
        "except OSError as e:\n    print(type(e).__name__)\n"
    )
    out = subprocess.run([*as_nobody(code), str(path)], capture_output=True, text=True)
    return out.stdout.strip() or out.stderr


def start(args: list[str]) -> Spawned:
    server = Spawned(["--max-workers", "1", *args])
    server.wait_workers(1)
    return server


# -- mode and group -----------------------------------------------------------------


def test_default_mode_is_660_in_our_group_whatever_the_umask(tmp: Path) -> None:
    path = tmp / "web.sock"
    old = os.umask(0)  # inherited by the server: it must not make the socket world-writable
    try:
        server = start(["--listen", str(path)])
    finally:
        os.umask(old)
    try:
        st = path.stat()
        assert stat.S_ISSOCK(st.st_mode)
        assert (oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid) == (
            oct(0o660),
            os.geteuid(),
            os.getegid(),
        )
    finally:
        assert server.stop() == 0


def test_socket_mode_and_group_let_the_web_servers_user_connect(tmp: Path) -> None:
    """The stock nginx failure (13: Permission denied) and its cure, as nobody."""
    as_nobody("")  # skip early without root
    plain, shared = tmp / "plain.sock", tmp / "shared.sock"
    servers = [start(["--listen", str(plain)])]
    try:
        servers.append(
            start(["--listen", str(shared), "--socket-group", NOBODY_GROUP, "--socket-mode", "0660"])
        )
        st = shared.stat()
        assert (oct(stat.S_IMODE(st.st_mode)), st.st_gid) == (oct(0o660), NOBODY.pw_gid)
        assert connect_as_nobody(plain) == "PermissionError"
        assert connect_as_nobody(shared) == "ok"
    finally:
        assert [s.stop() for s in servers] == [0] * len(servers)


def test_socket_mode_600_by_number_group(tmp: Path) -> None:
    path = tmp / "web.sock"
    server = start(["--listen", str(path), "--socket-mode", "600", "--socket-group", str(NOBODY.pw_gid)])
    try:
        st = path.stat()
        assert (oct(stat.S_IMODE(st.st_mode)), st.st_gid) == (oct(0o600), NOBODY.pw_gid)
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--socket-mode", "u+rw"], "--socket-mode"),
        (["--socket-mode", "1777"], "--socket-mode"),
        (["--socket-group", "no-such-group-xyz"], "no-such-group-xyz"),
    ],
)
def test_bad_socket_options_are_one_line(tmp: Path, args: list[str], fragment: str) -> None:
    assert fragment in refused(["--listen", str(tmp / "web.sock"), *args])


# -- bad paths -------------------------------------------------------------------------


def test_socket_group_we_are_not_in(tmp: Path) -> None:
    tmp.chmod(0o777)  # nobody may create the socket here, not give it root's group
    path = tmp / "web.sock"
    line = refused(["--listen", str(path), "--socket-group", "0"], nobody=True)
    why = "Operation not permitted (we must be root or in that group)"
    assert line == f"starlet-py: error: cannot set the group of {path}: {why}", line
    assert not path.exists(), "the half-made socket must be removed"


def test_unix_path_under_an_unreadable_directory_as_nobody() -> None:
    line = refused(["--listen", "/root/x.sock"], nobody=True)
    assert line == "starlet-py: error: cannot listen on /root/x.sock: Permission denied", line


def test_unix_path_under_a_file() -> None:
    line = refused(["--listen", "/etc/passwd/x.sock"])
    assert line == "starlet-py: error: cannot listen on /etc/passwd/x.sock: Not a directory", line


def test_someone_elses_stale_socket_in_a_sticky_directory(tmp: Path) -> None:
    tmp.chmod(0o1777)  # like /tmp: only a file's owner may remove it
    path = tmp / "stale.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
    path.chmod(0o777)  # nobody's connect() is refused (stale), unlink() gets EPERM
    line = refused(["--listen", str(path)], nobody=True)
    why = "cannot remove the stale socket: Operation not permitted"
    assert line == f"starlet-py: error: cannot listen on {path}: {why}", line
    assert path.is_socket()


def test_unix_path_over_the_sun_path_limit(tmp: Path) -> None:
    path = str(tmp / ("x" * (108 - len(str(tmp)))))  # 109 bytes with the slash
    line = refused(["--listen", path])
    assert line.endswith(f"cannot listen on {path}: path too long (109 bytes, the limit is 107)"), line
    assert "None" not in line


def test_live_socket_is_not_clobbered(tmp: Path) -> None:
    path = tmp / "live.sock"
    server = start(["--listen", str(path)])
    try:
        assert refused(["--listen", str(path)]).endswith("another server is answering there")
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize(("proto", "port"), [("http", "80"), ("https", "443")])
def test_django_over_a_unix_socket_gets_the_schemes_port_not_the_path(
    tmp: Path, proto: str, port: str
) -> None:
    pytest.importorskip("django")
    path = tmp / "web.sock"
    args = ["--listen", str(path), "--max-workers", "1", "--forwarded-allow-ips", "unix"]
    server = Spawned(args, app="django_app:application")
    try:
        server.wait_workers(1)
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(10)
            conn.connect(str(path))
            conn.sendall(
                f"GET /whoami HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-Proto: {proto}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            answer = parse_response(read_all(conn))
        assert answer.status == 200
        assert json.loads(answer.body)["port"] == port  # was the socket's path
    finally:
        assert server.stop() == 0
