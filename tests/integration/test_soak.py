"""Soak: 100,000 keep-alive requests on one pool; worker memory must not grow per request.

Server: ``--max-workers 2 --max-keepalive-reqs 1000 --max-reqs-per-child 0``
(no recycling: the same two processes serve everything).  Client: two threads,
each a tight raw-socket loop sending pipelined batches of 50 requests per
``send`` (GETs, GETs with a query and repeated fields, POSTs whose small
Content-Length or chunked body the app leaves for the server to drain) and
counting the answers, reconnecting every 1,000 requests when the
server closes (the 1,000th answer carries ``Connection: close``).

Each worker's RSS (``VmRSS`` in /proc/PID/status) is sampled after a
10,000-request warm-up and again after the remaining 90,000; growth must stay
under 1 MiB per worker.  The figures are printed.  It runs by default (well
under a minute); ``-m "not soak"`` deselects it.
"""

from __future__ import annotations

import socket
import threading
import time
import warnings

import pytest

from tests.support import Server, running

with warnings.catch_warnings():
    # The marker is not registered (no conftest/pyproject edits): selecting with -m still works.
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    pytestmark = pytest.mark.soak

TOTAL = 100_000
WARMUP = 10_000
CLIENTS = 2
BATCH = 50
PER_CONNECTION = 1000  # --max-keepalive-reqs
LIMIT_KIB = 1024
# A mix, so more than one code path is soaked: plain GETs, a query and extra fields, and bodies
# the app leaves unread (drained by the server), with Content-Length and chunked.
VARIANTS = (
    b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n",
    b"GET /?q=1&r=%41 HTTP/1.1\r\nHost: soak:80\r\nX-A: 1\r\nX-A: 2\r\nCookie: c=1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: soak\r\nContent-Length: 64\r\n\r\n" + b"b" * 64,
    b"POST / HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: t\r\n\r\n",
)
MARKER = b"\r\n\r\nok\n"  # the end of every answer of hostile_app's default route
ARGS = (
    "--max-keepalive-reqs", str(PER_CONNECTION),
    "--max-reqs-per-child", "0",
    "--keepalive-timeout", "5",
    "--timeout", "10",
)  # fmt: skip


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def serve_requests(server: Server, count: int, errors: list[str]) -> None:
    """Send ``count`` requests in pipelined batches; check every answer arrives."""
    done = 0
    batch = b"".join(VARIANTS[i % len(VARIANTS)] for i in range(BATCH))
    tail_len = len(MARKER) - 1
    try:
        while done < count:
            with socket.create_connection((server.host, server.port), timeout=10) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                on_conn = 0
                while on_conn < PER_CONNECTION and done < count:
                    n = min(BATCH, PER_CONNECTION - on_conn, count - done)
                    sock.sendall(batch if n == BATCH else VARIANTS[0] * n)
                    got, tail = 0, b""
                    while got < n:
                        data = sock.recv(262144)
                        if not data:
                            raise AssertionError(f"closed after {on_conn + got} answers on a connection")
                        hay = tail + data
                        got += hay.count(MARKER)
                        tail = hay[-tail_len:]
                    if got != n:
                        raise AssertionError(f"{got} answers to a batch of {n}")
                    on_conn += n
                    done += n
                if on_conn == PER_CONNECTION and sock.recv(1) != b"":
                    raise AssertionError("connection kept past --max-keepalive-reqs")
    except Exception as e:  # reported by the test thread
        errors.append(f"{type(e).__name__}: {e} (after {done} requests)")


def run_clients(server: Server, total: int) -> float:
    errors: list[str] = []
    threads = [
        threading.Thread(target=serve_requests, args=(server, total // CLIENTS, errors))
        for _ in range(CLIENTS)
    ]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    assert not errors, errors
    return time.monotonic() - start


def test_soak_rss_stays_flat(capsys: pytest.CaptureFixture[str]) -> None:
    with running("hostile_app:application", ARGS, workers=2) as server:
        pids = sorted(server.workers())
        warm_time = run_clients(server, WARMUP)
        rss_warm = {pid: status_kib(pid, "VmRSS") for pid in pids}
        cpu_warm = {pid: cpu_ticks(pid) for pid in pids}
        soak_time = run_clients(server, TOTAL - WARMUP)
        rss_end = {pid: status_kib(pid, "VmRSS") for pid in pids}
        cpu_end = {pid: cpu_ticks(pid) for pid in pids}
        assert sorted(server.workers()) == pids, "a worker was replaced during the soak"
        log = server.log()
    lines = [
        f"soak: {TOTAL} requests ({WARMUP} warm-up in {warm_time:.1f}s, "
        f"{TOTAL - WARMUP} more in {soak_time:.1f}s, {(TOTAL - WARMUP) / soak_time:.0f} req/s)"
    ]
    for pid in pids:
        growth = rss_end[pid] - rss_warm[pid]
        lines.append(
            f"soak: worker {pid}: VmRSS {rss_warm[pid]} kB after warm-up, {rss_end[pid]} kB at the end "
            f"(growth {growth:+d} kB), cpu ticks {cpu_end[pid] - cpu_warm[pid]}"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert "Traceback" not in log, log[-2000:]
    # Both workers really served (the growth check means nothing for an idle one).
    spent = {pid: cpu_end[pid] - cpu_warm[pid] for pid in pids}
    assert all(ticks >= 0.1 * sum(spent.values()) for ticks in spent.values()), spent
    for pid in pids:
        assert rss_end[pid] - rss_warm[pid] < LIMIT_KIB, "\n".join(lines)
