"""--stats: /metrics, /status and /ready, served by the master of a real server.

The figures are read with prometheus_client's own text parser, never ours.  Most
servers here serve --stats on a unix socket (no port to pick); one on TCP.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.proctools import run_cli
from tests.support import Response, Server, free_port, parse_response, read_all, wait_for

MakeServer = Callable[..., Server]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def short() -> Iterator[Path]:
    """A directory with a short path (a unix socket's path is at most 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="st-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def stats_socket(addr: str, timeout: float = 5.0) -> socket.socket:
    if "/" in addr:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
        return s
    host, _, port = addr.rpartition(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def ask(addr: str, path: str, method: str = "GET") -> Response:
    """One request to the stats server at ``addr`` (a unix path or HOST:PORT)."""
    with stats_socket(addr) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        return parse_response(read_all(s), head_only=method == "HEAD")


def metrics(addr: str) -> Samples:
    """/metrics as prometheus_client parses it: (sample name, labels) -> value."""
    resp = ask(addr, "/metrics")
    assert resp.status == 200, resp
    assert resp.header("content-type") == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(resp.body.decode()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[("starlet_py_" + name, frozenset(labels.items()))]


def exits(samples: Samples) -> dict[str, float]:
    return {dict(k[1])["reason"]: v for k, v in samples.items() if k[0] == "starlet_py_worker_exits_total"}


def slow(server: Server, seconds: float, mark: Path, query: str = "") -> socket.socket:
    """A full request (TCP_DEFER_ACCEPT keeps data-less connections out of the accept
    queue) that sleeps ``seconds`` in the app; it touches ``mark`` as it gets there."""
    conn = server.connect(timeout=30)
    req = f"GET /sleep?s={seconds}&mark={quote(str(mark))}{query} HTTP/1.1\r\nHost: localhost\r\n\r\n"
    conn.sendall(req.encode())
    return conn


def test_metrics_show_busy_workers_and_the_accept_queue_at_once(
    make_server: MakeServer, tmp_path: Path
) -> None:
    addr = f"127.0.0.1:{free_port()}"
    server = make_server("procs:application", ["--stats", addr, "--graceful-timeout", "1"], workers=2)
    marks = [tmp_path / f"m{i}" for i in range(5)]
    conns = [slow(server, 30, mark, "&token=secret") for mark in marks]
    try:
        wait_for(lambda: sum(m.exists() for m in marks) == 2, what="two requests in the app")
        wait_for(lambda: value(metrics(addr), "listen_queue", listener=f"127.0.0.1:{server.port}") == 3,
                 what="three connections in the accept queue")  # fmt: skip
        took = []
        for _ in range(3):
            t0 = time.monotonic()
            samples = metrics(addr)
            took.append(time.monotonic() - t0)
        assert value(samples, "workers", state="busy") == 2
        assert value(samples, "workers", state="idle") == 0
        assert value(samples, "workers_max") == 2
        assert value(samples, "listen_queue", listener=f"127.0.0.1:{server.port}") == 3
        assert value(samples, "listen_queue_max", listener=f"127.0.0.1:{server.port}") == 128
        assert min(took) < 0.1, took
        status = ask(addr, "/status")
        assert (status.status, status.header("content-type")) == (200, "application/json")
        doc = json.loads(status.body)
        assert doc["workers"] == {"busy": 2, "idle": 0, "leaving": 0, "max": 2}
        busy = sorted(doc["pool"], key=lambda w: w["pid"])
        assert [w["pid"] for w in busy] == sorted(server.workers())
        assert {(w["state"], w["method"], w["path"], w["requests"]) for w in busy} == {
            ("busy", "GET", "/sleep", 1)
        }
        assert all(0 < w["seconds"] < 30 for w in busy)
        assert b"secret" not in status.body  # the query string stays out
    finally:
        for conn in conns:
            conn.close()


def test_counters_count_every_request_and_busy_second_of_exited_workers_too(
    make_server: MakeServer, short: Path
) -> None:
    addr = str(short / "stats.sock")
    server = make_server("procs:application", ["--stats", addr, "--max-reqs-per-child", "3"], workers=1)
    for _ in range(10):
        assert server.get("/sleep?s=0.05").status == 200
    wait_for(lambda: exits(metrics(addr))["recycled"] == 3, what="three recycled workers reaped")
    samples = metrics(addr)
    assert value(samples, "requests_total") == 10
    assert 0.5 <= value(samples, "busy_seconds_total") < 5
    assert exits(samples) == {"recycled": 3, "rss": 0, "request_timeout": 0, "graceful_timeout": 0,
                              "crashed": 0, "stopped": 0}  # fmt: skip
    assert value(samples, "reloads_total") == 0
    assert abs(value(samples, "start_time_seconds") - time.time()) < 60
    (worker,) = json.loads(ask(addr, "/status").body)["pool"]
    assert (worker["state"], worker["requests"]) == ("idle", 1)


def crash(server: Server, addr: str) -> None:
    assert server.raw(b"GET /crash HTTP/1.1\r\nHost: x\r\n\r\n") == b""


def hang_then(after: Callable[[Server], None]) -> Callable[[Server, str], None]:
    def run(server: Server, addr: str) -> None:
        conn = server.connect()
        conn.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: value(metrics(addr), "workers", state="busy") == 1, what="the request in the app")
        after(server)
        wait_for(lambda: read_all(conn) == b"", what="the stuck worker's connection to close")
        conn.close()

    return run


def rss(server: Server, addr: str) -> None:
    assert server.get("/pid").status == 200  # --max-worker-rss is checked after every request


@pytest.mark.parametrize(
    ("app", "args", "act", "reason"),
    [
        ("procs:application", [], crash, "crashed"),
        ("procs:application", ["--max-worker-rss", "1"], rss, "rss"),
        ("stuck:application", ["--request-timeout", "0.5"], hang_then(lambda s: None), "request_timeout"),
        (
            "stuck:application",
            ["--graceful-timeout", "0.5"],
            hang_then(lambda s: s.signal(signal.SIGHUP)),
            "graceful_timeout",
        ),  # fmt: skip
    ],
    ids=["crashed", "rss", "request_timeout", "graceful_timeout"],
)
def test_worker_exits_are_counted_by_reason(
    make_server: MakeServer,
    short: Path,
    app: str,
    args: list[str],
    act: Callable[[Server, str], None],
    reason: str,
) -> None:
    addr = str(short / "stats.sock")
    server = make_server(app, ["--stats", addr, "--err-respawn-interval", "0", *args], workers=1)
    act(server, addr)
    wait_for(lambda: sum(exits(metrics(addr)).values()) >= 1, what="the worker's exit reaped")
    expected = dict.fromkeys(
        ("recycled", "rss", "request_timeout", "graceful_timeout", "crashed", "stopped"), 0
    )
    assert exits(metrics(addr)) == expected | {reason: 1}


def test_ready_once_the_pool_is_whole_and_503_from_the_moment_a_stop_begins(
    make_server: MakeServer, short: Path, tmp_path: Path
) -> None:
    addr = str(short / "stats.sock")
    # The second worker is forked 2 s after the first: the pool is not whole before.
    args = ["--stats", addr, "--max-workers", "2", "--spawn-interval", "2"]
    server = make_server("procs:application", args, workers=None)
    wait_for(lambda: os.path.exists(addr), what="the stats socket")
    before = ask(addr, "/ready")
    assert (before.status, before.body) == (503, b"not ready\n")
    wait_for(lambda: len(server.workers()) == 2, what="two workers")
    wait_for(lambda: ask(addr, "/ready").status == 200, timeout=3, what="ready")
    server.signal(signal.SIGHUP)  # a reload keeps serving: still ready
    wait_for(lambda: value(metrics(addr), "reloads_total") == 1, what="the reload")
    assert ask(addr, "/ready").status == 200
    marks = [tmp_path / "a", tmp_path / "b"]

    def new_pool_idle() -> bool:  # two idle workers and no other: the old generation gone
        samples = metrics(addr)
        return [value(samples, "workers", state=s) for s in ("busy", "idle", "leaving")] == [0, 2, 0]

    wait_for(new_pool_idle, timeout=15, what="the new pool, idle")
    conns = [slow(server, 1.5, mark) for mark in marks]
    wait_for(lambda: all(m.exists() for m in marks), what="two requests in the app")
    server.signal(signal.SIGTERM)
    wait_for(lambda: ask(addr, "/ready").status == 503, timeout=1, what="503 after TERM")
    assert value(metrics(addr), "workers", state="busy") == 2  # still answering while they finish
    for conn in conns:
        resp = parse_response(read_all(conn))
        assert (resp.status, resp.body) == (200, b"slept")
        conn.close()
    assert server.proc.wait(10) == 0
    assert not os.path.exists(addr)  # the master removed its socket


def test_a_silent_stats_client_delays_neither_answers_nor_signals(
    make_server: MakeServer, short: Path
) -> None:
    addr = str(short / "stats.sock")
    server = make_server("procs:application", ["--stats", addr, "--err-respawn-interval", "0"], workers=2)
    silent = stats_socket(addr, timeout=10)
    partial = stats_socket(addr, timeout=10)
    partial.sendall(b"GET /metr")
    t0 = time.monotonic()
    crash(server, addr)  # its replacement is forked while they wait: it must not hold them open
    wait_for(lambda: exits(metrics(addr))["crashed"] == 1, what="the crash reaped")
    t1 = time.monotonic()
    assert ask(addr, "/ready").status == 200
    assert time.monotonic() - t1 < 1
    for conn in (silent, partial):  # dropped after the stats' DEADLINE (1 s) and a tick
        assert read_all(conn) == b""
        assert time.monotonic() - t0 < 3
        conn.close()
    silent = stats_socket(addr, timeout=10)
    silent.sendall(b"GET /metr")
    t0 = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.proc.wait(5) == 0
    assert time.monotonic() - t0 < 1, "the master waited for a stats client"
    silent.close()


def test_unix_stats_socket_is_600_unless_asked(make_server: MakeServer, short: Path) -> None:
    plain, asked = str(short / "plain.sock"), str(short / "asked.sock")
    make_server("procs:application", ["--stats", plain], workers=1)
    make_server("procs:application", ["--stats", asked, "--socket-mode", "640"], workers=1)
    assert stat.S_IMODE(os.stat(plain).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(asked).st_mode) == 0o640


def test_stats_answers_only_its_three_paths(make_server: MakeServer, short: Path) -> None:
    addr = str(short / "stats.sock")
    make_server("procs:application", ["--stats", addr], workers=1)
    assert ask(addr, "/nothing").status == 404
    post = ask(addr, "/metrics", "POST")
    assert (post.status, post.header("allow")) == (405, "GET, HEAD")
    head = ask(addr, "/metrics", "HEAD")
    assert (head.status, head.body) == (200, b"") and int(head.header("content-length") or 0) > 500
    with stats_socket(addr) as s:
        s.sendall(b"nonsense\r\n\r\n")
        assert parse_response(read_all(s)).status == 400


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stats", "fd://3"], "bad --stats 'fd://3': HOST:PORT or a unix socket path"),
        (["--stats", "127.0.0.1:99999"], "bad --stats '127.0.0.1:99999': port must be a number 0-65535"),
        (["--stats", "/nonexistent/dir/stats.sock"], "--stats: cannot bind /nonexistent/dir/stats.sock:"),
        (["--stats", "127.0.0.1:0", "--max-workers", "0"], "--stats is served by the master: it needs"),
    ],
)
def test_a_bad_stats_address_is_one_line_and_status_2(args: list[str], message: str) -> None:
    result = run_cli([*args, "procs:application"])
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"starlet-py: error: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
