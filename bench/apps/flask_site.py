"""A small but realistic Flask app for bench/run.py's mem-flask scenario (``flask_site:app``).

Routes (every answer 200):
  GET /               a Jinja page that extends a base template, a loop over items
  GET /items/<id>     one item's page (a URL converter, url_for, a filter)
  GET /api/items      JSON of the items, ``?limit=N``
  GET /health         plain text

What a framework builds on its first requests (the URL map's matchers, Jinja's
compiled templates, JSON provider state) is what --warmup shares.
"""

from __future__ import annotations

from flask import Flask, abort, jsonify, render_template, request

app = Flask(__name__, template_folder="templates")

ITEMS = [{"id": i, "name": f"item {i}", "price": 3.5 * i, "tags": ["a", "b"][: i % 3]} for i in range(1, 21)]


@app.get("/")
def index() -> str:
    return render_template("index.html", title="Shop", items=ITEMS)


@app.get("/items/<int:item_id>")
def item(item_id: int) -> str:
    if not 1 <= item_id <= len(ITEMS):
        abort(404)
    return render_template("item.html", title=f"Item {item_id}", item=ITEMS[item_id - 1])


@app.get("/api/items")
def api_items():  # type: ignore[no-untyped-def]
    limit = request.args.get("limit", len(ITEMS), type=int)
    return jsonify(count=min(limit, len(ITEMS)), items=ITEMS[:limit])


@app.get("/health")
def health() -> tuple[str, int, dict[str, str]]:
    return "ok", 200, {"Content-Type": "text/plain"}
