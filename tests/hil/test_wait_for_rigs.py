"""A rig another run holds: `fleetlab run --wait-for-rigs` and the pytest plugin's `--fleetlab-wait-for-rigs` wait
for its lease (as `fleetlab hil --wait-for-rigs` does) instead of reporting the rig as one that could not be measured
— what two pytest workers reaching for one rig need (pytest-xdist#1386). Against a real sshd."""

import json

from hil.lease import Lease
from hil.shell import LocalShell
from tests.hil.conftest import quick_hil_text, write_inventory
from tests.hil.test_cli import fleetlab

HOLDER = "someone-else@lab:1:night"


def hold(rig: dict, seconds: int) -> None:
    """Another run's lease on the rig, `seconds` from its expiry; that run died, so nobody renews it."""
    Lease(LocalShell(), rig["name"], rig["store"], HOLDER, ttl=seconds).acquire()


def held_rig(rig_entry, folder, seconds: int):
    rig = rig_entry("orin-a", tags=["orin"])
    hold(rig, seconds)
    scenario = folder / "hil.yaml"
    scenario.write_text(quick_hil_text())
    return rig, write_inventory(folder / "rigs.yaml", rig), scenario


def test_run_says_a_held_rig_is_held_and_with_wait_for_rigs_waits_for_it(rig_entry, tmp_path):
    rig, inventory, scenario = held_rig(rig_entry, tmp_path, 600)
    held = fleetlab("run", str(scenario), "--mode", "hil", "--rigs", str(inventory), "--history", "",
                    "--out", str(tmp_path / "held"))
    assert held.returncode == 2, held.stdout + held.stderr
    [outcome] = json.loads((tmp_path / "held" / "result.json").read_text())["scenarios"]
    assert any(f"leased by {HOLDER}" in problem for problem in outcome["problems"]), outcome["problems"]

    hold(rig, 8)
    waited = fleetlab("run", str(scenario), "--mode", "hil", "--rigs", str(inventory), "--history", "",
                      "--wait-for-rigs", "120", "--out", str(tmp_path / "waited"))
    assert waited.returncode == 0, waited.stdout + waited.stderr
    [outcome] = json.loads((tmp_path / "waited" / "result.json").read_text())["scenarios"]
    [found] = outcome["hil"]["rigs"]
    reserve = next(step for step in found["steps"] if step["name"] == "reserve")
    assert f"took over the expired lease of {HOLDER}" in reserve["detail"] and reserve["numbers"]["waited_s"] > 0


def test_the_pytest_plugin_waits_for_a_held_rig_when_told_to(pytester, rig_entry):
    _, inventory, _ = held_rig(rig_entry, pytester.path, 8)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--rigs", str(inventory), "-k", "hil-orin-a",
                                           "--fleetlab-wait-for-rigs", "120")
    result.assert_outcomes(passed=1)
