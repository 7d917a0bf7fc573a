"""A small suite run once per session: a passing scenario, a failing one whose file carries markup, and a file
that cannot be read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fleetlab.report import write_report
from fleetlab.suite import run_suite
from tests.conftest import ROOT
from tests.report.browser import CHROMIUM

HOSTILE = "<script>alert('from a scenario file')</script> & <b>bold</b>"


@pytest.fixture(scope="session")
def suite_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("suite")
    shutil.copy(ROOT / "scenarios" / "tiny.yaml", folder / "tiny.yaml")
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    text = text.replace("name: tiny", "name: tiny-too-strict").replace(
        "description: Forty cameras in gyms and one stadium take a small update in waves.",
        f'description: "{HOSTILE}"').replace('t95: "< 3d"', 't95: "< 1h"')
    text += "alternatives:\n  everyone:\n    kind: all_at_once\n"
    (folder / "too-strict.yaml").write_text(text)
    (folder / "unreadable.yaml").write_text("name: broken\nfleet: [not, a, mapping]\n")
    return folder


@pytest.fixture(scope="session")
def suite_result(suite_folder):
    return run_suite([suite_folder], mode="sim", seeds=3, executor_spec="serial")


@pytest.fixture(scope="session")
def report(suite_result, tmp_path_factory) -> dict[str, Path]:
    return write_report(suite_result, tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("FLEETLAB_REQUIRE_SERVICES"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM
