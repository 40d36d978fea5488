"""The corpus's data model: a raw request and what the server must answer to it.

A ``Case`` is bytes exactly as a client sends them (every line ending written
out) plus the replies expected, in order, and whether the connection must stay
open afterwards.  Valid requests reach the echo app (tests/apps/corpus_app.py),
which answers 200 with a JSON object: the CGI keys of its environ, every
``HTTP_*`` key, and the length and SHA-1 of the body it read.  ``ok()``
describes such a reply; ``bad()`` an error the server itself must answer,
after which the connection must be closed.

Each group module (body_length.py, transfer_encoding.py, ...) exports
``CASES``, every entry commented with the RFC 9110/9112 section or the public
advisory it comes from.  ``Host: x`` is the default Host of the corpus.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

# Placeholder for the listener's port in expected environ values.
PORT = "{port}"
# Expected value meaning "present, any value" (for keys only the set of which is checked).
ANY = "{any}"


@dataclass(frozen=True)
class Reply:
    """One expected response.

    ``status`` is exact.  For a 200 from the echo app, ``env`` maps environ keys
    to their exact value (``None``: the key must be absent, ``ANY``: present);
    the ``HTTP_*`` keys of the environ must be exactly those named here with a
    value other than ``None``; ``body`` is what the app must have read.
    """

    status: int
    env: Mapping[str, str | None] = field(default_factory=dict)
    body: bytes | None = None
    head: bool = False  # a HEAD response: no body follows the head

    @property
    def body_sha1(self) -> str | None:
        return None if self.body is None else hashlib.sha1(self.body).hexdigest()


@dataclass(frozen=True)
class Case:
    """A raw request (or several, pipelined) and the replies it must get, in order."""

    id: str
    raw: bytes
    replies: tuple[Reply, ...]
    keep: bool  # True: the connection stays open, in sync, after the replies
    ref: str  # the RFC section or advisory the expectation comes from

    @property
    def valid(self) -> bool:
        return all(r.status < 400 for r in self.replies)


def ok(
    method: str,
    path: str,
    query: str = "",
    *,
    body: bytes = b"",
    head: bool = False,
    extra: Mapping[str, str | None] | None = None,
    **env: str | None,
) -> Reply:
    """A 200 from the echo app; ``HTTP_HOST`` defaults to ``x`` (pass None for absent).

    Expected environ keys come as keywords (``CONTENT_LENGTH="5"``) or in ``extra``.
    """
    expected: dict[str, str | None] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": "x",
    }
    expected.update(extra or {})
    expected.update(env)
    return Reply(200, expected, body, head)


def bad(status: int) -> Reply:
    """An error the server answers itself (the app never runs)."""
    return Reply(status)


def valid(id: str, raw: bytes, *replies: Reply, ref: str, keep: bool = True) -> Case:
    """A request (or pipeline) that must be served; by default the connection stays open."""
    return Case(id, raw, replies, keep, ref)


def invalid(id: str, raw: bytes, status: int, *, ref: str, before: tuple[Reply, ...] = ()) -> Case:
    """A request refused with ``status``, then the connection closed.

    ``before``: replies to valid requests pipelined ahead of the bad one.
    """
    return Case(id, raw, (*before, bad(status)), False, ref)
