"""Which real system parts this machine lacks, for the header `make test` prints: the tests that need them skip
(or fail, under FLEETLAB_REQUIRE_SERVICES=1 as in CI), and one command installs them all."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

INSTALL = "sudo .ci/install-system-parts"


def missing_parts() -> list[tuple[str, str]]:
    """(what is missing, the tests that need it)."""
    checks = [
        (Path("/usr/sbin/sshd").exists(), "OpenSSH sshd", "tests/hil (the HIL runner over real SSH)"),
        (shutil.which("docker") is not None and Path("/var/run/docker.sock").exists(), "a running Docker engine",
         "tests/virtual (virtual Jetson rigs)"),
        (bool(glob.glob("/usr/lib/postgresql/*/bin/postgres")), "PostgreSQL", "tests/history (history on PostgreSQL)"),
        (Path("/usr/bin/chromium").exists(), "Chromium", "tests/report (the HTML report in headless Chromium)"),
        (shutil.which("jq") is not None, "jq", "tests/app (docs/nightly-ci.md's annotation filter)"),
    ]
    return [(part, tests) for present, part, tests in checks if not present]


def header_lines() -> list[str]:
    missing = missing_parts()
    if not missing:
        return []
    lines = [f"missing here: {part} -> {tests} will skip" for part, tests in missing]
    return lines + [f"install them with: {INSTALL} (then start dockerd), or run .ci/run as CI does"]
