"""Host rules (RFC 9112 §3.2, RFC 9110 §7.2) and the SERVER_NAME/PORT they give (PEP 3333).

RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to
any HTTP/1.1 request message that lacks a Host header field and to any request
message that contains more than one Host header field line or a Host header
field with an invalid field value."  Host = uri-host [ ":" port ].
"""

from __future__ import annotations

from tests.requests.cases import PORT, Case, invalid, ok, valid

RFC = "RFC 9112 §3.2; RFC 9110 §7.2"

CASES: list[Case] = [
    invalid("host-missing-http11", b"GET / HTTP/1.1\r\n\r\n", 400, ref=RFC),
    invalid("host-twice", b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, ref=RFC),
    invalid("host-twice-same", b"GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", 400, ref=RFC),
    invalid("host-twice-http10", b"GET / HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n", 400, ref=RFC),
    # Field names are case-insensitive: "HOST" is Host (and counts for the duplicate rule).
    invalid("host-twice-other-case", b"GET / HTTP/1.1\r\nHost: x\r\nhOST: y\r\n\r\n", 400, ref=RFC),
    valid("host-uppercase-name", b"GET / HTTP/1.1\r\nHOST: x\r\n\r\n", ok("GET", "/"), ref="RFC 9110 §5.1"),
    valid(
        "host-missing-http10",
        b"GET / HTTP/1.0\r\n\r\n",
        ok("GET", "/", HTTP_HOST=None, SERVER_NAME="127.0.0.1", SERVER_PORT=PORT),
        ref="RFC 9112 §3.2 (1.1 only); PEP 3333",
        keep=False,
    ),
    valid(
        "host-name-and-port",
        b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        ok("GET", "/", HTTP_HOST="example.com:8080", SERVER_NAME="example.com", SERVER_PORT="8080"),
        ref="RFC 9110 §7.2; PEP 3333",
    ),
    valid(
        "host-name-only",
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        ok("GET", "/", HTTP_HOST="example.com", SERVER_NAME="example.com", SERVER_PORT="80"),
        ref="RFC 9110 §7.2; PEP 3333",
    ),
    valid(
        "host-ipv6-literal",
        b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        ok("GET", "/", HTTP_HOST="[::1]:8080", SERVER_PORT="8080"),
        ref="RFC 3986 §3.2.2 (IP-literal)",
    ),
    # RFC 9110 §7.2: a client MUST send an empty Host when the target has no authority, so
    # an empty Host is valid; the names then come from the listener.
    valid(
        "host-empty",
        b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
        ok("GET", "/", HTTP_HOST="", SERVER_NAME="127.0.0.1", SERVER_PORT=PORT),
        ref="RFC 9110 §7.2 (empty Host)",
    ),
    # RFC 3986 §3.2.3: port = *DIGIT, so "name:" is valid with no port.
    valid(
        "host-empty-port",
        b"GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n",
        ok("GET", "/", HTTP_HOST="example.com:", SERVER_NAME="example.com", SERVER_PORT="80"),
        ref="RFC 3986 §3.2.3",
    ),
    invalid("host-inner-space", b"GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", 400, ref=RFC),
    invalid("host-with-path", b"GET / HTTP/1.1\r\nHost: example.com/evil\r\n\r\n", 400, ref=RFC),
    invalid("host-with-userinfo", b"GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n", 400, ref=RFC),
    invalid("host-bad-port", b"GET / HTTP/1.1\r\nHost: example.com:80a\r\n\r\n", 400, ref=RFC),
    invalid("host-two-ports", b"GET / HTTP/1.1\r\nHost: example.com:80:81\r\n\r\n", 400, ref=RFC),
    invalid("host-list", b"GET / HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n", 400, ref=RFC),
    invalid("host-unclosed-bracket", b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, ref=RFC),
]
