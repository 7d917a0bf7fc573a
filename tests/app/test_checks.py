"""The type checker and the linter run with the tests (so in CI): a finding fails the build. Configuration and the
stated rule set are in pyproject.toml."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

CHECKS = {
    "mypy --strict on the pure core": [sys.executable, "-m", "mypy", "--strict", "sim/model"],
    "mypy on the rest": [sys.executable, "-m", "mypy", "sim", "hil", "fleetlab", "benchmarks"],
    "ruff": [sys.executable, "-m", "ruff", "check", "."],
}


@pytest.mark.xdist_group("mypy-cache")      # two mypy runs at once on one .mypy_cache can trip each other
@pytest.mark.parametrize("name", list(CHECKS))
def test_the_tree_passes(name):
    done = subprocess.run(CHECKS[name], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, f"{name} found:\n{done.stdout[-6000:]}{done.stderr[-2000:]}"


def test_no_type_ignore_in_the_core():
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "sim" / "model").rglob("*.py")
                 if "type: ignore" in path.read_text()]
    assert offenders == []
