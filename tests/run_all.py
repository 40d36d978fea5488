"""The one test command: the whole suite on every Python pyproject.toml claims, each in
a fresh virtualenv, then once more with exactly the lowest dependency versions it declares.

    python3 tests/run_all.py [PYTEST_ARGS...]

ruff and mypy (tests/test_static.py) run once, in the first run: the oldest Python with
the newest dependencies (mypy checks for 3.11 whatever runs it). A Python not found is
skipped with a line saying so, and is a failure under CI=true. The last line is the total
over every run; the exit status is non-zero if any run failed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "test-runs"  # venvs, junit files, the constraints file (git-ignored)
STATIC = "tests/test_static.py"
IN_CI = os.environ.get("CI", "").lower() == "true"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@dataclass
class Run:
    label: str  # "3.12", "3.11 lowest deps"
    passed: int = 0
    failed: int = 0  # failures and errors; 1 for a run that could not run at all
    skipped: int = 0
    seconds: float = 0.0
    note: str = ""


def supported() -> list[str]:
    """The "3.X" of each `Programming Language :: Python :: 3.X` classifier, oldest first."""
    found = (re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c) for c in PROJECT["classifiers"])
    return sorted((m[1] for m in found if m), key=lambda v: int(v.split(".")[1]))


def find_python(minor: str) -> str | None:
    """pyenv's python3.X (newest patch first), else one on PATH.  pyenv's shims on PATH
    answer only for the active versions, so each candidate is asked what it is."""
    versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    dirs = [d for d in versions.glob(f"{minor}.*") if re.fullmatch(rf"{re.escape(minor)}\.\d+", d.name)]
    dirs.sort(key=lambda d: int(d.name.rsplit(".", 1)[1]), reverse=True)
    candidates = [str(d / "bin" / f"python{minor}") for d in dirs]
    candidates.append(shutil.which(f"python{minor}") or "")
    for exe in filter(None, candidates):
        ask = [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        if subprocess.run(ask, capture_output=True, text=True).stdout.strip() == minor:
            return exe
    return None


def lowest_constraints() -> str:
    """``name==floor`` for every dependency declared with ``>=``; exact pins stay as
    they are, and a dependency with neither has no lowest version to test: an error."""
    pins = []
    for req in [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["test"]]:
        name = re.split(r"[\s\[<>=!~;]", req.strip(), maxsplit=1)[0]
        floor = re.search(r">=\s*([^\s,;]+)", req)
        if floor:
            pins.append(f"{name}=={floor[1]}\n")
        elif "==" not in req:
            sys.exit(f"run_all: pyproject.toml: {req!r} declares no lowest version (>=)")
    path = BUILD / "lowest-constraints.txt"
    path.write_text("".join(pins))
    return str(path)


def say(line: str) -> None:
    print(f"run_all: {line}", flush=True)


def run(label: str, python: str, args: list[str], *, static: bool, constraints: str | None) -> Run:
    """A fresh venv with ``.[test]`` (under ``constraints`` if given), then pytest in it."""
    result, start = Run(label), time.monotonic()
    venv = BUILD / label.replace(" ", "-")
    shutil.rmtree(venv, ignore_errors=True)
    vpy = str(venv / "bin" / "python")
    install = [vpy, "-m", "pip", "install", "-q", "-e", f"{ROOT}[test]"]
    for step in ([python, "-m", "venv", str(venv)], install + (["-c", constraints] if constraints else [])):
        if subprocess.run(step, cwd=ROOT).returncode != 0:
            result.failed, result.note = 1, f"setup failed: {' '.join(step)}"
            return result
    what = "import sys, httptools; print(sys.version.split()[0], 'httptools', httptools.__version__)"
    result.note = subprocess.run([vpy, "-c", what], capture_output=True, text=True).stdout.strip()
    say(f"===== {label}: Python {result.note}{'' if static else f' (without {STATIC})'} =====")
    junit = BUILD / f"{venv.name}.xml"
    junit.unlink(missing_ok=True)
    pytest = [vpy, "-m", "pytest", f"--junitxml={junit}", *([] if static else ["--ignore", STATIC]), *args]
    # As if the venv were activated: a test that runs `python3` or a console script gets its own.
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    code = subprocess.run(pytest, cwd=ROOT, env=env).returncode
    result.seconds = time.monotonic() - start
    if junit.exists():
        for suite in ET.parse(junit).iter("testsuite"):
            count = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
            result.failed += count["failures"] + count["errors"]
            result.skipped += count["skipped"]
            result.passed += count["tests"] - count["failures"] - count["errors"] - count["skipped"]
    if code != 0 and result.failed == 0:  # no tests collected, interrupted, internal error
        result.failed, result.note = 1, f"{result.note}; pytest exited {code}"
    return result


def main(args: list[str]) -> int:
    BUILD.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    first: tuple[str, str] | None = None  # the oldest Python found: static checks, lowest deps
    for minor in supported():
        python = find_python(minor)
        if python is None:
            why = f"no python{minor} on PATH nor in $PYENV_ROOT/versions: "
            runs.append(
                Run(minor, failed=int(IN_CI), note=why + ("a failure under CI=true" if IN_CI else "skipped"))
            )
            say(f"{minor}: {runs[-1].note}")
            continue
        runs.append(run(minor, python, args, static=first is None, constraints=None))
        first = first or (minor, python)
    if first is not None:
        minor, python = first
        runs.append(run(f"{minor} lowest deps", python, args, static=False, constraints=lowest_constraints()))
    say("===== every run =====")
    for r in runs:
        counts = f"{r.passed} passed, {r.failed} failed, {r.skipped} skipped"
        say(f"{r.label:<16} {counts:<36} {r.seconds / 60:5.1f} min  {r.note}")
    total = [sum(getattr(r, k) for r in runs) for k in ("passed", "failed", "skipped")]
    print("total: {} passed, {} failed, {} skipped".format(*total), flush=True)
    return 1 if total[1] or not total[0] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
