"""The ``starlet-py`` command: options generated from Config, env overrides, start.

Every option can also come from ``STARLET_<OPTION>`` (e.g. STARLET_MAX_WORKERS);
the command line wins.  Everything is validated before anything forks: a bad
value or APP is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import types
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, NoReturn, get_type_hints

from . import __version__, loader
from .config import Config
from .errors import ConfigError
from .listeners import close_all, open_listeners, tune
from .log import log

HINTS = get_type_hints(Config)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str) -> NoReturn:
    """One line, exit status 2 (docs/design.md, "Command line")."""
    sys.stderr.write(f"starlet-py: error: {message}\n")
    raise SystemExit(2)


def _scalar(tp: Any) -> type:
    """The scalar type of an annotation like ``int | None`` or ``tuple[str, ...]``."""
    args = [a for a in getattr(tp, "__args__", ()) if a is not type(None) and a is not Ellipsis]
    if isinstance(tp, types.UnionType) or getattr(tp, "__origin__", None) is tuple:
        return _scalar(args[0])
    return tp  # type: ignore[no-any-return]


def _repeatable(name: str) -> bool:
    """A ``tuple[...]`` field: a repeatable option, a space-separated STARLET_* variable."""
    return getattr(HINTS[name], "__origin__", None) is tuple


def _convert(kind: type, text: str, what: str) -> Any:
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off", ""):
            return False
    else:
        try:
            return kind(text)
        except ValueError:
            pass
    fail(f"{what}: expected {kind.__name__}, got {text!r}")


def _typed(kind: type, flag: str) -> Callable[[str], Any]:
    return lambda text: _convert(kind, text, flag)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="starlet-py",
        description="A lean prefork WSGI server, after Perl's Starlet.",
        epilog="Every option may also be set as STARLET_<OPTION> in the environment "
        "(e.g. STARLET_MAX_WORKERS=16); the command line wins.",
    )
    parser.add_argument("app", metavar="APP", help=Config.__dataclass_fields__["app"].metadata["help"])
    for f in fields(Config):
        if f.name == "app":
            continue
        kind = _scalar(HINTS[f.name])
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        shown = "" if default is None or default is False else f" (default {default!r})"
        helptext = f.metadata["help"] + shown
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=None, help=helptext)
        elif _repeatable(f.name):
            shown = f" (default {' '.join(default)})" if default else ""
            helptext = f.metadata["help"] + shown
            parser.add_argument(flag, action="append", metavar=f.metadata["metavar"], help=helptext)
        else:
            parser.add_argument(flag, metavar=f.metadata["metavar"], help=helptext, type=_typed(kind, flag))
    parser.add_argument("--host", help="shorthand: listen on HOST (with --port; default 127.0.0.1)")
    parser.add_argument("--port", help="shorthand: listen on PORT (with --host; default 5000)")
    parser.add_argument("--version", action="version", version=f"starlet-py {__version__}")
    return parser


def config_from(argv: list[str] | None, environ: dict[str, str]) -> Config:
    """Parse the command line and STARLET_* variables into a validated Config."""
    args = vars(build_parser().parse_args(argv))
    values: dict[str, Any] = {}
    for f in fields(Config):
        if f.name == "app":
            continue
        env = environ.get("STARLET_" + f.name.upper())
        if args.get(f.name) is not None:
            values[f.name] = args[f.name]
        elif env is not None:
            kind = _scalar(HINTS[f.name])
            what = "STARLET_" + f.name.upper()
            values[f.name] = env.split() if _repeatable(f.name) else _convert(kind, env, what)
    host, port = args.pop("host"), args.pop("port")
    if host is not None or port is not None:
        host = host or "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        # Added to the command line's --listen; the environment's STARLET_LISTEN loses.
        values["listen"] = [*(args["listen"] or ()), f"{shown}:{port or 5000}"]
    for name in values:
        if _repeatable(name):
            values[name] = tuple(values[name])
    return Config(app=args["app"], **values)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``starlet-py`` and ``python -m starlet_py``."""
    gc.disable()  # until the fork: see Master.run; workers enable it again
    try:
        config = config_from(argv, dict(os.environ))
        app = loader.load(config.app)
        child_exit = loader.load(config.child_exit) if config.child_exit else None
        if config.access_log not in (None, "-"):
            try:
                open(config.access_log, "a").close()  # fail now, not in every worker
            except OSError as e:
                raise ConfigError(f"cannot open --access-log {config.access_log}: {e.strerror}") from None
        listeners = open_listeners(config.listen, config.reuse_port, os.environ)
        if config.warmup:  # in the master, before gc.freeze() and the first fork
            from .warmup import warm

            first = listeners[0]
            warm(app, config.warmup, first.server_name or "localhost", first.server_port)
    except ConfigError as e:
        fail(str(e))
    tune(listeners, config.timeout, config.keepalive_timeout)
    for lst in listeners:
        log(f"listening on {lst.describe()}")
    if config.max_workers == 0:
        from .worker import Worker

        log("--max-workers 0: serving in this process")
        try:
            Worker(app, config, listeners, child_exit).run(forked=False)
        finally:
            close_all(listeners)
        return 0
    from .master import Master

    return Master(app, config, listeners, child_exit).run()

