"""The app behind the front-proxy tests (``proxied:application``): deploy.py's paths, plus

/record?id=N&s=S  appends ``N START PID`` to the file named by $RECORD_FILE as the app
                  is called (START: time.time()), then reads the body, sleeps S
                  seconds and answers ``ran N``.  A request the server never gives
                  to the app leaves no line.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import parse_qs

from deploy import Start
from deploy import application as deploy_application


def application(environ: dict[str, Any], start_response: Start) -> Any:
    if environ.get("PATH_INFO") != "/record":
        return deploy_application(environ, start_response)
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    # One write() on an O_APPEND file: whole lines even with several workers.
    fd = os.open(os.environ["RECORD_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{query['id']} {time.time():.6f} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    environ["wsgi.input"].read()
    time.sleep(float(query.get("s", "0")))
    body = f"ran {query['id']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
