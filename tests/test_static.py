"""The code-shape checks run with the suite: ruff, mypy --strict, no import cycles."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import IN_CI

ROOT = Path(__file__).resolve().parent.parent


def _tool(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        msg = f"{module} is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def test_ruff_clean() -> None:
    _tool("ruff")
    dirs = [d for d in ("starlet_py", "tests", "bench") if (ROOT / d).is_dir()]
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *dirs],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


# Optional imports must type-check the same whether or not they are installed:
# "stub" puts a typed setproctitle on mypy's path, as if the package were there.
@pytest.mark.parametrize("optional", ["absent", "stub"])
def test_mypy_strict_clean(optional: str, tmp_path: Path) -> None:
    _tool("mypy")
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    if optional == "stub":
        (tmp_path / "setproctitle.pyi").write_text("def setproctitle(title: str) -> None: ...\n")
        env["MYPYPATH"] = str(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "starlet_py"],
        cwd=ROOT, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_import_cycles() -> None:
    """No starlet_py module imports, directly or not, one that imports it (TYPE_CHECKING too)."""
    pattern = re.compile(r"^\s*from \.(\w*) import (.+)$|^\s*import starlet_py\.(\w+)", re.M)
    names = {p.stem for p in (ROOT / "starlet_py").glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name in names:
        deps = graph.setdefault(name, set())
        for mod, what, plain in pattern.findall((ROOT / "starlet_py" / f"{name}.py").read_text()):
            if plain or mod:
                deps.add(plain or mod)
            else:  # from . import a, b
                deps.update(w.strip() for w in what.split(",") if w.strip() in names)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for dep in graph.get(start, ()):
            if dep == goal or (dep not in seen and not seen.add(dep) and reaches(dep, goal, seen)):
                return True
        return False

    cycles = sorted(name for name in names if reaches(name, name, set()))
    assert not cycles, f"modules in an import cycle: {cycles}"
