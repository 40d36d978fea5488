"""Transfer-Encoding forms (RFC 9112 §6.1, §6.3, §7).

The rules: chunked must be the final coding of a request or the length cannot
be known (400, RFC 9112 §6.3 rule 4); a coding the server cannot decode before
a final chunked is 501 (RFC 9112 §6.1); coding names are case-insensitive
(§7); Transfer-Encoding on HTTP/1.0 means faulty framing (§6.1).
"""

from __future__ import annotations

from tests.requests.cases import Case, invalid, ok, valid

CHUNKED_HELLO = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"

CASES: list[Case] = [
    valid(
        "te-chunked",
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_HELLO,
        ok("POST", "/c", body=b"hello world", CONTENT_LENGTH=None, HTTP_TRANSFER_ENCODING="chunked"),
        ref="RFC 9112 §7.1",
    ),
    # RFC 9112 §7: "All transfer-coding names are case-insensitive".
    valid(
        "te-chunked-capitalized",
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n" + CHUNKED_HELLO,
        ok("POST", "/c", body=b"hello world", HTTP_TRANSFER_ENCODING="Chunked"),
        ref="RFC 9112 §7",
    ),
    valid(
        "te-chunked-uppercase",
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n" + CHUNKED_HELLO,
        ok("POST", "/c", body=b"hello world", HTTP_TRANSFER_ENCODING="CHUNKED"),
        ref="RFC 9112 §7",
    ),
    valid(
        "te-chunked-ows",
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \t chunked  \r\n\r\n" + CHUNKED_HELLO,
        ok("POST", "/c", body=b"hello world", HTTP_TRANSFER_ENCODING="chunked"),
        ref="RFC 9112 §5.1 (OWS)",
    ),
    # OWS = *( SP / HTAB ) on both sides (RFC 9110 §5.6.3), so a trailing tab is OWS too,
    # but llhttp's strict mode refuses it, and relaxing Transfer-Encoding parsing is the
    # smuggling-prone leniency we keep off: refused (400) before the app runs, a
    # documented divergence on the safe side.
    invalid(
        "te-chunked-trailing-htab",
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\t\r\n\r\n" + CHUNKED_HELLO,
        400,
        ref="RFC 9110 §5.6.3 (OWS); llhttp strict mode (divergence on the safe side)",
    ),
    # RFC 9110 §5.6.1.2: a recipient MUST parse and ignore a reasonable number of empty list
    # elements, so ", chunked" and "chunked," both name exactly one coding: chunked.
    valid(
        "te-empty-list-element-first",
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , chunked\r\n\r\n" + CHUNKED_HELLO,
        ok("POST", "/c", body=b"hello world", HTTP_TRANSFER_ENCODING=", chunked"),
        ref="RFC 9110 §5.6.1.2 (empty list elements MUST be ignored)",
    ),
    # ... but llhttp's strict mode refuses "chunked," (the final token is not chunked to
    # it): 400, a divergence on the safe side, as above.
    invalid(
        "te-empty-list-element-last",
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n" + CHUNKED_HELLO,
        400,
        ref="RFC 9110 §5.6.1.2; llhttp strict mode (divergence on the safe side)",
    ),
    # RFC 9112 §6.1: a coding we do not understand, chunked final: SHOULD 501.
    # waitress ignored "gzip, chunked" and fell back to Content-Length: CVE-2019-16786.
    invalid(
        "te-gzip-chunked",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + CHUNKED_HELLO,
        501,
        ref="RFC 9112 §6.1 (501); CVE-2019-16786 (waitress)",
    ),
    # RFC 9110 §5.3: two field lines are one list "gzip, chunked".  gunicorn CVE-2024-1135
    # treated conflicting Transfer-Encoding lines as chunked.
    invalid(
        "te-two-lines-gzip-then-chunked",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + CHUNKED_HELLO,
        501,
        ref="RFC 9110 §5.3; RFC 9112 §6.1; CVE-2024-1135 (gunicorn)",
    ),
    # RFC 9112 §6.3 rule 4: chunked not final in a request: MUST 400 and close.
    invalid(
        "te-chunked-gzip",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + CHUNKED_HELLO,
        400,
        ref="RFC 9112 §6.3 rule 4",
    ),
    invalid(
        "te-two-lines-chunked-then-gzip",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"
        + CHUNKED_HELLO,
        400,
        ref="RFC 9112 §6.3 rule 4; CVE-2024-1135 (gunicorn)",
    ),
    # "identity" was removed from the registry (RFC 7230); either way chunked is not final.
    invalid(
        "te-identity",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello",
        400,
        ref="RFC 9112 §6.3 rule 4; §6.1 (CL with TE); CVE-2019-16786 (waitress)",
    ),
    invalid(
        "te-identity-alone",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n",
        400,
        ref="RFC 9112 §6.3 rule 4",
    ),
    invalid(
        "te-gzip-only",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nhello",
        400,
        ref="RFC 9112 §6.3 rule 4",
    ),
    invalid(
        "te-xchunked",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n" + CHUNKED_HELLO,
        400,
        ref="RFC 9112 §6.3 rule 4",
    ),
    invalid(
        "te-empty-value",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n" + CHUNKED_HELLO,
        400,
        ref="RFC 9112 §6.3 rule 4; RFC 9110 §5.6.1 (at least one element)",
    ),
    # RFC 9112 §6.1: TE in an HTTP/1.0 message: treat the framing as faulty.
    invalid(
        "te-on-http10",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_HELLO,
        400,
        ref="RFC 9112 §6.1 (HTTP/1.0 + TE is faulty framing)",
    ),
    invalid(
        "te-on-http10-with-cl",
        b"POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
        400,
        ref="RFC 9112 §6.1",
    ),
    # obs-fold of Transfer-Encoding: llhttp CVE-2022-32215 (multi-line TE).
    invalid(
        "te-obs-fold",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\nhello",
        400,
        ref="RFC 9112 §5.2; CVE-2022-32215 (llhttp)",
    ),
    # A vertical tab before "chunked": waitress CVE-2019-16789 read it as chunked while a
    # front end used Content-Length; gunicorn issue #3364 (stripped \x0b\x0c...).
    invalid(
        "te-vertical-tab",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0bchunked\r\nContent-Length: 5\r\n\r\nhello",
        400,
        ref="RFC 9110 §5.5 (field-vchar); CVE-2019-16789 (waitress)",
    ),
    # Underscore spelling is not Transfer-Encoding: the body is framed by Content-Length and
    # the field never reaches the environ (docs/design.md, "Choices"; puma CVE-2024-45614).
    valid(
        "te-underscore-is-not-te",
        b"POST /u HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
        ok("POST", "/u", body=b"hello", CONTENT_LENGTH="5"),
        ref="RFC 9110 §5.1; docs/design.md, Choices; CVE-2024-45614 (puma)",
    ),
]
