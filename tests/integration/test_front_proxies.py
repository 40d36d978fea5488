"""Front proxies that pool upstream connections, with the real programs (issue 15, 3-4).

nginx (``keepalive N`` per worker process), Apache mod_proxy (a pool per process) and
HAProxy (``http-reuse``) keep idle connections to starlet-py open between requests.
Each one held occupies a starlet-py worker until it is used again, so the pools
can pin every worker while new connections wait in the listen queue.  The server
must cope whatever the proxy's sizing:

* an idle kept-alive connection never keeps a waiting connection from being served;
* a request whose client (the proxy) gave up while it waited in the queue is not
  given to the app: the access log shows it as 499;
* a stop closes idle kept-alive connections at once: it ends in well under
  --graceful-timeout, with no traceback logged.

Every test runs the repository's own example file (examples/nginx.conf,
apache.conf, haproxy.cfg) with only its addresses replaced (and, where it says
so, a proxy timeout shortened so a failure shows in seconds, not a minute), and
starlet-py with the options of the README's recipe for that proxy.
"""

from __future__ import annotations

import http.client
import re
import shlex
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.integration.loadgen import LoadLoop, Supervised
from tests.integration.test_nginx import (
    behind_nginx,
)
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
EXAMPLE_UPSTREAM = "127.0.0.1:5000"


# -- the README's recipes ----------------------------------------------------------


def readme_options(heading: str) -> list[str]:
    """The options of the first ``starlet-py`` command in README.md after ``heading``,
    without its ``--listen`` and ``--socket-group`` (the tests pass their own) and the app:
    the tests run exactly the recipe the README gives."""
    text = README.read_text()
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


def upstream_port(prefix: Path) -> int:
    """starlet-py's TCP port in the example nginx runs under ``prefix``."""
    return int(re.findall(r"server 127\.0\.0\.1:(\d+);", (prefix / "starlet-py.conf").read_text())[0])


def tcp_established(port: int) -> int:
    """TCP connections whose local port is ``port``, established (accepted or queued)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def timed_get(port: int, path: str, timeout: float) -> tuple[float, str]:
    """One GET on a new connection: (seconds until the whole answer, '' or what failed)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        error = "" if resp.status == 200 and body else f"status {resp.status}: {body[:100]!r}"
    except (OSError, http.client.HTTPException) as e:
        error = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    return time.monotonic() - started, error


def stop_clean(server: Supervised, within: float) -> None:
    """TERM ``server`` (starlet-py or its supervisor): it exits 0 within ``within``
    seconds, with no traceback and no stuck worker in its log."""
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        rc = server.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - started
    log = server.log()
    print(f"\n[stop] exited {rc} after {took:.2f}s")
    assert rc == 0, log[-3000:]
    assert took < within, f"the stop took {took:.2f}s:\n{log[-3000:]}"
    assert "Traceback" not in log and "still running" not in log, log[-3000:]


# -- 3. nginx: more pooled connections than workers --------------------------------

NGINX_WORKERS = 8  # what worker_processes auto gives on an 8-core machine
CLIENTS = 24
LOAD_SECONDS = 8.0


def test_nginx_pools_larger_than_the_pool_of_workers(tmp_path: Path, public: Path) -> None:
    """The README's command behind examples/nginx.conf on 8 nginx workers: up to 4 x 8
    idle connections per upstream for 16 workers.  24 keep-alive clients for 8 s
    through the pooled location: none may time out (5 s) or fail.  Then, with the
    load stopped and the pools full of idle connections, requests through the
    location without a pool, fewer at once than there are workers, are each
    answered in under 1 s (on a starved server they wait for nginx's upstream
    keepalive_timeout, 30 s)."""
    options, workers = without_workers(readme_options("**Behind nginx**"))
    nginx_run = behind_nginx(tmp_path, public, args=options, workers=workers, nginx_workers=NGINX_WORKERS)
    with nginx_run as (_, _, ports, prefix):
        upstream = upstream_port(prefix)
        connect = lambda: socket.create_connection(("127.0.0.1", ports[0]), timeout=5)  # noqa: E731
        load = LoadLoop(
            connect, close_threads=0, keepalive_threads=CLIENTS, max_seconds=LOAD_SECONDS, timeout=5.0
        )
        load.start()
        wait_for(lambda: not load.running(), LOAD_SECONDS + 5, "the load's end")
        stats = load.stop()
        pooled = tcp_established(upstream)
        print(f"\n[nginx x{NGINX_WORKERS}] {stats.summary()}; connections to starlet-py after: {pooled}")
        assert stats.failures == [], stats.failures[:10]
        assert stats.retries == 0 and stats.ok == stats.sent > 1000

        # Nothing in flight now; the pools hold their idle connections.
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: timed_get(ports[2], "/gen?size=100", 3.0), range(40)))
        slowest = max(t for t, _ in results)
        print(f"[nginx x{NGINX_WORKERS}] unpooled after the load: slowest {slowest:.3f}s")
        assert [e for _, e in results if e] == []
        assert slowest < 1.0, sorted(t for t, _ in results)[-5:]
