"""The server's settings: a NamedTuple that ``check`` validates as ``Config(...)`` makes it; no I/O.

Each option is a field (name, type, default) and a line of OPTIONS; cli.py is generated from
them.  Not a dataclass, nor string annotations: both cost the master memory (docs/design.md)."""

from typing import Any, NamedTuple

from .accesslog import FORMATS
from .errors import ConfigError
from .log import LEVELS
from .proxy import parse as parse_proxies


class Settings(NamedTuple):
    """Every option, with its default; zero is always a real value, never "use the default"."""

    app: str
    listen: tuple[str, ...] = ("127.0.0.1:5000",)
    max_workers: int = 10
    timeout: float = 300.0
    keepalive_timeout: float = 2.0
    max_keepalive_reqs: int = 1
    max_reqs_per_child: int = 1000
    min_reqs_per_child: int | None = None
    spawn_interval: float = 0.0
    err_respawn_interval: float = 1.0
    graceful_timeout: float = 30.0
    request_timeout: float = 0.0
    max_request_body: int = 1073741824
    limit_request_line: int = 8192
    limit_request_fields: int = 100
    limit_request_field_size: int = 8192
    min_body_rate: float = 500.0
    max_worker_rss: int = 0
    child_exit: str | None = None
    reuse_port: bool = False
    warmup: tuple[str, ...] = ()
    access_log: str | None = None
    access_log_format: str = "common"
    log_level: str = "info"
    forwarded_allow_ips: str = ""
    socket_mode: int = 0o660
    socket_group: str | None = None
    stats: str | None = None


# Each option as --help shows it: NAME METAVAR (- for a flag) and its text, continued on
# indented lines; its type and default are the field's (--host and --port only add to --listen).
OPTIONS = """\
listen ADDR  HOST:PORT, [V6]:PORT, PORT (all addresses), a unix socket (a path with a '/', or
    unix:PATH) or fd://N (an inherited fd); repeatable
max_workers N  size of the worker pool; 0 serves in the master (no fork)
timeout S  seconds a read or write may make no progress, and the limit for a whole request head;
    0 waits forever
keepalive_timeout S  seconds an idle kept-alive connection may wait for its next request
max_keepalive_reqs N  requests per connection; 1 disables keep-alive (Starlet's default)
max_reqs_per_child N  a worker exits after N requests and is replaced; 0 never recycles
min_reqs_per_child N  if set, each worker's limit is drawn uniformly from [MIN, max-reqs-per-child]
spawn_interval S  at least S seconds between forks; with USR1, retire one worker every S
    seconds, then exit (without it, USR1 replaces the workers as HUP does: logrotate's reopen)
err_respawn_interval S  after a worker dies abnormally, wait S seconds before the next fork
graceful_timeout S  a worker still running S seconds after it was told to stop (TERM/INT/QUIT, HUP,
    USR1) has its traceback logged and is killed; 0 waits forever
request_timeout S  a request in the app for more than S seconds has its worker's traceback logged,
    and the worker killed and replaced; 0 turns it off
max_request_body BYTES  largest request body in bytes: a bigger Content-Length gets 413 before the
    app runs, a chunked body that grows past it fails the app's next read; 0: no limit
limit_request_line BYTES  longest request line (method, target, version); longer: 414
limit_request_fields N  most header fields in a request; more: 431
limit_request_field_size BYTES  longest header field (name and value); longer: 431.  The whole
    head may take 8 times the larger of this and --limit-request-line (64 KiB by default)
min_body_rate BYTES_PER_S  while the app waits for request body, it must arrive at an average of at
    least this many bytes/s after a first --timeout of grace (else 408); 0 turns it off
max_worker_rss MIB  a worker whose resident memory exceeds MIB (checked after every request) answers
    that request with Connection: close and exits; 0 turns it off
child_exit FUNC  module:func called (no arguments) in a worker just before it exits
reuse_port -  set SO_REUSEPORT on sockets we bind (restart without a supervisor)
warmup PATH  GET PATH (or http://HOST/PATH) through the app in the master before forking, so what
    the app builds lazily is shared by every worker; a non-2xx is an error; repeatable
access_log PATH  write an access log (one line per answered request) to PATH, or - for stderr
access_log_format FORMAT  common (Apache's), combined (plus Referer, User-Agent and the
    microseconds taken) or json (one object per line)
log_level LEVEL  log only events at this level and above: debug, info, warning, error
forwarded_allow_ips ADDRS  comma-separated peers (IP addresses, 'unix' for unix-socket clients,
    '*' for any) whose X-Forwarded-Proto and X-Forwarded-For are believed; default: none
socket_mode OCTAL  permissions (octal) of the unix sockets we create; nginx's user needs rw: see
    --socket-group
socket_group GROUP  group (name or number) of the unix sockets we create; default: our own group
stats ADDR  serve /metrics (Prometheus), /status (JSON) and /ready from the master on HOST:PORT or
    a unix socket path (mode 600 unless --socket-mode or --socket-group say otherwise)
host HOST  shorthand: listen on HOST (with --port; default 127.0.0.1)
port PORT  shorthand: listen on PORT (with --host; default 5000)
"""
HELP = {n: (m, t) for n, m, t in (o.split(maxsplit=2) for o in OPTIONS.replace("\n    ", " ").splitlines())}


class Config(Settings):
    """Settings that passed ``check`` (as they are made: ``_replace`` does not check)."""

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> "Config":
        return check(super().__new__(cls, *args, **kwargs))


def check(c: Config) -> Config:
    """``c`` if every value is usable, else a one-line ConfigError naming the option."""
    for name, value in zip(c._fields, c, strict=True):
        top = 2**63 if name == "max_request_body" else 1e9  # 1 GiB is its default
        if isinstance(value, int | float) and not 0 <= value < top:  # also refuses nan, inf
            raise ConfigError(f"--{name.replace('_', '-')} must be a number >= 0, got {value}")
    if not c.app:
        raise ConfigError("no APP given (module:callable)")
    if c.max_keepalive_reqs < 1:
        raise ConfigError("--max-keepalive-reqs must be >= 1 (1 disables keep-alive)")
    for name in ("limit_request_line", "limit_request_fields", "limit_request_field_size"):
        if not 1 <= getattr(c, name) <= 1 << 20:  # a head is held whole: 8 of these at most
            raise ConfigError(f"--{name.replace('_', '-')} must be 1 to 1048576")
    low, high = c.min_reqs_per_child, c.max_reqs_per_child
    if low is not None and low < 1:
        raise ConfigError("--min-reqs-per-child must be >= 1")
    if low is not None and high == 0:
        raise ConfigError("--min-reqs-per-child needs a non-zero --max-reqs-per-child")
    if low is not None and low > high:
        raise ConfigError(f"--min-reqs-per-child ({low}) is above --max-reqs-per-child ({high})")
    if not c.listen:
        raise ConfigError("no --listen address")
    for addr in c.listen:
        parse_address(addr)  # raises ConfigError on a bad address
    for name, known in (("log_level", LEVELS), ("access_log_format", FORMATS)):
        value = getattr(c, name)
        if value not in known:
            raise ConfigError(f"--{name.replace('_', '-')} must be one of {', '.join(known)}, got {value!r}")
    parse_proxies(c.forwarded_allow_ips)  # raises ConfigError on a bad item
    if c.socket_mode > 0o777:
        raise ConfigError(f"--socket-mode must be octal 0-777, got {c.socket_mode:o}")
    for path in c.warmup:
        good = path[:1] == "/" or (path.startswith("http://") and len(path) > 7)
        if not good or not path.isascii() or not path.isprintable() or " " in path:
            raise ConfigError(f"--warmup must be /PATH or http://HOST/PATH, got {path!r}")
    if c.child_exit is not None and ":" not in c.child_exit:
        raise ConfigError(f"--child-exit must be module:func, got {c.child_exit!r}")
    return c


class Address(NamedTuple):
    """A parsed ``--listen`` value: exactly one of host/port, path or fd is meaningful."""

    kind: str  # "tcp", "unix" or "fd"
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1


def parse_address(text: str) -> Address:
    """HOST:PORT, [V6]:PORT, PORT, a unix socket (a path with '/', or unix:PATH) or fd://N."""
    scheme, sep, rest = text.partition("://")
    if text.startswith("unix:"):  # gunicorn's and uWSGI's form (and unix://PATH, as gunicorn)
        path = text[5:].removeprefix("//")
        if not path:
            raise ConfigError(f"bad --listen {text!r}: unix: needs a path")
        return Address("unix", path=path)
    if scheme == "fd":
        if not (rest.isascii() and rest.isdigit()):
            raise ConfigError(f"bad --listen {text!r}: fd://N needs a number")
        return Address("fd", fd=int(rest))
    if sep and scheme.isalpha():  # tcp://, http://: we take the address alone
        raise ConfigError(f"bad --listen {text!r}: no scheme, write HOST:PORT ({rest.rstrip('/')})")
    if "/" in text:
        return Address("unix", path=text)
    host, port = "", text
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ConfigError(f"bad --listen {text!r}: expected [V6]:PORT")
    elif ":" in text:
        host, _, port = text.rpartition(":")
    elif text and not text.isdigit():  # web.sock: a file in this directory, or a host without port?
        raise ConfigError(f"bad --listen {text!r}: a unix socket here is ./{text}, a host needs :PORT")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ConfigError(f"bad --listen {text!r}: port must be a number 0-65535")
    return Address("tcp", host=host, port=int(port))
