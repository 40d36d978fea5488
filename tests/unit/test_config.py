"""Config, the command line (config_from), recycling limits, the app loader, --listen
addresses and inherited fds (docs/design.md, "Command line" and "Listeners")."""

from __future__ import annotations

import os
import random
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from starlet_py.cli import config_from, unknown_variables
from starlet_py.config import Address, Config, parse_address
from starlet_py.errors import ConfigError
from starlet_py.listeners import inherited_fds
from starlet_py.loader import load
from starlet_py.worker import recycle_limit

APP = "myapp:application"


# -- defaults --------------------------------------------------------------------
def test_defaults_are_design_section_1() -> None:
    c = Config(app=APP)
    assert (
        c.listen,
        c.max_workers,
        c.timeout,
        c.keepalive_timeout,
        c.max_keepalive_reqs,
        c.max_reqs_per_child,
        c.min_reqs_per_child,
        c.spawn_interval,
        c.err_respawn_interval,
        c.child_exit,
        c.reuse_port,
        c.access_log,
        c.log_level,
        c.socket_mode,
        c.socket_group,
    ) == (("127.0.0.1:5000",), 10, 300, 2, 1, 1000, None, 0, 1, None, False, None, "info", 0o660, None)


def test_config_is_frozen() -> None:
    c = Config(app=APP)
    with pytest.raises(AttributeError):
        c.max_workers = 3  # type: ignore[misc]


# -- bad values ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_workers": -1}, "--max-workers"),
        ({"timeout": -0.5}, "--timeout"),
        ({"keepalive_timeout": -1}, "--keepalive-timeout"),
        ({"max_keepalive_reqs": 0}, "--max-keepalive-reqs"),
        ({"max_keepalive_reqs": -3}, "--max-keepalive-reqs"),
        ({"max_reqs_per_child": -1}, "--max-reqs-per-child"),
        ({"min_reqs_per_child": -1}, "--min-reqs-per-child"),
        ({"min_reqs_per_child": 2000}, "--min-reqs-per-child"),
        ({"min_reqs_per_child": 5, "max_reqs_per_child": 0}, "--min-reqs-per-child"),
        ({"spawn_interval": -1}, "--spawn-interval"),
        ({"err_respawn_interval": -0.1}, "--err-respawn-interval"),
        ({"listen": ()}, "--listen"),
        ({"listen": ("127.0.0.1:http",)}, "--listen"),
        ({"listen": ("127.0.0.1:70000",)}, "--listen"),
        ({"listen": ("127.0.0.1:5000", "fd://x")}, "--listen"),
        ({"child_exit": "nocolon"}, "--child-exit"),
    ],
)
def test_bad_value_names_the_option(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config(app=APP, **kwargs)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_missing_app() -> None:
    with pytest.raises(ConfigError) as caught:
        Config(app="")
    assert "APP" in str(caught.value)


def test_config_is_a_checked_value() -> None:
    a, b = Config(app="m:a", max_workers=3), Config(app="m:a", max_workers=3)
    assert a == b and hash(a) == hash(b) and a != Config(app="m:a")
    assert repr(a).startswith("Config(app='m:a', listen=('127.0.0.1:5000',), max_workers=3,")
    assert Config._fields[:3] == ("app", "listen", "max_workers")
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_worker'"):
        Config(app="m:a", max_worker=3)
    with pytest.raises(ConfigError, match="--max-workers must be a number >= 0, got -3"):
        Config(app="m:a", max_workers=-3)


@pytest.mark.parametrize("option", ["timeout", "keepalive_timeout", "spawn_interval", "err_respawn_interval"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_seconds_are_refused(option: str, value: float) -> None:
    """`--timeout nan` or `inf` passes `< 0`; a worker then fails on every connection
    (setsockopt/poll cannot take them), so it must be a one-line error up front."""
    with pytest.raises(ConfigError) as caught:
        kwargs: dict[str, Any] = {option: value}
        Config(app=APP, **kwargs)
    assert "--" + option.replace("_", "-") in str(caught.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_workers": 0},
        {"timeout": 0},
        {"keepalive_timeout": 0},
        {"max_reqs_per_child": 0},
        {"spawn_interval": 0},
        {"err_respawn_interval": 0},
        {"min_reqs_per_child": 1000},  # min == max
        {"listen": ("0",)},
        {"max_keepalive_reqs": 1},
    ],
)
def test_zero_and_boundaries_are_real_values(kwargs: dict[str, Any]) -> None:
    c = Config(app=APP, **kwargs)
    for name, value in kwargs.items():
        assert getattr(c, name) == value


# -- config_from ------------------------------------------------------------------------
def test_config_from_defaults() -> None:
    assert config_from([APP], {}) == Config(app=APP)


def test_config_from_command_line() -> None:
    argv = "--listen 127.0.0.1:8000 --listen /tmp/x/s.sock --max-workers 0 --timeout 2.5"
    argv += " --keepalive-timeout 0 --max-keepalive-reqs 100 --max-reqs-per-child 0 --spawn-interval 0.5"
    argv += " --err-respawn-interval 3 --child-exit hooks:bye --reuse-port --access-log -"
    c = config_from([*argv.split(), APP], {})
    assert c == Config(
        app=APP,
        listen=("127.0.0.1:8000", "/tmp/x/s.sock"),
        max_workers=0,
        timeout=2.5,
        keepalive_timeout=0,
        max_keepalive_reqs=100,
        max_reqs_per_child=0,
        spawn_interval=0.5,
        err_respawn_interval=3,
        child_exit="hooks:bye",
        reuse_port=True,
        access_log="-",
    )
    assert type(c.max_workers) is int
    assert type(c.timeout) is float


def test_config_from_environment() -> None:
    env = {
        "STARLET_MAX_WORKERS": "4",
        "STARLET_TIMEOUT": "0",
        "STARLET_MAX_REQS_PER_CHILD": "500",
        "STARLET_MIN_REQS_PER_CHILD": "100",
        "STARLET_REUSE_PORT": "yes",
        "STARLET_LISTEN": "127.0.0.1:8000 [::1]:8001",
        "STARLET_CHILD_EXIT": "hooks:bye",
        "UNRELATED": "x",
    }
    c = config_from([APP], env)
    assert (c.max_workers, c.timeout, c.max_reqs_per_child, c.min_reqs_per_child, c.reuse_port) == (
        4,
        0,
        500,
        100,
        True,
    )
    assert c.listen == ("127.0.0.1:8000", "[::1]:8001")
    assert c.child_exit == "hooks:bye"


def test_command_line_wins_over_environment() -> None:
    env = {"STARLET_MAX_WORKERS": "4", "STARLET_TIMEOUT": "9", "STARLET_LISTEN": "127.0.0.1:8000"}
    c = config_from(["--max-workers", "8", "--listen", "127.0.0.1:9000", APP], env)
    assert (c.max_workers, c.timeout, c.listen) == (8, 9, ("127.0.0.1:9000",))


def test_command_line_zero_wins_over_environment() -> None:
    c = config_from(["--max-reqs-per-child", "0", APP], {"STARLET_MAX_REQS_PER_CHILD": "50"})
    assert c.max_reqs_per_child == 0


@pytest.mark.parametrize(
    ("argv", "listen"),
    [
        (["--host", "0.0.0.0", "--port", "8080"], ("0.0.0.0:8080",)),
        (["--port", "9000"], ("127.0.0.1:9000",)),
        (["--host", "10.0.0.1"], ("10.0.0.1:5000",)),
        (["--host", "::1", "--port", "8080"], ("[::1]:8080",)),
    ],
)
def test_host_port_shorthand(argv: list[str], listen: tuple[str, ...]) -> None:
    assert config_from([*argv, APP], {}).listen == listen


def test_port_on_the_command_line_wins_over_environment_listen() -> None:
    c = config_from(["--port", "9000", APP], {"STARLET_LISTEN": "127.0.0.1:8000"})
    assert c.listen == ("127.0.0.1:9000",)


def test_empty_environment_variables_mean_unset() -> None:
    names = ("access_log", "max_workers", "listen", "timeout", "child_exit")
    env = {f"STARLET_{name.upper()}": "" for name in names}
    env.update(STARLET_PORT="", STARLET_HOST="", STARLET_SOCKET_MODE="", STARLET_LOG_LEVEL="")
    assert config_from([APP], env) == Config(app=APP)


@pytest.mark.parametrize(
    ("argv", "env", "listen"),
    [
        ([], {"STARLET_PORT": "5950"}, ("127.0.0.1:5950",)),
        ([], {"STARLET_HOST": "0.0.0.0", "STARLET_PORT": "5950"}, ("0.0.0.0:5950",)),
        ([], {"STARLET_HOST": "::1"}, ("[::1]:5000",)),
        ([], {"STARLET_LISTEN": "/run/x.sock", "STARLET_PORT": "5950"}, ("/run/x.sock", "127.0.0.1:5950")),
        (["--listen", "127.0.0.1:9000"], {"STARLET_PORT": "5950"}, ("127.0.0.1:9000",)),
        (["--port", "9000"], {"STARLET_HOST": "10.0.0.1"}, ("127.0.0.1:9000",)),
        (["-b", "127.0.0.1:9000", "-b", "/run/y.sock"], {}, ("127.0.0.1:9000", "/run/y.sock")),
    ],
)
def test_host_and_port_from_the_environment(
    argv: list[str], env: dict[str, str], listen: tuple[str, ...]
) -> None:
    assert config_from([*argv, APP], env).listen == listen


def test_new_options_from_command_line_and_environment() -> None:
    argv = ["-w", "3", "--socket-mode", "0600", "--socket-group", "www-data", "--log-level", "debug"]
    c = config_from([*argv, APP], {})
    assert (c.max_workers, c.socket_mode, c.socket_group, c.log_level) == (3, 0o600, "www-data", "debug")
    env = {"STARLET_SOCKET_MODE": "666", "STARLET_SOCKET_GROUP": "33", "STARLET_LOG_LEVEL": "error"}
    c = config_from([APP], env)
    assert (c.socket_mode, c.socket_group, c.log_level) == (0o666, "33", "error")


@pytest.mark.parametrize(
    ("argv", "env", "fragment"),
    [
        (["--max-workers", "many", APP], {}, "--max-workers"),
        (["--max-workers", "1.5", APP], {}, "--max-workers"),
        (["--timeout", "soon", APP], {}, "--timeout"),
        ([APP], {"STARLET_TIMEOUT": "abc"}, "STARLET_TIMEOUT"),
        ([APP], {"STARLET_SOCKET_MODE": "rw"}, "STARLET_SOCKET_MODE"),
        (["--socket-mode", "8", APP], {}, "--socket-mode"),
        (["--workers", "4", APP], {}, "did you mean --max-workers?"),
        ([APP], {"STARLET_REUSE_PORT": "maybe"}, "STARLET_REUSE_PORT"),
        (["--no-such-option", APP], {}, "--no-such-option"),
        ([], {}, "APP"),
    ],
)
def test_config_from_bad_text_is_one_line_exit_2(
    argv: list[str], env: dict[str, str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        config_from(argv, env)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("starlet-py: error: ")
    assert fragment in err


@pytest.mark.parametrize(
    ("argv", "env", "fragment"),
    [
        (["--max-workers", "-1", APP], {}, "--max-workers"),
        (["--max-keepalive-reqs", "0", APP], {}, "--max-keepalive-reqs"),
        ([APP], {"STARLET_TIMEOUT": "-5"}, "--timeout"),
        (["--listen", "nowhere", APP], {}, "--listen"),
        (["--min-reqs-per-child", "10", "--max-reqs-per-child", "5", APP], {}, "--min-reqs-per-child"),
        (["--log-level", "trace", APP], {}, "--log-level"),
        ([APP], {"STARLET_LOG_LEVEL": "WARNING"}, "--log-level"),
        (["--socket-mode", "1660", APP], {}, "--socket-mode"),
    ],
)
def test_config_from_bad_value_is_config_error(argv: list[str], env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(argv, env)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["-w", "0", "--request-timeout", "5"], {}),
        (["--graceful-timeout", "10"], {"STARLET_MAX_WORKERS": "0"}),
        (["-w", "0"], {"STARLET_GRACEFUL_TIMEOUT": "10"}),
    ],
)
def test_master_timeouts_need_workers(argv: list[str], env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="timeout needs workers to watch: not with --max-workers 0"):
        config_from([*argv, APP], env)


def test_master_timeouts_off_or_unset_go_with_zero_workers() -> None:
    c = config_from(["-w", "0", "--request-timeout", "0", "--graceful-timeout", "0", APP], {})
    assert (c.max_workers, c.request_timeout, c.graceful_timeout) == (0, 0, 0)
    assert config_from(["-w", "0", APP], {}).graceful_timeout == 30  # the default: no error


def test_unknown_variables() -> None:
    env = {
        "STARLET_MAX_WORKER": "4",
        "STARLET_PORT": "1",
        "STARLET_TIMEOUT": "",
        "STARLET_X": "1",
        "PATH": "/",
    }
    assert unknown_variables(env) == [
        "unknown variable STARLET_MAX_WORKER ignored: did you mean STARLET_MAX_WORKERS?",
        "unknown variable STARLET_X ignored",
    ]


# -- recycle_limit --------------------------------------------------------------------------
def test_recycle_limit_without_min_is_max() -> None:
    c = Config(app=APP, max_reqs_per_child=750)
    assert {recycle_limit(c, random.Random(seed)) for seed in range(50)} == {750}


def test_recycle_limit_default_is_1000() -> None:
    assert recycle_limit(Config(app=APP), random.Random(1)) == 1000


def test_recycle_limit_zero_never_recycles() -> None:
    assert recycle_limit(Config(app=APP, max_reqs_per_child=0), random.Random(0)) == 0


def test_recycle_limit_with_min_is_uniform_in_the_closed_range() -> None:
    c = Config(app=APP, min_reqs_per_child=10, max_reqs_per_child=20)
    draws = [recycle_limit(c, random.Random(seed)) for seed in range(2000)]
    assert all(10 <= d <= 20 for d in draws)
    assert set(draws) == set(range(10, 21))  # both ends, and everything between, reached
    counts = [draws.count(v) for v in range(10, 21)]
    assert min(counts) > 100  # about 182 each: not piled on one value


def test_recycle_limit_with_min_equal_max() -> None:
    c = Config(app=APP, min_reqs_per_child=7, max_reqs_per_child=7)
    assert {recycle_limit(c, random.Random(seed)) for seed in range(100)} == {7}


def test_recycle_limit_is_drawn_from_the_given_rng() -> None:
    c = Config(app=APP, min_reqs_per_child=1, max_reqs_per_child=1_000_000)
    assert recycle_limit(c, random.Random(42)) == recycle_limit(c, random.Random(42))
    assert len({recycle_limit(c, random.Random(s)) for s in range(20)}) > 15


# -- loader -------------------------------------------------------------------------------
@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A scratch cwd for app modules; sys.path and sys.modules are restored after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def module(directory: Path, source: str) -> str:
    name = "app_" + uuid.uuid4().hex[:12]
    (directory / f"{name}.py").write_text(source)
    return name


def load_error(spec: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(spec)
    message = str(caught.value)
    assert "\n" not in message, message
    assert "Traceback" not in message
    return message


def test_load_module_colon_callable(app_dir: Path) -> None:
    name = module(app_dir, "def app(environ, start_response):\n    return [b'x']\n")
    assert load(f"{name}:app").__name__ == "app"


def test_load_module_alone_means_application(app_dir: Path) -> None:
    name = module(app_dir, "def application(environ, start_response):\n    return [b'x']\n")
    assert load(name).__name__ == "application"


def test_load_dotted_attribute(app_dir: Path) -> None:
    name = module(app_dir, "class Holder:\n    @staticmethod\n    def wsgi(e, s):\n        return []\n")
    assert load(f"{name}:Holder.wsgi").__name__ == "wsgi"


def test_load_puts_the_current_directory_first(app_dir: Path) -> None:
    name = module(app_dir, "application = lambda e, s: []\n")
    load(name)
    assert sys.path[0] == os.getcwd()


@pytest.mark.parametrize(
    ("spec", "fragment"), [("", "APP"), (":app", "module:callable"), ("mod:", "after ':'")]
)
def test_load_malformed_spec(spec: str, fragment: str) -> None:
    assert fragment in load_error(spec)


def test_load_missing_module(app_dir: Path) -> None:
    message = load_error("no_such_module_xq7:app")
    assert "no_such_module_xq7" in message
    assert "no such module" in message


def test_load_missing_attribute(app_dir: Path) -> None:
    name = module(app_dir, "application = lambda e, s: []\n")
    message = load_error(f"{name}:nothere")
    assert "nothere" in message


def test_load_not_callable(app_dir: Path) -> None:
    name = module(app_dir, "application = 42\nsettings = {}\n")
    assert load_error(name) == f"'application' in {name} is an int, not a WSGI callable"
    assert load_error(f"{name}:settings") == f"'settings' in {name} is a dict, not a WSGI callable"


def test_load_import_time_exception_is_one_line(app_dir: Path) -> None:
    name = module(app_dir, "raise RuntimeError('first line\\nsecond line')\n")
    message = load_error(name)
    assert "RuntimeError: first line" in message
    assert "second line" not in message


def test_load_import_time_system_exit(app_dir: Path) -> None:
    name = module(app_dir, "raise SystemExit(3)\n")
    assert name in load_error(name)


def test_load_syntax_error(app_dir: Path) -> None:
    name = module(app_dir, "def broken(:\n")
    assert "SyntaxError" in load_error(name)


def test_load_tests_apps_badimport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[1] / "apps")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "badimport", raising=False)
    assert "badimport fails at import on purpose" in load_error("badimport:application")


def test_load_import_time_exception_prints_the_users_frames(
    app_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helper = module(app_dir, "import os\n\ndef setting():\n    return os.environ['NOT_SET_XYZ']\n")
    name = module(app_dir, f"import {helper}\n\nSECRET = {helper}.setting()\n")
    assert load_error(name) == f"cannot import {name!r}: KeyError: 'NOT_SET_XYZ'"
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n"), err
    assert f'{name}.py", line 3, in <module>' in err and f'{helper}.py", line 4, in setting' in err, err
    assert err.endswith("KeyError: 'NOT_SET_XYZ'\n"), err
    assert "importlib" not in err and "starlet_py" not in err and "<frozen" not in err, err


def test_load_syntax_error_shows_where(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = module(app_dir, "x = 1\ndef broken(:\n")
    load_error(name)
    err = capsys.readouterr().err
    assert f'{name}.py", line 2' in err and "importlib" not in err, err


def test_load_missing_module_prints_nothing_else(capsys: pytest.CaptureFixture[str]) -> None:
    load_error("no_such_module_xq8:app")
    assert capsys.readouterr().err == ""


def test_load_missing_dependency_is_not_a_missing_app(app_dir: Path) -> None:
    name = module(app_dir, "import missing_dependency_zz9\n")
    message = load_error(name)
    assert "missing_dependency_zz9" in message
    assert "no such module" not in message


def test_load_missing_dependency_whose_name_prefixes_the_app(app_dir: Path) -> None:
    """App module ``depx_app`` importing a missing ``depx``: the error must name ``depx``,
    not claim that the app module itself does not exist."""
    (app_dir / "depx_app.py").write_text("import depx\napplication = lambda e, s: []\n")
    message = load_error("depx_app")
    assert "No module named 'depx'" in message


# -- parse_address -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:5000", Address("tcp", host="127.0.0.1", port=5000)),
        ("5000", Address("tcp", host="", port=5000)),
        ("0", Address("tcp", host="", port=0)),
        ("localhost:65535", Address("tcp", host="localhost", port=65535)),
        ("[::1]:8080", Address("tcp", host="::1", port=8080)),
        ("[::]:80", Address("tcp", host="::", port=80)),
        ("*:8000", Address("tcp", host="*", port=8000)),
        ("/tmp/x/s.sock", Address("unix", path="/tmp/x/s.sock")),
        ("./s.sock", Address("unix", path="./s.sock")),
        ("fd://3", Address("fd", fd=3)),
        ("fd://0", Address("fd", fd=0)),
        ("unix:/run/app.sock", Address("unix", path="/run/app.sock")),  # gunicorn's and uWSGI's form
        ("unix:web.sock", Address("unix", path="web.sock")),
        ("unix:///run/app.sock", Address("unix", path="/run/app.sock")),  # gunicorn takes this too
    ],
)
def test_parse_address(text: str, address: Address) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize(
    "text",
    [
        "",
        "host",
        "host:",
        "host:http",
        "host:65536",
        "host:-1",
        ":",
        "[::1]",
        "[::1]8080",
        "[::1]:",
        "fd://",
        "fd://x",
        "fd://-1",
        "127.0.0.1:5\u00b2",  # '²'.isdigit() is True but int() refuses it
        "fd://\u00b2",
    ],
)
def test_parse_address_refuses(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_address(text)
    assert "--listen" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("web.sock", "a unix socket here is ./web.sock, a host needs :PORT"),
        ("localhost", "a unix socket here is ./localhost, a host needs :PORT"),
        ("tcp://127.0.0.1:8000", "no scheme, write HOST:PORT (127.0.0.1:8000)"),
        ("http://0.0.0.0:8000/", "no scheme, write HOST:PORT (0.0.0.0:8000)"),
        ("unix:", "unix: needs a path"),
    ],
)
def test_parse_address_hints(text: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_address(text)
    assert str(caught.value) == f"bad --listen {text!r}: {hint}"


# -- inherited_fds ---------------------------------------------------------------------
def test_no_inherited_fds() -> None:
    assert inherited_fds({}) is None
    assert inherited_fds({"PATH": "/bin"}) is None


def test_server_starter_port() -> None:
    env = {"SERVER_STARTER_PORT": "5116=4;127.0.0.1:5117=5;[::1]:5118=6;/tmp/x/ss.sock=7"}
    assert inherited_fds(env) == [4, 5, 6, 7]


def test_server_starter_port_trailing_separator() -> None:
    assert inherited_fds({"SERVER_STARTER_PORT": "8000=3;"}) == [3]


@pytest.mark.parametrize("value", ["8000", "8000=", "8000=x", "8000=3;9000"])
def test_server_starter_port_bad(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        inherited_fds({"SERVER_STARTER_PORT": value})
    assert "SERVER_STARTER_PORT" in str(caught.value)


def test_server_starter_port_wins_over_systemd() -> None:
    env = {"SERVER_STARTER_PORT": "8000=5", "LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "2"}
    assert inherited_fds(env) == [5]


def test_systemd_fds_for_our_pid_and_variables_consumed() -> None:
    env = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "3", "LISTEN_FDNAMES": "a:b:c", "KEEP": "1"}
    assert inherited_fds(env) == [3, 4, 5]
    assert env == {"KEEP": "1"}


def test_systemd_fds_for_another_pid_are_ignored_and_consumed() -> None:
    env = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1"}
    assert inherited_fds(env) is None
    assert env == {}


def test_systemd_bad_count() -> None:
    with pytest.raises(ConfigError) as caught:
        inherited_fds({"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "two"})
    assert "LISTEN_FDS" in str(caught.value)


def test_request_side_limits_defaults_and_bounds() -> None:
    c = Config(app=APP)
    assert (c.max_request_body, c.min_body_rate, c.max_worker_rss) == (1 << 30, 500, 0)
    assert Config(app=APP, max_request_body=(1 << 62)).max_request_body == 1 << 62  # over 1e9 is fine
    bad = {"max_request_body": (-1, 2**63), "min_body_rate": (-1.0, float("nan")), "max_worker_rss": (-5,)}
    for name, values in bad.items():
        for value in values:
            with pytest.raises(ConfigError, match="--" + name.replace("_", "-")):
                Config(app=APP, **{name: value})


def test_request_side_limits_from_the_command_line() -> None:
    argv = ["--max-request-body", "0", "--min-body-rate", "0", "--max-worker-rss", "512", APP]
    c = config_from(argv, {})
    assert (c.max_request_body, c.min_body_rate, c.max_worker_rss) == (0, 0, 512)
