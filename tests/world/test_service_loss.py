"""How long cameras run no model because of the update (`service_lost_device_hours`), under balena's update
strategies (`delivery.update_strategy`): download_then_kill stops the model for the switch and a rollback,
kill_then_download from the start of the update, hand_over only for a rollback; a bricked camera to the run's end."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.load import load_scenario_text
from sim.model.errors import ScenarioError
from sim.model.lifecycle import DeviceState as S
from sim.run import simulate
from sim.world.world import World
from tests.conftest import merge, scenario_from
from tests.world.helpers import run_story
from tests.world.test_properties import small_fleets

HOUR, DAY = 3600.0, 86400.0
ACTIVATION, ROLLBACK = 60.0, 120.0     # the fleet's defaults


def strategy(name: str) -> dict:
    return {"delivery": {"update_strategy": name}}


def lost_seconds(story) -> float:
    return story.result.service_lost_device_hours * HOUR


def test_download_then_kill_stops_each_camera_for_its_switch_and_hand_over_not_at_all(make_scenario):
    kill_at_switch = run_story(make_scenario())
    assert kill_at_switch.result.outcomes == {S.COMMITTED: 8}
    assert lost_seconds(kill_at_switch) == pytest.approx(8 * ACTIVATION)
    hand_over = run_story(make_scenario(strategy("hand_over")))
    assert hand_over.result.outcomes == {S.COMMITTED: 8}
    assert hand_over.result.service_lost_device_hours == 0.0


def test_a_rollback_stops_the_model_until_the_old_one_runs_again(make_scenario):
    """Every health check fails: the new model runs through it, then the switch back (rollback_time) has none."""
    defective = {"candidate": {"defects": [{"failure_rate": 1.0}]}}
    at_switch = run_story(make_scenario(defective))
    assert at_switch.result.outcomes == {S.ROLLED_BACK: 8}
    assert lost_seconds(at_switch) == pytest.approx(8 * (ACTIVATION + ROLLBACK))
    hand_over = run_story(make_scenario({**defective, **strategy("hand_over")}))
    assert lost_seconds(hand_over) == pytest.approx(8 * ROLLBACK)


def test_kill_then_download_stops_the_model_from_the_download_until_the_new_one_runs(make_scenario):
    story = run_story(make_scenario(strategy("kill_then_download")))
    assert story.result.outcomes == {S.COMMITTED: 8}
    dark = sum(story.first(device, S.HEALTH_CHECK) - story.first(device, S.DOWNLOADING) for device in range(8))
    assert lost_seconds(story) == pytest.approx(dark)
    assert dark > 8 * (ACTIVATION + 100)        # at least the 100 s download of 100 MB at 1 MB/s, and the switch


def one_camera_at_a_gym_with_a_game(make_scenario, **changes):
    """One camera, 10 GB at 1 MB/s (a 2 h 47 m download from midnight), a game every day 01:00-02:00 local."""
    base = {"fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1,
                                             "games": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                                       "start": "01:00", "duration": "1h"}}},
                      "storage_free": {"median": "40GB", "sigma": 0}},
            "artifact": {"full_size": "10GB"}}
    for key, value in changes.items():
        base[key] = {**base.get(key, {}), **value}
    return make_scenario(base)


def test_a_camera_killed_at_the_start_misses_the_game_its_download_runs_through(make_scenario):
    at_switch = run_story(one_camera_at_a_gym_with_a_game(make_scenario))
    assert at_switch.result.service_lost_in_games_device_hours == 0.0     # the switch waits for the game's end
    killed = run_story(one_camera_at_a_gym_with_a_game(make_scenario, **strategy("kill_then_download")))
    assert killed.first(0, S.DOWNLOADING) == 0.0 and killed.first(0, S.HEALTH_CHECK) > 2 * HOUR
    assert killed.result.service_lost_in_games_device_hours == pytest.approx(1.0)
    # the freeze holds the download through the game, but the camera has no model to run meanwhile
    frozen = run_story(one_camera_at_a_gym_with_a_game(
        make_scenario, delivery={"update_strategy": "kill_then_download", "freeze_during_games": True}))
    assert frozen.result.service_lost_in_games_device_hours == pytest.approx(1.0)
    assert lost_seconds(frozen) == pytest.approx(frozen.first(0, S.HEALTH_CHECK))


def test_a_killed_camera_whose_update_fails_restarts_its_old_model(make_scenario):
    corrupt = {"artifact": {"corruption_rate": 1.0, "max_download_attempts": 1}}
    story = run_story(make_scenario({**corrupt, **strategy("kill_then_download")}))
    assert story.result.outcomes == {S.FAILED: 8}
    dark = sum(story.first(device, S.FAILED) + ACTIVATION - story.first(device, S.DOWNLOADING) for device in range(8))
    assert lost_seconds(story) == pytest.approx(dark)
    # a camera that cannot hold the update fails its preflight before its model stops
    short = run_story(make_scenario({"fleet": {"storage_free": {"median": "150MB", "sigma": 0}},
                                     **strategy("kill_then_download")}))
    assert short.result.reasons == {"insufficient storage": 8} and short.result.service_lost_device_hours == 0.0


def test_a_bricked_camera_runs_no_model_to_the_end_of_the_run(make_scenario):
    in_place = {"fleet": {"slots": "in_place"}, "artifact": {"full_size": "2GB"}}
    first = run_story(make_scenario(in_place))
    installing = first.first(0, S.INSTALLING)
    cut_at = installing + 1.0
    story = run_story(make_scenario({**in_place, "faults": [{"kind": "power_cut", "at": f"{cut_at}s"}]}))
    bricked = story.devices_reaching(S.BRICKED)
    assert 0 in bricked
    committed = story.devices_reaching(S.COMMITTED) - bricked
    expected = len(bricked) * (story.result.simulated - cut_at) + len(committed) * ACTIVATION
    assert lost_seconds(story) == pytest.approx(expected)


def test_delete_then_download_is_refused_with_the_reason():
    text = ("name: x\nduration: 1d\nfleet:\n  site_kinds: {gym: {count: 1, cameras_per_site: 1, uplink: {median: "
            "8Mbit/s}}}\n  hardware: {orin-nx: 1.0}\n  storage_free: {median: 8GB}\nartifact: {full_size: 100MB}\n"
            "candidate: {version: '2', hardware: {orin-nx: {latency: 10ms, power: 10}}}\n"
            "strategy: {kind: all_at_once}\ndelivery:\n  update_strategy: delete_then_download\n")
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "plan.yaml")
    message = str(raised.value)
    assert "plan.yaml:11" in message and "delivery.update_strategy" in message
    assert "rollback fetches the old model again" in message


def test_a_power_cut_mid_switch_ends_the_updates_spell_and_the_next_switch_starts_another(make_scenario):
    """A/B: a cut 10 s into the switch sends the camera back to its old slot (the reboot's dark is the power's);
    it switches again later: 10 s and a whole activation without a model."""
    one = {"fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1}}}}
    switching = run_story(make_scenario(one)).first(0, S.ACTIVATING)
    story = run_story(make_scenario({**one, "faults": [{"kind": "power_cut", "at": f"{switching + 10}s"}]}))
    assert len(story.times(0, S.ACTIVATING)) == 2 and story.result.outcomes == {S.COMMITTED: 1}
    assert lost_seconds(story) == pytest.approx(10 + ACTIVATION)


@settings(max_examples=300, deadline=None)
@given(start=st.floats(0, 6 * DAY), length=st.floats(0, 2.5 * DAY), game_start=st.integers(0, 23),
       game_hours=st.integers(1, 24), offset=st.sampled_from(["UTC+0", "UTC-05:00", "UTC+09:30"]))
def test_game_seconds_equals_the_overlap_with_every_game_found_day_by_day(start, length, game_start, game_hours,
                                                                         offset):
    """The calendar's shortcut (an interval outside the games' hours of any day) against the games listed one by
    one: games on some weekdays and by chance, past midnight, in another timezone, intervals longer than a day."""
    games = {"days": ["mon", "wed", "thu", "sat"], "start": f"{game_start:02d}:00", "duration": f"{game_hours}h",
             "probability": 0.6}
    calendar = World(scenario_from({"fleet": {"site_kinds": {"gym": {"count": 3, "cameras_per_site": 1,
                                                                     "games": games}},
                                              "timezones": {offset: 1.0}}}), seed=5).calendar
    for site in range(3):
        local = calendar._offset(site)
        found = calendar._games_between(site, start + local, start + length + local)
        overlap = sum(min(start + length + local, end) - max(start + local, begin) for begin, end in found)
        assert calendar.game_seconds(site, start, start + length) == pytest.approx(max(overlap, 0.0), abs=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_fleets(delivery=True))
def test_the_update_strategy_changes_only_the_hours_without_a_model_and_orders_them(changes):
    """The three strategies run the same rollout (every other byte of the result is the same); hand_over loses no
    more than download_then_kill, which loses no more than kill_then_download; the part in games is part of it."""
    results = {}
    for name in ("hand_over", "download_then_kill", "kill_then_download"):
        # staging ahead keeps the model running through the download: no kill_then_download with it
        chosen = merge(changes, {"delivery": {"update_strategy": name, "stage_ahead": False}})
        result = json.loads(simulate(scenario_from(chosen)).model_dump_json(exclude={"provenance"}))
        results[name] = (result.pop("service_lost_device_hours"), result.pop("service_lost_in_games_device_hours"),
                         result)
    assert results["hand_over"][2] == results["download_then_kill"][2] == results["kill_then_download"][2]
    lost = [results[name][0] for name in ("hand_over", "download_then_kill", "kill_then_download")]
    in_games = [results[name][1] for name in ("hand_over", "download_then_kill", "kill_then_download")]
    assert lost == sorted(lost) and in_games == sorted(in_games)
    fleet_hours = results["hand_over"][2]["devices"] * results["hand_over"][2]["simulated"] / HOUR
    assert all(0 <= games <= whole + 1e-9 <= fleet_hours + 1e-9 for whole, games in zip(lost, in_games))
