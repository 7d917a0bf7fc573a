"""Every registered strategy runs on rigs as it runs in the simulator: the same releases (labels and sizes), the same
halts and rollbacks, for the same observations. Fast rigs: LocalShell and the rig tools in temporary folders."""

from pathlib import Path

import pytest

from hil.runner import run_scenario
from hil.shell import LocalShell
from sim.model.gating.judge import CanaryJudge
from sim.model.lifecycle import DeviceState as S
from sim.model.strategy import REGISTRY, Halt, Rollback, Sample, Soak, Update
from tests.conftest import scenario_from
from tests.hil.local_rigs import ANGLES, HIL, inventory_of, replayed

THRESHOLD = {"threshold": "30%", "min_executed": 1}
# The canary judges detections only, by the default rule: latency, fps and temperature follow a shared machine's load
# (CI once halted a healthy canary on fps), and these tests are about the plan, not speed.
DETECTIONS_ONLY = {"min_samples": 2, "metrics": {"detection_rate": CanaryJudge().metrics["detection_rate"]}}
PLANS = {
    "all_at_once": {},
    "waves": {"waves": ["25%", "50%", "100%"], "bake": "1h", "abort": {"failure_rate": "30%", "min_executed": 1}},
    "phases": {"phases": [{"batch": "25%"}, {"batch": "25%", "start": "1h"}, {"start": "2h"}],
               "watch_after_last": "1h", "check_every": "30m", "abort": THRESHOLD},
    "exponential": {"base_rate_per_minute": 1, "rate_increase": {"notified": 1}, "abort": [THRESHOLD]},
    "groups": {"groups": 2, "check_every": "30m"},
    "canary": {"stratum": "camera_angle", "min_per_stratum": 1, "bake": "2h", "check_every": "1h",
               "judge": DETECTIONS_ONLY, "abort": THRESHOLD, "then": ["100%"], "bake_between": "1h"},
    "shadow": {"sample": "25%", "min_reports": 1, "hold": "2h", "max_duration": "4h", "check_every": "1h",
               "agreement": "0%", "then": ["100%"], "bake_between": "1h"},
    "thermal_aware": {"waves": ["50%", "100%"], "bake": "1h", "max_temperature": 200, "abort": THRESHOLD},
    "budgeted": {"global_per_hour": "200MB", "tick": "30m"},
}

def test_every_registered_strategy_has_a_plan_here():
    assert sorted(PLANS) == sorted(REGISTRY)



def plan_scenario(kind: str):
    return scenario_from({"duration": "1d", "hil": HIL, "strategy": {"kind": kind, **PLANS[kind]},
                          "fleet": {"camera_angles": {"overhead": "25%", "sideline": "50%", "goal": "25%"}},
                          "current": {"version": "1", "hardware": {"orin-nx": {"latency": "10ms", "power": 10}}}})


# Every kind with healthy rigs, except the plans that watch outcomes and can halt: those with one unhealthy rig
# (their healthy run is the same release sequence up to where the sick one would have halted it).
GATED = ("waves", "phases", "exponential", "groups", "canary")
CASES = [(kind, None) for kind in sorted(PLANS) if kind not in GATED] + [(kind, 0) for kind in GATED] + \
    [("canary", None)]        # the canary's judge samples control rigs only when nothing halted it


@pytest.mark.parametrize("kind, broken", CASES, ids=[f"{kind}-{'one-rig-fails' if broken is not None else 'healthy'}"
                                                     for kind, broken in CASES])
def test_the_rigs_run_the_plan_the_simulator_runs(kind, broken, local_rigs):
    rigs = local_rigs(broken)
    scenario = plan_scenario(kind)
    traces = []
    result = run_scenario(scenario, inventory_of(*rigs), Path("."), lambda rig: LocalShell(),
                          on_trace=lambda controller: traces.append(controller.trace))
    [trace] = traces
    acted = [action for action, _ in trace]
    assert acted == replayed(scenario, trace, rigs)[:len(acted)]
    releases = [(action.label, len(action.devices)) for action in acted if isinstance(action, Update)]
    shown = [(event.detail, event.devices) for event in result.timeline if event.kind == "update"]
    assert shown == releases[:len(shown)] and shown
    # what the plan knew at each later release, as the simulator records it: rigs run each release to its end
    told = [event for event in result.timeline if event.kind == "update" and event.detail != "promote shadow sample"]
    assert told[0].told_before is None and all(event.told_before for event in told[1:])   # a promotion tells no one new
    assert all(0 <= event.outcomes_known <= event.told_before for event in told[1:])
    if broken is None:
        assert all(event.outcomes_known == event.told_before for event in told[1:])
    assert [e.detail for e in result.timeline if e.kind == "halt"] == [a.reason for a in acted if isinstance(a, Halt)]
    for rig in result.rigs:
        if rig.verdict == "skipped":
            assert rig.state == S.IDLE and rig.reason.startswith("not released")
        else:
            assert rig.release in {label for label, _ in releases}
        assert rig.active_at_end == "1" and not rig.quarantined
    if broken is None:
        assert result.outcomes.get(S.COMMITTED, 0) + result.outcomes.get(S.IDLE, 0) == len(ANGLES)
        assert all(rig.verdict in ("passed", "skipped") for rig in result.rigs), [rig.reason for rig in result.rigs]
    else:        # the unhealthy rig, once told, is restored at once; a plan that watches halts on it
        sick = result.rigs[0]
        assert sick.state in (S.ROLLED_BACK, S.IDLE) and (sick.verdict == "failed") == (sick.state == S.ROLLED_BACK)
    kinds = {type(action) for action in acted}
    assert kinds <= {Update, Soak, Halt, Rollback, Sample}
