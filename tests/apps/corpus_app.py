"""The echo app behind tests/requests: what the server handed over, as JSON.

The reply carries the CGI keys of the environ, every ``HTTP_*`` key, and the
length and SHA-1 of the body read from ``wsgi.input`` (read to its end in
pieces).  ``application`` is wrapped in ``wsgiref.validate.validator`` so every
request also checks the server's side of PEP 3333.  A read that fails
(truncated or malformed body) is left to propagate: the server must answer it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.validate import validator

KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "REQUEST_URI",
    "SERVER_PROTOCOL",
    "SERVER_NAME",
    "SERVER_PORT",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
)


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    digest = hashlib.sha1()
    length = 0
    read = environ["wsgi.input"].read
    while piece := read(65536):
        digest.update(piece)
        length += len(piece)
    out: dict[str, Any] = {k: environ[k] for k in KEYS if k in environ}
    out.update((k, v) for k, v in environ.items() if k.startswith("HTTP_"))
    out["body_length"] = length
    out["body_sha1"] = digest.hexdigest()
    data = json.dumps(out, sort_keys=True).encode("ascii")
    # An explicit length: the validator wraps the result, so the server cannot count it, and
    # without a length an HTTP/1.0 keep-alive response would have to be close-delimited.
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


application = validator(echo)
