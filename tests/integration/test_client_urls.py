"""The request targets real clients send (issue 15), from a real client to the real server.

curl, with ``-g`` as a user types such URLs, sends each target as it is (brackets, ``|``,
``{}``, ``^``, ``"``, ``\\``, backquote, ``<>``, an invalid escape) straight to starlet-py,
then through a real nginx running examples/nginx.conf, whose ``proxy_pass`` names no URI
and so forwards the target as the client sent it.  The echo app (tests/apps/corpus_app.py)
says what it was handed: the status must be 200 and PATH_INFO, QUERY_STRING and
REQUEST_URI exactly these (docs/http.md, "Request targets").
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.integration.test_nginx import SEVERE, start_nginx
from tests.support import need_program, running

# target as sent, PATH_INFO, QUERY_STRING
URLS = [
    ("/version?ids[]=1&ids[]=2", "/version", "ids[]=1&ids[]=2"),  # axios' default for arrays
    ("/articles?filter[name]=x&page[size]=10", "/articles", "filter[name]=x&page[size]=10"),  # JSON:API
    ("/v?fields=a|b", "/v", "fields=a|b"),
    ("/version/[x]", "/version/[x]", ""),  # gunicorn + Flask answered 404: Flask's routing
    ("/{x}", "/{x}", ""),
    ("/a^b", "/a^b", ""),
    ('/a"b', '/a"b', ""),
    ("/a\\b", "/a\\b", ""),
    ("/a`b", "/a`b", ""),
    ("/<b>", "/<b>", ""),
    ("/q?v=%zz", "/q", "v=%zz"),
    ('/s?q="x"&r={y}&t=^&u=`v`&w=<b>&z=\\', "/s", 'q="x"&r={y}&t=^&u=`v`&w=<b>&z=\\'),
    ("/a%20b%5B%5D[c]", "/a b[][c]", ""),
]
# nginx itself answers 400 to an invalid escape in the path: it decodes the path for $uri.
DIRECT_ONLY = [("/a%zz", "/a%zz", ""), ("/%zz%41[x]", "/%zzA[x]", "")]
KEYS = ("PATH_INFO", "QUERY_STRING", "REQUEST_URI")


def curl(url: str) -> tuple[int, Any]:
    """GET ``url`` with curl -g: the status and the echo app's JSON (else the body)."""
    run = subprocess.run(
        [need_program("curl"), "-g", "-s", "-S", "--max-time", "10", "-w", "\n%{http_code}", url],
        capture_output=True,
        check=True,
    )
    body, _, code = run.stdout.rpartition(b"\n")
    return int(code), (json.loads(body) if code == b"200" else body)


def mismatches(base: str, urls: list[tuple[str, str, str]]) -> list[str]:
    """Every URL whose answer is not 200 with exactly the expected environ, described."""
    out = []
    for target, path, query in urls:
        status, env = curl(base + target)
        expected = (200, path, query, target)
        got = (status, *(env.get(k) for k in KEYS)) if status == 200 else (status, env)
        if got != expected:
            out.append(f"{target!r}: {got} != {expected}")
    return out


def test_client_urls_reach_the_app_directly() -> None:
    need_program("curl")
    with running("corpus_app:application") as server:
        assert mismatches(f"http://127.0.0.1:{server.port}", URLS + DIRECT_ONLY) == []
        # A NUL decoded into PATH_INFO is refused, not handed to the app.
        assert curl(f"http://127.0.0.1:{server.port}/a%00b") == (400, b"400 Bad Request\n")
        log = server.log()
    assert "Traceback" not in log, log


def test_client_urls_reach_the_app_through_nginx(public: Path) -> None:
    need_program("curl")
    prefix = public / "nginx"
    prefix.mkdir()
    with running("corpus_app:application") as server:
        # Only the example's TCP upstreams are used: its unix socket is never created.
        nginx, ports = start_nginx(prefix, server.port, str(public / "unused.sock"))
        try:
            for port in (ports[0], ports[2]):  # with and without upstream keep-alive
                assert mismatches(f"http://127.0.0.1:{port}", URLS) == [], port
        finally:
            nginx.stop()
        errors = [line for line in (prefix / "error.log").read_text().splitlines() if SEVERE.search(line)]
        assert errors == []
        assert "Traceback" not in server.log(), server.log()
