"""What the serving master imports: shared with the workers, but counted in the pool's memory
(docs/design.md, "Memory").  Modules used only to read the command line stay out."""

from __future__ import annotations

import subprocess
import sys

import pytest

from starlet_py.config import Config, Field

# Each costs the pool its size once; dataclasses brings inspect, ast, dis and tokenize,
# argparse gettext (difflib and textwrap: only for a bad option and --help); random (hashlib,
# bisect...) is imported by a worker only with --min-reqs-per-child; ctypes (and libffi) is
# not needed for the workers' lifeline to the master (fork.Lifeline).
KEPT_OUT = ("dataclasses", "inspect", "ast", "dis", "tokenize", "argparse", "gettext", "difflib", "textwrap",
            "random", "ctypes")


def _modules_after(code: str) -> set[str]:
    """The modules ``code`` adds to those the interpreter loaded before it: a site hook
    (a .pth file) may import some of KEPT_OUT itself, which no server code can avoid."""
    out = subprocess.run(
        [sys.executable, "-c", f"import sys\nstartup = set(sys.modules)\n{code}\n"
         "print(' '.join(set(sys.modules) - startup))"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    return set(out.split())


def test_the_server_modules_import_none_of_them() -> None:
    mods = _modules_after(
        "import starlet_py.cli, starlet_py.master, starlet_py.worker\n"
        "starlet_py.cli.config_from(['-w', '4', '--listen=127.0.0.1:0', 'm:app'], {})"
    )
    assert "starlet_py.worker" in mods
    assert sorted(mods.intersection(KEPT_OUT)) == []


def test_fields_in_definition_order_with_kinds_from_their_annotations() -> None:
    f = {x.name: x for x in Config.FIELDS}
    assert list(f)[:3] == ["app", "listen", "max_workers"]
    assert (f["listen"].kind, f["listen"].repeatable) == (str, True)
    assert (f["min_reqs_per_child"].kind, f["min_reqs_per_child"].default) == (int, None)
    assert (f["timeout"].kind, f["reuse_port"].kind, f["socket_group"].kind) == (float, bool, str)
    assert f["max_workers"].metavar == "N" and "worker pool" in f["max_workers"].help
    assert all(isinstance(x, Field) for x in Config.FIELDS)


def test_config_is_a_value() -> None:
    a, b = Config(app="m:a", max_workers=3), Config(app="m:a", max_workers=3)
    assert a == b and hash(a) == hash(b) and a != Config(app="m:a")
    assert repr(a).startswith("Config(app='m:a', listen=('127.0.0.1:5000',), max_workers=3,")
    with pytest.raises(AttributeError):
        del a.app
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_worker'"):
        Config(app="m:a", max_worker=3)  # type: ignore[call-arg]
