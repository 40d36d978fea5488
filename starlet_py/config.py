"""The server's settings: one frozen dataclass, validated on creation, no I/O.

The command line (cli.py) is generated from these fields, so an option is
spelled once: its name, type, default and help text all live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigError
from .listeners import parse_address


def _opt(default: Any, help: str, metavar: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "metavar": metavar})


@dataclass(frozen=True)
class Config:
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
    child_exit: str | None = _opt(
        None, "module:func called (no arguments) in a worker just before it exits", "FUNC"
    )
    reuse_port: bool = _opt(False, "set SO_REUSEPORT on sockets we bind (restart without a supervisor)")
    access_log: str | None = _opt(
        None, "write a common-log-format access log to PATH, or - for stderr", "PATH"
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int | float) and not (0 <= value < 1e9):  # also refuses nan, inf
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
        if self.child_exit is not None and ":" not in self.child_exit:
            raise ConfigError(f"--child-exit must be module:func, got {self.child_exit!r}")


def _dash(name: str) -> str:
    return name.replace("_", "-")
