"""The ``starlet-py`` command: the command line and STARLET_* variables -> a Config, then serve
(docs/design.md, "Command line")."""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Collection, Mapping
from contextlib import suppress
from typing import Any, NoReturn, get_args, get_origin, get_type_hints

from . import __version__, loader
from .config import HELP, Config
from .errors import ConfigError
from .listeners import close_all, hostport, open_listeners, tune
from .log import log, quiet, setup, warning

# Each option's scalar type (of ``int | None``, ``tuple[str, ...]``, ``float``...), and whether it repeats.
KINDS = {n: ((get_args(h) or (h,))[0], get_origin(h) is tuple) for n, h in get_type_hints(Config).items()}
del KINDS["app"]
KINDS |= {"host": (str, False), "port": (str, False)}
SHORT = {"max_workers": "-w", "listen": "-b"}  # gunicorn's
YES, NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
FLAGS = {flag: name for name in KINDS for flag in (SHORT.get(name), "--" + name.replace("_", "-")) if flag}
# gunicorn's options: ours under a name too far for _close (not --workers), or what to do instead
GUNICORN = {
    "--bind": "--listen",
    "--worker": "--max-workers",
    "--max-requests": "--max-reqs-per-child",
    "--max-requests-jitter": "--min-reqs-per-child",
    "--keep-alive": "--keepalive-timeout",
    "--user": "run it as that user (systemd's User=)",
    "--group": "run it in that group (systemd's Group=); --socket-group is the unix socket's",
    "--chdir": "cd there first (systemd's WorkingDirectory=): APP is imported from the current directory",
    "--daemon": "it stays in the foreground: run it under systemd or start_server",
    "--pid": "the master's pid is systemd's $MAINPID, or start_server --pid-file",
    "--preload": "the app is always loaded once, in the master, before the workers are forked",
    "--backlog": "we listen with the kernel's largest backlog (sysctl net.core.somaxconn; systemd: Backlog=)",
    "--reload": "no reloader: restart for new code (under start_server, kill -HUP it: no request is lost)",
    "--threads": "a worker serves one request at a time: raise --max-workers instead",
    "--worker-class": "one kind of worker: a process serving one request at a time",
    **dict.fromkeys(("--certfile", "--keyfile"), "no TLS here: let nginx terminate it"),
    "--error-logfile": "the log goes to stderr: redirect it, or let systemd's journal keep it",
    "--log-file": "the log goes to stderr: redirect it, or let systemd's journal keep it",
}
EPILOG = """\
Every option may also be set as STARLET_<OPTION> in the environment
(e.g. STARLET_MAX_WORKERS=16, STARLET_PORT=8000); the command line wins, and
an empty variable counts as unset.

signals to the master:
  TERM, INT, QUIT  graceful stop: in-flight requests finish, then exit 0
  HUP              fresh workers from the loaded app (no dropped request);
                   they also reopen --access-log
  USR1             with --spawn-interval, retire one worker per interval,
                   then exit; otherwise the same as HUP (logrotate's reopen)
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


def _close(name: str, known: Collection[str]) -> str | None:
    """The one known name that ``name`` begins, or is a near typo of (difflib ratio 0.8), else None."""
    starts = [k for k in known if k.startswith(name)]
    if len(starts) == 1:
        return starts[0]
    import difflib  # only on this error path

    return next(iter(difflib.get_close_matches(name, known, 1, 0.8)), None)


def _value(name: str, text: str, source: str) -> Any:
    """``text`` as option ``name``'s type; ``source`` (its flag or variable) names it in the error."""
    kind = KINDS[name][0]
    with suppress(ValueError):
        if name == "socket_mode":
            return int(text, 8)
        if kind is not bool:
            return kind(text)
        if text.lower() in YES + NO:
            return text.lower() in YES
    wanted = "an octal mode like 660" if name == "socket_mode" else kind.__name__
    fail(f"{source}: expected {wanted}, got {text!r}")


def _is_value(arg: str) -> bool:
    """An argument that is no option: ``-`` (stderr) and negative numbers included."""
    return arg[:1] != "-" or arg == "-" or arg[1:].replace(".", "", 1).isdigit()


def parse(argv: list[str]) -> dict[str, Any]:
    """``--opt v``, ``--opt=v``, ``-w 4``, ``-w4``, ``--`` -> {option: value} ("app" included; a
    repeatable option's values in a tuple).  Exits 0 after --help and --version, 2 on an error."""
    out: dict[str, Any] = {}
    apps: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            apps += args
        elif _is_value(arg):
            apps.append(arg)
        elif arg in ("-h", "--help", "-V", "--version"):
            sys.stdout.write(_help() if arg in ("-h", "--help") else f"starlet-py {__version__}\n")
            raise SystemExit(0)
        else:
            flag, eq, text = arg.partition("=") if arg[:2] == "--" else (arg[:2], arg[2:], arg[2:])
            name = FLAGS.get(flag)
            if name is None:
                hint = GUNICORN.get(flag) or _close(flag, FLAGS)
                hint = f"did you mean {hint}?" if hint and hint[:2] == "--" else hint
                fail(f"unrecognized option {flag}" + (f": {hint}" if hint else ""))
            kind, repeatable = KINDS[name]
            if kind is bool and eq:
                fail(f"{flag} takes no value, got {text!r}")
            if kind is not bool and not eq:
                text = next(args, "--")  # at the end: as if an option followed
                if not _is_value(text):
                    fail(f"{flag} needs a value")
            value = True if kind is bool else _value(name, text, "--" + name.replace("_", "-"))
            out[name] = (*out.get(name, ()), value) if repeatable else value
    if len(apps) != 1:
        fail(f"more than one APP: {' '.join(apps)}" if apps else "no APP given (module:callable)")
    return out | {"app": apps[0]}


def _help() -> str:
    """The --help text: every option with its default, then the environment, signals, examples."""
    import textwrap  # only for --help

    rows = [("APP", "the WSGI app: module:callable, or module (callable 'application')")]
    rows += [("-h, --help", "show this help and exit"), ("-V, --version", "show the version and exit")]
    for name in KINDS:
        metavar, text = HELP[name]
        default = Config._field_defaults.get(name)
        default = " ".join(default) if isinstance(default, tuple) else default
        if default is not None and default is not False and default != "":
            text += f" (default {default:{'o' if name == 'socket_mode' else ''}})"
        spelled = ", ".join(flag for flag, n in FLAGS.items() if n == name)
        rows.append((spelled + ("" if metavar == "-" else f" {metavar}"), text))
    lines = ["usage: starlet-py [OPTION]... APP", "", "A lean prefork WSGI server, after Perl's Starlet.", ""]
    for left, text in rows:
        head = f"  {left:20}  " if len(left) <= 20 else f"  {left}\n" + " " * 24
        lines += [head + textwrap.fill(text, 54).replace("\n", "\n" + " " * 24)]
        lines += ["", "options:"] if left == "APP" else []
    return "\n".join(lines) + "\n\n" + EPILOG


def config_from(argv: list[str] | None, environ: Mapping[str, str]) -> Config:
    """The command line and STARLET_* variables as a checked Config."""
    given = parse(sys.argv[1:] if argv is None else argv)
    env: dict[str, Any] = {}
    for name, (_, repeatable) in KINDS.items():
        var = "STARLET_" + name.upper()
        text = environ.get(var)
        if text:  # an empty variable is unset
            env[name] = tuple(text.split()) if repeatable else _value(name, text, var)
    # --host/--port add to the command line's --listen; STARLET_HOST/PORT count only if it has none.
    where = given if given.keys() & {"host", "port", "listen"} else env
    host, port = where.get("host"), where.get("port")
    values = {k: v for k, v in (env | given).items() if k not in ("host", "port")}
    if host or port:
        values["listen"] = (*where.get("listen", ()), hostport(host or "127.0.0.1", port or 5000))
    for name in ("request_timeout", "graceful_timeout"):  # the master enforces them: -w 0 has none
        if values.get(name) and values.get("max_workers") == 0:
            raise ConfigError(f"--{name.replace('_', '-')} needs workers to watch: not with --max-workers 0")
    return Config(**values)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each STARLET_* variable that is no option (a typo is otherwise silent)."""
    known = ["STARLET_" + name.upper() for name in KINDS]
    close = {v: _close(v, known) for v in sorted(environ) if v.startswith("STARLET_") and v not in known}
    return [f"unknown variable {v} ignored" + (f": did you mean {c}?" if c else "") for v, c in close.items()]


def _group_id(group: str | None) -> int:
    """--socket-group as a gid (-1: leave the socket in our own group)."""
    if group is None or (group.isascii() and group.isdigit()):
        return -1 if group is None else int(group)
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigError(f"--socket-group: no group named {group!r}") from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``starlet-py`` and ``python -m starlet_py``."""
    gc.disable()  # until the fork: see Master.run; workers enable it again
    if os.getpid() == 1:
        # A container's init: the kernel drops the signals it has no handler for, so a stop while
        # the app loads would be lost; exit as a shell reports a kill (the master's handlers follow).
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, lambda signum, _: os._exit(128 + signum))
    try:
        config = config_from(argv, os.environ)
        setup(config.log_level, os.environ)
        for line in unknown_variables(os.environ):
            warning(line)
        app = loader.load(config.app)
        try:
            child_exit = loader.load(config.child_exit, "a function") if config.child_exit else None
        except ConfigError as e:
            raise ConfigError(f"--child-exit: {e}") from None
        if config.access_log not in (None, "-"):
            try:
                open(config.access_log, "a").close()  # fail now, not in every worker
            except OSError as e:
                raise ConfigError(f"cannot open --access-log {config.access_log}: {e.strerror}") from None
        gid = _group_id(config.socket_group)
        listeners = open_listeners(config.listen, config.reuse_port, os.environ, config.socket_mode, gid)
        if config.warmup:  # in the master, before gc.freeze() and the first fork
            from .prewarm import warm

            warm(app, config, listeners[0].server_name or "localhost", listeners[0].server_port)
        stats = None
        if config.stats is not None:  # imported only then: the pool carries none of it otherwise
            from .stats import open_stats

            stats = open_stats(config, config.stats, gid)
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

    with quiet():  # its refusals (a small --max-request-body, say) are nobody's business
        prewarm(config, listeners)  # before gc.freeze() and the first fork: see prewarm.py
    return Master(app, config, listeners, child_exit, stats).run()
