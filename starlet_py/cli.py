"""The ``starlet-py`` command: options generated from Config, env overrides, start.

Every option can also come from ``STARLET_<OPTION>`` (e.g. STARLET_MAX_WORKERS);
the command line wins.  Everything is validated before anything forks: a bad
value or APP is one line on stderr and exit status 2.
"""

from __future__ import annotations

import gc
import os
import signal
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


def _flags() -> dict[str, str]:
    """Each spelling of an option (-w, --max-workers) -> where its value goes."""
    flags = {"-h": "help", "--help": "help"}
    for f in Config.FIELDS[1:]:  # APP is the positional argument
        flags |= {SHORT[f.name]: f.name} if f.name in SHORT else {}
        flags["--" + f.name.replace("_", "-")] = f.name
    return flags | {"--host": "host", "--port": "port", "--version": "version"}


def _check_long_options(known: list[str], argv: list[str]) -> None:
    """An unknown --option is one line, with a hint when it is close to a known one.

    Checked before parsing, so that it is the first error (gunicorn's spelling:
    ``--workers 4 app:app``), not one about its value.
    """
    for arg in argv:
        if arg == "--":
            return
        name = arg.partition("=")[0]
        if not name.startswith("--") or len([k for k in known if k.startswith(name)]) == 1 or name in known:
            continue  # known, or an unambiguous abbreviation
        import difflib  # only on this error path

        close = GUNICORN.get(name) or next(iter(difflib.get_close_matches(name, known, 1)), None)
        fail(f"unrecognized option {name}" + (f": did you mean {close}?" if close else ""))


def _is_value(arg: str) -> bool:
    """An argument that is no option: ``-`` (stderr) and negative numbers included."""
    return arg[:1] != "-" or arg == "-" or arg[1:].replace(".", "", 1).isdigit()


def parse(argv: list[str]) -> dict[str, Any]:
    """The command line -> {field: value}, converted; a repeatable option's values in a list.

    As argparse did (docs/design.md, "Command line"): ``--opt value`` or
    ``--opt=value``, ``-w 4`` or ``-w4``, unambiguous abbreviations, ``--`` ends
    the options; exits 0 after --help and --version, 2 after a one-line error.
    """
    flags = _flags()
    longs = [k for k in flags if k.startswith("--")]
    _check_long_options(longs, argv)
    out: dict[str, Any] = {}
    apps: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            apps.extend(args)
            break
        if _is_value(arg):
            apps.append(arg)
            continue
        name, eq, text = arg.partition("=") if arg[:2] == "--" else (arg[:2], arg[2:3], arg[2:])
        name = name if name in flags else next((k for k in longs if k.startswith(name)), name)
        dest = flags.get(name)
        if dest is None:
            fail(f"unrecognized arguments: {arg}")
        if dest in ("help", "version"):
            sys.stdout.write(_help() if dest == "help" else f"starlet-py {__version__}\n")
            raise SystemExit(0)
        shown = "/".join(k for k in flags if flags[k] == dest)  # as argparse: -w/--max-workers
        field = FIELDS.get(dest)
        if field is not None and field.kind is bool:
            if eq:
                fail(f"argument {shown}: ignored explicit argument {text!r}")
            out[dest] = True
            continue
        if not eq:
            following = next(args, None)
            if following is None or not _is_value(following):
                fail(f"argument {shown}: expected one argument")
            text = following
        flag = shown.rpartition("/")[2]
        value: Any = text
        if field is not None:
            value = _octal(text, flag) if field.name == "socket_mode" else _convert(field.kind, text, flag)
        out[dest] = [*out.get(dest, ()), value] if field is not None and field.repeatable else value
    if not apps:
        fail("the following arguments are required: APP")
    if len(apps) > 1:
        fail(f"unrecognized arguments: {' '.join(apps[1:])}")
    return out | {"app": apps[0]}


def _help() -> str:
    """The --help text: every option with its default, then the environment, signals, examples."""
    import textwrap  # only for --help

    rows = [("APP", FIELDS["app"].help), ("-h, --help", "show this help message and exit")]
    for f in Config.FIELDS[1:]:
        default = f.default
        shown = "" if default is None or default is False else f" (default {default!r})"
        if f.repeatable:
            shown = f" (default {' '.join(default)})" if default else ""
        elif f.name == "socket_mode":
            shown = f" (default {default:o})"
        spelled = ", ".join(k for k, v in _flags().items() if v == f.name)
        rows.append((spelled + ("" if f.kind is bool else f" {f.metavar}"), f.help + shown))
    rows += [("--host HOST", "shorthand: listen on HOST (with --port; default 127.0.0.1)"),
             ("--port PORT", "shorthand: listen on PORT (with --host; default 5000)"),
             ("--version", "show program's version number and exit")]  # fmt: skip
    lines = ["usage: starlet-py [OPTION]... APP", "", "A lean prefork WSGI server, after Perl's Starlet.", ""]
    for left, text in rows:
        wrapped = textwrap.wrap(text, 54)
        lines += [f"  {left}"] if len(left) > 20 else [f"  {left:20}  {wrapped.pop(0)}"]
        lines += [" " * 24 + line for line in wrapped]
        lines += ["", "options:"] if left == "APP" else []
    return "\n".join(lines) + "\n\n" + EPILOG


def config_from(argv: list[str] | None, environ: dict[str, str]) -> Config:
    """Parse the command line and STARLET_* variables into a validated Config."""
    args = parse(sys.argv[1:] if argv is None else argv)
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
    host, port = args.get("host"), args.get("port")
    if host is None and port is None and args.get("listen") is None:
        host, port = environ.get("STARLET_HOST") or None, environ.get("STARLET_PORT") or None
        base = values.get("listen", ())  # STARLET_LISTEN, if set
    else:
        # Added to the command line's --listen; the environment's STARLET_LISTEN loses.
        base = args.get("listen") or ()
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


def _stop_now(signum: int, frame: object) -> None:
    os._exit(128 + signum)  # what a shell reports for a process killed by ``signum``


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``starlet-py`` and ``python -m starlet_py``."""
    gc.disable()  # until the fork: see Master.run; workers enable it again
    if os.getpid() == 1:
        # A container's init: the kernel drops the signals it has no handler for, so a stop
        # while the app loads would be lost (the master's own handlers replace these).
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, _stop_now)
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
        stats = None
        if config.stats is not None:  # imported only then: the pool carries none of it otherwise
            from .stats import open_stats

            stats = open_stats(config, gid)
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
    from .prewarm import prewarm

    prewarm(config, listeners)  # before gc.freeze() and the first fork: see prewarm.py
    return Master(app, config, listeners, child_exit, stats).run()

