"""Run the raw-request corpus against one running server, whole and byte by byte.

Every case in tests/requests/*.py is sent on a fresh connection twice: in one
``sendall``, and one byte per ``send`` (TCP_NODELAY on, so each byte is its own
segment and the server sees every possible split of the head).  The replies
are read in order and compared exactly (status; for the echo app's 200s, the
environ subset, the exact set of ``HTTP_*`` keys and the body's length and
SHA-1).  Then:

- ``keep`` cases: a probe request on the same connection must be answered as
  itself, so the connection is still open *and* in sync (nothing of the case
  was left over to be read as a request);
- the others: the server must close the connection with nothing after the
  last reply, which must carry ``Connection: close`` (RFC 9112 §9.6).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.requests import (
    body_length,
    chunks,
    fields,
    host,
    limits,
    pipelining,
    request_line,
    transfer_encoding,
)
from tests.requests.cases import ANY, PORT, Case, Reply
from tests.support import Reader, Response, Server, Stalled, parse_response, running

CASES: list[Case] = [
    *body_length.CASES,
    *transfer_encoding.CASES,
    *fields.CASES,
    *request_line.CASES,
    *chunks.CASES,
    *pipelining.CASES,
    *host.CASES,
    *limits.CASES,
]
MODES = ("whole", "bytewise")
READ_TIMEOUT = 5.0  # a reply must come within this; the server's own limits are longer
CLOSE_TIMEOUT = 2.0  # after the last reply, the close must come within this
PROBE = b"GET /__probe__ HTTP/1.1\r\nHost: probe\r\n\r\n"
ARGS = (
    "--max-keepalive-reqs",
    "100",
    "--keepalive-timeout",
    "30",
    "--timeout",
    "20",
    "--max-reqs-per-child",
    "0",
)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running("corpus_app:application", ARGS, workers=2) as s:
        yield s


def send(sock: socket.socket, data: bytes, mode: str) -> str | None:
    """Send ``data``; a failure (the server closed early) is returned, not raised."""
    try:
        if mode == "whole":
            sock.sendall(data)
        else:
            view = memoryview(data)
            for i in range(len(view)):
                sock.sendall(view[i : i + 1])
    except OSError as e:
        return f"send stopped early ({e.__class__.__name__})"
    return None


def check_reply(resp: Response, want: Reply, port: int, n: int) -> list[str]:
    """Differences between a reply and its expectation, as readable lines."""
    where = f"reply {n}"
    if resp.status != want.status:
        return [f"{where}: status {resp.status}, want {want.status}  [{resp.body[:160]!r}]"]
    if want.status != 200 or not want.env:
        return []
    if want.head:
        return [] if resp.body == b"" else [f"{where}: HEAD response with a body"]
    got: dict[str, Any] = json.loads(resp.body)
    problems = []
    for key, value in want.env.items():
        if value is None:
            if key in got:
                problems.append(f"{where}: {key} present ({_short(got[key])}), want absent")
        elif value == ANY:
            if key not in got:
                problems.append(f"{where}: {key} absent, want present")
        else:
            value = value.replace(PORT, str(port))
            if got.get(key) != value:
                problems.append(f"{where}: {key} = {_short(got.get(key))}, want {_short(value)}")
    want_http = {k for k, v in want.env.items() if k.startswith("HTTP_") and v is not None}
    got_http = {k for k in got if k.startswith("HTTP_")}
    if got_http != want_http:
        extra, missing = sorted(got_http - want_http), sorted(want_http - got_http)
        problems.append(f"{where}: HTTP_* keys differ: unexpected {extra}, missing {missing}")
    if want.body is not None and (got["body_length"], got["body_sha1"]) != (len(want.body), want.body_sha1):
        problems.append(f"{where}: body read by the app: {got['body_length']} bytes, want {len(want.body)}")
    return problems


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"...({len(text)} chars)"


def run_case(server: Server, case: Case, mode: str) -> list[str]:
    """Send one case; return every way the server's answer differs from the expectation."""
    problems: list[str] = []
    with socket.create_connection((server.host, server.port), timeout=READ_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sent = send(sock, case.raw, mode)
        reader = Reader(sock)
        last: Response | None = None
        try:
            for n, want in enumerate(case.replies, 1):
                resp = reader.read_final_response(want.head)
                if resp is None:
                    problems.append(f"reply {n}: connection closed, want status {want.status}")
                    return problems
                problems += check_reply(resp, want, server.port, n)
                last = resp
            if case.keep:
                try:
                    sock.sendall(PROBE)
                except OSError as e:
                    problems.append(f"connection closed after the replies ({e}); want it kept open")
                    return problems
                probe = reader.read_final_response()
                if probe is None:
                    problems.append("connection closed after the replies; want it kept open")
                elif probe.status != 200 or json.loads(probe.body).get("PATH_INFO") != "/__probe__":
                    problems.append(f"connection out of sync: the probe got {probe!r}")
            else:
                sock.settimeout(CLOSE_TIMEOUT)
                try:
                    rest = reader.read_to_eof()
                except Stalled:
                    problems.append(
                        f"connection still open {CLOSE_TIMEOUT}s after the last reply; want it closed"
                    )
                    return problems
                if rest:
                    problems.append(f"bytes after the last reply (want close): {rest[:200]!r}")
                if last is not None and "close" not in (last.header("connection") or "").lower():
                    problems.append("last reply lacks Connection: close (RFC 9112 §9.6 SHOULD)")
        except Stalled:
            problems.append(
                f"no reply within {READ_TIMEOUT}s: the server waits for more input (send: {sent or 'ok'})"
            )
    return problems


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(server: Server, case: Case, mode: str) -> None:
    problems = run_case(server, case, mode)
    assert not problems, f"{case.id} [{mode}] ({case.ref}):\n  " + "\n  ".join(problems)


def test_corpus_shape() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len(CASES) >= 80
    assert all(c.ref for c in CASES)
    assert sum(c.valid for c in CASES) >= 30 and sum(not c.valid for c in CASES) >= 30


def test_server_survived_the_corpus(server: Server) -> None:
    """After every case: the same pool serves, and no internal error was logged."""
    assert len(server.workers()) == 2
    log = server.log()
    assert "internal error" not in log, log[-3000:]
    resp = parse_response(server.raw(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert resp.status == 200
