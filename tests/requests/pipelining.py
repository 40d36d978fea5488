"""Pipelining, persistence and close (RFC 9112 §9.3, §9.6), Expect (RFC 9110 §10.1.1).

Requests sent back to back are answered in order (RFC 9112 §9.3.2); bytes
after a body are the next request, never part of this one; after a request
with ``Connection: close`` (or a 1.0 one without keep-alive) nothing further
is processed (RFC 9112 §9.6: "MUST NOT process any further requests").
"""

from __future__ import annotations

from tests.requests.cases import Case, bad, invalid, ok, valid

SMUGGLED = b"GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"

CASES: list[Case] = [
    valid(
        "pipe-two-gets",
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/1"),
        ok("GET", "/2"),
        ref="RFC 9112 §9.3.2",
    ),
    valid(
        "pipe-cl-body-then-get",
        b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("POST", "/1", body=b"hello", CONTENT_LENGTH="5"),
        ok("GET", "/2"),
        ref="RFC 9112 §6.3, §9.3.2",
    ),
    valid(
        "pipe-chunked-then-get",
        b"POST /1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("POST", "/1", body=b"hello", HTTP_TRANSFER_ENCODING="chunked"),
        ok("GET", "/2"),
        ref="RFC 9112 §7.1, §9.3.2",
    ),
    # A body that looks like a request stays body (Plack::Test::Suite "CRLF in body").
    valid(
        "pipe-request-inside-body",
        b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%bGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        % (len(SMUGGLED), SMUGGLED),
        ok("POST", "/1", body=SMUGGLED, CONTENT_LENGTH=str(len(SMUGGLED))),
        ok("GET", "/2"),
        ref="RFC 9112 §6.3",
    ),
    valid(
        "pipe-three-methods",
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"DELETE /3 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/1"),
        ok("HEAD", "/2", head=True),
        ok("DELETE", "/3"),
        ref="RFC 9112 §9.3.2; RFC 9110 §9.3.2",
    ),
    # RFC 9112 §9.6: close => the final response; later requests are not processed.
    valid(
        "pipe-close-stops",
        b"GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/1", HTTP_CONNECTION="close"),
        ref="RFC 9112 §9.6",
        keep=False,
    ),
    # Connection is a token list (RFC 9110 §7.6.1): "keep-alive, close" closes (a Starlet defect).
    valid(
        "pipe-close-in-token-list",
        b"GET /1 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n"
        b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/1", HTTP_CONNECTION="keep-alive, close"),
        ref="RFC 9110 §7.6.1; RFC 9112 §9.6",
        keep=False,
    ),
    valid(
        "pipe-close-uppercase",
        b"GET /1 HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/1", HTTP_CONNECTION="CLOSE"),
        ref="RFC 9110 §7.6.1 (case-insensitive tokens); RFC 9112 §9.6",
        keep=False,
    ),
    valid(
        "pipe-close-second-line",
        b"GET /1 HTTP/1.1\r\nHost: x\r\nConnection: x-foo\r\nConnection: close\r\n\r\n"
        b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/1", HTTP_CONNECTION="x-foo, close"),
        ref="RFC 9110 §5.3, §7.6.1",
        keep=False,
    ),
    # RFC 9112 §9.3: HTTP/1.0 persists only with keep-alive.
    valid(
        "pipe-http10-closes",
        b"GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
        ok("GET", "/1", HTTP_HOST=None),
        ref="RFC 9112 §9.3",
        keep=False,
    ),
    valid(
        "pipe-http10-keep-alive",
        b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\nGET /3 HTTP/1.0\r\n\r\n",
        ok("GET", "/1", HTTP_HOST=None, HTTP_CONNECTION="keep-alive"),
        ok("GET", "/2", HTTP_HOST=None),
        ref="RFC 9112 §9.3; RFC 7230 §A.1.2",
        keep=False,
    ),
    invalid(
        "pipe-valid-then-invalid",
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /2 HTTP/1.1\r\nHost : x\r\n\r\n"
        b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
        ref="RFC 9112 §5.1, §9.6",
        before=(ok("GET", "/1"),),
    ),
    invalid(
        "pipe-invalid-then-valid",
        b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nXGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
        ref="RFC 9110 §8.6; RFC 9112 §6.3 rule 5 (400, then close)",
    ),
    # CL.TE and TE.CL smuggling: one 400, nothing smuggled behind it (RFC 9112 §6.1: close).
    invalid(
        "pipe-smuggle-cl-te",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%b"
        % (5 + len(SMUGGLED), SMUGGLED),
        400,
        ref="RFC 9112 §6.1, §11.2; CVE-2017-7658 (Jetty)",
    ),
    invalid(
        "pipe-smuggle-te-cl",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        b"%x\r\n%b\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED),
        400,
        ref="RFC 9112 §6.1, §11.2",
    ),
    # Upgrade is ignored (RFC 9110 §7.8: a server MAY ignore it); the server then closes
    # (docs/http.md, "Upgrade"): nothing after it is parsed.
    valid(
        "pipe-upgrade-ignored-then-closed",
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/ws", HTTP_CONNECTION="Upgrade", HTTP_UPGRADE="websocket"),
        ref="RFC 9110 §7.8; docs/http.md, Upgrade",
        keep=False,
    ),
    # RFC 9110 §10.1.1: 100-continue (case-insensitive) is honoured; the body then arrives.
    valid(
        "expect-100-continue",
        b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
        ok("POST", "/e", body=b"hello", CONTENT_LENGTH="5", HTTP_EXPECT="100-continue"),
        ref="RFC 9110 §10.1.1",
    ),
    valid(
        "expect-100-continue-mixed-case",
        b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\nhello",
        ok("POST", "/e", body=b"hello", CONTENT_LENGTH="5", HTTP_EXPECT="100-Continue"),
        ref="RFC 9110 §10.1.1 (case-insensitive)",
    ),
    # RFC 9110 §10.1.1: any other expectation MAY get 417 (docs/design.md, "Choices": it does).
    invalid(
        "expect-unknown",
        b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: x-teapot\r\nContent-Length: 5\r\n\r\nhello",
        417,
        ref="RFC 9110 §10.1.1; docs/design.md, Choices",
    ),
    # An error answer in the middle of a pipeline: the request before it is answered first.
    Case(
        "pipe-answer-then-refuse-chunk",
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        (ok("GET", "/1"), bad(400)),
        False,
        "RFC 9112 §7.1, §9.3.2",
    ),
]
