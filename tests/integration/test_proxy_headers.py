"""--forwarded-allow-ips: X-Forwarded-Proto/-For believed from listed peers only.

Flask's ``url_for(_external=True)`` and Django's ``request.is_secure()`` see https
behind a TLS-terminating proxy on a trusted address, and plain http (the headers
passed through as sent) from any other peer or with the option off.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_frameworks import call, need_framework
from tests.integration.test_nginx import behind_nginx
from tests.support import APPS, Server, parse_response, read_all, starlet_command, wait_for

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1, 203.0.113.7"}


def whoami(app: str, args: list[str], headers: dict[str, str] = FORWARDED) -> Any:
    server = Server(app, args, workers=1)
    try:
        resp = call(server, "GET", "/whoami", headers=headers)
    finally:
        assert server.stop() == 0
    assert resp.status == 200, resp
    return json.loads(resp.body)


def test_flask_behind_a_trusted_proxy_sees_https_and_the_client(tmp_path: Path) -> None:
    need_framework("flask")
    log = tmp_path / "access.log"
    args = ["--forwarded-allow-ips", "10.1.1.1, 127.0.0.1", "--access-log", str(log)]
    assert whoami("flask_app:app", args) == {
        "url": "https://app.test/", "secure": True, "remote": "203.0.113.7",
    }  # fmt: skip
    # The access log names the client the server believed, not the proxy.
    assert log.read_text().startswith("203.0.113.7 - - ["), log.read_text()


@pytest.mark.parametrize("args", [["--forwarded-allow-ips", "10.1.1.1,::1"], []], ids=["other", "off"])
def test_flask_from_an_untrusted_peer_sees_the_connection(args: list[str]) -> None:
    need_framework("flask")
    assert whoami("flask_app:app", args) == {
        "url": "http://app.test/", "secure": False, "remote": "127.0.0.1",
    }  # fmt: skip


def test_flask_trusted_without_forwarded_fields_is_unchanged() -> None:
    need_framework("flask")
    assert whoami("flask_app:app", ["--forwarded-allow-ips", "*"], headers={}) == {
        "url": "http://app.test/", "secure": False, "remote": "127.0.0.1",
    }  # fmt: skip


@pytest.mark.parametrize(("allow", "secure"), [("127.0.0.1", True), ("10.1.1.1", False)])
def test_django_is_secure_only_behind_a_trusted_proxy(allow: str, secure: bool) -> None:
    need_framework("django")
    got = whoami("django_app:application", ["--forwarded-allow-ips", allow])
    scheme = "https" if secure else "http"
    remote = "203.0.113.7" if secure else "127.0.0.1"
    port = "443" if secure else "80"  # Host named none: the scheme's default
    assert got == {"secure": secure, "url": f"{scheme}://app.test/", "remote": remote, "port": port}


def _env_over_unix(tmp_path: Path, allow: str) -> Any:
    path = tmp_path / "s.sock"
    cmd = [*starlet_command(), "--listen", str(path), "--max-workers", "1", "--forwarded-allow-ips", allow,
           "procs:application"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=APPS, stderr=subprocess.DEVNULL)
    try:
        wait_for(path.exists, what="the unix socket")
        with socket.socket(socket.AF_UNIX) as s:
            wait_for(lambda: s.connect_ex(str(path)) == 0, what="a connection")
            s.sendall(
                b"GET /env HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-Proto: https\r\n"
                b"X-Forwarded-For: 2001:db8::7\r\n\r\n"
            )
            resp = parse_response(read_all(s))
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    assert resp.status == 200
    return json.loads(resp.body)


def test_unix_trusts_unix_socket_peers(tmp_path: Path) -> None:
    env = _env_over_unix(tmp_path, "unix")
    assert (env["wsgi.url_scheme"], env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("https", "2001:db8::7", "0")


def test_an_address_list_does_not_trust_unix_socket_peers(tmp_path: Path) -> None:
    env = _env_over_unix(tmp_path, "127.0.0.1")
    assert (env["wsgi.url_scheme"], env["REMOTE_ADDR"]) == ("http", "")


def test_a_bad_address_is_a_one_line_error() -> None:
    run = subprocess.run(
        [*starlet_command(), "--forwarded-allow-ips", "127.0.0.1,nginx", "--listen", "127.0.0.1:0",
         "procs:application"],
        cwd=APPS, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1, run.stderr
    assert re.search(r"--forwarded-allow-ips: 'nginx' is not an IP address", run.stderr), run.stderr


def test_behind_the_example_nginx_remote_addr_is_the_client_nginx_saw(tmp_path: Path, public: Path) -> None:
    """The README's recipe: examples/nginx.conf, --forwarded-allow-ips 127.0.0.1,unix.
    The client connects from 127.0.0.2 and sends forged X-Forwarded-* fields: nginx
    overwrites the proto with its $scheme and appends 127.0.0.2, the last hop we believe."""
    with behind_nginx(tmp_path, public, "--forwarded-allow-ips", "127.0.0.1,unix") as (_, _, ports, _):
        for port in ports:  # TCP and unix upstreams, with and without keep-alive
            client = ("127.0.0.2", 0)
            with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=client) as s:
                s.sendall(
                    b"GET /env HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n"
                    b"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n\r\n"
                )
                resp = parse_response(read_all(s))
            assert resp.status == 200, (port, resp)
            env = json.loads(resp.body)
            keys = ("REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme", "HTTP_X_FORWARDED_FOR")
            got = {k: env[k] for k in keys}
            assert got == {
                "REMOTE_ADDR": "127.0.0.2", "REMOTE_PORT": "0", "wsgi.url_scheme": "http",
                "HTTP_X_FORWARDED_FOR": "6.6.6.6, 127.0.0.2",
            }, port  # fmt: skip
