"""Listening sockets: bind our own, or adopt the ones a supervisor passed us (docs/design.md,
"Listeners").  Never accepts and never forks."""

from __future__ import annotations

import os
import socket
import stat
import struct
from collections.abc import Iterable, MutableMapping
from contextlib import suppress
from typing import Any, NamedTuple

from .config import Address, parse_address
from .errors import ConfigError

WILDCARDS = ("", "0.0.0.0", "::", "*")
SUN_PATH_MAX = 107  # bytes: sockaddr_un.sun_path is 108, with its terminating NUL


class Listener:
    """A listening socket and its names in the environ (``server_name`` None: a wildcard, see peer_names)."""

    def __init__(
        self, sock: socket.socket, server_name: str | None, server_port: str, owned_path: str | None = None
    ) -> None:
        self.sock = sock
        self.server_name = server_name
        self.server_port = server_port
        self.owned_path = owned_path  # a unix socket file we created and must remove
        # Plain ints, once in the master: sock.family and sock.type build enums on every read.
        self.is_unix = sock.family == socket.AF_UNIX
        self.family, self.kind = int(sock.family), int(sock.type)

    def describe(self) -> str:
        if self.is_unix:
            return f"unix:{self.sock.getsockname()} (fd {self.sock.fileno()})"
        return f"http://{hostport(self.sock.getsockname()[0], self.server_port)} (fd {self.sock.fileno()})"


def hostport(host: str, port: object) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class PeerNames(NamedTuple):
    """What the environ says about the two ends of one connection."""

    remote_addr: str
    remote_port: str
    server_name: str  # the default SERVER_NAME and SERVER_PORT (a Host field overrides them)
    server_port: str


def peer_names(sock: socket.socket, addr: Any, listener: Listener) -> PeerNames:
    """The names of an accepted connection; ``addr`` is what accept() returned."""
    if listener.is_unix:
        return PeerNames("", "0", listener.server_name or "localhost", listener.server_port)
    name = listener.server_name or sock.getsockname()[0]  # a wildcard: the address reached
    return PeerNames(addr[0], str(addr[1]), name, listener.server_port)


def _prepare(sock: socket.socket, owned_path: str | None = None) -> Listener:
    """Blocking mode, TCP_DEFER_ACCEPT, and the names the environ will carry."""
    sock.setblocking(True)  # circus and einhorn may pass non-blocking sockets
    if sock.family == socket.AF_UNIX:
        # Its path as SERVER_PORT, as Starlet does: apps can tell several listeners apart.
        return Listener(sock, "localhost", str(sock.getsockname()) or "0", owned_path)
    # Wake a worker only once the request's first bytes are there (as Starlet does).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
    host, port = sock.getsockname()[:2]
    return Listener(sock, None if host in WILDCARDS else host, str(port), owned_path)


def adopt(fd: int) -> Listener:
    """Wrap an inherited listening fd; its family is read from the socket itself."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as e:
        raise ConfigError(f"fd {fd} is not a usable socket: {e.strerror}") from None
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise ConfigError(f"fd {fd} is not a listening stream socket")
    sock.set_inheritable(False)
    return _prepare(sock)


def bind(addr: Address, reuse_port: bool, mode: int, gid: int) -> Listener:
    """Create, bind and listen on a TCP or unix address (a unix socket gets ``mode``, ``gid`` if not -1)."""
    if addr.kind == "unix":
        return _bind_unix(addr.path, mode, gid)
    # A bare PORT means every IPv4 address, as with Starlet; [::]:PORT asks for v6.
    host = "0.0.0.0" if addr.host in ("", "*") else addr.host
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, addr.port))
        sock.listen(socket.SOMAXCONN)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {hostport(addr.host, addr.port)}: {e.strerror or e}") from None
    return _prepare(sock)


def _bind_unix(path: str, mode: int, gid: int) -> Listener:
    n = len(os.fsencode(path))
    if n > SUN_PATH_MAX:
        raise ConfigError(f"cannot listen on {path}: path too long ({n} bytes, the limit is {SUN_PATH_MAX})")
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX)
    step = "bind"
    # Bound under umask 0o177 (owner only), then chowned, then chmodded: never more open.
    old_umask = os.umask(0o177)  # at startup, before any fork or thread: process-wide is fine
    try:
        sock.bind(path)
        step = "set the group of"
        if gid != -1:
            os.chown(path, -1, gid)
        step = "set the mode of"
        os.chmod(path, mode)
        step = "listen on"
        sock.listen(socket.SOMAXCONN)
    except OSError as e:
        if step != "bind":
            os.unlink(path)
        sock.close()
        hint = " (we must be root or in that group)" if step == "set the group of" else ""
        raise ConfigError(f"cannot {step} {path}: {e.strerror or e}{hint}") from None
    finally:
        os.umask(old_umask)
    return _prepare(sock, path)


def _remove_stale(path: str) -> None:
    """Remove a unix socket file nobody answers on; refuse to clobber a live one."""
    step = ""  # what failed, if not the stat() (EACCES on a directory, ENOTDIR)
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise ConfigError(f"cannot listen on {path}: exists and is not a socket")
        step = "existing socket: "  # EACCES: we cannot even tell whether someone answers there
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(path)
            except ConnectionRefusedError:  # stale: left by a server that died
                step = "cannot remove the stale socket: "  # EPERM: someone else's, in a sticky directory
                os.unlink(path)
                return
        raise ConfigError(f"cannot listen on {path}: another server is answering there")
    except FileNotFoundError:
        return  # nothing there, or no longer
    except OSError as e:
        raise ConfigError(f"cannot listen on {path}: {step}{e.strerror or e}") from None


def inherited_fds(environ: MutableMapping[str, str]) -> list[int] | None:
    """Fds a supervisor passed us, or None.  Consumes systemd's variables."""
    starter = environ.get("SERVER_STARTER_PORT")
    if starter:
        fds = []
        for entry in filter(None, starter.split(";")):
            fd = entry.partition("=")[2]
            if "=" not in entry or not (fd.isascii() and fd.isdigit()):
                raise ConfigError(f"bad SERVER_STARTER_PORT entry {entry!r}")
            fds.append(int(fd))
        return fds
    if environ.get("LISTEN_PID") and environ.get("LISTEN_FDS"):
        pid, count = environ.pop("LISTEN_PID"), environ.pop("LISTEN_FDS")
        environ.pop("LISTEN_FDNAMES", None)  # children must not take them for their own
        if pid == str(os.getpid()):
            if not (count.isascii() and count.isdigit()):
                raise ConfigError(f"bad LISTEN_FDS {count!r}")
            return list(range(3, 3 + int(count)))
    return None


def open_listeners(
    listen: Iterable[str], reuse_port: bool, environ: MutableMapping[str, str], mode: int, gid: int
) -> list[Listener]:
    """Every listener we serve, by the precedence in docs/design.md, "Listeners"."""
    fds = inherited_fds(environ)
    if fds is not None:
        return [adopt(fd) for fd in fds]
    result: list[Listener] = []
    try:
        for addr in map(parse_address, listen):
            result.append(adopt(addr.fd) if addr.kind == "fd" else bind(addr, reuse_port, mode, gid))
    except ConfigError:
        close_all(result)
        raise
    return result


def close_all(listeners: Iterable[Listener]) -> None:
    for lst in listeners:
        if lst.owned_path:
            with suppress(FileNotFoundError):
                os.unlink(lst.owned_path)
        lst.sock.close()


def set_timeouts(sock: socket.socket, write: float, read: float) -> None:
    """Kernel-side timeouts: SO_SNDTIMEO ``write``, SO_RCVTIMEO ``read``; 0 means none."""
    for opt, seconds in ((socket.SO_SNDTIMEO, write), (socket.SO_RCVTIMEO, read)):
        sock.setsockopt(socket.SOL_SOCKET, opt, struct.pack("ll", int(seconds), int(seconds % 1 * 1e6)))


def tune(listeners: list[Listener], timeout: float, keepalive_timeout: float) -> None:
    """Options the accepted TCP sockets inherit, set once (docs/design.md, "Listeners"): a
    blocking accept() wakes with EAGAIN every ``keepalive_timeout`` (the worker retries)."""
    for lst in listeners:
        if not lst.is_unix:
            lst.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            set_timeouts(lst.sock, timeout, keepalive_timeout)
        if len(listeners) > 1:
            lst.sock.setblocking(False)


def accept_queue(sock: socket.socket) -> tuple[int, int]:
    """(connections waiting to be accepted, backlog) of a TCP listener: TCP_INFO's unacked, sacked."""
    return struct.unpack_from("II", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32), 24)


def queue_length(sock: socket.socket) -> int:
    """At least 1 (the caller knows it is readable): a unix socket has no count."""
    return 1 if sock.family == socket.AF_UNIX else max(accept_queue(sock)[0], 1)
