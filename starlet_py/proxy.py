"""``--forwarded-allow-ips``: believe X-Forwarded-Proto/-For from trusted peers only (README,
"Deployment").  wsgi.builder wraps the environ builder with ``parse``'s matcher and ``apply``
only when the option is set: with it off, a request pays nothing (not even a call)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from .errors import ConfigError

UNIX = ""  # the REMOTE_ADDR (peer_names) of a unix-socket client


def canonical(text: str) -> str | None:
    """``text`` as the kernel spells that address (inet_ntop), or None if it is not one."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, text))
        except (OSError, ValueError):
            continue
    return None


def parse(spec: str) -> Callable[[str], bool] | None:
    """A test of a peer address (REMOTE_ADDR as accepted; '' for unix), or None when off; ``spec``:
    comma-separated IPv4/IPv6 addresses, ``unix`` (unix-socket peers) or ``*`` (every peer)."""
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        return None
    if "*" in items:
        return lambda peer: True
    peers = set()
    for item in items:
        addr = UNIX if item == "unix" else canonical(item)
        if addr is None:
            raise ConfigError(f"--forwarded-allow-ips: {item!r} is not an IP address, 'unix' or '*'")
        peers.add(addr)
        if "." in addr and ":" not in addr:
            peers.add("::ffff:" + addr)  # the same client on a dual-stack [::] listener
    return frozenset(peers).__contains__


def apply(env: dict[str, Any]) -> None:
    """Rewrite ``env`` (of a trusted peer's request) from its X-Forwarded-* fields."""
    proto = env.get("HTTP_X_FORWARDED_PROTO")
    if proto is not None and proto.rpartition(",")[2].strip().lower() == "https":  # the last, if repeated
        env["wsgi.url_scheme"] = "https"
        env["HTTPS"] = "on"
        if env.get("SERVER_PORT") == "80" and not env.get("HTTP_HOST", ":").rpartition("]")[2].count(":"):
            env["SERVER_PORT"] = "443"  # Host named no port: https's default
    hops = env.get("HTTP_X_FORWARDED_FOR")
    if hops is not None:
        addr = canonical(hops.rpartition(",")[2].strip())
        if addr is not None:
            env["REMOTE_ADDR"] = addr
            env["REMOTE_PORT"] = "0"
