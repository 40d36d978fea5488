"""What the serving master imports: shared with the workers, but counted in the pool's memory
(docs/design.md, "Memory").  Modules used only to read the command line stay out."""

from __future__ import annotations

import subprocess
import sys

# Each costs the pool its size once; dataclasses brings inspect, ast, dis and tokenize,
# argparse gettext (difflib and textwrap: only for a bad option and --help); random (hashlib,
# bisect...) is imported by a worker only with --min-reqs-per-child; ctypes (and libffi) is
# not needed for the workers' lifeline to the master (fork.Lifeline).
KEPT_OUT = "dataclasses inspect ast dis tokenize argparse gettext difflib textwrap random ctypes".split()


def _modules_after(code: str) -> set[str]:
    """The modules ``code`` adds to those the interpreter loaded before it: a site hook
    (a .pth file) may import some of KEPT_OUT itself, which no server code can avoid."""
    code = f"import sys\nstartup = set(sys.modules)\n{code}\nprint(' '.join(set(sys.modules) - startup))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(run.stdout.split())


def test_the_server_modules_import_none_of_them() -> None:
    mods = _modules_after(
        "import starlet_py.cli, starlet_py.master, starlet_py.worker\n"
        "starlet_py.cli.config_from(['-w', '4', '--listen=127.0.0.1:0', 'm:app'], {})"
    )
    assert "starlet_py.worker" in mods
    assert sorted(mods.intersection(KEPT_OUT)) == []
