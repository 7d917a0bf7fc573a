"""The scenario's delivery on rigs, as in the simulator: `failure_handling: do_nothing` leaves a rig whose candidate
fails its health check on the candidate (out of reach of the plan's rollback, restored at the plan's end),
`stage_ahead` installs every rig before the plan's first release, which then only activates, and `update_strategy:
kill_then_download` stops the camera service before the transfer until the activation (or, after a failure or a
stop, until the current model runs again). Fast rigs: LocalShell and the rig tools in temporary folders
(tests/hil/local_rigs.py)."""

import subprocess
from pathlib import Path

import pytest
from markupsafe import escape

from fleetlab.history import Measurement, measurements
from fleetlab.report.html import render
from hil.errors import HilError
from hil.runner import END_OF_PLAN, run_scenario
from hil.shell import LocalShell
from hil.stop import StopSignal
from sim.model.lifecycle import LEFT_ON_CANDIDATE
from sim.model.lifecycle import DeviceState as S
from sim.model.strategy import Halt, Rollback, Update
from tests.hil.local_rigs import first_told, inventory_of, names, one_night, run, scenario, table_text

pytestmark = pytest.mark.timeout(300)
WAVES = {"kind": "waves", "waves": ["25%", "50%", "100%"], "bake": "1h",
         "abort": {"failure_rate": "30%", "min_executed": 1}, "rollback_on_abort": True}
SHADOW = {"kind": "shadow", "sample": "50%", "min_reports": 1, "hold": "2h", "max_duration": "4h", "check_every": "1h",
          "agreement": "0%", "then": ["100%"], "bake_between": "1h"}


def test_do_nothing_leaves_the_failing_rig_on_the_candidate_until_the_plan_ends(local_rigs):
    plan = scenario(WAVES, failure_handling="do_nothing")
    sick = first_told(plan, local_rigs())
    rigs = local_rigs(broken=sick)[-4:]
    result, trace, acted = run(plan, rigs)
    [halt] = [action for action in acted if isinstance(action, Halt)]
    [rollback] = [action for action in acted if isinstance(action, Rollback)]     # rollback_on_abort
    failed = result.rigs[sick]
    assert failed.state == S.FAILED and failed.verdict == "failed"
    assert failed.reason.startswith("the candidate did not come up healthy") and \
        failed.reason.endswith(LEFT_ON_CANDIDATE)
    # the plan saw it FAILED, as the simulator's camera is, never rolled back
    assert any(seen.outcomes.get(sick) == S.FAILED for _, seen in trace)
    assert all(seen.outcomes.get(sick) != S.ROLLED_BACK for _, seen in trace)
    assert halt.reason and rollback.reason
    # no restore at the failure; the plan's rollback did not reach it; the end of the plan put it back, with the proof
    steps = [step for step in failed.steps if step.name in ("activate", "restore", "rollback")]
    assert [(step.name, step.outcome) for step in steps] == [("activate", "failed"), ("rollback", "passed")]
    assert steps[1].args["reason"] == END_OF_PLAN and "recorded outputs reproduced" in steps[1].detail
    assert failed.active_at_end == "1" and not failed.quarantined


def test_the_default_failure_handling_restores_the_failing_rig_at_once(local_rigs):
    plan = scenario(WAVES)
    sick = first_told(plan, local_rigs())
    result, _, _ = run(plan, local_rigs(broken=sick)[-4:])
    restored = result.rigs[sick]
    assert restored.state == S.ROLLED_BACK and LEFT_ON_CANDIDATE not in restored.reason
    assert [step.name for step in restored.steps if step.name in ("activate", "restore", "rollback")] == \
        ["activate", "rollback", "restore"]          # the rollback recorded as not run: restored at once instead
    assert next(step for step in restored.steps if step.name == "rollback").outcome == "skipped"


def test_staged_rigs_install_before_the_plan_tells_them_and_a_halt_leaves_them_staged(local_rigs):
    plan = scenario(WAVES, stage_ahead=True)
    sick = first_told(plan, local_rigs())
    result, trace, acted = run(plan, local_rigs(broken=sick)[-4:])
    assert any(isinstance(action, Halt) for action in acted)
    assert trace[0][1].released == 1          # the plan hears of the rigs it told, not of the staged ones
    for rig in result.rigs:                  # every rig installed once, before or without its release
        assert [step.outcome for step in rig.steps if step.name == "transfer"] == ["passed"], rig.rig
        assert [step.outcome for step in rig.steps if step.name == "latency"] == ["passed"], rig.rig
    assert result.rigs[sick].state == S.ROLLED_BACK
    staged = [rig for rig in result.rigs if rig.verdict == "skipped"]
    assert staged, "the halt after the first wave leaves rigs staged, never told"
    for rig in staged:
        assert rig.state == S.AWAITING_WINDOW and "staged ahead" in rig.reason and "activate" not in names(rig)
        assert rig.active_at_end == "1"


def test_staged_rigs_run_the_whole_plan_when_healthy(local_rigs):
    result, _, acted = run(scenario(WAVES, stage_ahead=True), local_rigs())
    assert not any(isinstance(action, Halt) for action in acted)
    assert all(rig.state == S.COMMITTED and rig.verdict == "passed" for rig in result.rigs)
    assert all(names(rig).count("transfer") == 1 and names(rig).count("activate") == 1 for rig in result.rigs)


def test_a_staged_rig_told_to_shadow_runs_the_shadow_step_then(local_rigs):
    result, _, acted = run(scenario(SHADOW, stage_ahead=True), local_rigs())
    shadowed = {device for action in acted if isinstance(action, Update) and action.shadow for device in action.devices}
    assert shadowed and len(shadowed) < len(result.rigs)
    for device, rig in enumerate(result.rigs):
        ran = names(rig)
        assert ran.count("shadow") == (device in shadowed), (rig.rig, ran)
        if device in shadowed:        # after the staged install, before the switch
            assert ran.index("latency") < ran.index("shadow") < ran.index("activate")
            assert rig.shadow is not None and rig.shadow.agreement >= 0
    assert all(rig.state == S.COMMITTED for rig in result.rigs)


def serving(rig: dict) -> bool:
    """The rig's camera service passes its health check now."""
    return subprocess.run(rig["service"]["health"], shell=True, capture_output=True, timeout=60).returncode == 0


def probe_at(point: str, seen: list[bool], rig: dict):
    """A fault hook that asks the rig's camera service for its health at `point`; the service runs from the start,
    as a camera's does."""
    subprocess.run(rig["service"]["restart"], shell=True, capture_output=True, timeout=60, check=True)
    assert serving(rig)
    return {"faults": [{"fault": "probe", "at_step": point}]}, {"probe": lambda shell: seen.append(serving(rig))}


def seconds_between(rig, first: str, last: str) -> float:
    ran = names(rig)
    return sum(step.seconds for step in rig.steps[ran.index(first):ran.index(last)])


def test_kill_then_download_runs_no_model_from_the_kill_to_the_activation(local_rigs):
    rigs = local_rigs()
    seen: list[bool] = []
    hil, injectors = probe_at("before:build", seen, rigs[0])
    result, _, _ = run(scenario({"kind": "all_at_once"}, hil, update_strategy="kill_then_download"), rigs[:1],
                       injectors=injectors)
    assert seen == [False]                       # mid-install, the rig's camera service does not run
    for rig in result.rigs:
        ran = names(rig)
        assert rig.state == S.COMMITTED and ran.index("baseline") < ran.index("kill") < ran.index("transfer")
        activate = next(step for step in rig.steps if step.name == "activate")
        # the spell is measured from the kill to the candidate's health: at least the install steps between
        assert activate.numbers["no_model_s"] >= seconds_between(rig, "transfer", "activate") > 0
        assert rig.no_model_seconds == activate.numbers["no_model_s"]
    assert serving(rigs[0])
    # an `expect:` bound can name it, and the terminal's rig table shows it
    assert result.metrics()["rig_no_model"] == result.rigs[0].no_model_seconds
    text = table_text(result)
    assert "no model" in text and f"{result.rigs[0].no_model_seconds:.1f} s" in text
    # and the nightly's history keeps it per rig, so a build growing on a board shows as a trend
    assert Measurement("k", "rig r0", "rig_no_model", result.rigs[0].no_model_seconds) in \
        measurements(one_night(result))


def test_the_default_update_strategy_keeps_the_model_running_through_the_install(local_rigs):
    rigs = local_rigs()
    seen: list[bool] = []
    hil, injectors = probe_at("before:build", seen, rigs[0])
    result, _, _ = run(scenario({"kind": "all_at_once"}, hil), rigs[:1], injectors=injectors)
    assert seen == [True]
    [rig] = result.rigs
    assert "kill" not in names(rig) and rig.state == S.COMMITTED
    assert rig.no_model_seconds is None and result.metrics()["rig_no_model"] is None
    assert "no model" not in table_text(result)


def test_an_install_that_fails_after_the_kill_runs_the_current_model_again(local_rigs):
    rigs = local_rigs()
    hil = {"latency_budget": {"p50": "0.001ms"}}          # every candidate fails its latency step
    result, _, _ = run(scenario({"kind": "all_at_once"}, hil, update_strategy="kill_then_download"), rigs)
    for rig in result.rigs:
        ran = names(rig)
        assert rig.state == S.FAILED and rig.steps[ran.index("latency")].outcome == "failed", rig.reason
        resume = rig.steps[ran.index("resume")]
        assert resume.outcome == "passed" and ran.index("latency") < ran.index("resume")
        assert resume.numbers["no_model_s"] >= seconds_between(rig, "transfer", "resume") > 0
        assert not rig.quarantined and rig.active_at_end == "1"
    assert all(serving(rig) for rig in rigs)


def test_a_stop_after_the_kill_runs_the_current_model_again(local_rigs):
    rigs = local_rigs()[:1]
    stop = StopSignal()
    plan = scenario({"kind": "all_at_once"}, {"faults": [{"fault": "stop_here", "at_step": "before:transfer"}]},
                    update_strategy="kill_then_download")
    result = run_scenario(plan, inventory_of(*rigs), Path("."), lambda rig: LocalShell(), stop=stop,
                          injectors={"stop_here": lambda shell: stop.request("a test's stop")})
    [rig] = result.rigs
    ran = names(rig)
    assert result.interrupted and "build" not in ran and ran.index("kill") < ran.index("resume")
    assert rig.steps[ran.index("resume")].outcome == "passed" and serving(rigs[0])
    assert rig.active_at_end == "1" and not rig.quarantined


def test_kill_then_download_needs_the_stop_command_of_every_rig(local_rigs):
    rigs = local_rigs()
    del rigs[1]["service"]["stop"]
    with pytest.raises(HilError, match=r"kill_then_download .* no service.stop for r1: add the command"):
        run_scenario(scenario({"kind": "all_at_once"}, update_strategy="kill_then_download"), inventory_of(*rigs),
                     Path("."), lambda rig: LocalShell())


def test_what_the_delivery_made_the_rigs_do_is_in_the_result_and_the_report(local_rigs):
    rigs = local_rigs()
    plan = scenario(WAVES, update_strategy="kill_then_download", failure_handling="do_nothing")
    result, _, _ = run(plan, rigs[:2])
    assert [line.split(":")[0] for line in result.rig_delivery] == ["delivery.update_strategy",
                                                                    "delivery.failure_handling"]
    assert "rig_delivery" in result.model_dump_json() and "rig_delivery" not in \
        run(scenario(WAVES), rigs[2:])[0].model_dump_json()      # the default says nothing
    page = render(one_night(result))
    assert all(str(escape(line)) in page for line in result.rig_delivery) and "no model" in page


def test_a_stop_while_the_rigs_stage_tells_no_rig_and_activates_nothing(local_rigs):
    stop = StopSignal()
    plan = scenario(WAVES, {"faults": [{"fault": "stop_here", "at_step": "before:build"}]}, stage_ahead=True)
    result, _, acted = run(plan, local_rigs(), stop=stop,
                           injectors={"stop_here": lambda shell: stop.request("a test's stop")})
    assert result.interrupted == "interrupted: a test's stop"
    assert not [event for event in result.timeline if event.kind == "update"]     # the plan told no rig
    for rig in result.rigs:
        assert "activate" not in names(rig) and rig.active_at_end == "1" and not rig.quarantined
        assert rig.verdict == "skipped" and rig.state in (S.IDLE, S.AWAITING_WINDOW)
        assert rig.reason.startswith("not released: run interrupted; st") and "control rig" not in rig.reason
