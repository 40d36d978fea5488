"""prewarm: the server's request path run in the master with its built-in app."""

from __future__ import annotations

import gc

import pytest

from starlet_py import prewarm as pw
from starlet_py.config import Config
from starlet_py.connection import Connection
from starlet_py.protocol import Protocol
from starlet_py.response import Response
from starlet_py.worker import Worker
from starlet_py.writer import Writer
from starlet_py.wsgi import build

APP = "tests:app"


@pytest.mark.parametrize("keepalive", [1, 10, 100])
def test_every_request_is_answered_200(keepalive: int) -> None:
    # One request per connection by default; pipelined up to --max-keepalive-reqs.
    assert pw.prewarm(Config(app=APP, max_keepalive_reqs=keepalive), []) == 200


def test_it_leaves_no_cyclic_garbage() -> None:
    # The master runs with the collector off until gc.freeze(): a cycle would stay for good.
    pw.prewarm(Config(app=APP), [], 1)
    gc.collect()
    gc.disable()
    try:
        assert pw.prewarm(Config(app=APP, max_keepalive_reqs=100), []) == 200
        assert pw.prewarm(Config(app=APP), []) == 200
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_a_failure_is_never_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(pw.socket, "socketpair", broken)
    assert pw.prewarm(Config(app=APP), []) == 0


def test_the_request_path_runs_on_packed_copies_of_its_code() -> None:
    pw.prewarm(Config(app=APP), [], 1)
    kept = {c.co_qualname: c for c in pw._KEPT}
    for f in (Connection.serve, Connection._handle, Protocol.feed, Protocol.on_headers_complete,
              Response.head, Writer.send, build, Worker._serve):  # fmt: skip
        original = kept[f.__code__.co_qualname]
        assert f.__code__ is not original and f.__code__ == original  # a copy, equal

    # Copied in the order of their first call (what the copies' layout follows; the pages
    # a worker then writes are bench/run.py's mem16 to measure, not a test's).
    order = [c.co_qualname for c in pw._KEPT]
    path = ["Connection.serve", "Protocol.feed", "Protocol.on_headers_complete", "Connection._handle",
            "build", "Response.head", "Writer.send"]  # fmt: skip
    assert [order.index(name) for name in path] == sorted(order.index(name) for name in path)
