"""Header field syntax (RFC 9112 §2.2, §5; RFC 9110 §5) and its path into the environ.

Strict everywhere RFC 9112 lets the server choose between rejecting and
repairing (bare CR, obs-fold, NUL): a repair one hop makes and another does
not is how smuggling starts.  Bare LF is a MAY-accept in RFC 9112 §2.2; we
reject it, as waitress did after CVE-2019-16785.
"""

from __future__ import annotations

from tests.requests.cases import Case, invalid, ok, valid

LONG = "v" * 8000  # under the 8 KiB field limit

CASES: list[Case] = [
    # RFC 9112 §5.1: "A server MUST reject, with a response status code of 400, any received
    # request message that contains whitespace between a header field name and colon."
    invalid(
        "field-space-before-colon",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n",
        400,
        ref="RFC 9112 §5.1; CVE-2019-16869 (Netty), CVE-2021-22959 (llhttp)",
    ),
    invalid(
        "field-space-before-colon-cl",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
        400,
        ref="RFC 9112 §5.1; CVE-2019-16869 (Netty)",
    ),
    invalid(
        "field-tab-before-colon",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A\t: 1\r\n\r\n",
        400,
        ref="RFC 9112 §5.1",
    ),
    # RFC 9112 §2.2: whitespace between the start-line and the first field: reject (or skip
    # the line).  Node.js CVE-2024-27982: a space before Content-Length smuggled a request.
    invalid(
        "field-space-before-first-name",
        b"POST / HTTP/1.1\r\n Content-Length: 5\r\nHost: x\r\n\r\nhello",
        400,
        ref="RFC 9112 §2.2; CVE-2024-27982 (Node.js)",
    ),
    # RFC 9110 §5.5: CR, LF and NUL in a value are invalid and dangerous: reject or replace
    # by SP before any processing; we reject.
    invalid(
        "field-nul-in-value",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
        400,
        ref="RFC 9110 §5.5",
    ),
    # RFC 9110 §5.5: field-vchar is VCHAR / obs-text; other controls are not field content.
    invalid(
        "field-ctl-in-value",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
        400,
        ref="RFC 9110 §5.5 (field-vchar)",
    ),
    invalid(
        "field-del-in-value",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n",
        400,
        ref="RFC 9110 §5.5 (field-vchar)",
    ),
    # RFC 9110 §5.5: obs-text (0x80-0xFF) is allowed; PEP 3333 carries it as latin-1.
    valid(
        "field-obs-text",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\n\r\n",
        ok("GET", "/", HTTP_X_A="caf\xe9"),
        ref="RFC 9110 §5.5 (obs-text); PEP 3333 (latin-1)",
    ),
    # RFC 9112 §2.2: a recipient MAY take a bare LF as a line end; we do not.  waitress
    # CVE-2019-16785 ("X: x[LF]Content-Length: 0"), llhttp CVE-2022-32214.
    invalid(
        "field-bare-lf-everywhere",
        b"GET / HTTP/1.1\nHost: x\n\n",
        400,
        ref="RFC 9112 §2.2; CVE-2019-16785 (waitress), CVE-2022-32214 (llhttp)",
    ),
    invalid(
        "field-bare-lf-one-line",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-A: x\nContent-Length: 0\r\n\r\nhello",
        400,
        ref="RFC 9112 §2.2; CVE-2019-16785 (waitress)",
    ),
    invalid(
        "field-bare-lf-end-of-head",
        b"GET / HTTP/1.1\r\nHost: x\r\n\n",
        400,
        ref="RFC 9112 §2.2",
    ),
    # RFC 9112 §2.2: a bare CR MUST be treated as invalid or replaced by SP; we reject.
    # llhttp CVE-2023-30589 accepted CR alone as a header line end.
    invalid(
        "field-bare-cr",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\rX-B: 2\r\n\r\n",
        400,
        ref="RFC 9112 §2.2; CVE-2023-30589 (llhttp)",
    ),
    invalid(
        "field-bare-cr-in-name",
        b"GET / HTTP/1.1\r\nHost: x\r\nX\rA: 1\r\n\r\n",
        400,
        ref="RFC 9112 §2.2; RFC 9110 §5.1 (token)",
    ),
    # RFC 9112 §5.2: obs-fold in a request: reject with 400 or replace by SP; we reject.
    invalid(
        "field-obs-fold-space",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n",
        400,
        ref="RFC 9112 §5.2; CVE-2022-32215 (llhttp)",
    ),
    invalid(
        "field-obs-fold-tab",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\t2\r\n\r\n",
        400,
        ref="RFC 9112 §5.2",
    ),
    # RFC 9110 §5.1: field-name = token (1*tchar).  HAProxy CVE-2023-25725 let an empty name
    # hide the fields after it.
    invalid(
        "field-empty-name",
        b"GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n",
        400,
        ref="RFC 9110 §5.1; CVE-2023-25725 (HAProxy)",
    ),
    # Netty CVE-2019-20444: a field line without a colon was accepted.
    invalid(
        "field-no-colon",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A 1\r\n\r\n",
        400,
        ref="RFC 9112 §5; CVE-2019-20444 (Netty)",
    ),
    invalid(
        "field-name-parenthesis",
        b"GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n",
        400,
        ref="RFC 9110 §5.1, §5.6.2 (tchar)",
    ),
    invalid(
        "field-name-non-ascii",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-\xe9: 1\r\n\r\n",
        400,
        ref="RFC 9110 §5.1, §5.6.2 (tchar)",
    ),
    # Go net/http CVE-2015-5739: "Content Length" was normalized into Content-Length.
    invalid(
        "field-name-inner-space",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent Length: 5\r\n\r\nhello",
        400,
        ref="RFC 9110 §5.1; CVE-2015-5739 (Go net/http)",
    ),
    # docs/design.md, "Choices": names with "_" are dropped (they would alias the "-" spelling).
    valid(
        "field-underscore-dropped",
        b"GET / HTTP/1.1\r\nHost: x\r\nX_A: 1\r\n\r\n",
        ok("GET", "/", HTTP_X_A=None),
        ref="docs/design.md, Choices; CVE-2024-45614 (puma)",
    ),
    # puma CVE-2024-45614: "X-Forwarded_For" clobbered the proxy's X-Forwarded-For.
    valid(
        "field-underscore-spoof-after",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n",
        ok("GET", "/", HTTP_X_FORWARDED_FOR="10.0.0.1"),
        ref="CVE-2024-45614 (puma); docs/design.md, Choices",
    ),
    valid(
        "field-underscore-spoof-before",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded_For: 6.6.6.6\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
        ok("GET", "/", HTTP_X_FORWARDED_FOR="10.0.0.1"),
        ref="CVE-2024-45614 (puma); docs/design.md, Choices",
    ),
    valid(
        "field-underscore-content-length",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent_Length: 5\r\n\r\n",
        ok("POST", "/", body=b"", CONTENT_LENGTH=None),
        ref="docs/design.md, Choices; RFC 9112 §6.3 rule 7",
    ),
    # RFC 9110 §5.3: repeated lines form one comma-separated list, in order.
    valid(
        "field-repeated-joined",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-B: b\r\nx-a: 2\r\n\r\n",
        ok("GET", "/", HTTP_X_A="1, 2", HTTP_X_B="b"),
        ref="RFC 9110 §5.3; PEP 3333",
    ),
    valid(
        "field-empty-value",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n",
        ok("GET", "/", HTTP_X_EMPTY=""),
        ref="RFC 9110 §5.5 (field-value = *field-content)",
    ),
    # RFC 9112 §5.1: leading and trailing OWS is not part of the value; inner SP/HTAB is.
    valid(
        "field-ows-stripped",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: \t v \t w \t\r\n\r\n",
        ok("GET", "/", HTTP_X_A="v \t w"),
        ref="RFC 9112 §5.1",
    ),
    valid(
        "field-value-with-colon",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: b: c\r\n\r\n",
        ok("GET", "/", HTTP_X_A="b: c"),
        ref="RFC 9112 §5 (the first colon ends the name)",
    ),
    # RFC 9110 §5.1: names are case-insensitive; CGI upper-cases them, "-" becomes "_".
    valid(
        "field-name-mixed-case",
        b"GET / HTTP/1.1\r\nHost: x\r\nx-MiXeD-cAsE: 1\r\n\r\n",
        ok("GET", "/", HTTP_X_MIXED_CASE="1"),
        ref="RFC 9110 §5.1; RFC 3875 §4.1.18",
    ),
    # PEP 3333: Content-Type is CONTENT_TYPE, never HTTP_CONTENT_TYPE.
    valid(
        "field-content-type",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        ok("POST", "/", body=b"hi", CONTENT_TYPE="text/plain", CONTENT_LENGTH="2"),
        ref="PEP 3333; RFC 3875 §4.1.3",
    ),
    # RFC 9110 §8.3: Content-Type is a singleton; joining two ("a, b") would hand the app a
    # media type neither side sent.  Refused like two Content-Length or Host fields.
    invalid(
        "field-two-content-types",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        b"content-type: application/json\r\nContent-Length: 2\r\n\r\nhi",
        400,
        ref="RFC 9110 §8.3, §5.3",
    ),
    # A long value under the limit passes whole (Plack::Test::Suite has a 128-byte one).
    valid(
        "field-long-value-8000",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + LONG.encode() + b"\r\n\r\n",
        ok("GET", "/", HTTP_X_LONG=LONG),
        ref="docs/http.md, No limits (8 KiB per field)",
    ),
]
