"""The README's commands work as written: every `$ .venv/bin/fleetlab …` line that needs no rig runs in a
temporary copy of the repository's scenarios and exits 0 (or 1, a NO-GO finding), never 2 and never with a
traceback. Seed counts are cut to 2 so the suite stays fast; every other argument is the README's."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

NEEDS_RIGS = ("fleetlab hil", "fleetlab rigs", "--mode both", "--mode hil", "fleetlab calibrate", "fleetlab fidelity")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        match = re.match(r"\$ \.venv/bin/(fleetlab .*)", line)
        if match and not any(word in line for word in NEEDS_RIGS):
            commands.append(match.group(1).split("  #")[0].strip())
    return commands


def test_the_readme_has_the_tour_commands():
    found = readme_commands()
    assert any(command.startswith("fleetlab sim ") for command in found)
    assert any(command.startswith("fleetlab sweep ") for command in found)
    assert len(found) >= 6


def run_here(command: str, folder) -> subprocess.CompletedProcess:
    shell = re.sub(r"--seeds \d+", "--seeds 2", command).replace("fleetlab ", f"{shlex.quote(sys.executable)} "
                                                                             "-m fleetlab.cli ", 1)
    return subprocess.run(shell, shell=True, cwd=folder, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(folder)})


@pytest.mark.parametrize("command", readme_commands())
def test_a_readme_command_runs_as_written(command, tmp_path):
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    if command.startswith("fleetlab history"):        # the README runs it after `make demo` has recorded a run
        assert run_here("fleetlab run scenarios/tiny.yaml --out reports/demo", tmp_path).returncode == 0
    done = run_here(command, tmp_path)
    assert done.returncode in (0, 1), (command, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
