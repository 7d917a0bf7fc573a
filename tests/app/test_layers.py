"""The layering rules of docs/architecture.md, checked by importing each layer alone and looking at sys.modules."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

FORBIDDEN_IN_MODEL = {"simpy", "yaml", "ruamel", "paramiko", "docker", "onnxruntime", "rich", "typer", "sqlite3"}


def modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return {name.split(".")[0] for name in done.stdout.split()}


def test_the_model_core_imports_no_engine_file_format_or_terminal_library():
    loaded = modules_loaded_by("import sim.model.scenario, sim.model.results, sim.model.gates, sim.model.lint")
    assert not loaded & FORBIDDEN_IN_MODEL


@pytest.mark.parametrize("package", ["sim", "hil"])
def test_library_code_does_not_print(package):
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / package).rglob("*.py")
                 if any(line.lstrip().startswith("print(") for line in path.read_text().splitlines())]
    assert offenders == []


def test_hil_never_imports_the_simulated_world():
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "hil").rglob("*.py")
                 if "sim.world" in path.read_text()]
    assert offenders == []


SEAMS = {"paramiko": "hil/ssh.py", "docker": "hil/virtual.py", "onnxruntime": "hil/reference.py",
         "distributed": "fleetlab/executors.py", "psycopg": "fleetlab/history.py", "sqlite3": "fleetlab/history.py",
         "matplotlib": "fleetlab/report/plots.py"}


@pytest.mark.parametrize("library, seam", sorted(SEAMS.items()))
def test_each_external_system_is_imported_by_one_seam_only(library, seam):
    importers = sorted(str(path.relative_to(ROOT)) for package in ("sim", "hil", "fleetlab")
                       for path in (ROOT / package).rglob("*.py")
                       if any(line.strip().startswith((f"import {library}", f"from {library} ", f"from {library}."))
                              for line in path.read_text().splitlines()))
    assert importers in ([], [seam])
