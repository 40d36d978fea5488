"""Listening sockets: bind our own, or adopt the ones a supervisor passed us.

Never accepts and never forks.  Precedence (docs/design.md, "Listeners"): SERVER_STARTER_PORT,
then systemd's LISTEN_FDS, then ``--listen fd://N``, then binding ``--listen``.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from collections.abc import Iterable, MutableMapping
from typing import Any, NamedTuple

from .config import Address, parse_address
from .errors import ConfigError

WILDCARDS = ("", "0.0.0.0", "::", "*")
SUN_PATH_MAX = 107  # bytes: sockaddr_un.sun_path is 108, with its terminating NUL


class Listener:
    """A listening socket and what the environ says about it.

    ``server_name`` is None for a wildcard address: the connection's own local
    address is used instead (never "0" or an empty SERVER_NAME).
    """

    def __init__(
        self, sock: socket.socket, server_name: str | None, server_port: str, owned_path: str | None = None
    ) -> None:
        self.sock = sock
        self.server_name = server_name
        self.server_port = server_port
        self.owned_path = owned_path  # a unix socket file we created and must remove
        # Once, in the master: sock.family and sock.type build enums each time, which a
        # worker would otherwise do per connection (is_unix) or as it starts (accept).
        self.is_unix = sock.family == socket.AF_UNIX
        self.family, self.kind = int(sock.family), int(sock.type)

    def describe(self) -> str:
        if self.is_unix:
            return f"unix:{self.sock.getsockname()} (fd {self.sock.fileno()})"
        host = self.sock.getsockname()[0]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server_port} (fd {self.sock.fileno()})"


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
    name = listener.server_name
    if name is None:  # bound to a wildcard: the address the client reached is the name
        name = sock.getsockname()[0]
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


def bind(
    addr: Address, reuse_port: bool = False, socket_mode: int = 0o660, socket_group: int = -1
) -> Listener:
    """Create, bind and listen on a TCP or unix address.

    A unix socket gets ``socket_mode`` and (unless -1) group ``socket_group``
    with no window where it is more open: it is bound under umask 0o177
    (owner only), then chowned, then chmodded (docs/design.md, "Listeners").
    """
    if addr.kind == "unix":
        return _bind_unix(addr.path, socket_mode, socket_group)
    # A bare PORT means every IPv4 address, as with Starlet; [::]:PORT asks for v6.
    host = "0.0.0.0" if addr.host in ("", "*") else addr.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, addr.port))
        sock.listen(socket.SOMAXCONN)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {addr_text(addr)}: {_why(e)}") from None
    return _prepare(sock)


def _bind_unix(path: str, mode: int, gid: int) -> Listener:
    size = len(os.fsencode(path))
    if size > SUN_PATH_MAX:
        raise ConfigError(
            f"cannot listen on {path}: path too long ({size} bytes, the limit is {SUN_PATH_MAX})"
        )
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    step = "bind"
    old_umask = os.umask(0o177)  # at startup, before any fork or thread: process-wide is fine
    try:
        sock.bind(path)
        os.umask(old_umask)
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
        raise ConfigError(f"cannot {step} {path}: {_why(e)}{hint}") from None
    finally:
        os.umask(old_umask)
    return _prepare(sock, path)


def _why(e: OSError) -> str:
    return e.strerror or str(e)


def addr_text(addr: Address) -> str:
    if addr.kind == "unix":
        return addr.path
    if addr.kind == "fd":
        return f"fd://{addr.fd}"
    return f"[{addr.host}]:{addr.port}" if ":" in addr.host else f"{addr.host}:{addr.port}"


def _remove_stale(path: str) -> None:
    """Remove a unix socket file nobody answers on; refuse to clobber a live one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as e:  # e.g. EACCES on a directory, ENOTDIR: say so in one line
        raise ConfigError(f"cannot listen on {path}: {_why(e)}") from None
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"cannot listen on {path}: exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        pass  # stale: left by a server that died
    except OSError as e:  # EACCES: we cannot even tell whether someone answers there
        raise ConfigError(f"cannot listen on {path}: existing socket: {_why(e)}") from None
    else:
        raise ConfigError(f"cannot listen on {path}: another server is answering there")
    finally:
        probe.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:  # EPERM: someone else's stale socket in a sticky directory
        raise ConfigError(f"cannot listen on {path}: cannot remove the stale socket: {_why(e)}") from None


def inherited_fds(environ: MutableMapping[str, str]) -> list[int] | None:
    """Fds a supervisor passed us, or None.  Consumes systemd's variables."""
    starter = environ.get("SERVER_STARTER_PORT")
    if starter:
        fds = []
        for entry in starter.split(";"):
            if not entry:
                continue
            _key, sep, fd = entry.partition("=")
            if not sep or not (fd.isascii() and fd.isdigit()):
                raise ConfigError(f"bad SERVER_STARTER_PORT entry {entry!r}")
            fds.append(int(fd))
        return fds
    if environ.get("LISTEN_PID") and environ.get("LISTEN_FDS"):
        mine = environ["LISTEN_PID"] == str(os.getpid())
        count = environ["LISTEN_FDS"]
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            environ.pop(name, None)  # children must not take them for their own
        if mine:
            if not (count.isascii() and count.isdigit()):
                raise ConfigError(f"bad LISTEN_FDS {count!r}")
            return list(range(3, 3 + int(count)))
    return None


def open_listeners(
    listen: Iterable[str],
    reuse_port: bool,
    environ: MutableMapping[str, str],
    socket_mode: int = 0o660,
    socket_group: int = -1,
) -> list[Listener]:
    """Every listener we serve, by the precedence in docs/design.md, "Listeners"."""
    fds = inherited_fds(environ)
    if fds is not None:
        return [adopt(fd) for fd in fds]
    result: list[Listener] = []
    try:
        for text in listen:
            addr = parse_address(text)
            if addr.kind == "fd":
                result.append(adopt(addr.fd))
            else:
                result.append(bind(addr, reuse_port, socket_mode, socket_group))
    except ConfigError:
        close_all(result)
        raise
    return result


def close_all(listeners: Iterable[Listener]) -> None:
    """Close every socket; remove the unix socket files we created."""
    for lst in listeners:
        if lst.owned_path:
            try:
                os.unlink(lst.owned_path)
            except FileNotFoundError:
                pass
        lst.sock.close()


def set_timeouts(sock: socket.socket, write: float, read: float) -> None:
    """Kernel-side timeouts: SO_SNDTIMEO ``write``, SO_RCVTIMEO ``read``; 0 means none."""
    for opt, seconds in ((socket.SO_SNDTIMEO, write), (socket.SO_RCVTIMEO, read)):
        sock.setsockopt(socket.SOL_SOCKET, opt, struct.pack("ll", int(seconds), int(seconds % 1 * 1e6)))


def tune(listeners: list[Listener], timeout: float, keepalive_timeout: float) -> None:
    """Options the accepted sockets inherit, set once on each listener, not per connection.

    On Linux a TCP socket returned by accept() inherits TCP_NODELAY and
    SO_RCVTIMEO/SO_SNDTIMEO from its listener (a unix one does not: the worker
    calls ``set_timeouts`` per connection).  A blocking accept() itself then
    wakes every ``keepalive_timeout`` seconds with EAGAIN, which the worker
    simply retries.  With several listeners they are made non-blocking: workers
    poll, then accept, and whoever loses the race for a connection must get
    EAGAIN rather than block.
    """
    for lst in listeners:
        if not lst.is_unix:
            lst.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            set_timeouts(lst.sock, timeout, keepalive_timeout)
        if len(listeners) > 1:
            lst.sock.setblocking(False)


def queue_length(sock: socket.socket) -> int:
    """Connections waiting in a listening socket's accept queue: Linux gives the count in
    TCP_INFO's tcpi_unacked (at byte 24) for a TCP listener; 1 for a unix socket, which
    has no such count (the caller knows it is readable)."""
    if sock.family == socket.AF_UNIX:
        return 1
    data = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
    waiting: int = struct.unpack_from("I", data, 24)[0]
    return max(waiting, 1)
