"""The app's status and headers: validated and serialized once, remembered (bounded).

Errors are the app's (PEP 3333), so they are TypeError/ValueError, not HTTP errors.
"""

from __future__ import annotations

from .log import debug
from .rfc import TCHAR

# RFC 9110 §7.6.1: meaningful for one connection only; a WSGI app must not send them
# (PEP 3333, "Other HTTP Features").  Apps that pass on an upstream response's headers
# do, so they are dropped (the server owns them), as gunicorn does; only
# Transfer-Encoding, which would contradict the framing we choose, is the app's error.
HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
     "trailer", "trailers", "upgrade")
)  # fmt: skip
_DROPPED = (b"", 0, None)
_told: set[str] = set()  # the hop-by-hop names this worker logged (once each)

# Field names are tokens (rfc.TCHAR); field values: visible, SP, HTAB, obs-text (RFC 9110 §5.5).
_VALUE = bytes([9, *range(32, 127), *range(128, 256)])

status_cache: dict[str, tuple[bytes, int, bool]] = {}
_checked: dict[tuple[str, str], tuple[bytes, int, int | None]] = {}

HAS_DATE = 1
HAS_SERVER = 2
IS_LENGTH = 4


def status_line(status: str) -> bytes:
    """``'200 OK'`` → ``b'HTTP/1.1 200 OK\\r\\n'``; raises ValueError if malformed (cached)."""
    return (status_cache.get(status) or parse_status(status))[0]


def parse_status(status: str) -> tuple[bytes, int, bool]:
    """``(status line, code, whether the code forbids a body)`` (1xx, 204, 304: RFC 9112
    §6.3); raises TypeError / ValueError if malformed.  Remembered: callers look in
    ``status_cache`` first (Response.start_response), so the common status costs one
    dict lookup, not a call."""
    if type(status) is not str:
        raise TypeError(f"status must be str, not {type(status).__name__}")
    code, sep, reason = status.partition(" ")
    if not (len(code) == 3 and code.isascii() and code.isdigit() and sep and code[0] != "0"):
        raise ValueError(f"status must be 'NNN Reason', got {status!r}")
    raw = status.encode("latin-1")
    if raw.translate(None, _VALUE):
        raise ValueError(f"control character in status {status!r}")
    number = int(code)
    entry = (b"HTTP/1.1 " + raw + b"\r\n", number, number < 200 or number == 204 or number == 304)
    if len(status_cache) < 256:  # apps use a handful of statuses; never grow unbounded
        status_cache[status] = entry
    return entry


def check_headers(headers: list[tuple[str, str]]) -> tuple[bytes, int, int | None]:
    """Validate the app's headers and serialize them.

    Returns ``(block, flags, content_length)``: ``block`` is the CRLF-terminated
    lines, ``flags`` has HAS_DATE / HAS_SERVER set when the app sent those.
    Raises TypeError / ValueError (PEP 3333: the app's error, not the client's).
    """
    if type(headers) is not list:
        raise TypeError(f"headers must be a list, not {type(headers).__name__}")
    out = []
    flags = 0
    length: int | None = None
    get = _checked.get
    for item in headers:
        try:
            entry = get(item)
        except TypeError:  # unhashable: certainly not a (str, str) tuple
            entry = None
        if entry is None or type(item) is not tuple:
            entry = _check_one(item)
        out.append(entry[0])
        flag = entry[1]
        if flag:
            if flag == IS_LENGTH:
                if length is not None:
                    raise ValueError("repeated Content-Length")
                length = entry[2]
            else:
                flags |= flag
    return b"".join(out), flags, length


def _check_one(item: tuple[str, str]) -> tuple[bytes, int, int | None]:
    """Validate one header; remember the result (apps repeat the same few headers)."""
    if type(item) is not tuple or len(item) != 2:
        raise TypeError(f"each header must be a (name, value) tuple, got {item!r}")
    name, value = item
    if type(name) is not str or type(value) is not str:
        raise TypeError(f"header name and value must be str: {item!r}")
    bname = name.encode("latin-1")
    bvalue = value.encode("latin-1")
    if not bname or bname.translate(None, TCHAR):
        raise ValueError(f"invalid header name {name!r}")
    if bvalue.translate(None, _VALUE):
        raise ValueError(f"control character (CR, LF, ...) in header {name!r}")
    lname = name.lower()
    if lname == "transfer-encoding":
        raise ValueError(f"hop-by-hop header {name!r} is the server's to send")
    entry: tuple[bytes, int, int | None] = (bname + b": " + bvalue + b"\r\n", 0, None)
    if lname in HOP_BY_HOP:
        if lname not in _told:
            _told.add(lname)
            debug(f"hop-by-hop header {name!r} from the app dropped: the server's to send")
        entry = _DROPPED
    elif lname == "content-length":
        if not (value.isascii() and value.isdigit()):
            raise ValueError(f"bad Content-Length {value!r}")
        entry = (entry[0], IS_LENGTH, int(value))
    elif lname == "date":
        entry = (entry[0], HAS_DATE, None)
    elif lname == "server":
        entry = (entry[0], HAS_SERVER, None)
    if len(_checked) < 1024:  # bounded: per-request values (cookies, ETags) may never repeat
        _checked[item] = entry
    return entry
