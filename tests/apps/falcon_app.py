"""A Falcon app for the framework tests (``falcon_app:application``).

Routing with a typed field, JSON media in and out, a 201 with a Location header,
and Falcon's own error answers (404 for a route that does not match, 400 for bad JSON).
Stateless: every worker is a separate process.
"""

from __future__ import annotations

import falcon


class Things:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = req.get_param_as_int("limit", default=3)
        resp.media = {"things": [{"id": i} for i in range(1, limit + 1)]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        thing = req.get_media()
        resp.status = falcon.HTTP_201
        resp.location = "/things/42"
        resp.media = {"id": 42, **thing}

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, thing_id: int) -> None:
        resp.media = {"id": thing_id, "kind": type(thing_id).__name__}


application = falcon.App()
things = Things()
application.add_route("/things", things)
application.add_route("/things/{thing_id:int}", things, suffix="item")
