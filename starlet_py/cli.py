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
from collections.abc import Callable
from typing import Any, NoReturn

from . import __version__, loader
from .config import Config
from .errors import ConfigError
from .listeners import close_all, open_listeners, tune
from .log import log, set_level

FIELDS = {f.name: f for f in Config.FIELDS}
SHORT = {"max_workers": "-w", "listen": "-b"}  # gunicorn's short forms
# gunicorn's spelling -> ours, for the "did you mean" hint
GUNICORN = {"--bind": "--listen", "--workers": "--max-workers", "--max-requests": "--max-reqs-per-child",
            "--max-requests-jitter": "--min-reqs-per-child", "--keep-alive": "--keepalive-timeout",
            "--access-logfile": "--access-log"}  # fmt: skip
EPILOG = """\
Every option may also be set as STARLET_<OPTION> in the environment
(e.g. STARLET_MAX_WORKERS=16, STARLET_PORT=8000); the command line wins, and
an empty variable counts as unset.

signals to the master:
  TERM, INT, QUIT  graceful stop: in-flight requests finish, then exit 0
  HUP              fresh workers from the loaded app (no dropped request);
                   they also reopen --access-log
  USR1             with --spawn-interval, retire one worker per interval,
                   then exit; otherwise the same as TERM
  USR2, TTIN, TTOU, WINCH  ignored (logged)

examples:
  behind nginx (its workers in group www-data):
    starlet-py --listen /run/starlet-py/web.sock --socket-group www-data \\
        --max-workers 16 myproject.wsgi:application
  under Server::Starter (kill -HUP the start_server for a hot restart):
    start_server --port 127.0.0.1:5000 -- starlet-py --max-workers 16 myproject.wsgi:application
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str) -> NoReturn:
    """One line, exit status 2 (docs/design.md, "Command line")."""
    sys.stderr.write(f"starlet-py: error: {message}\n")
    raise SystemExit(2)


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


def _octal(text: str, what: str) -> int:
    try:
        return int(text, 8)
    except ValueError:
        fail(f"{what}: expected an octal mode like 660, got {text!r}")


def _typed(kind: type, flag: str) -> Callable[[str], Any]:
    if flag == "--socket-mode":
        return lambda text: _octal(text, flag)
    return lambda text: _convert(kind, text, flag)


def _check_long_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """An unknown --option is one line, with a hint when it is close to a known one.

    Checked before argparse, which would take the unknown option's value for APP
    (``--workers 4 app:app``: "unrecognized arguments: --workers app:app").
    """
    known = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
    for arg in argv:
        if arg == "--":
            return
        name = arg.partition("=")[0]
        if not name.startswith("--") or name in known:
            continue
        if len([k for k in known if k.startswith(name)]) == 1:
            continue  # an abbreviation argparse accepts
        import difflib  # only on this error path

        close = GUNICORN.get(name) or next(iter(difflib.get_close_matches(name, known, 1)), None)
        fail(f"unrecognized option {name}" + (f": did you mean {close}?" if close else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="starlet-py",
        description="A lean prefork WSGI server, after Perl's Starlet.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("app", metavar="APP", help=FIELDS["app"].help)
    for f in Config.FIELDS:
        if f.name == "app":
            continue
        kind = f.kind
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        shown = "" if default is None or default is False else f" (default {default!r})"
        if f.name == "socket_mode":
            shown = f" (default {default:o})"
        helptext = f.help + shown
        flags = [SHORT[f.name], flag] if f.name in SHORT else [flag]
        if kind is bool:
            parser.add_argument(*flags, action="store_true", default=None, help=helptext)
        elif f.repeatable:
            shown = f" (default {' '.join(default)})" if default else ""
            if f.name == "listen":
                shown = " (default 127.0.0.1:5000)"
            helptext = f.help + shown
            parser.add_argument(*flags, action="append", metavar=f.metavar, help=helptext)
        else:
            parser.add_argument(*flags, metavar=f.metavar, help=helptext, type=_typed(kind, flag))
    parser.add_argument("--host", help="shorthand: listen on HOST (with --port; default 127.0.0.1)")
    parser.add_argument("--port", help="shorthand: listen on PORT (with --host; default 5000)")
    parser.add_argument("--version", action="version", version=f"starlet-py {__version__}")
    return parser


def config_from(argv: list[str] | None, environ: dict[str, str]) -> Config:
    """Parse the command line and STARLET_* variables into a validated Config."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    _check_long_options(parser, argv)
    args = vars(parser.parse_args(argv))
    values: dict[str, Any] = {}
    for f in Config.FIELDS:
        if f.name == "app":
            continue
        what = "STARLET_" + f.name.upper()
        env = environ.get(what) or None  # an empty variable means unset
        if args.get(f.name) is not None:
            values[f.name] = args[f.name]
        elif env is not None:
            if f.repeatable:
                values[f.name] = env.split()
            else:
                values[f.name] = _octal(env, what) if f.name == "socket_mode" else _convert(f.kind, env, what)
    host, port = args.pop("host"), args.pop("port")
    if host is None and port is None and args["listen"] is None:
        host, port = environ.get("STARLET_HOST") or None, environ.get("STARLET_PORT") or None
        base = values.get("listen", ())  # STARLET_LISTEN, if set
    else:
        # Added to the command line's --listen; the environment's STARLET_LISTEN loses.
        base = args["listen"] or ()
    if host is not None or port is not None:
        host = host or "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        values["listen"] = [*base, f"{shown}:{port or 5000}"]
    for name in values:
        if FIELDS[name].repeatable:
            values[name] = tuple(values[name])
    return Config(app=args["app"], **values)


def _load_child_exit(spec: str | None) -> Callable[..., Any] | None:
    try:
        return loader.load(spec) if spec else None
    except ConfigError as e:
        raise ConfigError(f"--child-exit: {e}") from None


def _group_id(group: str | None) -> int:
    """--socket-group as a gid (-1: leave the socket in our own group)."""
    if group is None:
        return -1
    if group.isascii() and group.isdigit():
        return int(group)
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigError(f"--socket-group: no group named {group!r}") from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``starlet-py`` and ``python -m starlet_py``."""
    gc.disable()  # until the fork: see Master.run; workers enable it again
    try:
        config = config_from(argv, dict(os.environ))
        set_level(config.log_level)
        app = loader.load(config.app)
        child_exit = _load_child_exit(config.child_exit)
        if config.access_log not in (None, "-"):
            try:
                open(config.access_log, "a").close()  # fail now, not in every worker
            except OSError as e:
                raise ConfigError(f"cannot open --access-log {config.access_log}: {e.strerror}") from None
        gid = _group_id(config.socket_group)
        listeners = open_listeners(config.listen, config.reuse_port, os.environ, config.socket_mode, gid)
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

