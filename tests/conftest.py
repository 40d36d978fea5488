"""Shared pytest fixtures; the helpers themselves live in tests/support.py."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def public() -> Iterator[Path]:
    """A directory nginx's unprivileged workers may enter (tmp_path's parents are
    private): it holds nginx's prefix (temp files) and the socket's directory."""
    path = Path(tempfile.mkdtemp(prefix="starlet-nginx-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
