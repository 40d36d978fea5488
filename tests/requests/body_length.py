"""Message body length: Content-Length syntax and conflicts (RFC 9112 §6.3, RFC 9110 §8.6).

A disagreement between two servers about where a body ends is request
smuggling, so every doubtful length is refused with 400 and the connection
closed (RFC 9112 §6.3 rule 5: an invalid Content-Length is an unrecoverable
error; the server MUST answer 400 and close).
"""

from __future__ import annotations

from tests.requests.cases import Case, invalid, ok, valid

BIG = bytes(range(256)) * 80  # 20,480 bytes, every byte value

CASES: list[Case] = [
    # RFC 9112 §6.3 rule 6: a valid Content-Length gives the body length in octets.
    valid(
        "cl-simple",
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        ok("POST", "/upload", body=b"hello", CONTENT_LENGTH="5"),
        ref="RFC 9112 §6.3 rule 6",
    ),
    # RFC 9112 §6.3 rule 6, the zero case: no body, and the next bytes are the next request.
    valid(
        "cl-zero",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        ok("POST", "/", body=b"", CONTENT_LENGTH="0"),
        ref="RFC 9112 §6.3 rule 6",
    ),
    # RFC 9112 §6.3 rule 7: a request with neither CL nor TE has a zero-length body;
    # PEP 3333: CONTENT_LENGTH is absent when not sent.
    valid(
        "cl-absent-post",
        b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("POST", "/", body=b"", CONTENT_LENGTH=None),
        ref="RFC 9112 §6.3 rule 7; PEP 3333",
    ),
    # RFC 9110 §9.3.1: a GET body has no defined semantics, but its framing still holds.
    valid(
        "cl-get-with-body",
        b"GET /g HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        ok("GET", "/g", body=b"abc", CONTENT_LENGTH="3"),
        ref="RFC 9110 §9.3.1; RFC 9112 §6.3",
    ),
    # RFC 9110 §8.6: Content-Length = 1*DIGIT, so leading zeros are valid.
    valid(
        "cl-leading-zeros",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\n\r\nhello",
        ok("POST", "/", body=b"hello"),
        ref="RFC 9110 §8.6 (1*DIGIT)",
    ),
    # RFC 9112 §5.1: OWS around a field value is not part of it.
    valid(
        "cl-ows",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \t 5 \t\r\n\r\nhello",
        ok("POST", "/", body=b"hello", CONTENT_LENGTH="5"),
        ref="RFC 9112 §5.1 (OWS)",
    ),
    # A larger body with every byte value: the app must see it exactly.
    valid(
        "cl-binary-20k",
        b"PUT /blob HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%b" % (len(BIG), BIG),
        ok("PUT", "/blob", body=BIG, CONTENT_LENGTH=str(len(BIG))),
        ref="RFC 9112 §6.3 rule 6",
    ),
    # HTTP/1.0 with a Content-Length body; 1.0 without keep-alive closes after the response.
    valid(
        "cl-http10",
        b"POST /old HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
        ok("POST", "/old", body=b"hello", CONTENT_LENGTH="5", HTTP_HOST=None, SERVER_PROTOCOL="HTTP/1.0"),
        ref="RFC 9112 §6.3 rule 6; §9.3 (1.0 closes by default)",
        keep=False,
    ),
    # RFC 9112 §6.1: CL and TE together "ought to be handled as an error"; a server MAY
    # reject and MUST close.  Jetty CVE-2017-7658; the classic CL.TE smuggling.
    invalid(
        "cl-then-te",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
        400,
        ref="RFC 9112 §6.1, §11.2; CVE-2017-7658 (Jetty)",
    ),
    invalid(
        "te-then-cl",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        400,
        ref="RFC 9112 §6.1, §11.2; CVE-2017-7658 (Jetty)",
    ),
    # RFC 9110 §8.6: repeated equal values MAY be rejected; we reject (Starlet's test; waitress
    # folded "5, 5" and then read 0: CVE-2019-16792).
    invalid(
        "cl-duplicate-equal",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6; CVE-2019-16792 (waitress)",
    ),
    # RFC 9112 §6.3 rule 5: differing values are invalid framing: MUST 400 and close.
    invalid(
        "cl-duplicate-differ",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
        ref="RFC 9112 §6.3 rule 5; CVE-2015-5740 (Go net/http), CVE-2017-7658 (Jetty)",
    ),
    # RFC 9110 §8.6: "Content-Length: 5, 5" MAY be rejected; we reject like the duplicate.
    invalid(
        "cl-list-in-one-field",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6; CVE-2019-16792 (waitress)",
    ),
    # RFC 9110 §8.6: 1*DIGIT, no sign.  waitress CVE-2022-24761, hyper CVE-2021-32715,
    # Jetty CVE-2023-40167 all read "+5" as 5.
    invalid(
        "cl-plus-sign",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6; CVE-2022-24761 (waitress), CVE-2021-32715 (hyper), CVE-2023-40167 (Jetty)",
    ),
    invalid(
        "cl-minus-sign",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6",
    ),
    # Node.js read "1 0" as 10: CVE-2018-7159.
    invalid(
        "cl-inner-space",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\n0123456789",
        400,
        ref="RFC 9110 §8.6; CVE-2018-7159 (Node.js)",
    ),
    invalid(
        "cl-hex",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6",
    ),
    invalid(
        "cl-decimal-point",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5.0\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6",
    ),
    invalid(
        "cl-letters",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: five\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6",
    ),
    # An empty Content-Length read as 0 by one hop and ignored by another splits a request
    # (HAProxy "reject any empty content-length header value", 2.7.x fix).
    invalid(
        "cl-empty",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6",
    ),
    # RFC 9110 §8.6: a recipient MUST prevent integer overflow; 2**64 does not fit.
    invalid(
        "cl-overflow-2**64",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6 (overflow)",
    ),
    invalid(
        "cl-overflow-30-digits",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999999999999999999999\r\n\r\nhello",
        400,
        ref="RFC 9110 §8.6 (overflow)",
    ),
]
