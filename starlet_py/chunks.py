"""Chunk-size lines with whitespace (BWS) made acceptable to llhttp's strict mode.

RFC 9112 §7.1.1 lets a client put BWS around the ``;`` and ``=`` of a chunk
extension (``5 ; name = value``), and RFC 9110 §5.6.3 says a recipient must
accept it; llhttp's strict mode refuses it, and its lenient_spaces_after_chunk_size
would also pass ``5 \\r\\n``.  So ``Protocol`` passes the bytes of a chunked
body through ``Chunks.take``, which follows the framing of RFC 9112 §7.1 itself
(chunk-size line, that many bytes of data, CRLF, ..., last-chunk, trailer section)
and hands llhttp every byte unchanged except a chunk-size line that matches the
grammar exactly and holds BWS: that line is handed on without the BWS.

llhttp still parses and checks every byte it gets, and stays the only framer:
a line this module cannot parse (a bad size, bare LF, anything outside the
grammar, a line over ``MAX_LINE``) is passed on unchanged, and so is the rest of
the body (``lost``), so llhttp refuses or frames it as it always did.  The
chunk size is read from the same hex digits llhttp reads, so both agree on
where the data ends (docs/http.md, "Chunk extensions").  No I/O here.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from .rfc import HEX, TCHAR

if TYPE_CHECKING:
    from .request import Request

MAX_LINE = 16384  # a longer chunk-size line is passed on raw (Protocol bounds it: 400)
_WS = b" \t"
_LINE, _DATA, _CRLF, _TRAILERS = range(4)
# Inside a quoted-string (RFC 9110 §5.6.4): qdtext, and what may follow a backslash.
_QDTEXT = frozenset(b"\t !" + bytes(range(0x23, 0x5C)) + bytes(range(0x5D, 0x7F)) + bytes(range(0x80, 0x100)))
_QUOTABLE = frozenset(b"\t " + bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100)))
_TCHARS = frozenset(TCHAR)


class Chunks:
    """Follows one chunked body; ``done`` once its trailer section has ended."""

    __slots__ = ("state", "left", "held", "done", "lost")

    def __init__(self) -> None:
        self.state = _LINE
        self.left = 0  # bytes of chunk data still to come
        self.held = b""  # a chunk-size line begun but not ended, or the CRLF after data, or
        # the last bytes of the trailer section (where its end is searched)
        self.done = False  # the body ended: what follows is the next request
        self.lost = False  # gave up: pass everything on unchanged

    def take(self, data: bytes) -> tuple[bytes, int]:
        """The bytes to give llhttp for ``data``, and how much of ``data`` they stand for
        (all of it, unless the body ends inside it).  A partial chunk-size line is held
        back until its end arrives."""
        out = []
        pos, n = 0, len(data)
        while pos < n:
            state = self.state
            if state == _DATA:
                k = min(self.left, n - pos)
                out.append(data[pos : pos + k])
                pos += k
                self.left -= k
                if not self.left:
                    self.state = _CRLF
            elif state == _CRLF:  # the CRLF that ends chunk-data
                got = data[pos : pos + 2 - len(self.held)]
                pos += len(got)
                out.append(got)
                self.held += got
                if len(self.held) == 2:
                    if self.held != b"\r\n":
                        return self._lose(out, data, pos)
                    self.state, self.held = _LINE, b""
            elif state == _LINE:
                end = data.find(b"\n", pos)
                if end < 0:
                    self.held += data[pos:]
                    pos = n
                    if len(self.held) > MAX_LINE:
                        out.append(self.held)
                        return self._lose(out, data, n)
                    break
                line, self.held = self.held + data[pos : end + 1], b""
                pos = end + 1
                fixed, size = chunk_line(line)
                out.append(fixed)
                if size < 0:
                    return self._lose(out, data, pos)
                if size:
                    self.state, self.left = _DATA, size
                else:  # last-chunk: its CRLF may be the first half of the section's end
                    self.state, self.held = _TRAILERS, b"\r\n"
            else:  # the trailer section: it ends at the first CRLF CRLF (bare LF: llhttp refuses)
                held = self.held
                end = (held + data[pos : pos + 3]).find(b"\r\n\r\n")
                if end >= 0:
                    end += 4 - len(held) + pos
                else:
                    end = data.find(b"\r\n\r\n", pos)
                    end = end + 4 if end >= 0 else -1
                if end < 0:
                    self.held = (held + data[pos:])[-3:]
                    out.append(data[pos:])
                    pos = n
                else:
                    out.append(data[pos:end])
                    pos = end
                    self.done = True
                    break
        return (out[0] if len(out) == 1 else b"".join(out)), pos

    def _lose(self, out: list[bytes], data: bytes, pos: int) -> tuple[bytes, int]:
        self.lost = True
        out.append(data[pos:])
        return b"".join(out), len(data)


class Cutter:
    """How Protocol cuts what it is fed, so that a chunked body can go through Chunks:
    where llhttp has no pause, each piece ends where a head or a Content-Length body
    ends (docs/http.md, "Chunk extensions").  llhttp parses any cut the same."""

    __slots__ = ()
    queue: deque[Request]
    dead: bool
    _parser: Any
    _cur: Request | None
    _in_head: bool
    _hay: bytes
    _head_bytes: int
    _left: int
    _chunks: Chunks | None
    _sniff: bool

    def feed(self, data: bytes, piece: bool = False) -> None: ...  # Protocol's

    def _sniff_method(self, data: bytes) -> None: ...

    def _new_parser(self) -> Any: ...

    def _cut(self, data: bytes) -> None:
        """Feed ``data`` in pieces that end where a head (at its first CRLF CRLF: a head
        holds none before its end) or a Content-Length body ends, a chunked body through
        chunks.Chunks (docs/http.md, "Chunk extensions").  llhttp parses any cut the same."""
        while data and not (self.dead or self._sniff):
            cur, chunks = self._cur, self._chunks
            if chunks is not None:
                piece, used = chunks.take(data)
                data = data[used:]
                if chunks.done or chunks.lost:
                    self._chunks = None  # type: ignore[misc]  # (Protocol's slot) lost: llhttp alone frames the rest
                if piece:  # empty while a chunk-size line is held back
                    self.feed(piece, True)
            elif cur is None or self._in_head:
                hay = self._hay[-3:]  # a CRLF CRLF may straddle two reads
                end = (hay + data).find(b"\r\n\r\n") + 4 - len(hay)
                if 4 - len(hay) <= end < len(data):
                    self.feed(data[:end], True)
                    data = data[end:]
                else:
                    self.feed(data, True)
                    data = b""
            elif not cur.chunked and 0 < (left := self._left) < len(data):
                self.feed(data[:left], True)
                data = data[left:]
            else:
                self.feed(data, True)
                data = b""
        if self._sniff:
            self._sniff_method(data)

    def _recut(self, data: bytes, queued: int) -> None:
        """A chunked head ended inside ``data``, fed whole (a single request in one read
        is, without a search): undo that feed (the requests it queued, a new parser) and
        feed ``data`` again through _cut, which ends a piece where a head ends."""
        while len(self.queue) > queued:
            self.queue.pop()
        self._parser = self._new_parser()
        self._cur, self._in_head, self._hay, self._head_bytes = None, False, b"", 0  # type: ignore[misc]
        self._cut(data)


def chunk_line(line: bytes) -> tuple[bytes, int]:
    """A chunk-size line (with its line end) -> (the line for llhttp, the chunk size);
    the size is -1, and the line unchanged, when it is not ``chunk-size [ chunk-ext ] CRLF``."""
    if line[-2:] != b"\r\n":
        return line, -1
    body = line[:-2]
    semi = body.find(b";")
    size = body if semi < 0 else body[:semi].rstrip(_WS)  # BWS only before ";"
    if not size or size.translate(None, HEX) or len(size.lstrip(b"0")) > 16:
        return line, -1
    number = int(size, 16)
    if semi < 0 or (b" " not in body and b"\t" not in body):
        return line, number  # nothing to remove: llhttp checks the extensions itself
    ext = extensions(body[semi:])
    if ext is None:
        return line, -1
    return size + ext + b"\r\n", number


def extensions(ext: bytes) -> bytes | None:
    """``*( BWS ";" BWS name [ BWS "=" BWS value ] )`` (RFC 9112 §7.1.1) without the BWS,
    or None when ``ext`` (which starts at its first ";") does not match."""
    out = []
    i, n = 0, len(ext)
    while i < n:
        if ext[i] != 0x3B:  # ";"
            return None
        i = _skip(ext, i + 1)
        j = _token(ext, i)
        if j == i:
            return None
        item = b";" + ext[i:j]
        k = _skip(ext, j)
        if k < n and ext[k] == 0x3D:  # "="
            i = _skip(ext, k + 1)
            j = _quoted(ext, i) if i < n and ext[i] == 0x22 else _token(ext, i)
            if j <= i:
                return None
            item += b"=" + ext[i:j]
            k = _skip(ext, j)
        if k == n and k != j:
            return None  # BWS at the end of the line: only allowed before ";" or "="
        out.append(item)
        i = k
    return b"".join(out)


def _skip(data: bytes, i: int) -> int:
    while i < len(data) and data[i] in _WS:
        i += 1
    return i


def _token(data: bytes, i: int) -> int:
    while i < len(data) and data[i] in _TCHARS:
        i += 1
    return i


def _quoted(data: bytes, i: int) -> int:
    """The end of the quoted-string starting at ``data[i]`` (a DQUOTE), or -1."""
    i += 1
    n = len(data)
    while i < n:
        c = data[i]
        if c == 0x22:
            return i + 1
        if c == 0x5C:  # quoted-pair
            if i + 1 >= n or data[i + 1] not in _QUOTABLE:
                return -1
            i += 2
        elif c in _QDTEXT:
            i += 1
        else:
            return -1
    return -1
