"""Turn "module:callable" (or "module", meaning its ``application``) into the app."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from .errors import ConfigError


def load(spec: str, default_attr: str = "application") -> Callable[..., Any]:
    """Import ``spec`` with the current directory first on sys.path.

    Any failure (missing module, import-time exception, missing or
    non-callable attribute) becomes a one-line ConfigError.
    """
    module_name, sep, attr = spec.partition(":")
    if sep and not attr:
        raise ConfigError(f"bad APP {spec!r}: nothing after ':'")
    attr = attr or default_attr
    if not module_name:
        raise ConfigError(f"bad APP {spec!r}: expected module:callable")
    cwd = os.getcwd()
    if cwd not in sys.path[:1]:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise ConfigError(f"cannot import {module_name!r}: no such module") from None
        raise ConfigError(f"cannot import {module_name!r}: {_one_line(e)}") from None
    except BaseException as e:  # an app's import may fail in any way, SystemExit included
        raise ConfigError(f"cannot import {module_name!r}: {_one_line(e)}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise ConfigError(f"{spec!r} is not callable")
    return obj  # type: ignore[no-any-return]


def _one_line(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text.splitlines()[0] if text.strip() else type(e).__name__
