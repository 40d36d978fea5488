"""--warmup with the real starlet-py: the warm-up request runs once, in the master,
before the fork (its effect is inherited by every worker); a bad one is exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.integration.proctools import run_cli
from tests.integration.test_cli import one_line_error
from tests.support import Server

APP = "warmup_app:application"
MakeServer = Callable[..., Server]


def state(server: Server) -> dict[str, object]:
    resp = server.get("/state")
    assert resp.status == 200, resp
    result: dict[str, object] = json.loads(resp.body)
    return result


def test_warmup_runs_once_in_the_master_before_the_fork(make_server: MakeServer) -> None:
    server = make_server(APP, ["--warmup", "/warm"], workers=2)
    workers = server.workers()
    seen = [state(server) for _ in range(4)]
    for s in seen:
        assert s["warmed"] == [server.pid]  # once, in the master: inherited by the fork
        assert s["pid"] in workers and s["pid"] != server.pid


def test_warmup_paths_run_in_order_each_once(make_server: MakeServer) -> None:
    server = make_server(APP, ["--warmup", "/warm", "--warmup", "/state", "--warmup", "/warm"], workers=1)
    assert state(server)["warmed"] == [server.pid, server.pid]


def test_without_warmup_nothing_runs_before_a_request(make_server: MakeServer) -> None:
    server = make_server(APP, workers=1)
    assert state(server)["warmed"] == []


def test_prewarming_never_reaches_the_app_or_the_access_log(make_server: MakeServer) -> None:
    # The master prewarms the request path with a built-in app (starlet_py/prewarm.py).
    server = make_server(APP, ["--access-log", "-"], workers=1)
    assert state(server)["calls"] == 1  # the worker's first request is the app's first
    assert state(server)["calls"] == 2
    lines = [line for line in server.log().splitlines() if '"GET ' in line]
    assert len(lines) == 2 and all('"GET /state HTTP/1.1" 200' in line for line in lines), lines


def test_warmup_with_no_fork_runs_in_the_serving_process(make_server: MakeServer) -> None:
    server = make_server(APP, ["--max-workers", "0", "--warmup", "/warm"], workers=None)
    s = state(server)
    assert s["warmed"] == [server.pid] and s["pid"] == server.pid


def test_warmup_404_exits_2_with_one_line() -> None:
    line = one_line_error(run_cli(["--warmup", "/missing", APP]))
    assert line == "starlet-py: error: --warmup /missing: status 404 Not Found, expected 2xx"


def test_warmup_exception_exits_2_with_one_line() -> None:
    line = one_line_error(run_cli(["--warmup", "/boom", APP]))
    assert line == "starlet-py: error: --warmup /boom: the app raised RuntimeError: boom at warm-up"


def test_warmup_bad_path_exits_2_with_one_line() -> None:
    line = one_line_error(run_cli(["--warmup", "warm", APP]))
    assert line == "starlet-py: error: --warmup must be /PATH or http://HOST/PATH, got 'warm'"


def test_help_lists_warmup() -> None:
    result = run_cli(["--help"])
    assert result.returncode == 0
    assert "--warmup PATH" in result.stdout
