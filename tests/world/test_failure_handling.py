"""What a camera does when the candidate fails its health check (`delivery.failure_handling`, Greengrass'
failureHandlingPolicy): rollback switches back; do_nothing leaves the failing candidate running and reports FAILED."""

import pytest

from sim.model.lifecycle import DeviceState as S
from sim.model.plan_traps import plan_warnings
from tests.world.helpers import run_story

HOUR = 3600.0
ACTIVATION = 60.0
LEFT = "; left on the candidate (delivery.failure_handling: do_nothing)"
CRASHING = {"candidate": {"defects": [{"failure_rate": 1.0}]}}


def do_nothing(changes: dict) -> dict:
    return {**changes, "delivery": {**changes.get("delivery", {}), "failure_handling": "do_nothing"}}


def test_a_crashed_candidate_left_in_place_leaves_the_camera_without_a_model_to_the_end(make_scenario):
    rolled = run_story(make_scenario(CRASHING))
    assert rolled.result.outcomes == {S.ROLLED_BACK: 8}
    assert rolled.result.final_versions["2"] == 0
    left = run_story(make_scenario(do_nothing(CRASHING)))
    assert left.result.outcomes == {S.FAILED: 8}
    assert left.result.reasons == {"health check: inference service crashed" + LEFT: 8}
    assert left.result.final_versions["2"] == 8 and left.result.coverage.final == 0.0
    end = left.result.simulated
    dark = sum(ACTIVATION + end - left.first(device, S.FAILED) for device in range(8))
    assert left.result.service_lost_device_hours * HOUR == pytest.approx(dark)
    # the defect strikes every camera: its time on the candidate runs on to the end, not to a rollback
    exposure = sum(end - left.first(device, S.HEALTH_CHECK) for device in range(8))
    assert left.result.exposure_device_hours * HOUR == pytest.approx(exposure)
    assert left.result.exposure_device_hours > 10 * rolled.result.exposure_device_hours


def test_a_candidate_too_slow_left_in_place_still_runs(make_scenario):
    """100 ms a frame is 10 fps against the 15 needed: the check fails, and the camera runs the slow model."""
    slow = {"candidate": {"hardware": {"orin-nx": {"latency": "100ms", "power": 10}}}}
    left = run_story(make_scenario(do_nothing(slow)))
    assert left.result.reasons == {"health check: fps below need" + LEFT: 8}
    assert left.result.service_lost_device_hours * HOUR == pytest.approx(8 * ACTIVATION)


def test_the_plans_rollback_does_not_reach_a_camera_left_on_the_candidate(make_scenario):
    """A first wave of failures halts the waves plan and rolls back what it can: the cameras that reported FAILED with
    the candidate in place stay on it (a new deployment would be needed)."""
    plan = {"strategy": {"kind": "waves", "waves": ["25%", "100%"], "bake": "6h", "rollback_on_abort": True,
                         "abort": {"threshold": "20%", "min_executed": 2}}}
    scenario = make_scenario(do_nothing({**CRASHING, **plan}))
    story = run_story(scenario)
    assert story.result.halted
    assert story.result.outcomes[S.FAILED] == 2 and S.ROLLED_BACK not in story.result.outcomes
    assert story.result.final_versions["2"] == 2
    (key, said), = plan_warnings(scenario)      # and `fleetlab lint` says so before the run
    assert key == "strategy.rollback_on_abort" and "stay on the failing candidate" in said, said
