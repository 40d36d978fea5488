"""Real frameworks served by starlet-py: Flask, Django, Falcon (the `test` extra).

Each app lives in tests/apps/ and runs in a real starlet-py started by the Server
helper; every answer is checked exactly.  A missing framework skips its tests,
except under CI=true, where it fails (as need_program does for programs).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import IN_CI, Response, Server, parse_response, read_all

MakeServer = Callable[..., Server]


def need_framework(name: str) -> None:
    """Skip without ``name`` installed; fail under CI=true, where the extra must be there."""
    try:
        importlib.import_module(name)
    except ImportError:
        msg = f"{name} is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def call(
    server: Server, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Response:
    """One request on its own connection, with Content-Length when there is a body."""
    lines = [f"{method} {target} HTTP/1.1", "Host: app.test", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return parse_response(server.raw(head + body), head_only=method == "HEAD")


def as_json(resp: Response) -> Any:
    return json.loads(resp.body)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = "starlet-py-boundary-7d3f"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, ctype, data) in files.items():
        disposition = f'form-data; name="{name}"; filename="{filename}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n"
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# -- Flask ---------------------------------------------------------------------


@pytest.fixture
def flask_server(make_server: MakeServer) -> Iterator[Server]:
    need_framework("flask")
    yield make_server("flask_app:app")


def test_flask_routing(flask_server: Server) -> None:
    resp = call(flask_server, "GET", "/")
    assert (resp.status, resp.header("content-type"), resp.body) == (
        200,
        "text/html; charset=utf-8",
        b"hello from flask",
    )
    resp = call(flask_server, "GET", "/users/7?q=a%20b")
    assert (resp.status, resp.header("content-type")) == (200, "application/json")
    assert as_json(resp) == {"id": 7, "name": "user7", "query": "a b"}
    assert call(flask_server, "GET", "/users/seven").status == 404
    assert call(flask_server, "POST", "/users/7").status == 405
    head = call(flask_server, "HEAD", "/")
    assert (head.status, head.header("content-length"), head.body) == (200, "16", b"")


def test_flask_json(flask_server: Server) -> None:
    body = json.dumps({"numbers": [1, 2, 3, 40]}).encode()
    resp = call(flask_server, "POST", "/sum", body, {"Content-Type": "application/json"})
    assert resp.status == 200
    assert as_json(resp) == {"numbers": [1, 2, 3, 40], "total": 46}
    # Not JSON: Werkzeug refuses with 415 before the view runs.
    assert call(flask_server, "POST", "/sum", b"x", {"Content-Type": "text/plain"}).status == 415


def test_flask_file_upload(flask_server: Server) -> None:
    data = bytes(range(256)) * 1000  # 256,000 bytes, every byte value
    body, ctype = multipart({"note": "monthly"}, {"file": ("report.bin", "application/octet-stream", data)})
    resp = call(flask_server, "POST", "/upload", body, {"Content-Type": ctype})
    assert resp.status == 200, resp
    assert as_json(resp) == {
        "filename": "report.bin",
        "content_type": "application/octet-stream",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "note": "monthly",
    }


def test_flask_streamed_response(flask_server: Server) -> None:
    resp = call(flask_server, "GET", "/stream?n=50")
    assert resp.status == 200
    assert resp.header("content-type") == "text/plain; charset=utf-8"
    # A generator: no length known, so the server frames it with chunks.
    assert (resp.header("transfer-encoding"), resp.header("content-length")) == ("chunked", None)
    assert resp.body == "".join(f"line {i} of 50\n" for i in range(50)).encode()


def test_flask_passing_on_hop_by_hop_headers_gets_its_answer_without_them(flask_server: Server) -> None:
    resp = call(flask_server, "GET", "/relay")
    assert (resp.status, resp.body, resp.header("x-upstream")) == (200, b"relayed", "yes")
    assert resp.header("keep-alive") is None
    assert resp.header_all("connection") == ["close"]  # ours: call() asks for it


def test_flask_reading_a_chunked_body_over_the_limit_gets_413_not_500(make_server: MakeServer) -> None:
    # Flask catches what wsgi.input.read() raises and answers 500; the server's 413 wins.
    server = make_server("flask_app:app", ["--max-request-body", "4096"], workers=1)
    boundary = "b0undary"
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
    body = part.encode() + b"x" * 65536 + f"\r\n--{boundary}--\r\n".encode()
    with server.connect() as conn:
        conn.sendall(
            b"POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\nContent-Type: multipart/form-data; boundary="
            + boundary.encode()
            + b"\r\n\r\n"
        )
        assert conn.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"  # the app is reading now
        try:
            for i in range(0, len(body), 1024):
                conn.sendall(b"%x\r\n%b\r\n" % (len(body[i : i + 1024]), body[i : i + 1024]))
            conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may close its side first; the answer is already on its way
        resp = parse_response(read_all(conn))
    assert resp.status == 413
    assert (
        resp.body
        == b"413 Content Too Large: refused request body: chunked body over --max-request-body (4096)\n"
    )
    assert "refused 127.0.0.1: 413 refused request body" in server.log()


# -- Django --------------------------------------------------------------------


@pytest.fixture
def django_server(make_server: MakeServer) -> Iterator[Server]:
    need_framework("django")
    yield make_server("django_app:application")


def test_django_view(django_server: Server) -> None:
    resp = call(django_server, "GET", "/hello/world")
    assert (resp.status, resp.header("content-type"), resp.body) == (200, "text/plain", b"hello world")
    resp = call(django_server, "GET", "/hello/caf%C3%A9")
    assert resp.body == "hello café".encode()  # PATH_INFO carried as latin-1, decoded by Django
    resp = call(django_server, "GET", "/nowhere")
    assert (resp.status, resp.header("content-type")) == (404, "text/html; charset=utf-8")
    assert b"<title>Not Found</title>" in resp.body


def test_django_form_post_without_csrf_token(django_server: Server) -> None:
    body = b"name=Ada+Lovelace&color=red&color=blue%2Fgreen"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = call(django_server, "POST", "/form", body, headers)
    assert (resp.status, resp.header("content-type")) == (200, "application/json")
    assert as_json(resp) == {
        "name": "Ada Lovelace",
        "colors": ["red", "blue/green"],
        "host": "app.test",
        "secure": False,
    }
    resp = call(django_server, "GET", "/form")
    assert (resp.status, resp.body) == (405, b"POST only")


# -- Falcon --------------------------------------------------------------------


@pytest.fixture
def falcon_server(make_server: MakeServer) -> Iterator[Server]:
    need_framework("falcon")
    yield make_server("falcon_app:application")


def test_falcon_resources(falcon_server: Server) -> None:
    resp = call(falcon_server, "GET", "/things?limit=2")
    assert (resp.status, resp.header("content-type")) == (200, "application/json")
    assert as_json(resp) == {"things": [{"id": 1}, {"id": 2}]}

    body = json.dumps({"name": "widget", "tags": ["a", "b"]}).encode()
    resp = call(falcon_server, "POST", "/things", body, {"Content-Type": "application/json"})
    assert (resp.status, resp.reason, resp.header("location")) == (201, "Created", "/things/42")
    assert as_json(resp) == {"id": 42, "name": "widget", "tags": ["a", "b"]}

    resp = call(falcon_server, "GET", "/things/5")
    assert (resp.status, as_json(resp)) == (200, {"id": 5, "kind": "int"})


def test_falcon_errors(falcon_server: Server) -> None:
    resp = call(falcon_server, "GET", "/things/five")  # the int converter does not match
    assert (resp.status, as_json(resp)) == (404, {"title": "404 Not Found"})
    resp = call(falcon_server, "POST", "/things", b"{bad", {"Content-Type": "application/json"})
    assert resp.status == 400
    assert as_json(resp)["title"] == "Invalid JSON"
    resp = call(falcon_server, "DELETE", "/things")
    assert resp.status == 405
    assert resp.header("allow") == "GET, POST, OPTIONS"
