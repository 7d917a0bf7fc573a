"""Staging ahead (`delivery.stage_ahead`, hawkBit's download-only rollout): every camera fetches and installs the
candidate from the start; the plan's releases only switch; the plan hears of a staged camera once it releases it."""

import pytest

from sim.load import load_scenario_text
from sim.model.errors import ScenarioError
from sim.model.lifecycle import DeviceState as S
from tests.conftest import ROOT
from tests.world.helpers import run_story

HOUR = 3600.0
WAVES = {"strategy": {"kind": "waves", "waves": ["25%", "100%"], "bake": "6h"}}
STAGED = {"delivery": {"stage_ahead": True}}


def test_staged_cameras_fetch_from_the_start_and_switch_when_released(make_scenario):
    plain = run_story(make_scenario(WAVES))
    staged = run_story(make_scenario({**WAVES, **STAGED}))
    assert plain.result.outcomes == staged.result.outcomes == {S.COMMITTED: 8}
    later = [device for device in range(8) if plain.first(device, S.DOWNLOADING) > 0]
    assert len(later) == 6
    released_at = plain.first(later[0], S.DOWNLOADING)
    assert released_at >= 6 * HOUR
    for device in range(8):
        assert staged.first(device, S.DOWNLOADING) == 0.0
    for device in later:     # installed hours ago: the release only switches (the windows are open all day)
        assert staged.first(device, S.AWAITING_WINDOW) < HOUR
        assert staged.first(device, S.ACTIVATING) == pytest.approx(released_at)
        assert staged.first(device, S.ACTIVATING) < plain.first(device, S.ACTIVATING)
    assert staged.result.coverage.t95 < plain.result.coverage.t95
    assert staged.result.bytes.total == pytest.approx(plain.result.bytes.total)


def test_a_halt_saves_none_of_the_staged_egress(make_scenario):
    """Every health check fails: the plan halts on its first wave; staged, all eight cameras fetched the candidate,
    and the six never released say so."""
    failing = {"candidate": {"defects": [{"failure_rate": 1.0}]},
               "strategy": {**WAVES["strategy"], "abort": {"threshold": "20%", "min_executed": 2}}}
    plain = run_story(make_scenario(failing))
    staged = run_story(make_scenario({**failing, **STAGED}))
    assert plain.result.halted and staged.result.halted
    assert plain.result.bytes.total == pytest.approx(2 * 100e6)
    assert staged.result.bytes.total == pytest.approx(8 * 100e6)
    assert staged.result.reasons["staged ahead, not released: rollout halted"] == 6
    assert staged.result.outcomes == {S.ROLLED_BACK: 2, S.AWAITING_WINDOW: 6}


def test_the_plan_hears_of_a_staged_failure_only_once_it_releases_the_camera(make_scenario):
    """No camera can hold the update: staged, all eight fail at the start; an IoT job notifying one a minute hears
    of each failure a report delay after it notified that camera, as when each fails at its release: the same abort
    at the same moment, not one on failures reported before the plan released those cameras."""
    short = {"fleet": {"storage_free": {"median": "150MB", "sigma": 0}},
             "strategy": {"kind": "exponential", "base_rate_per_minute": 1, "maximum_per_minute": 1,
                          "abort": [{"failure_type": "ALL", "threshold": "10%", "min_executed": 2}]}}
    plain = run_story(make_scenario(short)).result
    staged = run_story(make_scenario({**short, **STAGED})).result
    assert staged.halted and plain.halted
    assert staged.halt_reason == plain.halt_reason
    assert staged.halt_reason.startswith("abort: 2 of 2 reported devices failed"), staged.halt_reason
    assert staged.halt_time == plain.halt_time == 420.0


def test_the_in_progress_timeout_runs_from_the_release_not_from_the_staging(make_scenario):
    """A 1-hour timeout: the second wave, staged at the start and released after 6 hours, switches in time."""
    timed = {**WAVES, "delivery": {"stage_ahead": True, "in_progress_timeout": "1h"}}
    story = run_story(make_scenario(timed))
    assert story.result.outcomes == {S.COMMITTED: 8}


@pytest.mark.parametrize("change, key, said", [
    ("  slots: in_place\n", "delivery.stage_ahead", "needs fleet.slots: ab"),
    (None, "strategy.kind", "nothing left for the budget to pace"),
])
def test_staging_where_it_cannot_work_is_an_error_at_its_key(change, key, said):
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace(
        "artifact:", "delivery: {stage_ahead: true}\nartifact:", 1)
    if change:
        text = text.replace("fleet:\n", "fleet:\n" + change, 1)
    else:
        text = text.replace("  kind: waves\n  waves: [10%, 50%, 100%]\n  bake: 8h\n", "  kind: budgeted\n"
                            "  global_per_hour: 1GB\n", 1)
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "staged.yaml")
    assert key in str(raised.value) and said in str(raised.value), str(raised.value)


def test_staging_with_kill_then_download_is_refused():
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace(
        "artifact:", "delivery: {update_strategy: kill_then_download, stage_ahead: true}\nartifact:", 1)
    with pytest.raises(ScenarioError, match="delivery.stage_ahead.*choose one"):
        load_scenario_text(text, "staged.yaml")


def test_a_halt_withdraws_the_releases_of_staged_cameras_whose_agents_have_not_checked_in(make_scenario):
    """Agents ask every 6 h: the second wave's releases wait for their check-ins, and the halt on the first wave's
    crashes withdraws them (the halt's timeline entry counts them): those cameras stay staged, none switches."""
    polling = {"fleet": {"poll_interval": "6h", "site_kinds": {"gym": {"count": 10, "cameras_per_site": 2}}},
               "candidate": {"defects": [{"failure_rate": 1.0}]},
               "strategy": {"kind": "waves", "waves": ["20%", "100%"], "bake": "1h",
                            "abort": {"threshold": "20%", "min_executed": 2}}}
    story = run_story(make_scenario({**polling, **STAGED}))
    result = story.result
    assert result.halted
    (halt,) = [event for event in result.timeline if event.kind == "halt"]
    assert halt.devices == 16
    assert result.reasons["staged ahead, not released: rollout halted"] == 16
    assert not [move for move in story.moves if move.target == S.ACTIVATING and move.time > result.halt_time]
