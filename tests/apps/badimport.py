"""An APP module that fails at import time (``badimport:application``)."""

raise RuntimeError("badimport fails at import on purpose")


def application(environ: object, start_response: object) -> list[bytes]:  # pragma: no cover
    return [b"unreachable"]
