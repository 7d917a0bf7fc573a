"""A small scenario file with an alternative plan, and a real Dask cluster on loopback when a test asks for one."""

from pathlib import Path

import pytest

from fleetlab.local_dask import local_cluster
from tests.conftest import ROOT

ALTERNATIVE = """
alternatives:
  fast:
    kind: waves
    waves: [50%, 100%]
    bake: 1h
"""


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweepable.yaml"
    path.write_text((ROOT / "scenarios" / "tiny.yaml").read_text() + ALTERNATIVE)
    return path


@pytest.fixture(scope="session")
def dask_address():
    """A `dask scheduler` and two `dask worker` processes; stopped by process group when the session ends."""
    with local_cluster(workers=2) as address:
        yield address
