"""The server's settings: one frozen class, validated on creation, no I/O.

The command line (cli.py) is generated from these fields, so an option is
spelled once: its name, type, default and help text all live here.  The fields
are collected here rather than by ``dataclasses``, which imports inspect, ast,
dis and tokenize into the master: 1.3 MiB that every worker's pool pays for
(docs/design.md, "Memory").
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, NoReturn, dataclass_transform

from .accesslog import FORMATS
from .errors import ConfigError
from .log import LEVELS
from .proxy import parse as parse_proxies

KINDS: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


class Field:
    """One option: ``kind`` is its scalar type; a ``repeatable`` one holds a tuple of them."""

    __slots__ = ("name", "default", "help", "metavar", "kind", "repeatable")

    def __init__(self, default: Any, help: str, metavar: str | None) -> None:
        self.name = ""
        self.default, self.help, self.metavar = default, help, metavar
        self.kind: type = str
        self.repeatable = False

    def typed(self, name: str, annotation: str) -> Field:
        """Name it and read its kind from the annotation's text (``int | None``, ``tuple[str, ...]``)."""
        self.name = name
        text = annotation.removesuffix(" | None")
        self.repeatable = text.startswith("tuple[")
        self.kind = KINDS[text.removeprefix("tuple[").removesuffix(", ...]")]
        return self


def _opt(default: Any, help: str, metavar: str | None = None) -> Any:
    return Field(default, help, metavar)


@dataclass_transform(kw_only_default=True, frozen_default=True)
class Frozen:
    """Keyword arguments or the defaults, then ``__post_init__``; no assignment afterwards."""

    FIELDS: ClassVar[tuple[Field, ...]] = ()

    def __init_subclass__(cls) -> None:
        notes = cls.__dict__.get("__annotations__", {})  # strings: `from __future__ import annotations`
        cls.FIELDS = tuple(v.typed(k, notes[k]) for k, v in vars(cls).items() if isinstance(v, Field))
        for f in cls.FIELDS:
            setattr(cls, f.name, f.default)

    def __init__(self, **values: Any) -> None:
        for f in self.FIELDS:
            object.__setattr__(self, f.name, values.pop(f.name, f.default))
        if values:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {min(values)!r}")
        self.__post_init__()

    def __post_init__(self) -> None:
        pass

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frozen) and type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.FIELDS)
        return f"{type(self).__name__}({shown})"


class Config(Frozen):
    """Validated settings.  Zero is always a real value, never "use the default"."""

    app: str = _opt("", "the WSGI app: module:callable, or module (callable 'application')")
    listen: tuple[str, ...] = _opt(
        ("127.0.0.1:5000",),
        "HOST:PORT, [V6]:PORT, PORT (all addresses), a unix socket path, or fd://N "
        "(an inherited fd); repeatable",
        "ADDR",
    )
    max_workers: int = _opt(10, "size of the worker pool; 0 serves in the master (no fork)", "N")
    timeout: float = _opt(
        300.0,
        "seconds a read or write may make no progress, and the limit for a whole request "
        "head; 0 waits forever",
        "S",
    )
    keepalive_timeout: float = _opt(
        2.0, "seconds an idle kept-alive connection may wait for its next request", "S"
    )
    max_keepalive_reqs: int = _opt(
        1, "requests per connection; 1 disables keep-alive (Starlet's default)", "N"
    )
    max_reqs_per_child: int = _opt(
        1000, "a worker exits after N requests and is replaced; 0 never recycles", "N"
    )
    min_reqs_per_child: int | None = _opt(
        None, "if set, each worker's limit is drawn uniformly from [MIN, max-reqs-per-child]", "N"
    )
    spawn_interval: float = _opt(
        0.0, "at least S seconds between forks; with USR1, retire one worker every S", "S"
    )
    err_respawn_interval: float = _opt(
        1.0, "after a worker dies abnormally, wait S seconds before the next fork", "S"
    )
    graceful_timeout: float = _opt(
        30.0,
        "a worker still running S seconds after it was told to stop (TERM/INT/QUIT, HUP, "
        "USR1) has its traceback logged and is killed; 0 waits forever",
        "S",
    )
    request_timeout: float = _opt(
        0.0,
        "a request in the app for more than S seconds has its worker's traceback logged, "
        "and the worker killed and replaced; 0 turns it off",
        "S",
    )
    max_request_body: int = _opt(
        1073741824,
        "largest request body in bytes: a bigger Content-Length gets 413 before the app "
        "runs, a chunked body that grows past it fails the app's next read; 0: no limit",
        "BYTES",
    )
    min_body_rate: float = _opt(
        500.0,
        "while the app waits for request body, it must arrive at an average of at least "
        "this many bytes/s after a first --timeout of grace (else 408); 0 turns it off",
        "BYTES_PER_S",
    )
    max_worker_rss: int = _opt(
        0,
        "a worker whose resident memory exceeds MIB (checked every 16th request) answers "
        "that request with Connection: close and exits; 0 turns it off",
        "MIB",
    )
    child_exit: str | None = _opt(
        None, "module:func called (no arguments) in a worker just before it exits", "FUNC"
    )
    reuse_port: bool = _opt(False, "set SO_REUSEPORT on sockets we bind (restart without a supervisor)")
    warmup: tuple[str, ...] = _opt(
        (),
        "GET PATH (or http://HOST/PATH) through the app in the master before forking, so "
        "what the app builds lazily is shared by every worker; a non-2xx is an error; repeatable",
        "PATH",
    )
    access_log: str | None = _opt(
        None, "write an access log (one line per answered request) to PATH, or - for stderr", "PATH"
    )
    access_log_format: str = _opt(
        "common",
        "common (Apache's), combined (plus Referer, User-Agent and the microseconds taken) "
        "or json (one object per line)",
        "FORMAT",
    )
    log_level: str = _opt(
        "info", "log only events at this level and above: debug, info, warning, error", "LEVEL"
    )
    forwarded_allow_ips: str = _opt(
        "",
        "comma-separated peers (IP addresses, 'unix' for unix-socket clients, '*' for any) "
        "whose X-Forwarded-Proto and X-Forwarded-For are believed; default: none",
        "ADDRS",
    )
    socket_mode: int = _opt(
        0o660,
        "permissions (octal) of the unix sockets we create; nginx's user needs rw: see --socket-group",
        "OCTAL",
    )
    socket_group: str | None = _opt(
        None, "group (name or number) of the unix sockets we create; default: our own group", "GROUP"
    )
    stats: str | None = _opt(
        None,
        "serve /metrics (Prometheus), /status (JSON) and /ready from the master on HOST:PORT or "
        "a unix socket path (mode 600 unless --socket-mode or --socket-group say otherwise)",
        "ADDR",
    )

    def __post_init__(self) -> None:
        for f in self.FIELDS:
            value = getattr(self, f.name)
            if isinstance(value, bool) or value is None:
                continue
            top = 2**63 if f.name == "max_request_body" else 1e9  # 1 GiB is its default
            if isinstance(value, int | float) and not (0 <= value < top):  # also refuses nan, inf
                raise ConfigError(f"--{_dash(f.name)} must be a number >= 0, got {value}")
        if not self.app:
            raise ConfigError("no APP given (module:callable)")
        if self.max_keepalive_reqs < 1:
            raise ConfigError("--max-keepalive-reqs must be >= 1 (1 disables keep-alive)")
        low = self.min_reqs_per_child
        if low is not None:
            if low < 1:
                raise ConfigError("--min-reqs-per-child must be >= 1")
            if self.max_reqs_per_child == 0:
                raise ConfigError("--min-reqs-per-child needs a non-zero --max-reqs-per-child")
            if low > self.max_reqs_per_child:
                raise ConfigError(
                    f"--min-reqs-per-child ({low}) is above --max-reqs-per-child "
                    f"({self.max_reqs_per_child})"
                )
        if not self.listen:
            raise ConfigError("no --listen address")
        for addr in self.listen:
            parse_address(addr)  # raises ConfigError on a bad address
        if self.log_level not in LEVELS:
            raise ConfigError(f"--log-level must be one of {', '.join(LEVELS)}, got {self.log_level!r}")
        if self.access_log_format not in FORMATS:
            raise ConfigError(
                f"--access-log-format must be one of {', '.join(FORMATS)}, got {self.access_log_format!r}"
            )
        parse_proxies(self.forwarded_allow_ips)  # raises ConfigError on a bad item
        if self.socket_mode > 0o777:
            raise ConfigError(f"--socket-mode must be octal 0-777, got {self.socket_mode:o}")
        for path in self.warmup:
            good = path[:1] == "/" or (path.startswith("http://") and len(path) > 7)
            if not good or not path.isascii() or not path.isprintable() or " " in path:
                raise ConfigError(f"--warmup must be /PATH or http://HOST/PATH, got {path!r}")
        if self.child_exit is not None and ":" not in self.child_exit:
            raise ConfigError(f"--child-exit must be module:func, got {self.child_exit!r}")


def _dash(name: str) -> str:
    return name.replace("_", "-")


class Address(NamedTuple):  # not a dataclass: see the module docstring
    """A parsed ``--listen`` value: exactly one of host/port, path or fd is meaningful."""

    kind: str  # "tcp", "unix" or "fd"
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1


def parse_address(text: str) -> Address:
    """Parse HOST:PORT, [V6]:PORT, PORT, a unix path (contains '/') or fd://N."""
    if text.startswith("fd://"):
        num = text[5:]
        if not (num.isascii() and num.isdigit()):
            raise ConfigError(f"bad --listen {text!r}: fd://N needs a number")
        return Address("fd", fd=int(num))
    if "/" in text:
        return Address("unix", path=text)
    host, port = "", text
    if text.startswith("["):
        inner, sep, port = text[1:].partition("]:")
        if not sep:
            raise ConfigError(f"bad --listen {text!r}: expected [V6]:PORT")
        host = inner
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ConfigError(f"bad --listen {text!r}: port must be a number 0-65535")
    return Address("tcp", host=host, port=int(port))
