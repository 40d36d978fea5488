"""accesslog: the common, combined and json formats, their escaping, and AccessLog."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time

import pytest

from starlet_py.accesslog import AccessLog, Record, combined, common, json_formatter, quote
from starlet_py.config import Config
from starlet_py.errors import ConfigError
from starlet_py.protocol import Request

T = 971186136.25  # 10/Oct/2000:13:55:36.25 UTC
HOSTILE = 'evil" 200 1\n127.0.0.1 - - [x] "GET / HTTP/1.1" 200 2} {"status": 999}\\'


def record(**kw: object) -> Record:
    fields: dict[str, object] = {
        "remote": "127.0.0.1", "time": T, "request": "GET /a?b=1 HTTP/1.1", "status": 200,
        "bytes": 1234, "duration": 0.0125, "referer": "http://example.com/", "user_agent": "curl/8.0",
    }  # fmt: skip
    fields.update(kw)
    return Record(**fields)  # type: ignore[arg-type]


def test_common_is_apaches_line() -> None:
    assert common(record()) == '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 1234\n'


def test_common_logs_dash_for_no_body_and_for_a_unix_peer() -> None:
    assert common(record(bytes=0, remote="")) == (
        '- - - [10/Oct/2000:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 -\n'
    )


def test_combined_adds_referer_agent_and_microseconds() -> None:
    assert combined(record()) == (
        '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 1234 '
        '"http://example.com/" "curl/8.0" 12500\n'
    )
    assert combined(record(referer=None, user_agent=None)).endswith(' 200 1234 "-" "-" 12500\n')


def test_quote_escapes_like_apache() -> None:
    assert quote("plain text/1.0") == "plain text/1.0"
    assert quote('a"b\\c') == 'a\\"b\\\\c'
    assert quote("a\nb\rc\td\x7f\xe9") == "a\\x0ab\\x0dc\\x09d\\x7f\\xe9"


@pytest.mark.parametrize("fmt", [common, combined])
def test_hostile_fields_cannot_forge_a_line_or_a_field(fmt: object) -> None:
    line = fmt(record(request=HOSTILE, referer=HOSTILE, user_agent=HOSTILE))  # type: ignore[operator]
    assert line.count("\n") == 1 and line.endswith("\n")
    # Every '"' that is not escaped delimits a field: exactly the format's own.
    quotes = re.findall(r'(?<!\\)"', line.replace("\\\\", ""))
    assert len(quotes) == (2 if fmt is common else 6), line


def test_json_is_one_object_whose_fields_equal_the_input() -> None:
    agent = 'Mozilla "x"\n}{"status": 1} \\ \x00 \xe9'
    line = json_formatter()(record(user_agent=agent, request=HOSTILE, referer=None))
    assert line.count("\n") == 1 and line.endswith("\n")
    obj = json.loads(line)
    assert obj == {
        "remote": "127.0.0.1",
        "time": "2000-10-10T13:55:36.250Z",
        "request": HOSTILE,
        "status": 200,
        "bytes": 1234,
        "duration": 0.0125,
        "referer": None,
        "user_agent": agent,
    }


def test_json_remote_of_a_unix_peer_is_a_dash() -> None:
    assert json.loads(json_formatter()(record(remote="")))["remote"] == "-"


def test_json_module_is_loaded_only_for_the_json_format() -> None:
    code = (
        "import sys\n"
        "import starlet_py.cli, starlet_py.worker\n"
        "from starlet_py.accesslog import AccessLog\n"
        "AccessLog(sys.stderr, 'combined')\n"
        "assert 'json' not in sys.modules, 'json loaded for combined'\n"
        "AccessLog(sys.stderr, 'json')\n"
        "assert 'json' in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def make_request() -> Request:
    req = Request()
    req.method, req.target = "POST", b"/form?q=1"
    req.headers = [(b"host", b"x"), (b"user-agent", b"ua/1"), (b"referer", b"http://r/")]
    return req


def test_access_log_writes_one_line_with_duration_and_headers() -> None:
    out = io.StringIO()
    log = AccessLog(out, "json")
    started = time.monotonic()
    log.request("10.0.0.1", make_request(), 201, 7, started)
    obj = json.loads(out.getvalue())
    assert (obj["remote"], obj["request"], obj["status"], obj["bytes"]) == (
        "10.0.0.1", "POST /form?q=1 HTTP/1.1", 201, 7,
    )  # fmt: skip
    assert (obj["referer"], obj["user_agent"]) == ("http://r/", "ua/1")
    assert 0 <= obj["duration"] < 60


def test_access_log_without_a_parsed_request_logs_a_dash_line() -> None:
    out = io.StringIO()
    bad = Request()  # as the parser queues a malformed request: no method
    AccessLog(out, "common").request("", bad, 400, 16, 0.0)
    assert re.fullmatch(r'- - - \[[^]]+\] "-" 400 16\n', out.getvalue()), out.getvalue()


def test_access_log_survives_a_closed_stream() -> None:
    out = io.StringIO()
    out.close()
    AccessLog(out, "common").request("1.2.3.4", make_request(), 200, 1, 0.0)  # no exception


def test_config_access_log_format() -> None:
    assert Config(app="a:b").access_log_format == "common"
    assert Config(app="a:b", access_log_format="json").access_log_format == "json"
    with pytest.raises(ConfigError, match="--access-log-format must be one of common, combined, json"):
        Config(app="a:b", access_log_format="apache")
