"""proxy: --forwarded-allow-ips parsing, the environ rewrite, and wsgi.builder."""

from __future__ import annotations

from typing import Any

import pytest

from starlet_py import proxy, wsgi
from starlet_py.config import Config
from starlet_py.errors import ConfigError
from starlet_py.listeners import PeerNames
from starlet_py.protocol import Protocol


def env_of(fields: dict[str, str], remote: str = "10.0.0.2") -> dict[str, Any]:
    env = {"wsgi.url_scheme": "http", "REMOTE_ADDR": remote, "REMOTE_PORT": "4321"}
    env.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in fields.items()})
    return env


# -- parse -------------------------------------------------------------------------
def test_empty_spec_is_off() -> None:
    assert proxy.parse("") is None
    assert proxy.parse(" , ") is None


def test_listed_addresses_are_trusted_others_not() -> None:
    trusted = proxy.parse("127.0.0.1, 10.0.0.2")
    assert trusted is not None
    assert trusted("127.0.0.1") and trusted("10.0.0.2")
    assert not trusted("10.0.0.3") and not trusted("") and not trusted("::1")


def test_ipv4_also_matches_its_dual_stack_spelling() -> None:
    trusted = proxy.parse("127.0.0.1")
    assert trusted is not None and trusted("::ffff:127.0.0.1")


def test_ipv6_is_compared_in_canonical_form() -> None:
    trusted = proxy.parse("2001:DB8:0:0:0:0:0:1,::1")
    assert trusted is not None
    assert trusted("2001:db8::1") and trusted("::1")
    assert not trusted("2001:db8::2")


def test_unix_names_unix_socket_peers() -> None:
    trusted = proxy.parse("unix")
    assert trusted is not None
    assert trusted("") and not trusted("127.0.0.1")


def test_star_trusts_every_peer() -> None:
    trusted = proxy.parse("*")
    assert trusted is not None
    assert trusted("") and trusted("203.0.113.9") and trusted("::1")


@pytest.mark.parametrize("bad", ["localhost", "10.0.0.0/8", "1.2.3", "[::1]", "unix:/x"])
def test_a_bad_item_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="--forwarded-allow-ips"):
        proxy.parse(f"127.0.0.1,{bad}")
    with pytest.raises(ConfigError, match="--forwarded-allow-ips"):
        Config(app="a:b", forwarded_allow_ips=bad)


def test_config_default_is_off() -> None:
    assert Config(app="a:b").forwarded_allow_ips == ""
    assert Config(app="a:b", forwarded_allow_ips="unix,::1").forwarded_allow_ips == "unix,::1"


# -- apply -------------------------------------------------------------------------
def test_https_sets_scheme_and_https_on() -> None:
    env = env_of({"X-Forwarded-Proto": "HTTPS"})
    proxy.apply(env)
    assert (env["wsgi.url_scheme"], env["HTTPS"]) == ("https", "on")
    assert env["HTTP_X_FORWARDED_PROTO"] == "HTTPS"  # the field itself stays as sent


def test_http_leaves_scheme_http() -> None:
    env = env_of({"X-Forwarded-Proto": "http"})
    proxy.apply(env)
    assert env["wsgi.url_scheme"] == "http" and "HTTPS" not in env


def test_repeated_proto_uses_the_last() -> None:
    env = env_of({"X-Forwarded-Proto": "http, https"})
    proxy.apply(env)
    assert env["wsgi.url_scheme"] == "https"


@pytest.mark.parametrize("value", ["ftp", "https2", "", "ht tps", "https;x"])
def test_unknown_proto_changes_nothing(value: str) -> None:
    env = env_of({"X-Forwarded-Proto": value})
    before = dict(env)
    proxy.apply(env)
    assert env == before


def test_last_forwarded_for_hop_sets_remote_addr() -> None:
    env = env_of({"X-Forwarded-For": "203.0.113.7, 198.51.100.1,192.0.2.44"})
    proxy.apply(env)
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("192.0.2.44", "0")


def test_ipv6_hop_is_canonical() -> None:
    env = env_of({"X-Forwarded-For": "2001:DB8::0:1"})
    proxy.apply(env)
    assert env["REMOTE_ADDR"] == "2001:db8::1"


@pytest.mark.parametrize(
    "value", ["unknown", "203.0.113.7, ", "1.2.3.4:5678", "[2001:db8::1]", "1.2.3.4\x00", "é", "_hidden"]
)
def test_malformed_last_hop_changes_nothing(value: str) -> None:
    env = env_of({"X-Forwarded-For": value})
    before = dict(env)
    proxy.apply(env)
    assert env == before


def test_no_fields_change_nothing() -> None:
    env = env_of({})
    before = dict(env)
    proxy.apply(env)
    assert env == before


# -- builder: on the real environ builder -------------------------------------------
def _environ(build: wsgi.Build, head: bytes, peer: tuple[str, str, str, str]) -> dict[str, Any]:
    proto = Protocol()
    proto.feed(head)
    req = proto.queue.popleft()
    assert req.error is None
    return build(wsgi.template(), req, PeerNames(*peer), wsgi.Input(req, lambda: None))


HEAD = (
    b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-Proto: https\r\n"
    b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 192.0.2.44\r\n\r\n"
)


def test_builder_is_build_itself_when_off() -> None:
    assert wsgi.builder("") is wsgi.build


def test_builder_applies_for_a_trusted_peer_only() -> None:
    build = wsgi.builder("127.0.0.1,unix")
    env = _environ(build, HEAD, ("127.0.0.1", "5555", "app.test", "80"))
    assert (env["wsgi.url_scheme"], env.get("HTTPS"), env["REMOTE_ADDR"], env["REMOTE_PORT"]) == (
        "https", "on", "192.0.2.44", "0",
    )  # fmt: skip
    env = _environ(build, HEAD, ("", "0", "localhost", ""))  # a unix-socket peer
    assert (env["wsgi.url_scheme"], env["REMOTE_ADDR"]) == ("https", "192.0.2.44")
    env = _environ(build, HEAD, ("10.9.9.9", "5555", "app.test", "80"))  # untrusted: as sent
    assert (env["wsgi.url_scheme"], "HTTPS" in env, env["REMOTE_ADDR"], env["REMOTE_PORT"]) == (
        "http", False, "10.9.9.9", "5555",
    )  # fmt: skip
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 192.0.2.44"
