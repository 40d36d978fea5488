"""Size limits (docs/http.md, "No limits"; RFC 9112 §3 "414", RFC 6585 §5 "431"), each
decided before the app runs.

- request line over 8 KiB: 414 (RFC 9112 §3: a server that receives a
  request-target longer than any it wishes to parse MUST respond 414);
- one field over 8 KiB, more than 100 fields, or a head over 64 KiB: 431;
- a Content-Length over --max-request-body (1 GiB by default): 413.
Both sides of each bound are here: just under is served, over is refused.
"""

from __future__ import annotations

from tests.requests.cases import Case, invalid, ok, valid

KIB = 1024


def _get(target: bytes, fields: bytes = b"") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"


def _fields(count: int, size: int) -> tuple[bytes, dict[str, str | None]]:
    """``count`` fields ``X-F<i>: vvv...`` with values of ``size`` bytes, and their environ."""
    lines: list[bytes] = []
    env: dict[str, str | None] = {}
    for i in range(count):
        value = (b"%d-" % i).ljust(size, b"v")
        lines.append(b"X-F%d: %b\r\n" % (i, value))
        env[f"HTTP_X_F{i}"] = value.decode()
    return b"".join(lines), env


PATH_UNDER = b"/" + b"p" * (8000 - 1)
# "GET " + target + " HTTP/1.1" = 8,198 bytes > 8 KiB although the target alone is under it.
PATH_LINE_OVER = b"/" + b"p" * (8185 - 1)
FIELDS_100, ENV_100 = _fields(99, 10)  # + Host = 100 fields
FIELDS_101, _ = _fields(100, 10)  # + Host = 101 fields
FIELDS_63K, ENV_63K = _fields(9, 7000)  # 9 x 7,010 bytes: a 63 KB head
FIELDS_70K, _ = _fields(10, 7000)  # 10 x 7,010: 70 KB, each field under 8 KiB
FIELDS_72K_SMALL, _ = _fields(90, 800)  # 90 x 810: 72 KB in small fields

CASES: list[Case] = [
    valid(
        "limit-target-8000",
        _get(PATH_UNDER),
        ok("GET", PATH_UNDER.decode()),
        ref="docs/http.md, No limits (request line up to 8 KiB)",
    ),
    invalid(
        "limit-request-line-over-8k",
        _get(PATH_LINE_OVER),
        414,
        ref="docs/http.md, No limits (request line over 8 KiB: 414); RFC 9112 §3",
    ),
    invalid(
        "limit-target-100k",
        _get(b"/" + b"p" * (100 * KIB)),
        414,
        ref="docs/http.md, No limits; RFC 9112 §3 (414)",
    ),
    invalid(
        "limit-field-value-9000",
        _get(b"/", b"X-Big: " + b"v" * 9000 + b"\r\n"),
        431,
        ref="docs/http.md, No limits (one field over 8 KiB); RFC 6585 §5",
    ),
    invalid(
        "limit-field-name-9000",
        _get(b"/", b"X-" + b"n" * 9000 + b": v\r\n"),
        431,
        ref="docs/http.md, No limits (one field over 8 KiB); RFC 6585 §5",
    ),
    valid(
        "limit-100-fields",
        _get(b"/", FIELDS_100),
        ok("GET", "/", extra=ENV_100),
        ref="docs/http.md, No limits (up to 100 fields)",
    ),
    invalid(
        "limit-101-fields",
        _get(b"/", FIELDS_101),
        431,
        ref="docs/http.md, No limits (over 100 fields); RFC 6585 §5",
    ),
    valid(
        "limit-head-63k",
        _get(b"/", FIELDS_63K),
        ok("GET", "/", extra=ENV_63K),
        ref="docs/http.md, No limits (head up to 64 KiB)",
    ),
    invalid(
        "limit-head-70k",
        _get(b"/", FIELDS_70K),
        431,
        ref="docs/http.md, No limits (head over 64 KiB); RFC 6585 §5",
    ),
    invalid(
        "limit-head-72k-small-fields",
        _get(b"/", FIELDS_72K_SMALL),
        431,
        ref="docs/http.md, No limits (head over 64 KiB); RFC 6585 §5",
    ),
    # The head limit counts the head, not the body or earlier requests: a pipelined 40 KB head
    # after a 40 KB body is served.
    valid(
        "limit-head-after-large-body",
        b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n"
        + b"b" * 40000
        + _get(b"/2", _fields(5, 7000)[0]),
        ok("POST", "/1", body=b"b" * 40000, CONTENT_LENGTH="40000"),
        ok("GET", "/2", extra=_fields(5, 7000)[1]),
        ref="docs/http.md, No limits (the head limit is per head)",
    ),
    # --max-request-body (default 1 GiB): the largest Content-Length llhttp takes is refused
    # at once, before the app runs and without waiting for the body.
    invalid(
        "limit-body-cl-2**64-1",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\nhello",
        413,
        ref="RFC 9110 §15.5.14 (413); --max-request-body",
    ),
    invalid(
        "limit-body-cl-1GiB+1",
        b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741825\r\n\r\n",
        413,
        ref="RFC 9110 §15.5.14 (413); --max-request-body",
    ),
]
