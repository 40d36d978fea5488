"""The code-shape checks run with the suite: ruff, mypy --strict, module sizes."""

from __future__ import annotations

import importlib.util
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


def test_mypy_strict_clean() -> None:
    _tool("mypy")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "starlet_py"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT / "starlet_py").glob("*.py")}
    assert sizes, "no modules found"
    too_big = {name: n for name, n in sizes.items() if n > 330}
    assert not too_big, f"modules over ~300 lines: {too_big}"
