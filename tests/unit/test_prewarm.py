"""prewarm: the server's request path run in the master with its built-in app."""

from __future__ import annotations

import gc
import time

import pytest

from starlet_py import prewarm as pw
from starlet_py.config import Config

APP = "tests:app"
ALL = pw.CONNECTIONS * len(pw.REQUESTS)  # 260


@pytest.mark.parametrize("keepalive", [1, 2, 10, 100])
def test_every_request_is_answered_200(keepalive: int) -> None:
    # One request per connection by default; pipelined up to --max-keepalive-reqs.
    assert pw.prewarm(Config(app=APP, max_keepalive_reqs=keepalive), []) == ALL


def test_it_leaves_no_cyclic_garbage() -> None:
    # The master runs with the collector off until gc.freeze(): a cycle would stay for good.
    pw.prewarm(Config(app=APP), [], 1)
    gc.collect()
    gc.disable()
    try:
        assert pw.prewarm(Config(app=APP, max_keepalive_reqs=100), []) == ALL
        assert pw.prewarm(Config(app=APP), []) == ALL
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_a_failure_is_never_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(pw.socket, "socketpair", broken)
    assert pw.prewarm(Config(app=APP), []) == 0


@pytest.mark.parametrize("keepalive", [1, 100])
def test_refusals_under_small_limits_never_hold_it(keepalive: int) -> None:
    # Its POSTs get 413 and its long target 414; every connection still ends at once (a
    # refusal's lingering close waits for the client's end of file, 2 s each, if it never
    # comes), so the master reaches its first fork.
    config = Config(app=APP, max_keepalive_reqs=keepalive, max_request_body=10, limit_request_line=20)
    t0 = time.monotonic()
    answered = pw.prewarm(config, [])
    assert 0 < answered < ALL
    assert time.monotonic() - t0 < 2  # a single wait for an end of file would take LINGER_TIME
