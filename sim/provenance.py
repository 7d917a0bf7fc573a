"""Where a result came from: scenario hash, seed, fleetlab version, git commit and the versions that matter.

No clock and no host name: two runs of the same scenario and seed from the same checkout give the same JSON.
"""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

from sim.model.results import Provenance
from sim.model.scenario import Scenario

_PACKAGES = ("numpy", "pydantic", "simpy")


@functools.cache
def git_sha() -> str:
    """The commit of the checkout fleetlab runs from, or 'unknown' outside a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def package_versions() -> dict[str, str]:
    return {package: _version(package) for package in ("fleetlab", *_PACKAGES)}


def provenance(scenario: Scenario, seed: int) -> Provenance:
    return Provenance(scenario_name=scenario.name, scenario_hash=scenario.fingerprint(), seed=seed,
                      fleetlab_version=_version("fleetlab"), git_sha=git_sha(),
                      packages={package: _version(package) for package in _PACKAGES})
