"""The full step sequence against a real sshd, and each kind of failure as data that leaves the previous engine."""

import subprocess
from pathlib import Path

import pytest

from hil.runner import run_scenario
from hil.ssh import SshShell
from sim.model.lifecycle import DeviceState as S
from tests.conftest import scenario_from
from tests.hil.conftest import hil_scenario
from tests.hil.local_rigs import inventory_of

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
    assert [step.name for step in found.steps] == ["reserve", "preflight", "baseline", "transfer", "build", "parity",
                                                   "latency", "activate", "rollback", "release"]
    assert all(step.outcome == "passed" for step in found.steps)
    assert found.facts["l4t"] == "36.4.3" and found.facts["tensorrt"] == "8.6.1"
    assert found.latency.p50 > 0 and found.latency.iterations == 40
    assert found.telemetry.samples >= 1 and found.telemetry.max_temperature > 0
    assert found.telemetry.max_memory and found.telemetry.total_memory
    assert [check.frames for check in found.parity] == ["overhead", "sideline", "goal"]
    assert active_version(rig) == "1" and found.active_at_end == "1"
    assert result.source == "hil" and result.metrics()["rigs_failed"] == 0


@pytest.mark.parametrize("hil, step, words", [
    ({"candidate_model": "builtin:broken"}, "build", "engine build failed"),
    ({"candidate_model": "builtin:candidate-defective"}, "parity",
     "parity fails on overhead (passes on sideline, goal)"),
    ({"latency_budget": {"p50": "0.001ms"}}, "latency", "over the 0.001 ms budget"),
    ({"candidate_model": "builtin:candidate-wrong-head"}, "activate", "expects 5 class scores"),
], ids=["build", "parity", "latency", "health"])
def test_each_failure_is_a_failed_result_and_the_previous_engine_stays_active(rig_entry, hil, step, words):
    rig = rig_entry("rig-a")
    [found] = run(hil_scenario(**hil), rig).rigs
    by_name = steps_of(found)
    assert found.verdict == "failed" and by_name[step].outcome == "failed"
    assert words in found.reason, found.reason
    assert by_name["rollback"].outcome == "skipped" and by_name["release"].outcome == "passed"
    assert active_version(rig) == "1" and found.active_at_end == "1" and not found.quarantined
    if step == "activate":    # the failed activation was undone at once, and the old engine checked
        assert by_name["restore"].outcome == "passed" and "recorded outputs reproduced" in by_name["restore"].detail


@pytest.mark.parametrize("hil, failing", [({}, None), ({"candidate_model": "builtin:broken"}, "build"),
                                          ({"candidate_model": "builtin:candidate-wrong-head"}, "activate")],
                         ids=["healthy", "build-fails", "health-fails"])
def test_kill_then_download_stops_the_model_and_every_ending_runs_one_again(rig_entry, hil, failing):
    rig = rig_entry("rig-a")
    service = rig["service"]
    [found] = run(hil_scenario({"update_strategy": "kill_then_download"}, **hil), rig).rigs
    order = [step.name for step in found.steps]
    assert order.index("baseline") < order.index("kill") < order.index("transfer")
    # the step whose healthy service ends the spell without a model, and what it measured
    ends = {None: "activate", "build": "resume", "activate": "restore"}[failing]
    assert steps_of(found)[ends].outcome == "passed" and steps_of(found)[ends].numbers["no_model_s"] > 0
    assert (found.verdict == "passed") == (failing is None) and not found.quarantined
    assert active_version(rig) == "1" and found.active_at_end == "1"
    assert subprocess.run(service["health"], shell=True, capture_output=True, timeout=60).returncode == 0


def test_the_defective_candidate_fails_parity_on_its_angle_only_in_fp16(rig_entry):
    [fp16] = run(hil_scenario(candidate_model="builtin:candidate-defective"), rig_entry("rig-a")).rigs
    assert {check.frames: check.passed for check in fp16.parity} == {"overhead": False, "sideline": True,
                                                                       "goal": True}
    assert fp16.parity[0].max_abs_diff is None and "not finite (fp16 overflow?)" in fp16.parity[0].detail
    [fp32] = run(hil_scenario(candidate_model="builtin:candidate-defective", precision="fp32"),
                 rig_entry("rig-b")).rigs
    assert all(check.passed for check in fp32.parity) and fp32.verdict == "passed"


def test_a_transfer_cut_in_the_middle_resumes_and_the_sha256_matches(rig_entry):
    rig = rig_entry("rig-a")
    scenario = hil_scenario(transfer_rate="160kbit/s", faults=[{"fault": "link_drop", "at_step": "transfer@50%"}])
    [found] = run(scenario, rig).rigs
    transfer = steps_of(found)["transfer"]
    assert found.verdict == "passed", found.reason
    assert transfer.numbers["attempts"] == 2 and transfer.numbers["resumed_from"] > 0
    size = float(transfer.args["bytes"])
    assert size <= transfer.numbers["bytes_sent"] < 1.5 * size
    assert "sha256 checked on the rig" in transfer.detail and "resumed at" in transfer.detail


def test_a_failing_wave_halts_the_plan_before_the_next_rigs(rig_entry):
    first, second = rig_entry("rig-a", health="false"), rig_entry("rig-b", health="false")
    plan = {"kind": "waves", "waves": ["50%", "100%"], "bake": "1h", "abort": {"failure_rate": "1%", "min_executed": 1}}
    strategy = scenario_from({"strategy": plan}).strategy
    scenario = hil_scenario(time_scale=0.0001).model_copy(update={"strategy": strategy})
    result = run(scenario, first, second)
    told, untold = sorted(result.rigs, key=lambda rig: rig.wave, reverse=True)
    assert (told.verdict, told.wave, told.release, told.state) == ("failed", 0, "wave 1 (50%)", S.FAILED)
    assert (untold.verdict, untold.wave, untold.state) == ("skipped", -1, S.IDLE)
    assert result.halted and "failure rate 100.0% over 1 devices in wave 1" in result.halt_reason
    assert untold.reason == "not released: rollout halted" and untold.steps == []
    never = first if untold.rig == "rig-a" else second
    assert not (Path(never["store"]) / "active").exists() and not (Path(never["store"]) / ".lease").exists()


def test_a_rig_whose_rollback_fails_is_quarantined_and_says_so(rig_entry):
    rig = rig_entry("rig-a")
    previous_engine = Path(rig["store"]) / "slots" / "a" / "model.engine"

    def lose_the_previous_engine(shell):       # flash wear, a bad block: the old slot no longer loads
        shell.run(f"rm -f '{previous_engine}'", timeout=10)

    scenario = hil_scenario(faults=[{"fault": "lose_previous_engine", "at_step": "before:rollback"}])
    [found] = run(scenario, rig, injectors={"lose_previous_engine": lose_the_previous_engine}).rigs
    assert found.verdict == "failed" and found.quarantined
    assert found.reason.startswith("QUARANTINED: rollback failed")
    assert steps_of(found)["rollback"].outcome == "failed" and steps_of(found)["release"].outcome == "passed"
    assert found.active_at_end == "1" and run_metrics_of(found)["quarantined"] == 1


def run_metrics_of(rig):
    from sim.model.hil_results import hil_metrics
    return hil_metrics([rig])


def test_shadow_mode_runs_both_engines_on_the_same_frames(rig_entry):
    [found] = run(hil_scenario(shadow=True), rig_entry("rig-a")).rigs
    assert found.verdict == "passed", found.reason
    shadow = found.shadow
    assert shadow.frames == 12 and 0.5 <= shadow.agreement <= 1.0
    assert shadow.candidate_p50 > 0 and shadow.current_p50 > 0 and shadow.temperature_rise is not None
    assert steps_of(found)["shadow"].outcome == "passed"
