"""The full step sequence against a real sshd, and each kind of failure as data that leaves the previous engine."""

from pathlib import Path

import pytest

from hil.runner import run_scenario
from hil.ssh import SshShell
from tests.hil.conftest import hil_scenario, inventory_of

BASE = Path(".")


def run(scenario, *rigs, **kwargs):
    return run_scenario(scenario, inventory_of(*rigs), BASE, SshShell, **kwargs)


def steps_of(rig):
    return {step.name: step for step in rig.steps}


def active_version(rig_entry_dict) -> str:
    store = Path(rig_entry_dict["store"])
    return (store / "active" / "version").read_text().strip()


def test_the_full_sequence_passes_and_ends_on_the_previous_engine(rig_entry):
    rig = rig_entry("rig-a")
    result = run(hil_scenario(), rig)
    [found] = result.rigs
    assert found.verdict == "passed", found.reason + str([(s.name, s.outcome, s.detail) for s in found.steps])
    assert [step.name for step in found.steps] == ["preflight", "baseline", "transfer", "build", "parity", "latency",
                                                   "activate", "rollback", "reserve"]
    assert all(step.outcome == "passed" for step in found.steps)
    assert found.facts["l4t"] == "36.4.3" and found.facts["tensorrt"] == "8.6.1"
    assert found.latency.p50 > 0 and found.latency.iterations == 40
    assert found.telemetry.samples >= 1 and found.telemetry.max_temperature > 0
    assert [check.frames for check in found.parity] == ["overhead", "sideline", "goal"]
    assert active_version(rig) == "1" and found.active_at_end == "1"
    assert result.source == "hil" and result.metrics()["rigs_failed"] == 0
