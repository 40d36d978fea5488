#!/usr/bin/env python3
"""Benchmark starlet-py against its peers, side by side, on loopback.

    python3 bench/run.py --before 7bc24b2   # the full run: 3 rounds x 5 s per scenario (about 23 min)
    python3 bench/run.py --quick            # a smoke run: 1 round x 2 s (about 5 min), into bench/out/

Every server serves the same app (bench/apps/hello.py, or its PSGI twin app.psgi
for the Perl servers) with 2 workers on 127.0.0.1; wrk drives it.  Servers are
interleaved round by round (A B C ... A B C ...), so a slow spell of the machine
hits every server alike; each figure is the median over rounds, and each ratio
(×g) is the median of the per-round ratio to gunicorn sync measured in the same
round.

Per (server, scenario): requests/s and p99 (wrk's), and the server's CPU time
per request: user+sys of the server's whole process tree, read from
/proc/PID/stat of every process in it before and after the wrk run (plus
cutime+cstime, which hold the workers that exited and were reaped meanwhile),
divided by the requests served.  On a shared machine that figure moves much
less than requests/s.  After the runs: PSS and USS of the master and of each
worker (/proc/PID/smaps_rollup).

Scenarios: ka (hello, keep-alive), close (hello, a new connection per request),
big64k (64 KiB response), post16k (16 KiB POST, its length echoed), file (64 KiB
through wsgi.file_wrapper), mem16 (16 workers, memory after 2,000 requests),
mem-flask and mem-django (a real Flask app and Django project from bench/apps/,
16 workers, memory after 2,000 requests: gunicorn --preload, starlet-py, and
starlet-py --warmup).  py-floor (bench/runners/pyfloor.py) is the Python floor.
mem16 runs again for starlet-py, the old tree (--before) and the floor on Python
3.11, 3.12 and 3.13 (--pythons), each in a venv holding httptools alone.
During ka, probe connections opened one after another measure how long a new
client waits for its first response byte while wrk's keep-alive connections
hold the workers (a starved client gets none within the limit).

Output: RESULTS.md and results.png in --out (bench/ for a full run, bench/out/
for --quick); the raw figures as JSON and the servers' logs under bench/out/.
--report FILE.json renders RESULTS.md and the chart again from a saved run.

Loopback only.  Each server starts in a session of its own; it is stopped by
SIGTERM to its pid, then SIGKILL to its process group (and to any process of its
tree still in that session).  Nothing else is ever signalled.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import fnmatch
import importlib.util
import io
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from goals import PER_PYTHON
from report import APP_MEMS, BASELINE, MEM, Result, log, median, mib, probe_limit, write_outputs

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
APPS = BENCH / "apps"
LUA = BENCH / "lua"
RUNNERS = BENCH / "runners"
OUT = BENCH / "out"
HOST = "127.0.0.1"  # loopback only: never a routable address
PY = sys.executable  # main() puts serving_python() here for the servers

HELLO = b"Hello, World!"
BIG_SIZE = 65536
POST_SIZE = 16384
FILE_SIZE = 65536
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------------------
# The servers

Argv = Callable[[int, int], list[str]]  # (port, workers) -> command line


@dataclass(frozen=True)
class Server:
    name: str
    argv: Argv
    note: str
    needs: Callable[[], str | None]  # None when it can run, else what is missing
    env: dict[str, str] = field(default_factory=dict)
    perl: bool = False
    ready: str = "/"  # started once GET ready answers 200 (and ready_body, if set)
    ready_body: bytes | None = HELLO


def _module(name: str, install: str) -> Callable[[], str | None]:
    def check() -> str | None:
        return None if importlib.util.find_spec(name) else f"python module {name} missing ({install})"

    return check


def _perl(module: str, exe: str, install: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if not shutil.which(exe):
            return f"{exe} not found ({install})"
        ok = subprocess.run(["perl", f"-M{module}", "-e1"], capture_output=True, timeout=30).returncode == 0
        return None if ok else f"perl module {module} missing ({install})"

    return check


def _starlet_py(*extra: str, app: str = "hello:application") -> Argv:
    def argv(port: int, workers: int) -> list[str]:
        return [PY, "-m", "starlet_py", app, "--listen", f"{HOST}:{port}",
                "--max-workers", str(workers), *extra]

    return argv


def _perl_starlet(*extra: str) -> Argv:
    def argv(port: int, workers: int) -> list[str]:
        return ["plackup", "-s", "Starlet", "-E", "deployment", "--host", HOST, "--port", str(port),
                f"--max-workers={workers}", *extra, "app.psgi"]

    return argv


def _no_check() -> str | None:
    return None


_SP_ENV = {"PYTHONPATH": str(ROOT)}  # the working tree's starlet_py, installed or not
_STARLET_NEEDS = _perl("Starlet", "plackup", "apt-get install starlet")

SERVERS: list[Server] = [
    Server("gunicorn-sync",
           lambda port, workers: [PY, "-m", "gunicorn", "-w", str(workers), "-b", f"{HOST}:{port}",
                                  "--log-level", "warning", "--http-parser", "python", "hello:application"],
           "the baseline: gunicorn's sync worker (closes every connection), its pure-Python parser "
           "(what `pip install gunicorn` gives; `auto` would take gunicorn_h1c when installed)",
           _module("gunicorn", "pip install gunicorn")),
    Server("starlet-py", _starlet_py(),
           "defaults: no keep-alive, --max-reqs-per-child 1000", _no_check, _SP_ENV),
    Server("starlet-py-ka", _starlet_py("--max-keepalive-reqs", "100"),
           "--max-keepalive-reqs 100", _no_check, _SP_ENV),
    Server("starlet-py-s100", _starlet_py("--max-reqs-per-child", "100"),
           "Perl Starlet's settings: --max-reqs-per-child 100, no keep-alive", _no_check, _SP_ENV),
    Server("starlet-py-s100-ka", _starlet_py("--max-reqs-per-child", "100", "--max-keepalive-reqs", "100"),
           "--max-reqs-per-child 100 --max-keepalive-reqs 100", _no_check, _SP_ENV),
    # --stats' cost per request, against starlet-py-ka in the same run (docs/design.md, "Stats").
    Server("starlet-py-ka-stats",
           lambda port, workers: [*_starlet_py("--max-keepalive-reqs", "100")(port, workers),
                                  "--stats", str(OUT / f"stats-{port}.sock")],
           "--max-keepalive-reqs 100 --stats on a unix socket", _no_check, _SP_ENV),
    Server("perl-starlet", _perl_starlet(),
           "Perl Starlet 0.31 defaults: no keep-alive, --max-reqs-per-child 100", _STARLET_NEEDS, perl=True),
    Server("perl-starlet-ka", _perl_starlet("--max-keepalive-reqs=100"),
           "Perl Starlet, --max-keepalive-reqs=100 (still --max-reqs-per-child 100)",
           _STARLET_NEEDS, perl=True),
    Server("starman",
           lambda port, workers: ["starman", "-E", "deployment", "--workers", str(workers),
                                  "--listen", f"{HOST}:{port}", "app.psgi"],
           "Starman defaults: keep-alive, --max-requests 1000, app loaded in each worker",
           _perl("Starman", "starman", "apt-get install starman"), perl=True),
    Server("bjoern",
           lambda port, workers: [PY, str(RUNNERS / "bjoern_prefork.py"), "--port", str(port),
                                  "--workers", str(workers), "hello:application"],
           "bjoern's libev loop in each worker of bench/runners/bjoern_prefork.py",
           _module("bjoern", "apt-get install libev-dev; pip install bjoern")),
    Server("py-floor",
           lambda port, workers: [PY, str(RUNNERS / "pyfloor.py"), "--port", str(port),
                                  "--workers", str(workers), "hello:application"],
           "the Python floor, bench/runners/pyfloor.py: accept, httptools, a minimal environ, the app, "
           "forked from a prewarmed master with starlet-py's imports; no limits, no strictness (a "
           "kept-alive connection holds its worker: probes starve in ka)",
           _module("httptools", "pip install httptools"), _SP_ENV),
    Server("waitress",
           lambda port, workers: [PY, "-m", "waitress", f"--listen={HOST}:{port}", f"--threads={workers}",
                                  "hello:application"],
           "one process (waitress has no prefork mode), --threads = the worker count",
           _module("waitress", "pip install waitress")),
    # What users leaving gunicorn pick in 2026 (issue 16): granian, and gunicorn's own C parser.
    Server("granian",
           lambda port, workers: [PY, "-m", "granian", "--interface", "wsgi", "--workers", str(workers),
                                  "--no-ws", "--host", HOST, "--port", str(port), "--log-level", "error",
                                  "hello:application"],
           "granian (Rust, hyper + tokio) in WSGI mode, its defaults otherwise (keep-alive on)",
           _module("granian", "pip install -e '.[bench]'")),
    Server("gunicorn-h1c",
           lambda port, workers: [PY, "-m", "gunicorn", "-w", str(workers), "-b", f"{HOST}:{port}",
                                  "--log-level", "warning", "--http-parser", "fast", "hello:application"],
           "gunicorn's sync worker with its optional C parser (gunicorn_h1c, picohttpparser)",
           _module("gunicorn_h1c", "pip install -e '.[bench]'")),
]
BY_NAME = {s.name: s for s in SERVERS}


def before_tree(spec: str) -> tuple[Path, str]:
    """--before's tree and how RESULTS.md names it: a checkout's folder, or a git revision.

    A revision's starlet_py/ is exported once (``git archive``) to bench/out/before-SHA/,
    so no worktree of the repository is touched.
    """
    if Path(spec).is_dir():
        tree = Path(spec).resolve()
        rev = _sh(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"])
        return tree, f"{tree} (commit {rev})" if rev != "missing" else str(tree)
    try:
        sha = subprocess.check_output(["git", "-C", str(ROOT), "rev-parse", "--verify", "--short",
                                       f"{spec}^{{commit}}"], text=True, stderr=subprocess.DEVNULL).strip()
    except subprocess.CalledProcessError:
        raise SystemExit(f"--before {spec}: neither a folder nor a git revision of {ROOT}") from None
    tree = OUT / f"before-{sha}"
    if not (tree / "starlet_py" / "__init__.py").exists():
        archive = subprocess.check_output(["git", "-C", str(ROOT), "archive", sha, "starlet_py"])
        tree.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
    return tree, f"commit {sha} ({spec})" if spec != sha else f"commit {sha}"


def add_before(tree: Path, what: str) -> None:
    """Servers running ``tree``'s starlet_py at the defaults and with keep-alive (--before)."""
    env = {"PYTHONPATH": str(tree)}
    note = f"starlet_py of {what} (--before)"
    for name, extra in (("before-starlet-py", ()), ("before-starlet-py-ka", ("--max-keepalive-reqs", "100"))):
        BY_NAME[name] = Server(name, _starlet_py(*extra), f"{note} {' '.join(extra)}".strip(), _no_check, env)


# ---------------------------------------------------------------------------
# The scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    path: str = "/"
    headers: tuple[str, ...] = ()
    script: str = "report.lua"
    probes: bool = False  # the starvation check runs during this one


SCENARIOS = [
    Scenario("ka", "hello, keep-alive", probes=True),
    Scenario("close", "hello, new connection per request", headers=("Connection: close",)),
    Scenario("big64k", "64 KiB response", path="/64k"),
    Scenario("post16k", "16 KiB POST, length echoed", path="/echo", script="post.lua"),
    Scenario("file", "64 KiB file via wsgi.file_wrapper", path="/file"),
]
WRK_SCENARIOS = {s.name: s for s in SCENARIOS}


@dataclass(frozen=True)
class AppMemory:
    """A real app's memory run: 16 workers, requests over its routes, then PSS/USS."""

    name: str
    label: str
    app: str  # module:callable, in bench/apps
    paths: tuple[str, ...]  # driven in turn; also the --warmup paths
    module: str  # the framework, to tell whether it is installed


APP_SCENARIOS = {a.name: a for a in (
    AppMemory("mem-flask", "Flask app (bench/apps/flask_site.py)", "flask_site:app",
              ("/", "/items/3", "/api/items?limit=5", "/health"), "flask"),
    AppMemory("mem-django", "Django project (bench/apps/django_site/)", "django_site.wsgi:application",
              ("/", "/items/3/", "/api/items/?limit=5", "/health/"), "django"),
)}
assert tuple(APP_SCENARIOS) == APP_MEMS
ALL_SCENARIOS = [*WRK_SCENARIOS, MEM, *APP_SCENARIOS]


def app_servers(am: AppMemory) -> list[Server]:
    """The three configurations of an app's memory run, all serving ``am.app``."""
    needs = _module(am.module, "pip install -e '.[test]'")
    warm = [arg for path in am.paths for arg in ("--warmup", path)]
    ready = {"ready": am.paths[-1], "ready_body": None}
    return [
        Server("gunicorn-preload",
               lambda port, workers: [PY, "-m", "gunicorn", "--preload", "-w", str(workers), "-b",
                                      f"{HOST}:{port}", "--log-level", "warning", "--http-parser", "python",
                                      am.app],
               "gunicorn --preload: the app imported in the master before the fork", needs, **ready),
        Server("starlet-py", _starlet_py(app=am.app), "defaults", needs, _SP_ENV, **ready),
        Server("starlet-py-warmup", _starlet_py(*warm, app=am.app), "--warmup of each of the app's routes",
               needs, _SP_ENV, **ready),
    ]


# ---------------------------------------------------------------------------
# /proc: process trees, CPU time, memory


@dataclass(frozen=True)
class Stat:
    pid: int
    ppid: int
    state: str
    session: int
    ticks: int  # utime + stime
    child_ticks: int  # cutime + cstime: children that exited and were reaped


def read_stat(pid: int) -> Stat | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    rest = text[text.rfind(")") + 2 :].split()  # the command name may hold spaces and ')'
    return Stat(pid, int(rest[1]), rest[0], int(rest[3]),
                int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14]))


def process_tree(root: int) -> list[Stat]:
    """``root`` and all its descendants, root first."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := read_stat(int(entry))) is not None:
            stats[st.pid] = st
    children: dict[int, list[int]] = {}
    for st in stats.values():
        children.setdefault(st.ppid, []).append(st.pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        if pid in stats:
            out.append(stats[pid])
            todo.extend(sorted(children.get(pid, ())))
    return out


def tree_cpu_seconds(root: int) -> float:
    """User+sys CPU of the tree so far, reaped children included."""
    return sum(st.ticks + st.child_ticks for st in process_tree(root)) / CLK_TCK


def smaps_rollup(pid: int) -> dict[str, int] | None:
    """RSS, PSS and USS (private clean + dirty) of one process, in KiB."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    kb = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+):\s+(\d+) kB", text, re.M)}
    return {"rss_kb": kb.get("Rss", 0), "pss_kb": kb.get("Pss", 0),
            "uss_kb": kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)}


def tree_memory(root: int) -> Result:
    procs = []
    for st in process_tree(root):
        if st.state == "Z" or (mem := smaps_rollup(st.pid)) is None:
            continue
        procs.append({"pid": st.pid, "role": "master" if st.pid == root else "worker", **mem})
    workers = [p for p in procs if p["role"] == "worker"]
    return {
        "procs": procs,
        "nprocs": len(procs),
        "pss_kb": sum(p["pss_kb"] for p in procs),
        "uss_kb": sum(p["uss_kb"] for p in procs),
        "master_pss_kb": procs[0]["pss_kb"] if procs and procs[0]["role"] == "master" else None,
        "master_uss_kb": procs[0]["uss_kb"] if procs and procs[0]["role"] == "master" else None,
        "worker_pss_kb": [p["pss_kb"] for p in workers],
        "worker_uss_kb": [p["uss_kb"] for p in workers],
    }


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU time of the whole machine so far: (user+nice+system, softirq).

    Kernels with IRQ time accounting (this machine's) count the network stack's
    softirq work apart from any process: it is in neither the server's figure nor
    the "other load", and is reported on its own.
    """
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return (int(fields[1]) + int(fields[2]) + int(fields[3])) / CLK_TCK, int(fields[7]) / CLK_TCK


def tcp_active_opens() -> int:
    """Outgoing TCP connections made on this machine so far (/proc/net/snmp)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index("ActiveOpens")])


def own_cpu_seconds(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


# ---------------------------------------------------------------------------
# Starting and stopping servers

_live: dict[int, ServerProcess] = {}  # master pid -> the servers running now, to stop on any exit


def _die_with_parent() -> None:
    """In the server's master, before exec: SIGTERM if this harness dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def serving_python() -> str:
    """The interpreter the Python servers run on: this one, without its site-packages' .pth files.

    An editable install (``pip install -e``) puts a .pth there that imports its finder,
    and with it pathlib, importlib.util and fnmatch, into every server's master, where
    the pool pays for them; a deployment's plain install does not.  So: a venv of the
    base interpreter (made once in bench/out/), whose one .pth file lists this
    interpreter's site-packages as plain paths (httptools, gunicorn, bjoern, Flask,
    Django), and _SP_ENV's PYTHONPATH puts the tree under test first.
    """
    import sysconfig
    import venv

    home = OUT / "serve-venv"
    exe = home / "bin" / "python3"
    paths = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    lines = "".join(f"{p}\n" for p in paths)
    if not exe.exists():
        venv.create(home, with_pip=False, symlinks=True)
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(exe), "-c", code], text=True).strip())
    (site / "bench-deps.pth").write_text(lines)
    return str(exe)


def find_python(spec: str) -> str | None:
    """--pythons' interpreter: a path; this one's base for its own X.Y (or X.Y.Z); else the newest
    X.Y.Z under `pyenv root`/versions/."""
    if os.sep in spec:
        return spec if os.access(spec, os.X_OK) else None
    own = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    if (platform.python_version() + ".").startswith(spec + ".") and own.exists():
        return str(own)
    root = os.environ.get("PYENV_ROOT") or _sh(["pyenv", "root"])
    if root == "missing" or not Path(root).is_dir():
        root = str(Path.home() / ".pyenv")
    major_minor = ".".join(spec.split(".")[:2])
    found = [d for d in Path(root).glob("versions/*")
             if re.fullmatch(r"\d+\.\d+\.\d+", d.name) and (d.name + ".").startswith(spec + ".")
             and (d / "bin" / f"python{major_minor}").exists()]
    if not found:
        return None
    newest = max(found, key=lambda d: tuple(int(x) for x in d.name.split(".")))
    return str(newest / "bin" / f"python{major_minor}")


def python_venv(base: str) -> tuple[str, str]:
    """(python, X.Y.Z): a venv of ``base`` in bench/out/ holding only httptools, made once.

    The same httptools release as this interpreter's, installed by this interpreter's pip
    (``pip --python``), so the venv has no pip, setuptools or .pth file of its own.
    """
    from importlib.metadata import version

    code = "import platform; print(platform.python_version())"
    ver = subprocess.check_output([base, "-c", code], text=True).strip()
    home = OUT / f"serve-venv-{ver}"
    exe = home / "bin" / "python3"
    if not exe.exists():
        subprocess.run([base, "-m", "venv", "--without-pip", str(home)], check=True)
    if subprocess.run([str(exe), "-c", "import httptools"], capture_output=True).returncode != 0:
        log(f"installing httptools {version('httptools')} into {home}")
        subprocess.run([sys.executable, "-m", "pip", "--python", str(exe), "install", "-q",
                        f"httptools=={version('httptools')}"], check=True)
    return str(exe), ver


@contextlib.contextmanager
def serving_on(python: str) -> Iterator[None]:
    """The servers' command lines name ``python`` meanwhile (their argv read PY when called)."""
    global PY
    saved, PY = PY, python
    try:
        yield
    finally:
        PY = saved


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def http_request(port: int, request: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send one request that asks to close, read to EOF; (status, body)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(request)
        chunks = []
        while data := s.recv(262144):
            chunks.append(data)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    if m is None:
        raise OSError(f"no HTTP response: {raw[:60]!r}")
    return int(m[1]), body


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()


POST_REQUEST = (
    f"POST /echo HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n"
    f"Content-Type: application/octet-stream\r\nContent-Length: {POST_SIZE}\r\n\r\n"
).encode() + b"p" * POST_SIZE
ROUTES: list[tuple[str, bytes, Callable[[bytes], bool]]] = [
    ("GET /", _get("/"), lambda body: body == HELLO),
    ("GET /64k", _get("/64k"), lambda body: len(body) == BIG_SIZE),
    ("POST /echo", POST_REQUEST, lambda body: body == str(POST_SIZE).encode()),
    ("GET /file", _get("/file"), lambda body: len(body) == FILE_SIZE),
]


def check_routes(port: int) -> list[str]:
    """Problems with the app's four routes on this server (empty: all fine)."""
    problems = []
    for label, request, good in ROUTES:
        try:
            status, body = http_request(port, request)
        except OSError as e:
            problems.append(f"{label}: {e!r}")
            continue
        if status != 200 or not good(body):
            problems.append(f"{label}: status {status}, body {body[:40]!r}")
    return problems


class ServerProcess:
    """A server we started: its Popen, port and log."""

    def __init__(self, server: Server, workers: int, logpath: Path, file_path: Path) -> None:
        self.server = server
        self.workers = workers
        self.logpath = logpath
        self.file_path = file_path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float, attempts: int = 3) -> None:
        """Start on a free port; try another port if it was taken meanwhile."""
        env = dict(os.environ, BENCH_FILE=str(self.file_path), PYTHONDONTWRITEBYTECODE="1")
        for key, value in self.server.env.items():
            env[key] = value + os.pathsep + env[key] if env.get(key) else value
        why = ""
        for _ in range(attempts):
            self.port = free_port()
            argv = self.server.argv(self.port, self.workers)
            with open(self.logpath, "ab") as logf:
                logf.write(f"$ {shlex.join(argv)}\n".encode())
                logf.flush()
                self.proc = subprocess.Popen(
                    argv, cwd=APPS, env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=_die_with_parent,
                )
            _live[self.proc.pid] = self
            ready, why = self._wait_ready(timeout)
            if ready:
                return
            self.stop()
            if "in use" not in self._log_tail().lower():
                break
        tail = self._log_tail()
        raise RuntimeError(f"{self.server.name} did not start: {why}; log {self.logpath}:\n{tail}")

    def _wait_ready(self, timeout: float) -> tuple[bool, str]:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        why = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, f"exited with status {self.proc.returncode}"
            try:
                status, body = http_request(self.port, _get(self.server.ready), timeout=1.0)
                if status == 200 and self.server.ready_body in (None, body):
                    return True, ""
                why = f"status {status} body {body[:40]!r}"
            except OSError as e:
                why = repr(e)
            time.sleep(0.1)
        return False, f"not ready after {timeout:.0f} s ({why})"

    def wait_workers(self, count: int, timeout: float = 10.0) -> int:
        """Wait until the tree holds ``count`` processes besides the master; how many it holds."""
        deadline = time.monotonic() + timeout
        while True:
            n = len([st for st in process_tree(self.pid) if st.state != "Z"]) - 1
            if n >= count or time.monotonic() > deadline:
                return n
            time.sleep(0.1)

    def _log_tail(self) -> str:
        try:
            return self.logpath.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the master; after ``grace`` s, SIGKILL to whatever of it is left."""
        proc = self.proc
        if proc is None:
            return
        pid = proc.pid
        known = {st.pid for st in process_tree(pid)}
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not any(_in_session(p, pid) for p in known):
                break
            time.sleep(0.05)
        if proc.poll() is None or any(_in_session(p, pid) for p in known):
            log(f"    {self.server.name}: still running {grace:.0f} s after SIGTERM; SIGKILL")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # the process group we created
            for p in known:
                if _in_session(p, pid):  # a process of its tree that left the group
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        _live.pop(pid, None)
        self.proc = None


def _in_session(pid: int, session: int) -> bool:
    """Is ``pid`` a live (not zombie) process of the session we created?"""
    st = read_stat(pid)
    return st is not None and st.state != "Z" and st.session == session


def stop_all() -> None:
    for sp in list(_live.values()):
        sp.stop(grace=5.0)


# ---------------------------------------------------------------------------
# Load: wrk, the starvation probes, the memory run's requests


class Prober(threading.Thread):
    """Opens probe connections one after another during a wrk run and times their first byte.

    Each probe: connect, ``GET /`` with ``Connection: close``, the time until the
    first response byte, or None when none came within ``limit`` seconds (starved).
    Probes only start while at least ``limit`` seconds of the run remain.
    """

    def __init__(self, port: int, duration: float, limit: float) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.duration = duration
        self.limit = limit
        self.results: list[float | None] = []
        self.done = threading.Event()

    def probe(self) -> float | None:
        t0 = time.monotonic()
        try:
            with socket.create_connection((HOST, self.port), timeout=self.limit) as s:
                s.sendall(_get("/"))
                s.settimeout(max(0.01, self.limit - (time.monotonic() - t0)))
                first = s.recv(1)
                ms = (time.monotonic() - t0) * 1000
                with contextlib.suppress(OSError):
                    while s.recv(65536):  # let the server finish; it closes
                        pass
            return ms if first else None
        except OSError:
            return None

    def run(self) -> None:
        start = time.monotonic()
        end = start + self.duration
        self.done.wait(min(0.5, self.duration / 4))
        while not self.done.is_set() and end - time.monotonic() >= self.limit:
            self.results.append(self.probe())
            self.done.wait(0.2)


def run_wrk(port: int, scen: Scenario, duration: int, args: argparse.Namespace, master: int) -> Result:
    """One wrk run against ``port``, with the server tree's CPU time around it."""
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--timeout", "2s",
           "-s", str(LUA / scen.script)]
    for header in scen.headers:
        cmd += ["-H", header]
    cmd.append(f"http://{HOST}:{port}{scen.path}")
    prober = Prober(port, duration, probe_limit(duration)) if scen.probes else None
    cpu0, machine0, opens0 = tree_cpu_seconds(master), machine_cpu_seconds(), tcp_active_opens()
    kids0, self0 = own_cpu_seconds(resource.RUSAGE_CHILDREN), own_cpu_seconds(resource.RUSAGE_SELF)
    if prober:
        prober.start()
    try:
        proc = subprocess.run(cmd, cwd=LUA, capture_output=True, text=True, timeout=duration + 30,
                              env=dict(os.environ, BENCH_POST_SIZE=str(POST_SIZE)))
    except subprocess.TimeoutExpired:
        return {"error": "wrk did not finish", "cmd": shlex.join(cmd)}
    finally:
        if prober:
            prober.done.set()
            prober.join(5)
    cpu1, machine1, opens1 = tree_cpu_seconds(master), machine_cpu_seconds(), tcp_active_opens()
    kids1, self1 = own_cpu_seconds(resource.RUSAGE_CHILDREN), own_cpu_seconds(resource.RUSAGE_SELF)
    m = re.search(r"^BENCH-RESULT (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or m is None:
        return {"error": f"wrk exited with {proc.returncode}: {(proc.stderr or proc.stdout)[-300:]}",
                "cmd": shlex.join(cmd)}
    r: Result = json.loads(m[1])
    secs = r["duration_us"] / 1e6
    probes = prober.results if prober else []
    answered = [ms for ms in probes if ms is not None]
    served = r["requests"] + len(answered)
    server_cpu = cpu1 - cpu0
    wrk_cpu = kids1 - kids0
    connects = opens1 - opens0 - len(probes)
    r.update(
        cmd=shlex.join(cmd),
        rps=r["requests"] / secs if secs else 0.0,
        p99_ms=r["p99_us"] / 1000,
        errors=sum(r[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors",
                                  "timeouts")),
        server_cpu_s=server_cpu,
        cpu_us_per_req=server_cpu / served * 1e6 if served else None,
        server_cores=server_cpu / secs if secs else None,
        wrk_cores=wrk_cpu / secs if secs else None,
        # CPU of the machine used by neither this server, wrk nor this script: other load
        other_cores=max(0.0, (machine1[0] - machine0[0]) - server_cpu - wrk_cpu - (self1 - self0)) / secs
        if secs else None,
        softirq_cores=(machine1[1] - machine0[1]) / secs if secs else None,
        reqs_per_conn=r["requests"] / connects if connects > 0 else None,
        probes_ms=probes,
        probe_limit_s=prober.limit if prober else None,
    )
    return r


Route = tuple[str, bytes, Callable[[bytes], bool]]


def drive(port: int, total: int, concurrency: int, routes: list[Route] = ROUTES) -> int:
    """``total`` requests over new connections, the routes in turn; the failures."""
    counter = iter(range(total))
    lock = threading.Lock()
    failures = [0]

    def client() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            _, request, good = routes[i % len(routes)]
            try:
                status, body = http_request(port, request)
                ok = status == 200 and good(body)
            except OSError:
                ok = False
            if not ok:
                with lock:
                    failures[0] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures[0]


# ---------------------------------------------------------------------------
# One server: a round of wrk scenarios, or the memory run


def bench_round(server: Server, rnd: int, scenarios: list[Scenario], args: argparse.Namespace,
                logdir: Path) -> Result:
    res: Result = {"server": server.name, "round": rnd, "scenarios": {}}
    sp = ServerProcess(server, args.workers, logdir / f"{server.name}-r{rnd}.log", args.file_path)
    try:
        sp.start(args.start_timeout)
        res["argv"] = shlex.join(server.argv(sp.port, args.workers))
        problems = check_routes(sp.port)
        if problems:
            res["error"] = "wrong answers: " + "; ".join(problems)
            return res
        if args.warmup > 0:
            run_wrk(sp.port, WRK_SCENARIOS["ka"], args.warmup, args, sp.pid)
        for scen in scenarios:
            best: Result | None = None
            for attempt in range(1 + args.retry_disturbed):
                r = run_wrk(sp.port, scen, args.duration, args, sp.pid)
                r["attempt"] = attempt + 1
                if "error" in r:
                    best = r
                    break
                if best is None or (r["other_cores"] or 0) < (best["other_cores"] or 0):
                    best = r
                if (r["other_cores"] or 0) <= args.disturbed_cores or attempt == args.retry_disturbed:
                    break
                log(f"    {server.name} {scen.name}: {r['other_cores']:.2f} cores of other load, again")
            assert best is not None
            res["scenarios"][scen.name] = best
            log_line(server.name, scen.name, best)
            if sp.proc is not None and sp.proc.poll() is not None:
                res["error"] = f"server exited with status {sp.proc.returncode} during {scen.name}"
                return res
            time.sleep(args.pause)
        res["memory"] = tree_memory(sp.pid)
    except RuntimeError as e:
        res["error"] = str(e)
    finally:
        sp.stop()
    return res


def bench_memory(server: Server, args: argparse.Namespace, logdir: Path, scen: str = MEM,
                 routes: list[Route] = ROUTES) -> Result:
    res: Result = {"server": server.name, "workers": args.mem_workers, "requests": args.mem_requests}
    sp = ServerProcess(server, args.mem_workers, logdir / f"{server.name}-{scen}.log", args.file_path)
    try:
        sp.start(args.start_timeout)
        expected = 0 if server.name == "waitress" else args.mem_workers
        res["processes_before"] = 1 + sp.wait_workers(expected)
        res["memory_start"] = tree_memory(sp.pid)
        res["failures"] = drive(sp.port, args.mem_requests, concurrency=8, routes=routes)
        time.sleep(0.5)
        res["memory"] = tree_memory(sp.pid)
    except RuntimeError as e:
        res["error"] = str(e)
    finally:
        sp.stop()
    return res


def log_line(name: str, scen: str, r: Result) -> None:
    if "error" in r:
        log(f"    {name:20s} {scen:8s} ERROR {r['error']}")
        return
    probes = r.get("probes_ms") or []
    answered = [ms for ms in probes if ms is not None]
    extra = (f"  probes {len(answered)}/{len(probes)} answered"
             + (f", max {max(answered):.0f} ms" if answered else "")) if probes else ""
    log(f"    {name:20s} {scen:8s} {r['rps']:9.0f} req/s  p99 {r['p99_ms']:7.2f} ms  "
        f"{r['cpu_us_per_req'] or 0:6.1f} µs/req  errors {r['errors']}  "
        f"other load {r['other_cores'] or 0:.2f} cores{extra}")


# ---------------------------------------------------------------------------
# Machine and versions


def _sh(cmd: list[str], any_status: bool = False) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except OSError:
        return "missing"
    except subprocess.TimeoutExpired:
        return "n/a (timed out)"
    return (p.stdout or p.stderr).strip() if p.returncode == 0 or any_status else "missing"


def machine() -> Result:
    with open("/proc/cpuinfo") as f:
        models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": models[0] if models else platform.processor() or "?",
        "memory": f"{total_kb / 1024 / 1024:.0f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    v: dict[str, str] = {}
    rev = _sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _sh(["git", "-C", str(ROOT), "status", "--porcelain", "--", "starlet_py"])
    sys.path.insert(0, str(ROOT))
    try:
        from starlet_py import __version__ as sp_version
    except ImportError:
        sp_version = "?"
    modified = ", starlet_py/ modified" if dirty not in ("", "missing") else ""
    v["starlet-py"] = f"{sp_version} (commit {rev}{modified})"
    for dist in ("httptools", "gunicorn", "gunicorn_h1c", "granian", "waitress", "bjoern", "setproctitle",
                 "matplotlib"):
        try:
            v[dist] = version(dist)
        except PackageNotFoundError:
            v[dist] = "not installed"
    v["wrk"] = _sh(["wrk", "-v"], any_status=True).splitlines()[0]  # wrk -v exits with 1
    v["perl"] = _sh(["perl", "-e", "print $^V"])
    for mod in ("Starlet", "Starman", "Plack", "HTTP::Parser::XS"):
        v[f"perl {mod}"] = _sh(["perl", f"-M{mod}", "-e", f"print ${mod}::VERSION"])
    return v


# ---------------------------------------------------------------------------
# Main


def pick(spec: str, known: list[str], what: str) -> list[str]:
    if not spec:
        return list(known)
    wanted = [p.strip() for p in spec.split(",") if p.strip()]
    bad = [p for p in wanted if not any(fnmatch.fnmatch(k, p) for k in known)]
    if bad:
        raise SystemExit(f"unknown {what}: {', '.join(bad)}; known: {', '.join(known)}")
    return [k for k in known if any(fnmatch.fnmatch(k, p) for p in wanted)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 round, 2 s per scenario, no retries, output in bench/out/")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 3; --quick 1)")
    ap.add_argument("--duration", type=int, help="seconds per wrk run (default 5; --quick 2)")
    ap.add_argument("--servers", default="", help="comma-separated names or globs (default: all); "
                    "gunicorn-sync is always added, for the ratios. " + ", ".join(BY_NAME))
    ap.add_argument("--scenarios", default="",
                    help="comma-separated (default: all): " + ", ".join(ALL_SCENARIOS))
    ap.add_argument("--out", type=Path, help="folder for RESULTS.md and results.png "
                    "(default bench/; --quick: bench/out/)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=50, help="wrk connections")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--warmup", type=int, help="seconds of unrecorded keep-alive load first (default 1)")
    ap.add_argument("--pause", type=float, default=0.3, help="seconds between scenarios")
    ap.add_argument("--mem-workers", type=int, default=16)
    ap.add_argument("--mem-requests", type=int, default=2000)
    ap.add_argument("--retry-disturbed", type=int,
                    help="run a scenario again (up to N times) when other load exceeded --disturbed-cores; "
                    "the least disturbed run is kept (default 1; --quick 0)")
    ap.add_argument("--disturbed-cores", type=float, default=0.25)
    ap.add_argument("--start-timeout", type=float, default=30.0)
    ap.add_argument("--before", metavar="REV|TREE",
                    help="also run an older starlet_py as servers before-starlet-py and "
                         "before-starlet-py-ka, for a before/after comparison in the same run: a git "
                         "revision of this checkout (e.g. 7bc24b2; exported to bench/out/before-SHA/) "
                         "or another checkout's folder")
    ap.add_argument("--pythons", default="3.11,3.12,3.13",
                    help="also run mem16 for " + ", ".join(PER_PYTHON) + " on each of these Pythons, in a "
                    "venv holding httptools alone, as a deployment has it (X.Y: this interpreter's own, or "
                    "under `pyenv root`/versions/; or an interpreter's path); '' for none "
                    "(default 3.11,3.12,3.13)")
    ap.add_argument("--list", action="store_true", help="list the servers and whether they can run")
    ap.add_argument("--report", type=Path, metavar="RESULTS.json",
                    help="render RESULTS.md and results.png from a saved run; runs nothing")
    args = ap.parse_args(argv)
    quick = args.quick
    for name, full, short in (("rounds", 3, 1), ("duration", 5, 2), ("warmup", 1, 1),
                              ("retry_disturbed", 1, 0)):
        if getattr(args, name) is None:
            setattr(args, name, short if quick else full)
    if args.out is None:
        args.out = OUT if quick else BENCH
    return args


def shown_command(server: Server, workers: int) -> str:
    """The command line as RESULTS.md shows it: port P, paths relative to the checkout."""
    text = shlex.join(server.argv(65535, workers)).replace("65535", "P")
    return text.replace(PY, "python3").replace(str(BENCH) + "/", "bench/")


def bench_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.stat().st_size != FILE_SIZE:
        path.write_bytes(bytes(range(97, 123)) * (FILE_SIZE // 26) + b"z" * (FILE_SIZE % 26))
    return path


def log_memory(srv: Server, m: Result) -> None:
    """One line for a memory run: its error, or the pool's PSS and a worker's USS."""
    if "error" in m:
        log(f"    {srv.name}: ERROR {m['error']}")
        return
    mm = m["memory"]
    log(f"    {srv.name:20s} {mm['nprocs']} processes, pool PSS {mib(mm['pss_kb'])} MiB, "
        f"worker USS {mib(median(mm['worker_uss_kb']), 2)} MiB, {m['failures']} failed requests")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        write_outputs(json.loads(args.report.read_text()), args.out)
        return 0
    if args.list:
        for srv in SERVERS:
            why = srv.needs()
            print(f"{srv.name:20s} {'ok' if why is None else 'MISSING: ' + why}\n{'':20s} {srv.note}")
        return 0
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    before = None
    if args.before is not None:
        tree, before = before_tree(args.before)
        add_before(tree, before)
    names = pick(args.servers, list(BY_NAME), "server")
    if args.before is not None:
        names += [n for n in BY_NAME if n.startswith("before-") and n not in names]
    if BASELINE not in names:
        names.insert(0, BASELINE)
    scen_names = pick(args.scenarios, ALL_SCENARIOS, "scenario")
    skipped: dict[str, str] = {}
    servers = []
    for name in names:
        why = BY_NAME[name].needs()
        if why is None:
            servers.append(BY_NAME[name])
        else:
            skipped[name] = why
            log(f"skip {name}: {why}")
    scenarios = [WRK_SCENARIOS[s] for s in scen_names if s in WRK_SCENARIOS]
    app_runs: list[tuple[AppMemory, Server]] = []
    for am in (APP_SCENARIOS[s] for s in scen_names if s in APP_SCENARIOS):
        for srv in app_servers(am):
            why = srv.needs()
            if why is None:
                app_runs.append((am, srv))
            else:
                skipped[f"{am.name} {srv.name}"] = why
                log(f"skip {am.name} {srv.name}: {why}")

    pythons: list[tuple[str, str]] = []  # (venv's interpreter, X.Y.Z): mem16 in a plain venv of each
    if MEM in scen_names:
        for spec in (p.strip() for p in args.pythons.split(",") if p.strip()):
            base = find_python(spec)
            try:
                made = python_venv(base) if base is not None else None
            except (OSError, subprocess.CalledProcessError) as e:
                made, base = None, f"{base}: no venv with httptools ({e})"
            if made is None:
                why = base or "not found (pyenv install it, or give its path)"
                skipped[f"{MEM} on Python {spec}"] = why
                log(f"skip {MEM} on Python {spec}: {why}")
            else:
                pythons.append(made)
    per_python = [srv for srv in servers if srv.name in PER_PYTHON] if pythons else []

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    logdir = OUT / "logs" / stamp
    logdir.mkdir(parents=True, exist_ok=True)
    args.file_path = bench_file(OUT / f"file-{FILE_SIZE}.bin")
    global PY
    PY = serving_python()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds through the finally below

    per_server = args.warmup + len(scenarios) * (args.duration + args.pause) + 2.5
    estimate = args.rounds * len(servers) * per_server * bool(scenarios)
    estimate += 3 * len(servers) * (MEM in scen_names) + 12 * len(app_runs)
    estimate += 4 * len(pythons) * len(per_python)
    log(f"servers: {', '.join(s.name for s in servers)}\nscenarios: {', '.join(scen_names)}; "
        f"{args.rounds} round(s) of {args.duration} s; about {estimate / 60:.1f} min (more if other load "
        f"forces re-runs); logs in {logdir}")
    data: Result = {
        "started": stamp, "quick": args.quick,
        "command": shlex.join(["python3", "bench/run.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine(), "versions": versions(), "skipped": skipped,
        "servers": [s.name for s in servers], "scenarios": scen_names, "rounds": args.rounds,
        "duration": args.duration, "workers": args.workers, "connections": args.connections,
        "threads": args.threads, "mem_workers": args.mem_workers, "mem_requests": args.mem_requests,
        "disturbed_cores": args.disturbed_cores, "probe_limit_s": probe_limit(args.duration),
        "scenario_labels": {s.name: s.label for s in SCENARIOS} | {
            MEM: f"{args.mem_workers} workers, memory after {args.mem_requests:,} requests"}
            | {a.name: a.label for a in APP_SCENARIOS.values()},
        "app_info": {am.name: {"app": am.app, "paths": list(am.paths)} for am in APP_SCENARIOS.values()},
        "server_info": {s.name: {"cmd": shown_command(s, args.workers), "note": s.note} for s in servers},
        "runs": [], "memory16": {}, "memory_apps": {},
        "before": before, "memory16_pythons": {ver: {"python": exe, "servers": {}} for exe, ver in pythons},
    }
    if before:
        data["versions"]["before-starlet-py"] = before
    for exe, ver in pythons:
        data["versions"][f"Python {ver} (mem16 on each Python)"] = \
            f"{Path(exe).resolve()}, in {Path(exe).parent.parent.relative_to(ROOT)}/ with httptools alone"
    t0 = time.monotonic()
    try:
        if scenarios:
            for rnd in range(1, args.rounds + 1):
                for srv in servers:
                    log(f"[round {rnd}/{args.rounds}] {srv.name}")
                    r = bench_round(srv, rnd, scenarios, args, logdir)
                    if "error" in r:
                        log(f"    {srv.name}: ERROR {r['error']}")
                    data["runs"].append(r)
        if MEM in scen_names:
            for srv in servers:
                log(f"[memory, {args.mem_workers} workers] {srv.name}")
                m = bench_memory(srv, args, logdir)
                data["memory16"][srv.name] = m
                log_memory(srv, m)
        for exe, ver in pythons:
            with serving_on(exe):
                for srv in per_python:
                    log(f"[memory, {args.mem_workers} workers, Python {ver}] {srv.name}")
                    m = bench_memory(srv, args, logdir, f"{MEM}-py{ver}")
                    data["memory16_pythons"][ver]["servers"][srv.name] = m
                    log_memory(srv, m)
        for am, srv in app_runs:
            log(f"[{am.name}, {args.mem_workers} workers] {srv.name}")
            routes: list[Route] = [(f"GET {p}", _get(p), bool) for p in am.paths]
            m = bench_memory(srv, args, logdir, am.name, routes)
            m["cmd"] = shown_command(srv, args.mem_workers)
            data["memory_apps"].setdefault(am.name, {})[srv.name] = m
            log_memory(srv, m)
    finally:
        stop_all()
    data["elapsed_s"] = round(time.monotonic() - t0, 1)
    raw = OUT / f"results-{stamp}.json"
    raw.write_text(json.dumps(data, indent=1, default=str))
    log(f"raw results: {raw}")
    write_outputs(data, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
