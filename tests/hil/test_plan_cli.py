"""The scenario's own plan on rigs behind the real sshd: a canary that catches the fp16 defect on the overhead rig,
and the library's canary and shadow scenarios through `fleetlab hil` and `fleetlab run --mode hil`."""

import json
from pathlib import Path

from hil.runner import run_scenario
from hil.ssh import SshShell
from sim.model.lifecycle import DeviceState as S
from tests.conftest import ROOT, scenario_from
from tests.hil.conftest import hil_scenario, write_inventory
from tests.hil.local_rigs import inventory_of
from tests.hil.test_cli import fleetlab

ANGLES = ("overhead", "sideline", "goal", "sideline")


def four_rigs(rig_entry) -> list[dict]:
    return [rig_entry(f"rig-{number}", angle=angle) for number, angle in enumerate(ANGLES)]


def store_listing(rig: dict) -> list[str]:
    return sorted(str(path.relative_to(rig["store"])) for path in Path(rig["store"]).rglob("*"))


def test_a_canary_halts_on_the_rig_that_sees_overhead_frames_and_leaves_the_others_untouched(rig_entry):
    rigs = four_rigs(rig_entry)
    before = {rig["name"]: store_listing(rig) for rig in rigs}
    plan = {"kind": "canary", "stratum": "camera_angle", "min_per_stratum": 1, "bake": "2h", "check_every": "1h",
            "abort": {"threshold": "1%", "min_executed": 1}, "then": ["100%"]}
    scenario = hil_scenario(candidate_model="builtin:candidate-defective", time_scale=0.0001).model_copy(
        update={"strategy": scenario_from({"strategy": plan}).strategy})
    result = run_scenario(scenario, inventory_of(*rigs), Path("."), SshShell)
    by_angle = {}
    for rig in result.rigs:
        by_angle.setdefault(rig.angle, []).append(rig)
    [overhead] = by_angle["overhead"]
    assert overhead.release == "canary (3 devices, 3 strata)" and overhead.state == S.FAILED
    assert "parity fails on overhead" in overhead.reason and overhead.active_at_end == "1"
    assert result.halted and result.halt_reason.startswith("canary abort: 1 of 3 reported devices failed")
    assert [(event.kind, event.devices) for event in result.timeline if event.kind in ("update", "rollback")] == [
        ("update", 3), ("rollback", 3)]
    canaries = [rig for rig in result.rigs if rig.release and rig.angle != "overhead"]
    assert len(canaries) == 2 and all(rig.state == S.ROLLED_BACK for rig in canaries)
    for rig in canaries:
        rollback = next(step for step in rig.steps if step.name == "rollback")
        assert rollback.outcome == "passed" and "recorded outputs reproduced" in rollback.detail
        assert rig.active_at_end == "1"
    [untouched] = [rig for rig in result.rigs if not rig.release]
    assert untouched.angle == "sideline" and untouched.verdict == "skipped" and untouched.steps == []
    assert store_listing(next(r for r in rigs if r["name"] == untouched.rig)) == before[untouched.rig] == []


def quicker(source: Path, folder: Path) -> Path:
    """A library scenario with fewer timed inferences and a looser stability limit, for test speed."""
    text = source.read_text().replace("iterations: 100", "iterations: 20").replace("max_cv: 50%", "max_cv: null")
    path = folder / source.name
    path.write_text(text)
    return path


def test_fleetlab_hil_shows_the_canary_plan_of_the_library_scenario(rig_entry, tmp_path):
    scenario = quicker(ROOT / "scenarios" / "angle-regression-canary.yaml", tmp_path)
    inventory = write_inventory(tmp_path / "rigs.yaml", *four_rigs(rig_entry))
    done = fleetlab("hil", str(scenario), "--rigs", str(inventory), "--out", str(tmp_path / "out"), "--json")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    # --json: one document on stdout with the verdict the exit code gives; the tables go to stderr
    assert "canary (3 devices, 3 strata)" in done.stderr and "the plan on the rigs" in done.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    printed = json.loads(done.stdout)
    assert printed["result"] == result and printed["passed"] == (done.returncode == 0) == (printed["exit_code"] == 0)
    assert result["timeline"][0] == {**result["timeline"][0], "kind": "update",
                                     "detail": "canary (3 devices, 3 strata)", "devices": 3}
    assert {rig["release"] for rig in result["rigs"]} >= {"canary (3 devices, 3 strata)"}


def test_fleetlab_run_in_hil_mode_reports_the_shadow_plan(rig_entry, tmp_path):
    scenario = quicker(ROOT / "scenarios" / "shadow-before-promotion.yaml", tmp_path)
    inventory = write_inventory(tmp_path / "rigs.yaml", *four_rigs(rig_entry))
    done = fleetlab("run", str(scenario), "--mode", "hil", "--rigs", str(inventory), "--out", str(tmp_path / "report"))
    assert done.returncode in (0, 1), done.stdout + done.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    assert "The scenario&#39;s plan, run on the rigs" in page or "The scenario's plan, run on the rigs" in page
    assert "shadow sample (4 devices)" in page
    result = json.loads((tmp_path / "report" / "result.json").read_text())
    [outcome] = result["scenarios"]
    assert {rig["release"] for rig in outcome["hil"]["rigs"]} >= {"shadow sample (4 devices)"}
