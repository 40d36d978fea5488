"""Shared pytest fixtures; the helpers themselves live in tests/support.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Server


@pytest.fixture
def make_server() -> Iterator[type[Server]]:
    """Factory: ``make_server(app, args, ...)``; every server started is stopped after."""
    started: list[Server] = []

    def factory(*a, **kw):  # type: ignore[no-untyped-def]
        server = Server(*a, **kw)
        started.append(server)
        return server

    yield factory  # type: ignore[misc]
    for server in started:
        server.stop()
