"""The command line and the --listen forms (docs/design.md, "Command line" and "Listeners")."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.proctools import (
    Spawned,
    holds_for,
    listening_tcp,
    run_cli,
    socket_inodes,
)
from tests.support import (
    TESTS,
    Server,
    children,
    free_port,
    has_ipv6_loopback,
    parse_response,
    read_all,
    starlet_command,
    wait_for,
)

APP = "procs:application"
MakeServer = Callable[..., Server]

OPTIONS = (
    "--listen",
    "--host",
    "--port",
    "--max-workers",
    "--timeout",
    "--keepalive-timeout",
    "--max-keepalive-reqs",
    "--max-reqs-per-child",
    "--min-reqs-per-child",
    "--spawn-interval",
    "--err-respawn-interval",
    "--child-exit",
    "--reuse-port",
    "--access-log",
    "--log-level",
    "--socket-mode",
    "--socket-group",
    "-w",
    "-b",
    "-V",
    "unix:PATH",
)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert exit status 2 and a single-line stderr without a traceback; return the line."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


# -- help -------------------------------------------------------------------


def check_help(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=TESTS.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    missing = [opt for opt in OPTIONS if opt not in result.stdout]
    assert missing == [], f"--help does not mention {missing}"
    # It ends with the signals table and two examples.
    tail = result.stdout[result.stdout.index("signals to the master:") :]
    for sig in ("TERM, INT, QUIT", "HUP", "USR1", "USR2, TTIN, TTOU, WINCH  ignored"):
        assert f"\n  {sig}" in tail, sig
    examples = tail[tail.index("examples:") :]
    assert "--listen /run/starlet-py/web.sock --socket-group www-data" in examples
    assert "start_server --port 127.0.0.1:5000 -- starlet-py" in examples


def test_console_script_help_lists_every_option() -> None:
    script = Path(sys.executable).with_name("starlet-py")
    found = str(script) if script.exists() else shutil.which("starlet-py")
    assert found, "the starlet-py console script is not installed"
    check_help([found, "--help"])


def test_python_m_help_lists_every_option() -> None:
    check_help([sys.executable, "-m", "starlet_py", "--help"])


# -- bad input: one line, exit 2 ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--max-workers", "-1"], ["max-workers"]),
        (["--timeout", "abc"], ["timeout"]),
        (["--min-reqs-per-child", "10", "--max-reqs-per-child", "5"], ["reqs-per-child"]),
        (["--limit-request-line", "0"], ["limit-request-line"]),
        (["--limit-request-field-size", "big"], ["limit-request-field-size"]),
    ],
    ids=["negative-workers", "timeout-abc", "min-above-max", "line-limit-0", "field-size-big"],
)
def test_bad_option_value_is_one_line_exit_2(args: list[str], names: list[str]) -> None:
    line = one_line_error(run_cli([*args, APP]))
    for name in names:
        assert name in line.replace("_", "-"), line


@pytest.mark.parametrize(
    ("app", "name"),
    [
        ("nosuchmodule:app", "nosuchmodule"),
        ("nosuchpkg.mod:app", "nosuchpkg.mod"),
        ("procs:nosuchattr", "nosuchattr"),
        ("procs:", "procs"),
    ],
)
def test_bad_app_is_one_line_exit_2(app: str, name: str) -> None:
    line = one_line_error(run_cli(["--max-workers", "1", app]))
    assert name in line, line


def test_app_raising_on_import_shows_the_users_traceback_then_one_line() -> None:
    result = run_cli(["--max-workers", "1", "badimport:application"])
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):", result.stderr
    assert lines[1].startswith('  File "') and lines[1].endswith('badimport.py", line 3, in <module>'), lines
    assert lines[2:] == [
        '    raise RuntimeError("badimport fails at import on purpose")',
        "RuntimeError: badimport fails at import on purpose",
        "starlet-py: error: cannot import 'badimport': RuntimeError: badimport fails at import on purpose",
    ], result.stderr
    assert "starlet_py" not in result.stderr and "importlib" not in result.stderr


def test_child_exit_error_names_the_option() -> None:
    line = one_line_error(run_cli(["--child-exit", "nosuch:func", APP]))
    assert line == "starlet-py: error: --child-exit: cannot import 'nosuch': no such module", line


@pytest.mark.parametrize("level", ["verbose", "INFO", ""])
def test_bad_log_level_is_one_line(level: str) -> None:
    assert "--log-level" in one_line_error(run_cli(["--log-level", level, APP]))


def test_log_level_warning_hides_info_lines(make_server: MakeServer) -> None:
    quiet = make_server(APP, ["--log-level", "warning"], workers=1)
    default = make_server(APP, workers=1)
    for server in (quiet, default):
        assert server.get("/pid").status == 200
    assert "listening on" in default.log()
    assert quiet.stop() == 0
    assert quiet.stderr_path.read_text() == "", quiet.stderr_path.read_text()


def test_access_log_is_reopened_by_hup(make_server: MakeServer, tmp_path: Path) -> None:
    """The README's log rotation recipe: move the file, HUP; fresh workers open a new one."""
    path, moved = tmp_path / "access.log", tmp_path / "access.log.1"
    server = make_server(APP, ["--access-log", str(path)], workers=1)
    assert server.get("/pid?before").status == 200
    wait_for(lambda: path.exists() and "before" in path.read_text(), what="the first line")
    path.rename(moved)
    (old,) = server.workers()
    server.signal(signal.SIGHUP)
    wait_for(lambda: server.workers() and old not in server.workers(), what="a fresh worker")
    assert server.get("/pid?after").status == 200
    wait_for(lambda: path.exists() and "after" in path.read_text(), what="a line in the new file")
    assert "after" not in moved.read_text() and "before" not in path.read_text()


# -- gunicorn habits -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--workers", "4"], "--max-workers"),
        (["--worker=4"], "--max-workers"),
        (["--bind", "127.0.0.1:0"], "--listen"),
        (["--keepalive-timout", "3"], "--keepalive-timeout"),
    ],
)
def test_unknown_option_close_to_a_known_one_gets_a_hint(args: list[str], hint: str) -> None:
    line = one_line_error(run_cli([*args, APP]))
    assert line == f"starlet-py: error: unrecognized option {args[0].partition('=')[0]}: did you mean {hint}?"


def test_unknown_option_far_from_any_is_one_line() -> None:
    line = one_line_error(run_cli(["--frobnicate", "4", APP]))
    assert line == "starlet-py: error: unrecognized option --frobnicate", line


def test_short_b_listens(tmp_path: Path) -> None:
    path = tmp_path / "b.sock"
    server = Spawned(["-b", str(path), "-w", "1"])
    try:
        server.wait_workers(1)
        assert path.is_socket()
    finally:
        assert server.stop() == 0


def test_short_w_sets_the_pool_size(make_server: MakeServer) -> None:
    server = make_server(APP, ["-w", "3"], workers=None)
    wait_for(lambda: len(server.workers()) >= 3, what="3 workers")
    holds_for(lambda: len(server.workers()) == 3, 0.5, "a pool of exactly 3")


# -- environment variables ---------------------------------------------------


def test_env_sets_the_pool_size(make_server: MakeServer) -> None:
    server = make_server(APP, workers=None, env={"STARLET_MAX_WORKERS": "3"})
    wait_for(lambda: len(server.workers()) >= 3, what="3 workers")
    holds_for(lambda: len(server.workers()) == 3, 0.5, "a pool of exactly 3")


def test_command_line_beats_env(make_server: MakeServer) -> None:
    server = make_server(APP, workers=2, env={"STARLET_MAX_WORKERS": "3"})
    holds_for(lambda: len(server.workers()) == 2, 0.5, "a pool of exactly 2")


# -- listeners ---------------------------------------------------------------


def env_of(data: bytes) -> dict[str, Any]:
    resp = parse_response(data)
    assert resp.status == 200, resp
    return dict(json.loads(resp.body))


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_listener(make_server: MakeServer) -> None:
    server = make_server(APP, family=socket.AF_INET6, workers=2)
    workers = sorted(server.workers())
    env = env_of(server.raw(b"GET /env HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
    assert env["REMOTE_ADDR"] == "::1"
    assert env["SERVER_PORT"] == "80"  # Host named no port: http's
    assert env["SERVER_NAME"] == "localhost"
    # Starlet's worker died on an IPv6 peer; ours must live on.
    assert sorted(server.workers()) == workers


def test_unix_socket_listener() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="starlet-"))
    path = tmp / "x.sock"
    server = Spawned(["--listen", str(path), "--max-workers", "2"])
    try:
        server.wait_workers(2)
        assert path.is_socket()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(path))
            s.sendall(b"GET /env HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            env = env_of(read_all(s))
        assert env["REMOTE_ADDR"] == ""
        assert env["REMOTE_PORT"] == "0"
        assert env["SERVER_NAME"] == "localhost"
        assert server.stop() == 0
        assert not path.exists(), "the unix socket file must be removed on exit"
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def start_on_port_only() -> tuple[Spawned, int]:
    """``--listen PORT`` on a just-freed port; retried if another process took it."""
    log = ""
    for attempt in range(3):
        port = free_port("0.0.0.0")
        server = Spawned(["--listen", str(port), "--max-workers", "2"], tag=f"-{attempt}")
        try:
            server.wait_workers(2)
            return server, port
        except AssertionError:
            server.stop()
            log = server.log()
    raise AssertionError(f"could not start on a free port three times; last log:\n{log}")


def test_port_only_listen_binds_all_addresses_and_names_the_server() -> None:
    server, port = start_on_port_only()
    try:
        ours = socket_inodes(server.pid)
        addrs = {addr for inode, addr in listening_tcp(port).items() if inode in ours}
        assert addrs, f"the master holds no LISTEN socket on port {port}"
        assert all(set(addr) == {"0"} for addr in addrs), f"not a wildcard bind: {addrs}"

        def ask(request: bytes) -> dict[str, Any]:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(request)
                return env_of(read_all(s))

        env = ask(b"GET /env HTTP/1.1\r\nHost: example.test:8080\r\nConnection: close\r\n\r\n")
        assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("example.test", "8080")
        env = ask(b"GET /env HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
        assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("example.test", "80")  # http's default
        env = ask(b"GET /env HTTP/1.0\r\n\r\n")
        assert env["SERVER_NAME"] == "127.0.0.1", env  # the address the client reached, never "0"
        assert env["SERVER_PORT"] == str(port)
        assert server.stop() == 0
    finally:
        server.stop()


# -- what a gunicorn user trips over (issue 17, "The command line") ----------------


def test_listen_takes_the_unix_prefix(tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    server = Spawned(["--listen", f"unix:{path}", "-w", "1"])
    try:
        server.wait_workers(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(path))
            s.sendall(b"GET /env HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert env_of(read_all(s))["REMOTE_ADDR"] == ""
        assert f"listening on unix:{path} " in server.log()
    finally:
        assert server.stop() == 0
    assert not path.exists()


@pytest.mark.parametrize(
    ("addr", "hint"),
    [
        ("web.sock", "a unix socket here is ./web.sock, a host needs :PORT"),
        ("tcp://127.0.0.1:8000", "no scheme, write HOST:PORT (127.0.0.1:8000)"),
        ("http://0.0.0.0:8000/", "no scheme, write HOST:PORT (0.0.0.0:8000)"),
    ],
)
def test_listen_forms_we_do_not_take_get_a_hint(addr: str, hint: str) -> None:
    line = one_line_error(run_cli(["--listen", addr, APP], timeout=5))
    assert line == f"starlet-py: error: bad --listen {addr!r}: {hint}"


@pytest.mark.parametrize(
    ("option", "advice"),
    [
        ("--user=www-data", "systemd's User="),
        ("--group=www-data", "systemd's Group="),
        ("--chdir=/srv", "systemd's WorkingDirectory="),
        ("--daemon", "stays in the foreground"),
        ("--pid=/run/x.pid", "$MAINPID"),
        ("--preload", "always loaded once, in the master"),
        ("--backlog=2048", "net.core.somaxconn"),
        ("--reload", "restart for new code"),
        ("--certfile=x.pem", "let nginx terminate it"),
    ],
)
def test_gunicorn_options_we_lack_say_what_to_do_instead(option: str, advice: str) -> None:
    line = one_line_error(run_cli([option, APP], timeout=5))
    assert line.startswith(f"starlet-py: error: unrecognized option {option.partition('=')[0]}: "), line
    assert advice in line and "did you mean" not in line, line


@pytest.mark.parametrize("option", ["--paste", "--ca-certs", "--statsd-host", "--worker-tmp-dir"])
def test_a_far_name_gets_no_hint(option: str) -> None:
    """Only a really close name is suggested: --paste is no typo of --listen."""
    line = one_line_error(run_cli([option, "x", APP], timeout=5))
    assert line == f"starlet-py: error: unrecognized option {option}"


def test_unknown_starlet_variable_is_a_warning(make_server: MakeServer) -> None:
    server = make_server(APP, workers=1, env={"STARLET_MAX_WORKER": "4", "STARLET_NOPE": "1"})
    lines = [line for line in server.log().splitlines() if "[WARNING]" in line]
    assert [line.partition("[WARNING] ")[2] for line in lines] == [
        "unknown variable STARLET_MAX_WORKER ignored: did you mean STARLET_MAX_WORKERS?",
        "unknown variable STARLET_NOPE ignored",
    ], server.log()
    assert len(server.workers()) == 1


@pytest.mark.parametrize("option", ["--request-timeout", "--graceful-timeout"])
def test_master_timeouts_without_workers_are_refused(option: str) -> None:
    line = one_line_error(run_cli(["-w", "0", option, "5", APP], timeout=5))
    assert line == f"starlet-py: error: {option} needs workers to watch: not with --max-workers 0"


def test_a_dict_bound_to_application_says_so(tmp_path: Path) -> None:
    (tmp_path / "dictapp.py").write_text("application = {'DEBUG': True}\n")
    line = one_line_error(run_cli(["dictapp"], env={"PYTHONPATH": str(tmp_path)}, timeout=5))
    assert line == "starlet-py: error: 'application' in dictapp is a dict, not a WSGI callable"


def test_dash_v_is_the_version() -> None:
    result = subprocess.run([*starlet_command(), "-V"], capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (0, "starlet-py 0.1.0\n", "")


LOG_LINE = re.compile(r"(<\d>)?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[(\d+)\] \[(DEBUG|INFO|WARNING|ERROR)\] (.*)")


def test_log_lines_carry_their_level(make_server: MakeServer) -> None:
    server = make_server(APP, ["--log-level", "debug"], workers=1)
    assert server.stop() == 0
    text = server.stderr_path.read_text()
    lines = [LOG_LINE.fullmatch(line) for line in text.splitlines()]
    assert all(lines), text
    assert {"DEBUG", "INFO"} <= {m[3] for m in lines if m}, text
    assert not any(m[1] for m in lines if m)  # no journal: no priority prefix
    assert any(m[3] == "INFO" and m[4].startswith("listening on ") for m in lines if m)


@pytest.mark.parametrize("ours", [True, False], ids=["stderr-is-the-journal", "inherited-variable"])
def test_journal_stream_gets_syslog_priorities(tmp_path: Path, ours: bool) -> None:
    """systemd sets JOURNAL_STREAM to the device:inode of our stderr; a child whose stderr was
    redirected elsewhere inherits the variable and must not take it for itself."""
    err_path = tmp_path / "stderr"
    with open(err_path, "w+b") as err, socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        st = os.fstat(err.fileno())
        stream = f"{st.st_dev}:{st.st_ino}" if ours else f"{st.st_dev}:{st.st_ino + 1}"
        env = {**os.environ, "JOURNAL_STREAM": stream, "STARLET_MAX_WORKER": "4"}
        cmd = [*starlet_command(), "--listen", f"fd://{lsock.fileno()}", "-w", "1", APP]
        proc = subprocess.Popen(cmd, cwd=TESTS / "apps", env=env, pass_fds=(lsock.fileno(),), stderr=err)
    try:
        wait_for(lambda: children(proc.pid), what="a worker")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    lines = [LOG_LINE.fullmatch(line) for line in err_path.read_text().splitlines()]
    assert all(lines), err_path.read_text()
    want = {"WARNING": "<4>", "INFO": "<6>"} if ours else {"WARNING": None, "INFO": None}
    assert {m[3]: m[1] for m in lines if m} == want, err_path.read_text()
