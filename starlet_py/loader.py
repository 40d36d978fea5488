"""Turn "module:callable" (or "module", meaning its ``application``) into the app."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from .errors import ConfigError


def load(spec: str, what: str = "a WSGI callable") -> Callable[..., Any]:
    """Import ``spec`` with the current directory first on sys.path; any failure is a one-line
    ConfigError, after the traceback of the module's own code (its frames only) on stderr."""
    module_name, sep, attr = spec.partition(":")
    if sep and not attr:
        raise ConfigError(f"bad APP {spec!r}: nothing after ':'")
    attr = attr or "application"
    if not module_name:
        raise ConfigError(f"bad APP {spec!r}: expected module:callable")
    if sys.path[:1] != [os.getcwd()]:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except BaseException as e:  # an app's import may fail in any way, SystemExit included
        if isinstance(e, ModuleNotFoundError) and e.name and f"{module_name}.".startswith(e.name + "."):
            raise ConfigError(f"cannot import {module_name!r}: no such module") from None
        _print_user_traceback(e)
        first_line = f"{type(e).__name__}: {e}".splitlines()[0]
        raise ConfigError(f"cannot import {module_name!r}: {first_line}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        kind = type(obj).__name__
        article = "an" if kind[:1] in "aeiou" else "a"
        raise ConfigError(f"{attr!r} in {module_name} is {article} {kind}, not {what}")
    return obj  # type: ignore[no-any-return]


def _print_user_traceback(e: BaseException) -> None:
    """The traceback of ``e`` without our frames or importlib's; nothing if none is left (but
    a SyntaxError's own lines: file, line and caret)."""
    import traceback  # only on this error path

    hidden = (os.path.dirname(__file__) + os.sep, os.path.dirname(importlib.__file__) + os.sep, "<frozen ")
    te = traceback.TracebackException.from_exception(e)
    chain: traceback.TracebackException | None = te
    while chain is not None:
        chain.stack[:] = [f for f in chain.stack if not f.filename.startswith(hidden)]
        chain = chain.__cause__ or chain.__context__
    if te.stack or isinstance(e, SyntaxError):
        sys.stderr.write("".join(te.format()))
