"""--access-log: one common-log-format line per request; a bad path is refused up front."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support import APPS, Server, starlet_command, wait_for

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
