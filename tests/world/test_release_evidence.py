"""What a plan knew when it told more cameras: every release after its first records how many cameras it had told
before and of how many of those it knew the outcome; `evidence_at_release` is the least share over the releases. A
bake the lint calls blind is recorded as a release made knowing nothing."""

from __future__ import annotations

import pytest

from sim.load import load_scenario_text
from sim.model.gates import parse_bound
from sim.model.plan_traps import plan_warnings
from sim.run import simulate
from tests.conftest import ROOT, TINY_PLAN

TINY = (ROOT / "scenarios" / "tiny.yaml").read_text()


def tiny_with(bake: str):
    return load_scenario_text(TINY.replace("bake: 8h", f"bake: {bake}"))


def releases(result):
    return [(event.detail, event.time, event.told_before, event.outcomes_known)
            for event in result.timeline if event.kind == "update"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_release_after_the_first_says_what_the_plan_knew_and_the_metric_is_the_least_share(seed):
    """tiny (bake 8h): when wave 2 is told at 8h, the plan knows the outcomes of wave 1's cameras in UTC-05:00 (their
    window opens at 07:00 UTC) and none of those in UTC-08:00 (10:00 UTC); at 16h it knows all 20 told before. The
    first release records nothing (nothing was told before it); the metric is the least share."""
    from sim.model.lifecycle import DeviceState
    from tests.world.helpers import run_story

    story = run_story(tiny_with("8h"), seed)
    first_wave = {move.device for move in story.moves if move.time == 0.0}
    eastern = {move.device for move in story.moves if move.device in first_wave
               and move.target == DeviceState.ACTIVATING and move.time == 7 * 3600.0}
    assert 0 < len(eastern) < len(first_wave) == 4
    assert releases(story.result) == [("wave 1 (10%)", 0.0, None, None), ("wave 2 (50%)", 28800.0, 4, len(eastern)),
                                      ("wave 3 (100%)", 57600.0, 20, 20)]
    assert story.result.metrics()["evidence_at_release"] == len(eastern) / 4


def test_a_bake_the_lint_calls_blind_is_a_release_made_knowing_no_outcome():
    """tiny with a 4-hour bake: the lint says wave 2 is told before any camera of wave 1 can report (7h 16m at the
    soonest), and the simulator records wave 2 told knowing none of wave 1's 4 outcomes, on every seed; an
    `expect: evidence_at_release: "> 0%"` bound breaks on it and holds on the 8-hour bake."""
    blind = tiny_with("4h")
    assert any("before any camera of wave 1 (10%) can have reported" in said for _, said in plan_warnings(blind))
    bound = parse_bound("evidence_at_release", "> 0%")
    for seed in (1, 2, 3):
        result = simulate(blind, seed)
        _, _, told_before, known = releases(result)[1]
        assert (told_before, known) == (4, 0)
        assert result.metrics()["evidence_at_release"] == 0.0
        assert not bound.holds(result.metrics()["evidence_at_release"])
    assert bound.holds(simulate(tiny_with("8h"), 1).metrics()["evidence_at_release"])


def test_a_plan_that_releases_once_has_no_evidence_figure():
    text = TINY.replace(TINY_PLAN + "\n", "strategy:\n  kind: all_at_once\n")
    result = simulate(load_scenario_text(text), 1)
    assert result.metrics()["evidence_at_release"] is None
    assert "told_before" not in result.model_dump_json()       # the fields are left out where they say nothing


@pytest.mark.parametrize("seed", [1, 2])
def test_the_known_outcomes_are_the_plans_own_count_when_it_released(seed):
    """An exponential plan releases minute by minute: at each release the outcomes known are what its abort rule
    counted then, never more than the cameras told before, and never fewer than at the release before."""
    text = TINY.replace(TINY_PLAN + "\n", "strategy:\n  kind: exponential\n  base_rate_per_minute: 1\n"
                        "  maximum_per_minute: 1\n")
    steps = [(told, known) for _, _, told, known in releases(simulate(load_scenario_text(text), seed)) if told]
    assert len(steps) == 39
    assert all(0 <= known <= told for told, known in steps)
    assert [known for _, known in steps] == sorted(known for _, known in steps)
    assert [told for told, _ in steps] == list(range(1, 40))


def test_a_shadow_promotion_tells_no_one_new_and_its_waves_stand_on_the_shadow_not_on_outcomes():
    """A shadow plan promotes its sample (already told: nothing recorded) and tells its first wave at once: the plan
    knew no outcome of the sample then, its go stood on the shadow's agreement; the README says so."""
    text = TINY.replace(TINY_PLAN + "\n", "strategy:\n  kind: shadow\n  sample: 25%\n  hold: 2h\n"
                        "  check_every: 1h\n")
    result = simulate(load_scenario_text(text), 1)
    shown = releases(result)
    sample = next(event.devices for event in result.timeline if event.kind == "update")
    assert [detail for detail, *_ in shown][:3] == [f"shadow sample ({sample} devices)", "promote shadow sample",
                                                     "wave 1 after shadow"], shown
    assert shown[1][2:] == (None, None) and shown[2][2:] == (sample, 0) and shown[1][1] == shown[2][1]
    assert result.metrics()["evidence_at_release"] == 0.0
