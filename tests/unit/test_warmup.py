"""--warmup: warm() runs each path through the app once, through the server's request
path; a bad answer is a one-line ConfigError; the option's parsing and validation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from starlet_py.cli import config_from
from starlet_py.config import Config
from starlet_py.errors import ConfigError
from starlet_py.prewarm import warm as warm_config

APP = "myapp:application"


def warm(app: Callable[..., Any], paths: tuple[str, ...], name: str = "localhost", port: str = "80") -> None:
    warm_config(app, Config(app=APP, warmup=paths), name, port)


class Recorder:
    """A 2xx app that records each environ and whether its body was iterated and closed."""

    def __init__(self, status: str = "200 OK") -> None:
        self.status = status
        self.environs: list[dict[str, Any]] = []
        self.iterated = 0
        self.closed = 0

    def __call__(self, env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.environs.append(env)
        start_response(self.status, [("Content-Type", "text/plain")])
        return self.Body(self)

    class Body:
        def __init__(self, app: Recorder) -> None:
            self.app = app

        def __iter__(self) -> Iterator[bytes]:
            self.app.iterated += 1
            yield b"a"
            yield b"b"

        def close(self) -> None:
            self.app.closed += 1


def test_each_path_is_one_get_in_order_iterated_and_closed() -> None:
    app = Recorder()
    warm(app, ("/", "/users/7?q=x%20y", "/caf%C3%A9"))
    paths = [(e["REQUEST_METHOD"], e["PATH_INFO"], e["QUERY_STRING"]) for e in app.environs]
    assert paths == [("GET", "/", ""), ("GET", "/users/7", "q=x%20y"), ("GET", "/caf\xc3\xa9", "")]
    assert (app.iterated, app.closed) == (3, 3)


def environ(target: str, server_name: str = "localhost", server_port: str = "80") -> dict[str, Any]:
    """The environ the app gets for a warm-up of ``target``."""
    app = Recorder()
    warm(app, (target,), server_name, server_port)
    (env,) = app.environs
    return env


def test_environ_is_a_real_requests() -> None:
    env = environ("/a?b=1", "127.0.0.1", "8000")
    assert env["wsgi.input"].read() == b""
    assert env["REQUEST_URI"] == env["RAW_URI"] == "/a?b=1"
    names = (env["SERVER_NAME"], env["SERVER_PORT"], env["HTTP_HOST"])
    assert names == ("127.0.0.1", "8000", "127.0.0.1:8000")
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["wsgi.url_scheme"] == "http"
    assert env["SCRIPT_NAME"] == ""
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("127.0.0.1", "0")
    assert all(isinstance(v, str) for k, v in env.items() if k.isupper())


def test_absolute_form_names_the_host() -> None:
    env = environ("http://example.com:8080/x?y", "127.0.0.1", "5000")
    names = (env["HTTP_HOST"], env["SERVER_NAME"], env["SERVER_PORT"])
    assert names == ("example.com:8080", "example.com", "8080")
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/x", "y")
    assert environ("http://example.com")["PATH_INFO"] == "/"


@pytest.mark.parametrize(
    ("name", "port", "host"),
    [
        ("localhost", "80", "localhost"),
        ("::1", "8000", "[::1]:8000"),
        ("localhost", "/run/app.sock", "localhost"),
    ],
)
def test_host_is_a_valid_field_for_any_listener(name: str, port: str, host: str) -> None:
    # An IPv6 address in brackets; a unix socket's path (its SERVER_PORT) is no port.
    env = environ("/", name, port)
    assert env["HTTP_HOST"] == host
    assert env["SERVER_PORT"] == (port if port.isdigit() else "80")


def test_a_request_the_server_refuses_is_a_config_error() -> None:
    app = Recorder()
    with pytest.raises(ConfigError) as caught:
        warm(app, ("/a%00b",))
    assert (
        str(caught.value)
        == "--warmup /a%00b: status 400 Bad Request: %00 (NUL) in the request path, expected 2xx"
    )
    assert app.environs == []


def test_no_paths_calls_nothing() -> None:
    app = Recorder()
    warm(app, ())
    assert app.environs == []


def test_a_404_is_a_config_error_naming_path_and_status() -> None:
    app = Recorder("404 Not Found")
    with pytest.raises(ConfigError) as caught:
        warm(app, ("/ok", "/missing"))
    assert str(caught.value) == "--warmup /ok: status 404 Not Found, expected 2xx"
    assert len(app.environs) == 1  # the first failure stops the warm-up
    assert app.closed == 1  # the failed response was still closed


def test_a_redirect_is_not_2xx() -> None:
    with pytest.raises(ConfigError, match=r"^--warmup /old: status 302 Found, expected 2xx$"):
        warm(Recorder("302 Found"), ("/old",))


def test_an_exception_is_a_one_line_config_error() -> None:
    def app(env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise KeyError("line one\nline two")

    with pytest.raises(ConfigError) as caught:
        warm(app, ("/boom",))
    assert str(caught.value) == "--warmup /boom: the app raised KeyError: 'line one\\nline two'"


def test_an_exception_while_iterating_closes_the_body() -> None:
    closed = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            raise ValueError("mid-body\nsecond line")

        def close(self) -> None:
            closed.append(True)

    def app(env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        return Body()

    with pytest.raises(ConfigError) as caught:
        warm(app, ("/x",))
    assert str(caught.value) == "--warmup /x: the app raised ValueError: mid-body"
    assert closed == [True]


def test_no_start_response_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^--warmup /: status \(none\), expected 2xx$"):
        warm(lambda env, sr: [b""], ("/",))


def test_option_is_repeatable_and_off_by_default() -> None:
    assert Config(app=APP).warmup == ()
    assert config_from([APP], {}).warmup == ()
    c = config_from(["--warmup", "/", "--warmup", "/about?x=1", APP], {})
    assert c.warmup == ("/", "/about?x=1")
    assert config_from([APP], {"STARLET_WARMUP": "/a /b"}).warmup == ("/a", "/b")
    assert config_from(["--warmup", "/c", APP], {"STARLET_WARMUP": "/a"}).warmup == ("/c",)


def test_listen_is_still_repeatable() -> None:
    c = config_from(["--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2", APP], {})
    assert c.listen == ("127.0.0.1:1", "127.0.0.1:2")


@pytest.mark.parametrize("bad", ["", "index", "/a b", "/caf\xe9", "/a\tb", "http://"])
def test_bad_paths_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config(app=APP, warmup=("/ok", bad))
    assert str(caught.value) == f"--warmup must be /PATH or http://HOST/PATH, got {bad!r}"


def test_the_servers_limits_apply() -> None:
    # The real config's limits, not the defaults: a line over --limit-request-line is refused.
    app = Recorder()
    with pytest.raises(ConfigError, match=r"^--warmup /[a]+: status 414 "):
        warm_config(app, Config(app=APP, warmup=("/" + "a" * 100,), limit_request_line=50), "localhost", "80")
    assert app.environs == []
