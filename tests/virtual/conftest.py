"""Virtual rigs for the tests: a real Docker engine, the image built by rigs/virtual/build.sh (cached after the
first build), rigs started per test and removed by container id afterwards."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BUILD = ROOT / "rigs" / "virtual" / "build.sh"


def _unavailable(reason: str):
    if os.environ.get("FLEETLAB_REQUIRE_SERVICES"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lab():
    if not shutil.which("docker") or not Path("/var/run/docker.sock").exists():
        _unavailable("no Docker engine here (.ci/run installs docker.io and starts dockerd)")
    from hil.virtual import VirtualLab, VirtualRigError

    try:
        found = VirtualLab()
    except VirtualRigError as error:
        _unavailable(str(error))
    built = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, timeout=1800)
    if built.returncode:
        pytest.fail(f"rigs/virtual/build.sh failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}")
    return found


@pytest.fixture(scope="session")
def rig_key(tmp_path_factory) -> Path:
    key = tmp_path_factory.mktemp("virtual-key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


@pytest.fixture
def virtual_rigs(lab, rig_key):
    """start(count, profile=..., store_tmpfs=...) -> inventory entries; every rig removed after the test."""
    from hil.virtual import inventory_entry

    started = []

    def start(count: int, profile: str = "orin-nx", **options) -> list[dict]:
        rigs = lab.up(count, profile, Path(str(rig_key) + ".pub").read_text().strip(), **options)
        started.extend(rigs)
        return [inventory_entry(rig, rig_key) for rig in rigs]

    yield start
    lab.down([rig.container for rig in started])


@pytest.fixture(scope="module")
def busy_machine():
    """Both cores kept busy by two spinning processes for the whole module, as on a shared CI machine: a recovery
    test must pass with them running. Stopped by their pids afterwards."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    yield [hog.pid for hog in hogs]
    for hog in hogs:
        hog.send_signal(signal.SIGKILL)
        hog.wait(timeout=30)
