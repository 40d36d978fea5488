"""The command line parser: the forms people type, without importing argparse."""

from __future__ import annotations

import pytest

from starlet_py.cli import KINDS, config_from
from starlet_py.config import HELP, Config
from starlet_py.errors import ConfigError

APP = "myapp:application"


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-workers", "4", "--listen", "127.0.0.1:1", APP],
        ["--max-workers=4", "--listen=127.0.0.1:1", APP],
        ["-w", "4", "-b", "127.0.0.1:1", APP],
        ["-w4", "-b127.0.0.1:1", APP],
        [APP, "--max-workers", "4", "--listen", "127.0.0.1:1"],  # options after APP
        ["-w", "4", "-b", "127.0.0.1:1", "--", APP],
    ],
)
def test_the_forms_people_type(argv: list[str]) -> None:
    assert config_from(argv, {}) == Config(app=APP, max_workers=4, listen=("127.0.0.1:1",))


def test_values_that_look_like_options() -> None:
    c = config_from(["--access-log", "-", "--", "-app"], {})
    assert (c.access_log, c.app) == ("-", "-app")
    with pytest.raises(ConfigError, match="--log-level must be one of"):
        config_from(["--log-level", "", APP], {})  # an empty value is a value
    with pytest.raises(ConfigError, match="--max-workers must be a number >= 0, got -1"):
        config_from(["--max-workers", "-1", APP], {})  # a value (negative): refused by Config, not parsing


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--listen", "--max-workers", "3", APP], "--listen needs a value"),
        ([APP, "--timeout"], "--timeout needs a value"),
        (["--reuse-port=yes", APP], "--reuse-port takes no value, got 'yes'"),
        ([APP, "4"], f"more than one APP: {APP} 4"),
        (["-x", APP], "unrecognized option -x"),
        (["--max", "3", APP], "unrecognized option --max"),  # the beginning of several
        (["--lis", "127.0.0.1:1", APP], "unrecognized option --lis: did you mean --listen?"),
        (["--max-workers=x", APP], "--max-workers: expected int, got 'x'"),
        (["-w", "x", APP], "--max-workers: expected int, got 'x'"),
        (["--socket-mode", "9", APP], "--socket-mode: expected an octal mode like 660, got '9'"),
        (["--reuse-port"], "no APP given (module:callable)"),
    ],
)
def test_errors_are_one_line(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        config_from(argv, {})
    assert caught.value.code == 2
    assert capsys.readouterr().err == f"starlet-py: error: {line}\n"


def test_help_shows_each_option_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        config_from(["-w", "1", "-h", APP], {})
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: starlet-py [OPTION]... APP\n")
    assert "\n  -w, --max-workers N   size of the worker pool;" in out
    assert "(default 10)" in out and "(default 127.0.0.1:5000)" in out and "(default info)" in out
    assert (
        "\n  --socket-mode OCTAL" in out
        and "660)" in out
        and "(default None)" not in out
        and "(default False)" not in out
    )
    assert "\n  --reuse-port          set SO_REUSEPORT" in out
    assert out.rstrip().endswith("myproject.wsgi:application")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        config_from([flag], {})
    assert caught.value.code == 0
    assert capsys.readouterr().out == "starlet-py 0.1.0\n"


def test_every_option_has_help_and_a_type_from_config() -> None:
    assert list(HELP) == [*Config._fields[1:], "host", "port"]
    assert KINDS["listen"] == (str, True) and KINDS["warmup"] == (str, True)
    assert KINDS["min_reqs_per_child"] == (int, False) and KINDS["max_workers"] == (int, False)
    assert (KINDS["timeout"], KINDS["reuse_port"], KINDS["socket_group"]) == (
        (float, False),
        (bool, False),
        (str, False),
    )
    assert HELP["max_workers"][0] == "N" and "worker pool" in HELP["max_workers"][1]
    assert HELP["reuse_port"][0] == "-" and "\n" not in HELP["listen"][1] and "  " not in HELP["listen"][1]
