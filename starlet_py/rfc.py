"""Request-target and Host syntax (RFC 9112 §3.2, RFC 3986): checks llhttp leaves to us.

Pure functions over bytes; each raises HTTPError(400) for what a server must refuse.
"""

from __future__ import annotations

from .errors import HTTPError

_ALPHANUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_UNRESERVED = _ALPHANUM + b"-._~"
_SUB_DELIMS = b"!$&'()*+,;="
_PCHAR = _UNRESERVED + _SUB_DELIMS + b":@%"
PATH_QUERY = _PCHAR + b"/?"  # origin-form: absolute-path [ "?" query ]
REG_NAME = _UNRESERVED + _SUB_DELIMS + b"%"
_HEX = b"0123456789ABCDEFabcdef"
_IPV6 = _HEX + b":."
# "%xx" escapes: the two hex digits, in any case, -> the byte they stand for.
PCT = {bytes([a, b]): bytes([int(bytes([a, b]), 16)]) for a in _HEX for b in _HEX}


def check_pct(data: bytes) -> None:
    """Every '%' starts an escape of two hex digits (RFC 3986 §2.1)."""
    for part in data.split(b"%")[1:]:
        if part[:2] not in PCT:
            raise HTTPError(400, "bad percent-encoding in the request target")


def check_host(host: bytes) -> None:
    """uri-host [ ":" port ] (RFC 9110 §7.2); an empty Host is allowed."""
    if host[:1] == b"[":
        end = host.find(b"]")
        if end < 0 or b":" not in host[1:end] or host[1:end].translate(None, _IPV6):
            raise HTTPError(400, "invalid IPv6 address in Host")
        rest = host[end + 1 :]
        if rest and rest[:1] != b":":
            raise HTTPError(400, "invalid Host")
        port = rest[1:]
    else:
        name, _, port = host.partition(b":")
        if name.translate(None, REG_NAME):
            raise HTTPError(400, "invalid Host")
        check_pct(name)
    if port and (len(port) > 5 or not port.isdigit()):
        raise HTTPError(400, "invalid port in Host")


def check_target(method: str, target: bytes) -> bytes | None:
    """Validate the request target; returns the authority of an absolute-form one."""
    if target[:1] == b"/":
        if target.translate(None, PATH_QUERY):
            raise HTTPError(400, "character not allowed in the request target")  # RFC 3986 §3.3
        if b"%" in target:
            check_pct(target)
        return None
    if target == b"*":
        if method != "OPTIONS":
            raise HTTPError(400, "'*' is only for OPTIONS")  # RFC 9112 §3.2.4
        return None
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        raise HTTPError(400, "bad request target")  # RFC 9112 §3.2
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if b"@" in authority:
        raise HTTPError(400, "userinfo in the request target")  # RFC 9110 §4.2.4
    if not authority:
        raise HTTPError(400, "absolute-form target without a host")
    check_host(authority)
    if path:
        check_target(method, path if path[:1] == b"/" else b"/" + path)
    return authority
