"""Plack::Test::Suite, ported to WSGI: the 36 cases every PSGI server runs.

One test per case, named after it (Plack 1.0050, Plack/Test/Suite.pm), against one real
``starlet-py --max-workers 1`` serving tests/apps/conformance.py under
``wsgiref.validate``.  Every request is raw HTTP/1.1 on a loopback socket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.helpers import (
    APP,
    TIMEOUT,
    fetch,
    fetch_json,
    make_data,
    request,
)
from tests.support import APPS, Server, running, split_response, wait_for


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("plack-suite-data"))


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[Server]:
    with running(APP, workers=1, env={"CONFORMANCE_DATA": str(data_dir)}) as s:
        yield s


def host_of(server: Server) -> str:
    return f"127.0.0.1:{server.port}"


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


# -- environ -----------------------------------------------------------------


def test_script_name_empty(server: Server) -> None:
    env = fetch_json(server, "GET", "/env/a/b")
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/env/a/b"


def test_script_name_defined(server: Server) -> None:
    env = fetch_json(server, "GET", "/env")
    assert "SCRIPT_NAME" in env
    assert isinstance(env["SCRIPT_NAME"], str)


def test_validate_env(server: Server) -> None:
    expected = (
        "REQUEST_METHOD:GET\nPATH_INFO:/foo/\nQUERY_STRING:dankogai=kogaidan\n"
        "SERVER_NAME:{name}\nSERVER_PORT:{port}\n"
    )
    path = "/foo/?dankogai=kogaidan"
    hdr = {"X-Case": "validate_env"}
    port = str(server.port)
    # SERVER_NAME / SERVER_PORT come from Host when it is sent ...
    resp = fetch(server, "GET", path, headers=hdr, host=host_of(server))
    assert (resp.status, resp.reason) == (200, "OK")
    assert resp.header("content-type") == "text/plain"
    assert resp.body.decode() == expected.format(name="127.0.0.1", port=port)
    # ... http's port when Host names none (as gunicorn gives it) ...
    resp = fetch(server, "GET", path, headers=hdr, host="example.test")
    assert resp.body.decode() == expected.format(name="example.test", port="80")
    # ... and both from the listener without Host (HTTP/1.0).
    resp = fetch(server, "GET", path, headers=hdr, host=None, version="HTTP/1.0")
    assert resp.status == 200, resp
    assert resp.body.decode() == expected.format(name="127.0.0.1", port=port)


def test_server_protocol_is_required(server: Server) -> None:
    for version in ("HTTP/1.1", "HTTP/1.0"):
        env = fetch_json(server, "GET", "/env/?dankogai=kogaidan", version=version)
        assert env["SERVER_PROTOCOL"] == version


def test_psgi_url_scheme(server: Server) -> None:
    resp = fetch(server, "POST", "/url_scheme", headers={"Content-Length": "0"})
    assert (resp.status, resp.header("content-type"), resp.body) == (200, "text/plain", b"http")


def test_has_errors(server: Server) -> None:
    resp = fetch(server, "GET", "/has_errors")
    assert (resp.status, resp.body) == (200, b"1")


def test_handle_http_header(server: Server) -> None:
    resp = fetch(server, "GET", "/header?key=HTTP_FOO", headers={"Foo": "Bar"})
    assert (resp.status, resp.header("content-type")) == (200, "text/plain")
    assert (resp.header("x-exists"), resp.body) == ("1", b"Bar")


def test_handle_http_cookie(server: Server) -> None:
    resp = fetch(server, "GET", "/header?key=HTTP_COOKIE", headers={"Cookie": "foo"})
    assert (resp.status, resp.header("x-exists"), resp.body) == (200, "1", b"foo")


def test_do_not_set_env_cookie(server: Server) -> None:
    resp = fetch(server, "GET", "/cookie", headers={"Cookie": "foo=bar"})
    assert (resp.status, resp.header("x-cookie"), resp.body) == (200, "0", b"foo=bar")


def test_multi_headers_request(server: Server) -> None:
    hdrs = [("Foo", "bar"), ("Foo", "baz")]
    resp = fetch(server, "GET", "/header?key=HTTP_FOO", headers=hdrs)
    assert (resp.status, resp.body) == (200, b"bar, baz")


def test_big_header_value(server: Server) -> None:
    value = "abcdefgh" * 16
    resp = fetch(server, "GET", "/header?key=HTTP_X_FOO", headers={"X-Foo": value})
    assert (resp.status, resp.reason, resp.body) == (200, "OK", value.encode())


def test_handle_authorization_header(server: Server) -> None:
    hdr = {"Authorization": "Basic XXXX"}
    resp = fetch(server, "GET", "/header?key=HTTP_AUTHORIZATION", headers=hdr)
    assert (resp.header("x-exists"), resp.body) == ("1", b"Basic XXXX")
    resp = fetch(server, "GET", "/header?key=HTTP_AUTHORIZATION")
    assert (resp.header("x-exists"), resp.body) == ("0", b"(none)")


def test_request_uri_is_set(server: Server) -> None:
    target = "/foo/bar%20baz%73?x=a"
    env = fetch_json(server, "GET", target, headers={"X-Case": "request_uri"})
    assert env == {
        "REQUEST_URI": target,
        "RAW_URI": target,
        "PATH_INFO": "/foo/bar bazs",
        "QUERY_STRING": "x=a",
    }


# -- PATH_INFO decoding --------------------------------------------------------


def path_info_of(server: Server, target: str) -> tuple[int, bytes]:
    resp = fetch(server, "GET", target, headers={"X-Case": "path_info"})
    assert resp.header("content-type") == "text/plain", resp
    return resp.status, resp.body


def test_percent_encoding_in_path_info(server: Server) -> None:
    assert path_info_of(server, "/foo/bar%2cbaz") == (200, b"/foo/bar,baz")


def test_percent_double_encoding_in_path_info(server: Server) -> None:
    assert path_info_of(server, "/foo/bar%252cbaz") == (200, b"/foo/bar%2cbaz")


def test_percent_encoding_outside_uri_characters(server: Server) -> None:
    # The app writes PATH_INFO back as latin-1: the decoded bytes come back raw.
    assert path_info_of(server, "/foo%E3%81%82") == (200, b"/foo\xe3\x81\x82")
    env = fetch_json(server, "GET", "/foo%E3%81%82", headers={"X-Case": "env"})
    assert env["PATH_INFO"] == "/foo\xe3\x81\x82"
    assert env["REQUEST_URI"] == "/foo%E3%81%82"


def test_repeated_slashes(server: Server) -> None:
    assert path_info_of(server, "//foo///bar/baz") == (200, b"//foo///bar/baz")


# -- request bodies --------------------------------------------------------------


def test_get(server: Server) -> None:
    resp = fetch(server, "GET", "/hello?name=miyagawa", host=host_of(server))
    assert (resp.status, resp.reason) == (200, "OK")
    assert resp.header("content-type") == "text/plain"
    assert resp.body == b"Hello, name=miyagawa"


def test_post(server: Server) -> None:
    hdr = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = fetch(server, "POST", "/post", headers=hdr, body=b"name=tatsuhiko")
    assert resp.status == 200, resp
    assert resp.header("client-content-length") == "14"
    assert resp.header("client-content-type") == "application/x-www-form-urlencoded"
    assert resp.header("content-type") == "text/plain"
    assert resp.body == b"Hello, name=tatsuhiko"


def test_big_post(server: Server) -> None:
    chunk = b"abcdefgh" * 12000
    hdr = {"Content-Type": "application/octet-stream"}
    resp = fetch(server, "POST", "/echo", headers=hdr, body=chunk)
    assert resp.status == 200, resp
    assert resp.header("client-content-length") == "96000"
    assert len(resp.body) == 96000
    assert sha1(resp.body) == sha1(chunk)


def test_request_input_readable_twice(server: Server) -> None:
    # Not required in WSGI: a second read after the end returns b''.
    hdr = {"Content-Type": "text/plain"}
    env = fetch_json(server, "POST", "/input_twice", headers=hdr, body=b"body")
    assert env == {"first": "body", "second": "", "third": ""}


def test_request_content_on_get(server: Server) -> None:
    resp = fetch(server, "GET", "/empty_input")
    assert (resp.status, resp.body) == (200, b"OK")


# -- response bodies --------------------------------------------------------------


def test_return_glob(server: Server) -> None:
    resp = fetch(server, "GET", "/glob")
    assert (resp.status, resp.header("content-type")) == (200, "text/plain")
    assert resp.body == (APPS / "conformance.py").read_bytes()
    assert resp.body.startswith(b'"""The WSGI app behind tests/conformance')
    # No Content-Length from the app, an iterator of unknown length: chunked on 1.1.
    assert resp.header("content-length") is None
    assert resp.header("transfer-encoding") == "chunked"


def test_filehandle(server: Server, data_dir: Path) -> None:
    resp = fetch(server, "GET", "/file_plain?name=face.bin")
    assert (resp.status, resp.header("content-type")) == (200, "image/jpeg")
    assert resp.header("content-length") == "4745"
    assert resp.header("transfer-encoding") is None
    assert resp.body == (data_dir / "face.bin").read_bytes()


def test_bigger_file(server: Server, data_dir: Path) -> None:
    resp = fetch(server, "GET", "/file_plain?name=medium.bin")
    assert (resp.status, resp.header("content-length")) == (200, "14750")
    assert len(resp.body) == 14750
    assert sha1(resp.body) == sha1((data_dir / "medium.bin").read_bytes())


@pytest.mark.parametrize("name", ["face.bin", "kyoto.bin"])
def test_filehandle_with_path(server: Server, data_dir: Path, name: str) -> None:
    # wsgi.file_wrapper over a real file: the sendfile candidate.
    expected = (data_dir / name).read_bytes()
    resp = fetch(server, "GET", f"/file_wrapper?name={name}")
    assert (resp.status, resp.reason, resp.header("content-type")) == (200, "OK", "image/jpeg")
    assert resp.header("content-length") == str(len(expected))
    assert sha1(resp.body) == sha1(expected)


def test_call_close_after_read_iohandle_like(server: Server, data_dir: Path) -> None:
    marker = data_dir / "closed-plack1"
    resp = fetch(server, "GET", "/call_close?token=plack1")
    assert (resp.status, resp.body) == (200, b"1234")
    wait_for(marker.exists, timeout=TIMEOUT, what="close() of the body")
    assert marker.read_text() == "4"


def test_status_line(server: Server) -> None:
    raw = server.raw(request("GET", "/status_line?dankogai=kogaidan"), timeout=TIMEOUT)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw[:100]
    assert split_response(raw)[0].body == b"1"


def test_do_not_crash_when_the_app_dies(server: Server) -> None:
    before = server.workers()
    resp = fetch(server, "GET", "/die")
    assert (resp.status, resp.reason) == (500, "Internal Server Error")
    # The server, and even the worker, survive: the next request is served.
    resp = fetch(server, "GET", "/hello?after=die")
    assert (resp.status, resp.body) == (200, b"Hello, after=die")
    assert server.workers() == before

    def logged() -> str:
        text = server.log()
        return text if "Throwing an exception" in text else ""

    log = wait_for(logged, timeout=TIMEOUT, what="the traceback in the log")
    assert "Traceback" in log
    assert "GET /die" in log, "the traceback is logged with the request line"


def test_multi_headers_response(server: Server) -> None:
    resp = fetch(server, "GET", "/multi_headers")
    assert resp.status == 200, resp
    assert resp.header_all("x-foo") == ["foo", "bar, baz"]
    assert resp.body == b"hi"


def test_no_entity_headers_on_304(server: Server) -> None:
    raw = server.raw(request("GET", "/not_modified"), timeout=TIMEOUT)
    resp, rest = split_response(raw)
    assert (resp.status, resp.reason) == (304, "Not Modified")
    assert rest == b"", "a 304 has no body"
    for name in ("content-type", "content-length", "transfer-encoding"):
        assert resp.header(name) is None, (name, resp.headers)


def test_coderef_res(server: Server) -> None:
    # WSGI reading of a delayed response: a generator calling start_response lazily.
    resp = fetch(server, "GET", "/delayed?name=miyagawa")
    assert (resp.status, resp.reason, resp.header("content-type")) == (200, "OK", "text/plain")
    assert resp.body == b"Hello, name=miyagawa"


def test_coderef_streaming(server: Server) -> None:
    # WSGI reading of a streaming writer: the write() callable.
    resp = fetch(server, "GET", "/writer?name=miyagawa")
    assert (resp.status, resp.reason, resp.header("content-type")) == (200, "OK", "text/plain")
    assert resp.body == b"Hello, name=miyagawa"


def test_crlf_output_and_fcgi_parse_bug(server: Server) -> None:
    resp = fetch(server, "GET", "/crlf")
    assert resp.status == 200, resp
    assert resp.header("foo") is None
    assert resp.body == b"Foo: Bar\r\n\r\nHello World"


def test_newlines(server: Server) -> None:
    resp = fetch(server, "GET", "/newlines")
    assert (resp.status, resp.header("content-length")) == (200, "7")
    assert resp.body == b"Bar\nBaz"


def test_404(server: Server) -> None:
    resp = fetch(server, "GET", "/not_found")
    assert (resp.status, resp.reason, resp.body) == (404, "Not Found", b"Not Found")
