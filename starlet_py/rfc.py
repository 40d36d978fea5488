"""What llhttp leaves to us in a request line, Host and Transfer-Encoding (RFC 9112, RFC 3986):
functions over bytes, each raising HTTPError (400, 501, 505) for what a server must refuse."""

from __future__ import annotations

from typing import TypeVar

from .errors import HTTPError

K = TypeVar("K")
V = TypeVar("V")

_ALPHANUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_REG_NAME = _ALPHANUM + b"-._~" + b"!$&'()*+,;=" + b"%"  # unreserved, sub-delims, pct (RFC 3986 §3.2.2)
HEX = b"0123456789ABCDEFabcdef"
TCHAR = _ALPHANUM + b"!#$%&'*+-.^_`|~"  # token characters (RFC 9110 §5.6.2)
_VISIBLE = bytes(range(0x21, 0x7F))
_IPV6 = HEX + b":."
# "%xx" escapes: the two hex digits, in any case, -> the byte they stand for.
PCT = {bytes([a, b]): bytes([int(bytes([a, b]), 16)]) for a in HEX for b in HEX}
HOSTS: dict[bytes, tuple[str, str]] = {}  # checked Host values (check_host)


def remember(cache: dict[K, V], key: K, value: V, limit: int = 256) -> V:
    """``value``, kept in ``cache`` while it has under ``limit`` entries: every cache of
    checked or converted values is bounded, since clients choose what they send."""
    if len(cache) < limit:
        cache[key] = value
    return value


def check_host(host: bytes) -> tuple[str, str]:
    """uri-host [ ":" port ] (RFC 9110 §7.2) as (name, port), remembered in HOSTS."""
    if host[:1] == b"[":
        end = host.find(b"]")
        if end < 0 or b":" not in host[1:end] or host[1:end].translate(None, _IPV6):
            raise HTTPError(400, "invalid IPv6 address in Host")
        name, rest = host[1:end], host[end + 1 :]
        if rest and rest[:1] != b":":
            raise HTTPError(400, "invalid Host")
        port = rest[1:]
    else:
        name, _, port = host.partition(b":")
        if name.translate(None, _REG_NAME):
            raise HTTPError(400, "invalid Host")
        if any(part[:2] not in PCT for part in name.split(b"%")[1:]):  # RFC 3986 §2.1
            raise HTTPError(400, "bad percent-encoding in the host")
    if port and (len(port) > 5 or not port.isdigit()):
        raise HTTPError(400, "invalid port in Host")
    return remember(HOSTS, host, (name.decode("latin-1"), port.decode("latin-1")))


def check_target(method: str, target: bytes) -> bytes | None:
    """Check what llhttp leaves to us in the request target; returns the authority of an
    absolute-form one.  llhttp has let through only visible ASCII (docs/http.md, "Request
    targets"): `[]{}|^"<>\\` and backquote, which real clients send unescaped, are accepted."""
    if target[:1] == b"/":
        # A NUL decoded into PATH_INFO reaches apps that pass paths to C; the query stays raw.
        if b"%00" in target.split(b"?", 1)[0].split(b"#", 1)[0]:
            raise HTTPError(400, "%00 (NUL) in the request path")
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


def method_status(line: bytes, limit: int) -> int | None:
    """The answer to a request line whose method llhttp does not know (``line`` is what
    arrived of it): 501 if it is ``token SP target SP HTTP/d.d CRLF`` (RFC 9110 §9.1), 400
    if it is not a request line (RFC 9112 §3), None while it is still arriving (< ``limit``)."""
    line = line.lstrip(b"\r\n")
    sp = line.find(b" ")
    if sp == 0 or (line if sp < 0 else line[:sp]).translate(None, TCHAR):
        return 400  # not a token: decided at once
    end = line.find(b"\r\n")
    if end < 0:
        return None if len(line) < limit else 400
    parts = line[:end].split(b" ")
    if len(parts) != 3 or not parts[1] or parts[1].translate(None, _VISIBLE):
        return 400
    version = parts[2]
    if len(version) != 8 or version[:5] != b"HTTP/" or version[6:7] != b"." or not version[5:8:2].isdigit():
        return 400
    return 501


def find_line(hay: bytes, scan: int, method: bytes, target: bytes) -> int:
    """The request line must name HTTP (llhttp reads `RTSP/1.0` as 1.0): find it in ``hay``
    from ``scan``; returns where the next search starts (docs/http.md, "Accepted but wrong").
    Any occurrence naming HTTP passes: a look-alike in a body changes no framing."""
    needle = method + b" " + target + b" "
    start = hay.find(needle, scan)
    while start >= 0:
        start += len(needle)
        if hay[start : start + 5] == b"HTTP/":
            return start
        start = hay.find(needle, start)
    # No "METHOD SP target SP HTTP/": another protocol, or other whitespace.
    raise HTTPError(400, "not an HTTP/1.x request line")  # RFC 9112 §2.3, §3


def spoken_version(version: str) -> str:
    """The version we answer a request of HTTP/``version`` (not 1.0 or 1.1) in, or HTTPError."""
    if version[:2] == "1.":
        return "1.1"  # a later 1.x: treat as 1.1 (RFC 9110 §2.5)
    raise HTTPError(400 if version[0] == "0" else 505, f"HTTP/{version} is not supported")


def check_codings(te: bytes, version: str) -> None:
    """A Transfer-Encoding (its fields joined by ","): we take a lone chunked only."""
    if version == "1.0":
        raise HTTPError(400, "Transfer-Encoding in an HTTP/1.0 request")  # RFC 9112 §6.1
    # Empty list elements do not count (RFC 9110 §5.6.1.2).
    codings = [c for c in (c.strip().lower() for c in te.split(b",")) if c]
    if codings[-1:] != [b"chunked"]:
        raise HTTPError(400, "Transfer-Encoding without a final chunked")  # RFC 9112 §6.3
    if len(codings) > 1:
        raise HTTPError(501, "transfer coding other than chunked")  # §6.1
