"""--access-log: one line per answered request (also the server's own 4xx/500 and responses
cut short), its size the body bytes actually sent; the combined and json formats escape what
a client sends; a bad path is refused up front."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

from tests.support import APPS, Server, parse_response, read_all, starlet_command, wait_for

CLF = re.compile(r'^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "(.*)" (\d{3}) (\S+)$')


def test_access_log_has_one_common_log_line_per_request(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    server = Server("procs:application", ["--access-log", str(path)], workers=1)
    try:
        assert server.get("/pid").status == 200
        assert server.get("/nope?x=1").status == 404
        wait_for(lambda: path.exists() and len(path.read_text().splitlines()) == 2, what="two log lines")
    finally:
        assert server.stop() == 0
    lines = path.read_text().splitlines()
    parsed = [CLF.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m.group(1), m.group(2)) for m in parsed if m] == [
        ("GET /pid HTTP/1.1", "200"),
        ("GET /nope?x=1 HTTP/1.1", "404"),
    ]
    assert [m.group(3) for m in parsed if m][1] == str(len(b"not found"))


def test_unwritable_access_log_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "no-such-dir" / "access.log"
    run = subprocess.run(
        [*starlet_command(), "--access-log", str(bad), "--listen", "127.0.0.1:0", "procs:application"],
        cwd=APPS, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "--access-log" in run.stderr, run.stderr


def _lines(path: Path, n: int) -> list[str]:
    """The log's lines once there are ``n`` of them (a worker writes each as it answers)."""
    wait_for(lambda: path.exists() and len(path.read_text().splitlines()) >= n, what=f"{n} log lines")
    lines = path.read_text().splitlines()
    assert len(lines) == n, lines
    return lines


def _clf(lines: list[str]) -> list[tuple[str, str, str]]:
    parsed = [CLF.match(line) for line in lines]
    assert all(parsed), lines
    return [(m.group(1), m.group(2), m.group(3)) for m in parsed if m]


def test_size_is_the_body_bytes_actually_sent(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    server = Server("logged:application", ["--access-log", str(path)], workers=1)
    try:
        head = server.raw(b"HEAD /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resp = parse_response(head, head_only=True)
        assert (resp.status, resp.header("content-length")) == (200, "3000000")
        assert head.endswith(b"\r\n\r\n")  # no body byte went out
        resp = server.get("/chunked")
        assert (resp.header("transfer-encoding"), len(resp.body)) == ("chunked", 3000)
        # Announced 10000, 1000 sent, then the app raised: the server can only close.
        cut = server.raw(b"GET /cut HTTP/1.1\r\nHost: x\r\n\r\n")
        assert parse_response(cut, head_only=True).header("content-length") == "10000"
        assert cut.partition(b"\r\n\r\n")[2] == b"c" * 1000
        assert server.get("/raise").status == 500
        lines = _lines(path, 4)
    finally:
        assert server.stop() == 0
    assert _clf(lines) == [
        ("HEAD /big HTTP/1.1", "200", "-"),  # not the 3000000 announced
        ("GET /chunked HTTP/1.1", "200", "3000"),  # the body, without chunk framing
        ("GET /cut HTTP/1.1", "200", "1000"),  # what went out before the app failed
        ("GET /raise HTTP/1.1", "500", str(len(b"500 Internal Server Error\n"))),
    ]


def test_answers_the_server_makes_itself_are_logged(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    requests = [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: something\r\n\r\n",
    ]
    server = Server("logged:application", ["--access-log", str(path)], workers=1)
    try:
        statuses = [parse_response(server.raw(r)).status for r in requests]
        lines = _lines(path, len(requests))
    finally:
        assert server.stop() == 0
    assert statuses == [400, 431, 501, 417]
    big = b"431 Request Header Fields Too Large: over 8192 bytes, 100 fields or 65536 bytes of fields\n"
    assert _clf(lines) == [
        ("-", "400", str(len(b"400 Bad Request: invalid method\n"))),
        ("-", "431", str(len(big))),
        # Refused once the head was parsed: the request line is logged.
        ("POST / HTTP/1.1", "501", str(len(b"501 Not Implemented: transfer coding other than chunked\n"))),
        ("PUT / HTTP/1.1", "417", str(len(b"417 Expectation Failed: unknown expectation\n"))),
    ]


def test_combined_format_adds_referer_agent_and_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    agent = 'bad"agent\\ "-" 1'
    args = ["--access-log", str(path), "--access-log-format", "combined"]
    server = Server("logged:application", args, workers=1)
    try:
        assert server.get("/x", f"Referer: http://r/\r\nUser-Agent: {agent}\r\n").status == 200
        assert server.get("/y").status == 200
        lines = _lines(path, 2)
    finally:
        assert server.stop() == 0
    tail = re.compile(r'^(.*) "(.*)" "(.*)" (\d+)$')
    first, second = (tail.match(line) for line in lines)
    assert first and second, lines
    assert _clf([first.group(1), second.group(1)]) == [
        ("GET /x HTTP/1.1", "200", "2"),
        ("GET /y HTTP/1.1", "200", "2"),
    ]
    assert (first.group(2), first.group(3)) == ("http://r/", 'bad\\"agent\\\\ \\"-\\" 1')
    assert (second.group(2), second.group(3)) == ("-", "-")


def test_json_format_round_trips_hostile_fields(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    agent = 'x"}, "status": 999, "y": {"\\'
    args = ["--access-log", str(path), "--access-log-format", "json"]
    server = Server("logged:application", args, workers=1)
    try:
        assert server.get("/q?a=%22%7D", f"User-Agent: {agent}\r\nReferer: {agent}\r\n").status == 200
        assert server.get("/chunked").status == 200
        lines = _lines(path, 2)
    finally:
        assert server.stop() == 0
    first, second = (json.loads(line) for line in lines)
    assert {k: first[k] for k in ("remote", "request", "status", "bytes", "referer", "user_agent")} == {
        "remote": "127.0.0.1", "request": "GET /q?a=%22%7D HTTP/1.1", "status": 200, "bytes": 2,
        "referer": agent, "user_agent": agent,
    }  # fmt: skip
    assert isinstance(first["duration"], float) and first["duration"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert (second["request"], second["bytes"], second["referer"], second["user_agent"]) == (
        "GET /chunked HTTP/1.1", 3000, None, None,
    )  # fmt: skip


def test_unix_socket_client_is_logged_as_a_dash(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    sock_path = tmp_path / "s.sock"
    proc = subprocess.Popen(
        [*starlet_command(), "--listen", str(sock_path), "--max-workers", "1", "--access-log", str(path),
         "logged:application"],
        cwd=APPS, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(sock_path.exists, what="the unix socket")
        with socket.socket(socket.AF_UNIX) as s:
            wait_for(lambda: s.connect_ex(str(sock_path)) == 0, what="a connection")
            s.sendall(b"GET /u HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert parse_response(read_all(s)).status == 200
        lines = _lines(path, 1)
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    assert re.fullmatch(r'- - - \[[^]]+\] "GET /u HTTP/1\.1" 200 2', lines[0]), lines


def test_a_refused_request_says_why_in_its_body_the_error_log_and_the_access_log(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    server = Server("procs:application", ["--access-log", str(log), "--max-request-body", "10"], workers=1)
    try:
        big = b"POST /upload?x=1 HTTP/1.1\r\nHost: h\r\nCookie: secret\r\nContent-Length: 100\r\n\r\n"
        answer = parse_response(server.raw(big))
        assert (answer.status, answer.body) == (
            413,
            b"413 Content Too Large: Content-Length over --max-request-body (10)\n",
        )
        noline = parse_response(server.raw(b"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n"))
        assert (noline.status, noline.body) == (400, b"400 Bad Request: Invalid char in url path\n")
        wait_for(lambda: log.read_text().count("\n") >= 2, what="two access log lines")
        lines = log.read_text().splitlines()
        assert lines[0].endswith('"POST /upload?x=1 HTTP/1.1" 413 67'), lines
        assert lines[1].endswith('"-" 400 42'), lines
        errors = server.log()
        why = "413 Content-Length over --max-request-body (10)"
        assert f'refused 127.0.0.1: {why} "POST /upload?x=1 HTTP/1.1"\n' in errors, errors
        assert "refused 127.0.0.1: 400 Invalid char in url path\n" in errors
        assert "secret" not in errors
    finally:
        server.stop()
