"""The hand-written command line parser: argparse's forms, without importing argparse."""

from __future__ import annotations

import pytest

from starlet_py.cli import config_from
from starlet_py.config import Config
from starlet_py.errors import ConfigError

APP = "myapp:application"


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-workers", "4", "--listen", "127.0.0.1:1", APP],
        ["--max-workers=4", "--listen=127.0.0.1:1", APP],
        ["-w", "4", "-b", "127.0.0.1:1", APP],
        ["-w4", "-b127.0.0.1:1", APP],
        [APP, "--max-workers", "4", "--lis", "127.0.0.1:1"],  # an abbreviation, options after APP
        ["-w", "4", "-b", "127.0.0.1:1", "--", APP],
    ],
)
def test_the_forms_argparse_took(argv: list[str]) -> None:
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
        (["--listen", "--max-workers", "3", APP], "argument -b/--listen: expected one argument"),
        ([APP, "--timeout"], "argument --timeout: expected one argument"),
        (["--reuse-port=yes", APP], "argument --reuse-port: ignored explicit argument 'yes'"),
        ([APP, "other:app"], "unrecognized arguments: other:app"),
        (["-x", APP], "unrecognized arguments: -x"),
        (["--max", "3", APP], "unrecognized option --max"),  # ambiguous
        (["--max-workers=x", APP], "--max-workers: expected int, got 'x'"),
        (["-w", "x", APP], "--max-workers: expected int, got 'x'"),
        (["--socket-m", "9", APP], "--socket-mode: expected an octal mode like 660, got '9'"),
        (["--reuse-port"], "the following arguments are required: APP"),
    ],
)
def test_errors_are_argparse_lines(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
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
    assert "(default 10)" in out and "(default 127.0.0.1:5000)" in out and "(default 'info')" in out
    assert "\n  --reuse-port          set SO_REUSEPORT" in out
    assert out.rstrip().endswith("myproject.wsgi:application")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        config_from(["--version"], {})
    assert caught.value.code == 0
    assert capsys.readouterr().out == "starlet-py 0.1.0\n"
