"""Request line, protocol version, method and request-target forms (RFC 9112 §2.3, §3).

Invalid request lines get 400 (RFC 9112 §3: "Recipients of an invalid
request-line SHOULD respond with ... 400"); a major version we do not speak
gets 505 (RFC 9110 §15.6.6); a well-formed method we do not recognize gets 501
(RFC 9110 §9.1, §15.6.2).
"""

from __future__ import annotations

from tests.requests.cases import ANY, PORT, Case, invalid, ok, valid

# Targets with bytes RFC 3986 excludes but llhttp accepts (visible ASCII): real clients
# send them unescaped, nginx forwards them, gunicorn serves them; so do we.
SERVED = 'docs/http.md, "Request targets"; RFC 9112 §3.2'


def _target(target: bytes, path: str, query: str = "", ref: str = SERVED) -> Case:
    """A GET whose target must reach the app with exactly this PATH_INFO and QUERY_STRING
    (REQUEST_URI: the target as sent)."""
    name = "target-char-" + target.decode("latin-1").encode("unicode_escape").decode("ascii")
    raw = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    return valid(name, raw, ok("GET", path, query, REQUEST_URI=target.decode("latin-1")), ref=ref)


CASES: list[Case] = [
    # HTTP/0.9 "simple request": no version, no headers.  Jetty CVE-2017-7656 answered it and
    # so let a request hide in what a front end took as a body.
    invalid(
        "version-http09",
        b"GET /\r\n\r\n",
        400,
        ref="RFC 9112 §2.3, §3; CVE-2017-7656 (Jetty)",
    ),
    invalid("version-http2", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, ref="RFC 9110 §2.5, §15.6.6"),
    invalid("version-http3", b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505, ref="RFC 9110 §2.5, §15.6.6"),
    # RFC 9110 §2.5: a higher minor version of a major we implement SHOULD be processed as the
    # highest minor we implement (HTTP/1.1).
    valid(
        "version-http12-as-11",
        b"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
        ok("GET", "/"),
        ref="RFC 9110 §2.5 (SHOULD process as 1.1)",
    ),
    invalid("version-no-minor", b"GET / HTTP/1\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §2.3"),
    # RFC 9112 §2.3: HTTP-name is case-sensitive "HTTP".
    invalid("version-lowercase", b"GET / http/1.1\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §2.3"),
    # llhttp reads "RTSP/1.0" as version 1.0 (docs/http.md, "Accepted but wrong").
    invalid("version-rtsp", b"GET / RTSP/1.0\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §2.3"),
    invalid("version-ice", b"SOURCE /mount ICE/1.0\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §2.3"),
    # RFC 9110 §9.1: methods are case-sensitive tokens; one the server does not know SHOULD
    # get 501 (§15.6.2).  llhttp refuses every method outside its list, so a token it does
    # not know is answered 501 (docs/http.md, "Methods").
    invalid("method-lowercase", b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 501, ref="RFC 9110 §9.1, §15.6.2"),
    invalid("method-unknown", b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501, ref="RFC 9110 §9.1, §15.6.2"),
    invalid(
        "method-unknown-tchars",
        b"X-MY.METHOD~1 / HTTP/1.1\r\nHost: x\r\n\r\n",
        501,
        ref="RFC 9110 §9.1, §5.6.2 (token)",
    ),
    # "@" is not a tchar: not a method at all, so not a request line (RFC 9112 §3: 400).
    invalid("method-not-token", b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref="RFC 9110 §9.1 (token)"),
    invalid("method-empty", b" / HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §3"),
    # RFC 9110 §9.3.6 CONNECT: a server that is not a proxy does not implement it.
    invalid(
        "method-connect",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        501,
        ref="RFC 9110 §9.3.6, §15.6.2",
    ),
    valid(
        "method-put-delete-patch",
        b"PUT /r HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"
        b"DELETE /r HTTP/1.1\r\nHost: x\r\n\r\n"
        b"PATCH /r HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nB",
        ok("PUT", "/r", body=b"A", CONTENT_LENGTH="1"),
        ok("DELETE", "/r", body=b""),
        ok("PATCH", "/r", body=b"B", CONTENT_LENGTH="1"),
        ref="RFC 9110 §9.3",
    ),
    # RFC 9110 §9.3.2: HEAD gets the GET head and no content; the connection stays in sync.
    valid(
        "method-head",
        b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("HEAD", "/h", head=True),
        ref="RFC 9110 §9.3.2",
    ),
    # RFC 9112 §3.2.4: asterisk-form only with OPTIONS.
    invalid("target-asterisk-get", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §3.2.4"),
    valid(
        "target-asterisk-options",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("OPTIONS", ANY, REQUEST_URI="*"),
        ref="RFC 9112 §3.2.4",
    ),
    # RFC 9112 §3.2.2: a server MUST accept absolute-form, and MUST then ignore Host and use
    # the target's authority.
    valid(
        "target-absolute-form",
        b"GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n",
        ok(
            "GET",
            "/a/b",
            "c=d",
            HTTP_HOST=ANY,
            SERVER_NAME="example.com",
            SERVER_PORT="80",  # no port named: the scheme's default (docs/design.md, "Choices")
            REQUEST_URI="http://example.com/a/b?c=d",
        ),
        ref="RFC 9112 §3.2.2 (MUST ignore Host)",
    ),
    valid(
        "target-absolute-form-port",
        b"GET https://example.com:8443/p HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/p", HTTP_HOST=ANY, SERVER_NAME="example.com", SERVER_PORT="8443"),
        ref="RFC 9112 §3.2.2",
    ),
    # An empty path with a query: the query is still the query (RFC 3986 §3.3, §3.4).
    valid(
        "target-absolute-form-query-no-path",
        b"GET http://example.com?a=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/", "a=1", HTTP_HOST=ANY, SERVER_NAME="example.com"),
        ref="RFC 9112 §3.2.2; RFC 3986 §3.4",
    ),
    # RFC 9110 §4.2.4: userinfo in an http(s) URI is deprecated; a recipient SHOULD treat its
    # presence as an error (it is a phishing and parser-confusion vector).
    invalid(
        "target-absolute-form-userinfo",
        b"GET http://user@example.com/ HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
        ref="RFC 9110 §4.2.4",
    ),
    # RFC 9112 §3.2.3: authority-form only with CONNECT.
    invalid(
        "target-authority-form-get",
        b"GET example.com:80 HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
        ref="RFC 9112 §3.2.3",
    ),
    # RFC 9112 §3.2: no whitespace inside the target; SHOULD 400, not autocorrect.
    invalid("target-space", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §3, §3.2"),
    # RFC 9112 §3.2: a fragment is never sent; if it is, it is dropped from PATH_INFO and
    # QUERY_STRING, as nginx's $uri drops it (nginx forwards it to us as sent).
    _target(b"/a#frag", "/a", ref="RFC 3986 §3.5; nginx $uri"),
    _target(b"/a?b=1#c?d", "/a", "b=1", ref="RFC 3986 §3.5; nginx $uri, $args"),
    _target(b"/public#/../admin", "/public", ref="RFC 3986 §3.5; nginx $uri"),
    _target(b"/a<b", "/a<b"),
    _target(b"/a>b", "/a>b"),
    _target(b'/a"b', '/a"b'),
    _target(b"/a{b", "/a{b"),
    _target(b"/a}b", "/a}b"),
    _target(b"/a|b", "/a|b"),
    _target(b"/a^b", "/a^b"),
    _target(b"/a\\b", "/a\\b"),
    _target(b"/a`b", "/a`b"),
    _target(b"/a[b", "/a[b"),
    _target(b"/?q=<script>", "/", "q=<script>"),
    # The forms of issue 15: what real clients send.
    _target(b"/version?ids[]=1&ids[]=2", "/version", "ids[]=1&ids[]=2", ref="axios' default params"),
    _target(
        b"/articles?filter[name]=x&page[size]=10&fields[articles]=title,body",
        "/articles",
        "filter[name]=x&page[size]=10&fields[articles]=title,body",
        ref="JSON:API (filter, page, fields)",
    ),
    _target(b"/version/[x]", "/version/[x]", ref="curl -g"),
    _target(b"/v?fields=a|b", "/v", "fields=a|b"),
    _target(b'/s?q="x"&r={y}&t=^&u=`v`&w=<b>&z=\\', "/s", 'q="x"&r={y}&t=^&u=`v`&w=<b>&z=\\'),
    _target(b'/{x}/^/"/\\/`/<b>', '/{x}/^/"/\\/`/<b>'),
    # An escape that is not one stays as it is (Werkzeug and gunicorn leave it too); valid
    # ones around it are decoded.
    _target(b"/a%zz", "/a%zz", ref="RFC 3986 §2.1; as Werkzeug, gunicorn"),
    _target(b"/%zz%5B%5d[x]%4%", "/%zz[][x]%4%", ref="RFC 3986 §2.1; as Werkzeug, gunicorn"),
    _target(b"/q?v=%zz", "/q", "v=%zz"),
    # A NUL decoded into PATH_INFO would reach apps that pass paths to C (nginx refuses it
    # too); in the query it stays the three characters "%00".
    invalid("target-nul-escape", b"GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref=SERVED),
    invalid(
        "target-nul-escape-absolute-form", b"GET http://h/%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref=SERVED
    ),
    _target(b"/a?x=%00", "/a", "x=%00"),
    # Raw bytes 0x80 and up: llhttp's strict mode refuses them (RFC 3986 §2: percent-encode).
    invalid(
        "target-char-/caf\\xe9",
        b"GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
        ref="RFC 3986 §2 (non-ASCII must be percent-encoded)",
    ),
    invalid("target-del", b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §3.2"),
    # The authority of an absolute-form target is still checked (RFC 3986 §3.2.2).
    invalid(
        "target-absolute-form-bad-host",
        b"GET http://h%zz/ HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
        ref="RFC 3986 §3.2.2",
    ),
    valid(
        "target-absolute-form-brackets",
        b"GET http://example.com/v/[x]?ids[]=1|2 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/v/[x]", "ids[]=1|2", HTTP_HOST=ANY, SERVER_NAME="example.com"),
        ref="RFC 9112 §3.2.2",
    ),
    # PEP 3333: PATH_INFO is percent-decoded (latin-1), QUERY_STRING and
    # REQUEST_URI raw.
    valid(
        "target-percent-decoded",
        b"GET /a%20b%2Fc%25?x=%41&y=%20 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/a b/c%", "x=%41&y=%20", REQUEST_URI="/a%20b%2Fc%25?x=%41&y=%20"),
        ref="PEP 3333 (environ Variables)",
    ),
    valid(
        "target-percent-utf8",
        b"GET /%E3%81%82 HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/\xe3\x81\x82"),
        ref="PEP 3333 (bytes as latin-1 str)",
    ),
    valid(
        "target-slashes-preserved",
        b"GET //foo///bar/baz HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "//foo///bar/baz"),
        ref="Plack::Test::Suite (//foo///bar/baz)",
    ),
    valid(
        "target-rfc3986-specials",
        b"GET /a-._~!$&'()*+,;=:@/b?c=/?:@ HTTP/1.1\r\nHost: x\r\n\r\n",
        ok("GET", "/a-._~!$&'()*+,;=:@/b", "c=/?:@"),
        ref="RFC 3986 §3.3 (pchar), §3.4",
    ),
    valid(
        "target-empty-query", b"GET /p? HTTP/1.1\r\nHost: x\r\n\r\n", ok("GET", "/p", ""), ref="RFC 3986 §3.4"
    ),
    # RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
    valid("line-leading-crlf", b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", ok("GET", "/"), ref="RFC 9112 §2.2"),
    # RFC 9112 §3: single SP separators; whitespace-lenient parsing is a MAY we decline.
    invalid("line-double-space", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §3"),
    invalid("line-tab-separator", b"GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §3"),
    invalid("line-trailing-space", b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §3"),
    invalid("line-nul-in-target", b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400, ref="RFC 9112 §3.2"),
    # HTTP/1.0 request without Host: served, names from the listener; closed after.
    valid(
        "line-http10-plain",
        b"GET /ten HTTP/1.0\r\n\r\n",
        ok(
            "GET",
            "/ten",
            HTTP_HOST=None,
            SERVER_PROTOCOL="HTTP/1.0",
            SERVER_NAME="127.0.0.1",
            SERVER_PORT=PORT,
        ),
        ref="RFC 9112 §3.2 (Host optional on 1.0); §9.3",
        keep=False,
    ),
]
