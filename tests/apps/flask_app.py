"""A Flask app for the framework tests (``flask_app:app``).

Routing with a converter, JSON in and out, a multipart file upload and a streamed
(generator) response: the parts of Flask/Werkzeug that lean on the WSGI server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from flask import Flask, Response, jsonify, request, stream_with_context, url_for

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "hello from flask"


@app.get("/users/<int:user_id>")
def user(user_id: int) -> Response:
    return jsonify(id=user_id, name=f"user{user_id}", query=request.args.get("q"))


@app.post("/sum")
def total() -> Response:
    data = request.get_json()
    return jsonify(numbers=data["numbers"], total=sum(data["numbers"]))


@app.post("/upload")
def upload() -> Response:
    f = request.files["file"]
    content = f.read()
    return jsonify(
        filename=f.filename,
        content_type=f.mimetype,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        note=request.form.get("note"),
    )


@app.get("/stream")
def stream() -> Response:
    n = request.args.get("n", 5, type=int)

    def lines() -> Iterator[str]:
        for i in range(n):
            yield f"line {i} of {n}\n"

    return Response(stream_with_context(lines()), mimetype="text/plain")


@app.get("/whoami")
def whoami() -> Response:
    """What Flask makes of the request's scheme and client (the proxy-header tests)."""
    return jsonify(url=url_for("index", _external=True), secure=request.is_secure, remote=request.remote_addr)


@app.get("/relay")
def relay() -> Response:
    """Passes on an upstream response's headers, hop-by-hop ones included, as proxies do."""
    upstream = {"Connection": "keep-alive", "Keep-Alive": "timeout=5, max=100", "X-Upstream": "yes"}
    return Response("relayed", headers=upstream)
