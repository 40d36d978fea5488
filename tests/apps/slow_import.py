"""An app whose import takes 5 s (``slow_import:application``), for a stop while it loads.

It touches the file named by STARLET_TEST_MARK (if set) as its import begins.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

if os.environ.get("STARLET_TEST_MARK"):
    open(os.environ["STARLET_TEST_MARK"], "w").close()
time.sleep(5)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
