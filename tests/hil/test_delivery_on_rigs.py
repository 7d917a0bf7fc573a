"""The scenario's delivery on rigs, as in the simulator: `failure_handling: do_nothing` leaves a rig whose candidate
fails its health check on the candidate (out of reach of the plan's rollback, restored at the plan's end), and
`stage_ahead` installs every rig before the plan's first release, which then only activates. Fast rigs: LocalShell
and the rig tools in temporary folders (tests/hil/local_rigs.py)."""

from pathlib import Path

import pytest

from hil.runner import END_OF_PLAN, rig_fleet, run_scenario
from hil.shell import LocalShell
from sim.model.lifecycle import LEFT_ON_CANDIDATE
from sim.model.lifecycle import DeviceState as S
from sim.model.strategy import Halt, Rollback, Update, start
from tests.conftest import scenario_from
from tests.hil.local_rigs import HIL, inventory_of, replayed

pytestmark = pytest.mark.timeout(300)
WAVES = {"kind": "waves", "waves": ["25%", "50%", "100%"], "bake": "1h",
         "abort": {"failure_rate": "30%", "min_executed": 1}, "rollback_on_abort": True}
SHADOW = {"kind": "shadow", "sample": "50%", "min_reports": 1, "hold": "2h", "max_duration": "4h", "check_every": "1h",
          "agreement": "0%", "then": ["100%"], "bake_between": "1h"}


def scenario(strategy: dict, **delivery):
    return scenario_from({"duration": "1d", "hil": HIL, "strategy": strategy, "delivery": delivery,
                          "fleet": {"camera_angles": {"overhead": "25%", "sideline": "50%", "goal": "25%"}},
                          "current": {"version": "1", "hardware": {"orin-nx": {"latency": "10ms", "power": 10}}}})


def first_told(plan, rigs: list[dict]) -> int:
    """The rig the plan tells first (the plan's choice is seeded, so the test can break that one)."""
    first = next(start(plan.strategy, rig_fleet(plan, inventory_of(*rigs).rigs)))
    assert isinstance(first, Update) and len(first.devices) == 1
    return first.devices[0]


def run(plan, rigs: list[dict]):
    traces = []
    result = run_scenario(plan, inventory_of(*rigs), Path("."), lambda rig: LocalShell(),
                          on_trace=lambda controller: traces.append(controller.trace))
    [trace] = traces
    acted = [action for action, _ in trace]
    assert acted == replayed(plan, trace, rigs)[:len(acted)]
    return result, trace, acted


def names(rig) -> list[str]:
    return [step.name for step in rig.steps]


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
