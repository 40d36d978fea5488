"""A real nginx in front of a real starlet-py, running examples/nginx.conf.

The example is included unchanged but for its addresses: the upstream port and unix
socket path, and the four `listen` ports, are replaced with loopback ones; a wrapper
main config gives nginx its own prefix, pid file, error log and temp paths.  Client
threads send a few thousand requests through the four server blocks (TCP / unix
upstream, with / without keep-alive) and check every answer; at the end nginx's
error log must hold no error.

Run as root, nginx's workers run as nobody (as a stock nginx's run as www-data), so
the unix socket must be one they may connect to: the README's recipe, --socket-group.
"""

from __future__ import annotations

import functools
import grp
import hashlib
import http.client
import json
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.loadgen import (
    GEN_LINE,
    LoadLoop,
    Stats,
    Supervised,
    old_generation_exits,
    start_starter,
)
from tests.support import (
    children,
    free_port,
    need_program,
    parse_response,
    pid_alive,
    read_all,
    starlet_command,
    wait_for,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nginx.conf"
EXAMPLE_UPSTREAM = "127.0.0.1:5000"
EXAMPLE_SOCKET = "/run/starlet-py/web.sock"
EXAMPLE_PORTS = (8080, 8081, 8082, 8083)
WORKERS = 20  # >= 2 x 6 pooled (active or idle) + 6 in flight: see the example's sizing note
STARLET_ARGS = (
    "--max-keepalive-reqs", "1000",
    "--keepalive-timeout", "35",  # above the example's upstream keepalive_timeout 30s
    "--max-reqs-per-child", "100",  # recycling under keep-alive: the last answer says close
)  # fmt: skip
THREADS_PER_SERVER = 3
SEVERE = re.compile(r"\[(error|crit|alert|emerg)\]")
ROOT = os.geteuid() == 0
# nginx's workers: nobody (as root), else ourselves; our socket is given their group.
WEB_GROUP = grp.getgrgid(pwd.getpwnam("nobody").pw_gid if ROOT else os.getegid()).gr_name


@dataclass(frozen=True)
class Variant:
    port: int
    unix: bool  # upstream over the unix socket
    keepalive: bool  # upstream keep-alive pool


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    remote_ports: dict[int, list[str]] = field(default_factory=dict)  # nginx port -> REMOTE_PORTs seen
    chunked_uploads: int = 0  # uploads that reached the app with Transfer-Encoding: chunked


def render(ports: list[int], upstream: int, sock: str) -> str:
    """The example with loopback addresses; every replacement must hit."""
    text = EXAMPLE.read_text()
    assert text.count(EXAMPLE_UPSTREAM) == 3 and text.count(EXAMPLE_SOCKET) == 3, "example changed shape"
    text = text.replace(EXAMPLE_UPSTREAM, f"127.0.0.1:{upstream}").replace(EXAMPLE_SOCKET, sock)
    for old, new in zip(EXAMPLE_PORTS, ports, strict=True):
        listen = f"listen 127.0.0.1:{old};"
        assert text.count(listen) == 1, listen
        text = text.replace(listen, f"listen 127.0.0.1:{new};")
    return text


def readme_options(heading: str) -> list[str]:
    """The options of the first ``starlet-py`` command in README.md after ``heading``,
    without its ``--listen`` and ``--socket-group`` (the tests pass their own) and the app:
    the tests run exactly the recipe the README gives."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    lines = text[text.index(heading) :].splitlines()
    first = next(n for n, line in enumerate(lines) if line.lstrip().startswith("starlet-py "))
    command = ""
    for line in lines[first:]:
        command += line.strip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            break
    words = shlex.split(command)[1:-1]  # neither the program nor the app
    options: list[str] = []
    while words:
        word = words.pop(0)
        if word in ("--listen", "--socket-group"):
            words.pop(0)
        else:
            options.append(word)
    return options


def without_workers(options: list[str]) -> tuple[list[str], int]:
    """``options`` without ``--max-workers N``, and N."""
    i = options.index("--max-workers")
    return options[:i] + options[i + 2 :], int(options[i + 1])


def main_config(prefix: Path, include: Path, workers: int = 2) -> str:
    temp = {name: prefix / "temp" / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    # As root, nginx switches its workers to an unprivileged user, as a stock nginx does.
    user = f"user nobody {WEB_GROUP};\n" if ROOT else ""
    return f"""{user}worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    large_client_header_buffers 4 16k;  # for big cookies and tokens (--limit-request-field-size)
    access_log {prefix}/access.log;
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {include};
}}
"""


def start_starlet(
    tmp: Path,
    sock: str,
    *extra: str,
    args: Sequence[str] = STARLET_ARGS,
    workers: int = WORKERS,
    app: str = "deploy:application",
    env: dict[str, str] | None = None,
) -> tuple[Supervised, int]:
    """starlet-py on a pre-bound TCP port and the unix socket ``sock``, with ``args`` (by
    default this file's options for nginx) plus ``extra``; returns it and the TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(128)
        port, fd = lsock.getsockname()[1], lsock.fileno()
        cmd = [*starlet_command(), "--listen", f"fd://{fd}", "--listen", sock, *args, *extra]
        cmd += ["--socket-group", WEB_GROUP]  # the README's recipe: nginx's workers may connect
        cmd += ["--max-workers", str(workers)]
        starlet = Supervised([*cmd, app], tmp / "starlet.log", env=env, pass_fds=[fd])
    wait_for(lambda: len(starlet.kids()) == workers or starlet.exited(), 30, "the starlet-py workers")
    assert not starlet.exited(), starlet.log()
    return starlet, port


def start_nginx(prefix: Path, upstream: int, sock: str, workers: int = 2) -> tuple[Supervised, list[int]]:
    """nginx (``workers`` worker processes) running the example in front of ``upstream``
    and ``sock``; returns it and the example's four ports."""
    nginx = need_program("nginx")
    log = ""
    for attempt in range(3):
        ports = [free_port() for _ in EXAMPLE_PORTS]
        include = prefix / "starlet-py.conf"
        include.write_text(render(ports, upstream, sock))
        conf = prefix / "nginx.conf"
        conf.write_text(main_config(prefix, include, workers))
        cmd = [nginx, "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "error.log")]
        proc = Supervised([*cmd, "-g", "daemon off; master_process on;"], prefix / f"nginx-{attempt}.out")

        def up(proc: Supervised = proc, ports: list[int] = ports) -> str | None:
            if proc.exited():
                return "exited"
            try:
                for port in ports:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return None
            return "up"

        if wait_for(up, 20, "nginx to listen") == "up":
            return proc, ports
        proc.stop()
        log = proc.log() + (prefix / "error.log").read_text(errors="replace")
        if "Address already in use" not in log:
            break
    raise AssertionError(f"nginx did not start:\n{log}")


# -- the client ----------------------------------------------------------------


def chunks_of(data: bytes, rng: random.Random) -> Iterator[bytes]:
    i = 0
    while i < len(data):
        n = rng.randint(1, 20000)
        yield data[i : i + n]
        i += n


def plan(rng: random.Random) -> list[tuple[str, Any]]:
    """One thread's shuffled mix of requests."""
    items: list[tuple[str, Any]] = [("gen", rng.randint(100, 150_000)) for _ in range(130)]
    items += [("echo", rng.randbytes(rng.randint(0, 200_000))) for _ in range(40)]
    items += [("echo_chunked", rng.randbytes(rng.randint(1, 100_000))) for _ in range(20)]
    items += [("upload_chunked", rng.randbytes(rng.randint(1, 300_000))) for _ in range(30)]
    items += [("upload_length", rng.randbytes(rng.randint(1, 100_000))) for _ in range(10)]
    items += [("stream", (rng.randint(1, 60), rng.randint(1, 5000))) for _ in range(20)]
    items += [("env", rng.choice([None, "203.0.113.7"])) for _ in range(50)]
    rng.shuffle(items)
    return items


def one(
    conn: http.client.HTTPConnection, kind: str, arg: Any, variant: Variant, master: int, rng: random.Random
) -> tuple[str | None, str | None]:
    """Send one request and check its answer: (error or None, a note: REMOTE_PORT for
    /env, "chunked" for an upload that reached the app chunked)."""
    host = f"example.test:{variant.port}"
    headers = {"Host": host}
    if kind == "gen":
        conn.request("GET", f"/gen?size={arg}", headers=headers)
    elif kind in ("echo", "upload_length"):
        conn.request("POST", "/echo" if kind == "echo" else "/upload", body=arg, headers=headers)
    elif kind in ("echo_chunked", "upload_chunked"):
        path = "/echo" if kind == "echo_chunked" else "/upload"
        headers["Transfer-Encoding"] = "chunked"
        conn.request("POST", path, body=chunks_of(arg, rng), headers=headers, encode_chunked=True)
    elif kind == "stream":
        conn.request("GET", f"/stream?n={arg[0]}&size={arg[1]}", headers=headers)
    else:
        if arg:
            headers["X-Forwarded-For"] = arg
        conn.request("GET", "/env", headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        return f"{kind}: status {resp.status} {body[:200]!r}", None
    if kind == "gen":
        match = GEN_LINE.match(body)
        ok = (
            match is not None
            and len(body) == arg
            and int(match.group(3)) == master
            and body[match.end() :] == b"." * (arg - match.end())
        )
        return (None if ok else f"gen: {len(body)} bytes of {arg}: {body[:80]!r}"), None
    if kind in ("echo", "echo_chunked"):
        return (None if body == arg else f"{kind}: {len(body)} bytes back for {len(arg)}"), None
    if kind in ("upload_chunked", "upload_length"):
        got = json.loads(body)
        expected = {"length": len(arg), "sha256": hashlib.sha256(arg).hexdigest()}
        framing = {"content_length": str(len(arg)), "transfer_encoding": None}  # sent as is
        if kind == "upload_chunked" and got["transfer_encoding"] is not None:
            # buffering off: a chunked upload still in flight reaches the app chunked.
            # (One nginx read whole with the head goes on with a Content-Length.)
            framing = {"content_length": None, "transfer_encoding": "chunked"}
        expected.update(framing)
        error = None if got == expected else f"{kind}: {got} != {expected}"
        return error, ("chunked" if framing["transfer_encoding"] else None)
    if kind == "stream":
        expected_body = b"".join(str(k % 10).encode() * arg[1] for k in range(arg[0]))
        return (None if body == expected_body else f"stream {arg}: {len(body)} bytes"), None
    env = json.loads(body)
    expected_env = {
        "HTTP_X_FORWARDED_FOR": f"{arg}, 127.0.0.1" if arg else "127.0.0.1",
        "HTTP_X_FORWARDED_PROTO": "http",
        "HTTP_HOST": host,
        "SERVER_NAME": "example.test",
        "SERVER_PORT": str(variant.port),
        "REMOTE_ADDR": "" if variant.unix else "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1" if variant.keepalive else "HTTP/1.0",
        "HTTP_CONNECTION": None if variant.keepalive else "close",
        "wsgi.url_scheme": "http",
    }
    got_env = {k: env.get(k) for k in expected_env}
    if got_env != expected_env or env["ppid"] != master:
        return f"env: {got_env} != {expected_env}", None
    return None, env["REMOTE_PORT"]


def client(variant: Variant, seed: int, master: int, tally: Tally) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", variant.port, timeout=30)
    try:
        for kind, arg in plan(rng):
            try:
                error, note = one(conn, kind, arg, variant, master, rng)
            except (OSError, http.client.HTTPException) as e:
                error, note = f"{kind}: {type(e).__name__}: {e}", None
                conn.close()
            with tally.lock:
                tally.requests += 1
                if error:
                    tally.errors.append(f"port {variant.port}: {error}")
                elif note == "chunked":
                    tally.chunked_uploads += 1
                elif note is not None:
                    tally.remote_ports.setdefault(variant.port, []).append(note)
    finally:
        conn.close()


@contextmanager
def behind_nginx(
    tmp: Path, public: Path, *extra: str, nginx_workers: int = 2, **starlet: Any
) -> Iterator[tuple[Supervised, Supervised, list[int], Path]]:
    """starlet-py (with ``extra``, and start_starlet's keywords ``starlet``) behind the
    example nginx (``nginx_workers`` processes), under ``public``: yields (starlet, nginx,
    nginx's ports, nginx's prefix).  A body that ends cleanly must leave both able to stop
    with status 0 (nginx gracefully, SIGQUIT); both are stopped anyway."""
    need_program("nginx")
    prefix = public / "nginx"
    prefix.mkdir()
    (public / "run").mkdir(mode=0o755)  # the README's `install -d /run/starlet-py`
    sock = str(public / "run" / "web.sock")
    server, upstream = start_starlet(tmp, sock, *extra, **starlet)
    nginx: Supervised | None = None
    try:
        nginx, ports = start_nginx(prefix, upstream, sock, nginx_workers)
        yield server, nginx, ports, prefix
        assert nginx.stop(signal.SIGQUIT) == 0  # graceful: workers finish, then exit
        assert server.stop() == 0
    finally:
        if nginx is not None:
            nginx.stop(signal.SIGQUIT)
        server.stop()
        shutil.rmtree(prefix / "temp", ignore_errors=True)


# -- the test ------------------------------------------------------------------


def test_nginx_example_config_in_front_of_starlet(tmp_path: Path, public: Path) -> None:
    with behind_nginx(tmp_path, public) as (starlet, nginx, ports, prefix):
        variants = [
            Variant(ports[0], unix=False, keepalive=True),
            Variant(ports[1], unix=True, keepalive=True),
            Variant(ports[2], unix=False, keepalive=False),
            Variant(ports[3], unix=True, keepalive=False),
        ]
        tally = Tally()
        threads = [
            threading.Thread(target=client, args=(v, 1000 * i + t, starlet.pid, tally), daemon=True)
            for i, v in enumerate(variants)
            for t in range(THREADS_PER_SERVER)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not any(t.is_alive() for t in threads), "a client thread hung"
        print(
            f"\n[nginx] requests={tally.requests} errors={len(tally.errors)} "
            f"chunked uploads that reached the app chunked={tally.chunked_uploads}"
        )
        assert tally.errors == [], tally.errors[:20]
        assert tally.requests == len(variants) * THREADS_PER_SERVER * 300
        # Most uploads (up to 300 KB, sent in pieces) are still arriving when nginx
        # starts forwarding: those must reach the app chunked, through every variant.
        assert tally.chunked_uploads >= len(variants) * THREADS_PER_SERVER * 30 // 2

        # Keep-alive pools reuse connections; without them every request has its own.
        for v in variants:
            seen = tally.remote_ports[v.port]
            if v.keepalive and not v.unix:
                assert len(set(seen)) < len(seen) // 2, (v, len(set(seen)), len(seen))
            elif v.unix:
                assert set(seen) == {"0"}

        assert nginx.stop(signal.SIGQUIT) == 0  # graceful: workers finish, then exit
        # nginx's own view: one access-log line per request, every one a 200.
        lines = (prefix / "access.log").read_text().splitlines()
        statuses = [line.split('"')[2].split()[0] for line in lines]
        assert statuses == ["200"] * tally.requests
        log = (prefix / "error.log").read_text(errors="replace")
        assert [line for line in log.splitlines() if SEVERE.search(line)] == [], log[-5000:]
        assert "upstream prematurely closed" not in log and "connect() failed" not in log, log[-5000:]
        assert starlet.stop() == 0
        assert "Traceback" not in starlet.log(), starlet.log()[-5000:]


def test_streamed_response_passes_through_as_it_comes(tmp_path: Path, public: Path) -> None:
    """The example's /stream (proxy_buffering off): the client gets the first piece
    while the app still holds back the second, through all four server blocks."""
    with behind_nginx(tmp_path, public) as (starlet, nginx, ports, prefix):
        for n, port in enumerate(ports):
            release = tmp_path / f"release-{n}"
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(
                    f"GET /stream?n=2&size=100&wait={release} HTTP/1.1\r\n"
                    f"Host: example.test\r\nConnection: close\r\n\r\n".encode()
                )
                data = b""
                while b"0" * 100 not in data:
                    try:
                        piece = s.recv(65536)
                    except TimeoutError:
                        raise AssertionError(f"port {port}: nginx held the first piece: {data!r}") from None
                    assert piece, f"port {port}: closed early: {data!r}"
                    data += piece
                assert b"1" not in data.split(b"\r\n\r\n", 1)[1], data
                release.touch()
                while piece := s.recv(65536):
                    data += piece
            assert data.startswith(b"HTTP/1.1 200 ") and b"1" * 100 in data, data


# -- restarts behind nginx ----------------------------------------------------------

RESTARTS_BEHIND_NGINX = 10
# What nginx logs when a pooled upstream connection closed under it; it then retries
# the (idempotent) request on a new connection, so the client still gets its 200.
RETRIED = ("upstream prematurely closed connection", "Connection reset by peer", "Broken pipe")


def starter_for_nginx(
    tmp: Path, public: Path, args: Sequence[str] = STARLET_ARGS, workers: int = WORKERS
) -> tuple[Supervised, int, str]:
    """start_server (--interval=1) running starlet-py with ``args`` on a TCP port and a
    unix socket under ``public``: returns it, the port and the socket's path."""
    # start_server binds the unix socket itself, with its umask: the README's recipe is
    # a setgid directory of the web server's group and umask 007.
    run = public / "run"
    run.mkdir()
    os.chown(run, -1, grp.getgrnam(WEB_GROUP).gr_gid)
    run.chmod(0o2750)
    sock = str(run / "web.sock")
    old_umask = os.umask(0o007)  # inherited by start_server
    try:
        sup, chosen = start_starter(
            tmp, lambda: [f"127.0.0.1:{free_port()}"], [sock], args, ["--interval=1"], workers=workers
        )
    finally:
        os.umask(old_umask)
    assert os.stat(sock).st_gid == grp.getgrnam(WEB_GROUP).gr_gid
    return sup, int(chosen[0].split(":")[1]), sock


@pytest.mark.parametrize(
    "sizes",
    [
        pytest.param((2, STARLET_ARGS, WORKERS), id="pools-below-workers"),
        # 4 x 8 idle connections per pooled upstream, for 16 workers.
        pytest.param((8, *without_workers(readme_options("**Behind nginx**"))), id="readme-8-nginx-workers"),
    ],
)
def test_hot_restart_behind_nginx_loses_no_request(
    tmp_path: Path, public: Path, sizes: tuple[int, Sequence[str], int]
) -> None:
    """start_server runs starlet-py on the example's TCP and unix upstreams; clients go
    through nginx (keep-alive pools over TCP and unix, and no pool over TCP) while
    start_server gets HUP after HUP.  No client may see an error (no 502).  With the
    README's command behind 8 nginx workers, the pools can hold more idle connections
    than there are workers, and each stop closes the idle ones at once."""
    need_program("nginx")
    nginx_workers, args, workers = sizes
    prefix = public / "nginx"
    prefix.mkdir()
    sup, upstream, sock = starter_for_nginx(tmp_path, public, args, workers)
    nginx: Supervised | None = None
    loads: list[LoadLoop] = []
    stats: list[Stats] = []
    try:
        nginx, ports = start_nginx(prefix, upstream, sock, nginx_workers)
        for port in ports[:3]:  # TCP pool, unix pool, TCP without a pool
            connect = functools.partial(socket.create_connection, ("127.0.0.1", port), timeout=15)
            loads.append(LoadLoop(connect, close_threads=2, keepalive_threads=1).start())
        wait_for(lambda: all(load.ok_count() >= 50 for load in loads), 20, "the clients to get going")
        for n in range(RESTARTS_BEHIND_NGINX):
            (old,) = sup.kids()
            old_workers = children(old)
            sup.proc.send_signal(signal.SIGHUP)

            def restarted(old: int = old) -> bool:
                new = [m for m in sup.kids() if m != old]
                if pid_alive(old) or len(new) != 1 or len(children(new[0])) != workers:
                    return False
                return all(load.served_by_master(new[0]) >= 10 for load in loads)

            wait_for(restarted, 60, f"restart {n + 1}")  # a loaded machine can take long
            assert old_generation_exits(sup, old, old_workers).endswith("status:0")
        stats = [load.stop() for load in loads]
        total = Stats()
        for st in stats:
            total.sent += st.sent
            total.ok += st.ok
            total.retries += st.retries
            total.failures += st.failures
            total.generations.update(st.generations)
        print(f"\n[restart behind nginx] restarts={RESTARTS_BEHIND_NGINX} {total.summary()}")
        assert nginx.stop(signal.SIGQUIT) == 0
        log = (prefix / "error.log").read_text(errors="replace")
        severe = [line for line in log.splitlines() if SEVERE.search(line)]
        print(f"[restart behind nginx] nginx [error] lines: {len(severe)}")
        for line in severe[:10]:
            print(f"[restart behind nginx]   {line}")
        assert total.failures == [], total.failures[:20]
        assert total.ok == total.sent
        lines = (prefix / "access.log").read_text().splitlines()
        assert [line.split('"')[2].split()[0] for line in lines] == ["200"] * total.sent
        assert [line for line in severe if not any(r in line for r in RETRIED)] == []
        assert sup.stop() == 0
        assert sup.group() == []
    finally:
        if not stats:
            for load in loads:
                load.stop()
        if nginx is not None:
            nginx.stop(signal.SIGQUIT)
        sup.stop()
        shutil.rmtree(prefix / "temp", ignore_errors=True)


def test_an_upload_the_app_refuses_unread_reaches_the_client(tmp_path: Path, public: Path) -> None:
    """The example's /upload (proxy_request_buffering off): the app answers 403 without
    reading a 4 MiB body (Content-Length, then chunked).  starlet-py closes lingeringly, so
    nginx reads the whole answer and passes it on: no 502, no reset."""
    body = b"u" * (4 << 20)
    with behind_nginx(tmp_path, public) as (starlet, nginx, ports, prefix):
        for port in ports:
            for chunked in (False, True):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                headers = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))}
                pieces = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
                try:
                    data = pieces if chunked else body
                    conn.request("POST", "/upload-refused", data, headers, encode_chunked=chunked)
                except OSError:
                    pass  # nginx may stop reading the upload once it has the answer
                resp = conn.getresponse()
                assert (resp.status, resp.read()) == (403, b"refused\n"), (port, chunked)
                conn.close()
        errors = [line for line in (prefix / "error.log").read_text().splitlines() if SEVERE.search(line)]
        assert not errors, errors


@pytest.mark.parametrize(("extra", "status"), [((), 431), (("--limit-request-field-size", "16384"), 200)])
def test_a_12_kib_cookie_through_nginx_with_16k_buffers(
    tmp_path: Path, public: Path, extra: tuple[str, ...], status: int
) -> None:
    cookie = "session=" + "c" * (12 << 10)
    with behind_nginx(tmp_path, public, *extra) as (_starlet, _nginx, ports, _prefix):
        with socket.create_connection(("127.0.0.1", ports[0]), timeout=10) as conn:
            conn.sendall(
                f"GET /env HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n".encode()
            )
            resp = parse_response(read_all(conn))
        assert resp.status == status, resp.body[:200]
        if status == 431:  # ours, not nginx's: it forwarded the field, we named our limit
            assert resp.body == b"431 Request Header Fields Too Large: a header field over 8192 bytes\n"
