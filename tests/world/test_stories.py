"""What happens to devices, told as stories on tiny fleets."""

import pytest

from sim.model.lifecycle import DeviceState as S
from sim.model.results import still_pending
from sim.world.world import World
from tests.world.helpers import run_story

ONE_SITE = {"gym": {"count": 1, "cameras_per_site": 2}}


def test_a_device_without_room_for_the_new_slot_fails_with_the_reason(make_scenario):
    scenario = make_scenario({"fleet": {"storage_free": {"median": "150MB"}}})   # needs 100MB download + 100MB slot
    story = run_story(scenario)
    assert story.result.outcomes == {S.FAILED: 8}
    assert story.result.reasons == {"insufficient storage": 8}
    # checked before the download, as the rigs' preflight does (hil/preflight.py): no byte is fetched for a camera
    # that cannot hold the update (once 8 × 100 MB of egress, paid for), and each fails the moment it is released,
    # not 200 s of download later (the abort gates hear of it a download sooner)
    assert story.result.bytes.total == 0 and story.result.egress.cost == 0
    assert [story.first(device, S.FAILED) for device in range(8)] == [0.0] * 8


def test_a_corrupt_download_is_fetched_again_until_attempts_run_out(make_scenario):
    scenario = make_scenario({"fleet": {"site_kinds": ONE_SITE},
                              "artifact": {"corruption_rate": 1.0, "max_download_attempts": 3}})
    story = run_story(scenario)
    assert story.result.outcomes == {S.FAILED: 2}
    assert story.result.reasons == {"corrupt download 3 times": 2}
    assert story.result.bytes.total == pytest.approx(2 * 3 * 100e6)
    assert story.result.bytes.wasted == pytest.approx(story.result.bytes.total)


def power_cut_during_install(make_scenario, slots):
    # downloads end at 200 s (two cameras share 1 MB/s), installs then run 10 minutes: a cut at 400 s hits them
    return make_scenario({"fleet": {"site_kinds": ONE_SITE, "slots": slots},
                          "artifact": {"engine_build": "10m"},
                          "faults": [{"kind": "power_cut", "at": "400s"}]})


def test_a_power_cut_during_an_in_place_install_bricks_the_device(make_scenario):
    story = run_story(power_cut_during_install(make_scenario, "in_place"))
    assert story.result.outcomes == {S.BRICKED: 2}
    assert story.result.reasons == {"power cut during in-place install": 2}


def test_with_ab_slots_the_same_cut_only_costs_a_reboot_and_a_second_install(make_scenario):
    story = run_story(power_cut_during_install(make_scenario, "ab"))
    assert story.result.outcomes == {S.COMMITTED: 2}
    installed = story.first(0, S.AWAITING_WINDOW)
    assert installed == pytest.approx(400 + 120 + 5 + 600)   # cut + reboot + copy at 20 MB/s + engine build


def test_no_device_activates_while_its_site_has_a_game(make_scenario):
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {
        "count": 2, "cameras_per_site": 1,
        "games": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:01", "duration": "6h"}}}}})
    story = run_story(scenario)
    for device in range(2):
        assert story.first(device, S.ACTIVATING) >= 6 * 3600 + 60
    assert story.result.downloads_during_games == 2   # downloading is allowed; the report counts it


def test_under_the_game_day_freeze_a_copy_from_the_site_cache_waits_for_the_game_to_end(make_scenario):
    # the seeder fetches 100 MB at 1 MB/s by ~100 s; the other camera's 100-second LAN copy would run into the game
    # that starts at 00:03 (180 s): it waits for the game's end at 01:03 and copies then
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {
        "count": 1, "cameras_per_site": 2,
        "games": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:03", "duration": "1h"}}}},
        "delivery": {"site_cache": True, "lan_rate": "1MB/s", "freeze_during_games": True}})
    story = run_story(scenario)
    seeder, copier = sorted(range(2), key=lambda device: story.first(device, S.VERIFYING))
    assert story.first(seeder, S.VERIFYING) < 180
    assert story.first(copier, S.VERIFYING) == pytest.approx(3780 + 100)
    assert story.result.bytes.lan == pytest.approx(100e6)
    assert story.result.downloads_during_games == 0


def test_a_camera_waiting_for_its_site_cache_through_a_game_did_not_download_during_it(make_scenario):
    """Without the freeze, downloads that overlap a game are counted. The seeder fetches 0–100 s through a game at
    0–60 s; the other camera waits for it, then copies over the LAN at 101–201 s, after the game. Its wait was
    counted as a download during the game (2 instead of 1): its download is the copy."""
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {
        "count": 1, "cameras_per_site": 2,
        "games": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "duration": "1m"}}}},
        "delivery": {"site_cache": True, "lan_rate": "1MB/s"}})
    story = run_story(scenario)
    seeder, copier = sorted(range(2), key=lambda device: story.first(device, S.VERIFYING))
    assert story.first(seeder, S.VERIFYING) == pytest.approx(100)
    assert story.first(copier, S.VERIFYING) == pytest.approx(201)     # the cache is ready once the seeder verified
    assert story.result.downloads_during_games == 1


@pytest.mark.parametrize("seed, games", [(3, [19.5]), (9, [12.5, 19.5])])
def test_under_the_freeze_a_download_pauses_for_a_game_weeks_ahead(make_scenario, seed, games):
    """Games on Saturdays by chance (30%): at these seeds the first is 12 or 19 days off. The uplink's next change
    under the freeze was looked for a week ahead only, so the site's link was not watched again, and a 20-day
    download ran straight through every game. Now it pauses 6 h for each."""
    scenario = make_scenario({
        "seed": seed, "duration": "40d",
        "fleet": {"site_kinds": {"gym": None, "stadium": {
            "count": 1, "cameras_per_site": 1, "uplink": {"median": "80kbit/s", "sigma": 0},
            "games": {"days": ["sat"], "start": "12:00", "duration": "6h", "probability": "30%"}}},
            "storage_free": {"median": "100GB", "sigma": 0}},
        "artifact": {"full_size": "17GB"},      # 1,700,000 s at 10 kB/s: 19.7 days
        "delivery": {"freeze_during_games": True}})
    world = World(scenario, seed)
    found = [game for day in range(40) if (game := world.calendar.game_interval(0, day))]
    assert [start / 86400 for start, _ in found][:len(games)] == games     # the games the story is about
    story = run_story(scenario)
    assert story.first(0, S.VERIFYING) == pytest.approx(1_700_000 + 6 * 3600 * len(games))
    assert story.result.downloads_during_games == 0


@pytest.mark.parametrize("site_kind, says", [
    ({"games": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "duration": "24h"}},
     "still downloading: paused for a game (freeze_during_games)"),
    ({"daily_pattern": {"00:00": 0}}, "still downloading: the uplink carries nothing at this hour (daily_pattern)"),
    ({"uplink": {"median": "32kbit/s", "sigma": 0}}, "still downloading: slow uplink"),   # 1 GB in a day: no
])
def test_a_camera_still_downloading_at_the_end_says_what_holds_it(make_scenario, site_kind, says):
    """A game all day under the freeze, or an uplink at 0, read as 'still downloading: slow uplink'."""
    scenario = make_scenario({"duration": "1d", "fleet": {"site_kinds": {"gym": site_kind}},
                              "artifact": {"full_size": "1GB"}, "delivery": {"freeze_during_games": True}})
    assert run_story(scenario).result.reasons == {says: 8} and still_pending(says)


def test_a_camera_the_freeze_holds_before_its_install_says_so(make_scenario):
    # downloads are done by ~205 s; a 10-minute engine build does not fit before the game at 00:10, which runs past
    # the run's end at 23:00
    scenario = make_scenario({"duration": "23h", "artifact": {"engine_build": "10m"}, "fleet": {"site_kinds": {"gym": {
        "games": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:10", "duration": "23h"}}}},
        "delivery": {"freeze_during_games": True}})
    [(reason, count)] = run_story(scenario).result.reasons.items()
    assert (reason, count) == ("waiting for a game to end to install (freeze_during_games)", 8)
    assert still_pending(reason)        # on its way, not failed: the report's cause line reads it so


def test_a_defect_on_one_camera_angle_rolls_back_only_those_cameras(make_scenario):
    scenario = make_scenario({"fleet": {"camera_angles": {"overhead": 0.5, "goal": 0.5}},
                              "candidate": {"defects": [{"cohort": {"camera_angle": "goal"}, "failure_rate": 1.0}]}})
    story = run_story(scenario)
    layout_angles = {move.device for move in story.moves if move.target == S.ROLLED_BACK}
    assert story.result.outcomes[S.ROLLED_BACK] == len(layout_angles) > 0
    assert story.result.outcomes[S.COMMITTED] == 8 - len(layout_angles)
    assert story.result.reasons == {"health check: inference service crashed": len(layout_angles)}
    assert story.result.exposure_device_hours == pytest.approx(len(layout_angles) * 10 / 60)


def test_a_candidate_that_runs_too_hot_fails_its_health_check(make_scenario):
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {"ambient": {"mean": 55, "daily_swing": 0,
                                                                           "spread": 0}}}},
                              "candidate": {"hardware": {"orin-nx": {"latency": "10ms", "power": 15}}}})
    story = run_story(scenario)   # 55 °C + 3 °C/W × 15 W → 100 °C, above the 95 °C health limit
    assert story.result.reasons == {"health check: over temperature": 8}
    assert story.result.throttled_device_hours > 0


def test_a_throttled_slow_board_misses_the_frame_rate_and_rolls_back(make_scenario):
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {"ambient": {"mean": 50, "daily_swing": 0,
                                                                           "spread": 0}}}},
                              "candidate": {"hardware": {"orin-nx": {"latency": "60ms", "power": 12}}}})
    story = run_story(scenario)   # 86 °C: throttled, 16.7 fps × 0.6 = 10 fps < 15 needed
    assert story.result.reasons == {"health check: fps below need": 8}


def test_waves_halt_on_failures_and_tell_no_one_else(make_scenario):
    scenario = make_scenario({
        "fleet": {"site_kinds": {"gym": {"count": 20}}},
        "candidate": {"defects": [{"failure_rate": 1.0}]},
        "strategy": {"kind": "waves", "waves": ["10%", "100%"], "bake": "12h", "check_every": "30m",
                     "abort": {"failure_rate": "50%", "min_executed": 4}}})
    story = run_story(scenario)
    result = story.result
    assert result.halted and result.halt_time is not None
    assert result.outcomes == {S.ROLLED_BACK: 4, S.IDLE: 36}
    assert result.reasons["not released: rollout halted"] == 36
    assert not [move for move in story.moves if move.target == S.DOWNLOADING and move.time > result.halt_time]


def test_an_abort_with_rollback_returns_every_updated_device(make_scenario):
    scenario = make_scenario({
        "fleet": {"site_kinds": {"gym": {"count": 20}}},
        "candidate": {"defects": [{"failure_rate": 0.5}]},
        "strategy": {"kind": "waves", "waves": ["25%", "100%"], "bake": "1d", "check_every": "1h",
                     "abort": {"failure_rate": "20%", "min_executed": 5}, "rollback_on_abort": True}})
    story = run_story(scenario)
    assert story.result.halted
    assert story.result.outcomes == {S.ROLLED_BACK: 10, S.IDLE: 30}
    assert story.result.coverage.final == 0
    assert S.COMMITTED in {move.source for move in story.moves}     # some had committed, and were taken back


def test_a_silent_accuracy_drop_passes_health_checks_and_shows_up_only_as_exposure(make_scenario):
    scenario = make_scenario({
        "fleet": {"site_kinds": {"gym": {"count": 20}}},
        "candidate": {"defects": [{"cohort": {}, "accuracy_drop": 0.2}]},
        "strategy": {"kind": "waves", "waves": ["25%", "100%"], "bake": "1d", "check_every": "1h",
                     "abort": {"failure_rate": "1%", "min_executed": 1}, "rollback_on_abort": True}})
    story = run_story(scenario)
    assert story.result.outcomes == {S.COMMITTED: 40}
    assert story.result.exposure_device_hours > 0


def test_reports_from_a_site_whose_link_is_down_arrive_late(make_scenario):
    from sim.model.lifecycle import DeviceState
    from sim.world.world import World
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1}}},
                              "faults": [{"kind": "outage", "at": "1h", "duration": "5h"}]})
    world = World(scenario, 1)
    world.env.run(until=7200)
    world.move(0, DeviceState.DOWNLOADING)
    world.move(0, DeviceState.FAILED, "test")
    assert world.reports_until(6 * 3600 + 299) == []
    assert world.reports_until(6 * 3600 + 300) == [(0, DeviceState.FAILED)]


def test_a_report_that_would_leave_after_the_run_is_never_heard_and_no_later_outage_is_drawn(make_scenario,
                                                                                             monkeypatch):
    """A scripted outage of a century on a site with natural outages (a cut every 3 days): a report from it would
    leave after the run, so it is dropped at once; the site's natural outages are drawn only up to the run's end
    (drawing them to the outage's end once took minutes per report)."""
    import math

    from sim.model import streams
    from sim.model.lifecycle import DeviceState
    from sim.world.world import World
    draws = []
    exponential = streams.exponential
    monkeypatch.setattr(streams, "exponential", lambda *args: draws.append(args) or exponential(*args))
    scenario = make_scenario({"fleet": {"site_kinds": {"gym": {"count": 1, "cameras_per_site": 1,
                                                               "outages": {"mtbf": "3d", "mttr": "2h"}}}},
                              "faults": [{"kind": "outage", "at": "1h", "duration": "36500d"}]})
    world = World(scenario, 1)
    world.env.run(until=7200)
    world.move(0, DeviceState.DOWNLOADING)
    world.move(0, DeviceState.FAILED, "test")
    assert world.reports_until(math.inf) == []         # not even one queued for after the end
    assert len(draws) < 10       # the periods of 3 days, not the 12,000 periods of a century


def test_a_camera_dark_while_its_site_cache_fills_copies_the_artifact_once_after_its_reboot(make_scenario):
    """It waited for the site's seeder, lost power, and the cache filled while it was dark: the copy once started
    then (a dark camera copying) and its reboot started a second one, whose end moved it INSTALLING → VERIFYING
    (IllegalTransition; found by fuzzing power_loss_per_day on delta-and-site-cache)."""
    from sim.world.device import Lifecycle
    from sim.world.power import POWER_CUT
    from sim.world.world import World
    moves = []
    scenario = make_scenario({"fleet": {"site_kinds": ONE_SITE}, "delivery": {"site_cache": True,
                                                                             "lan_rate": "50MB/s"}})
    world = World(scenario, 1, lambda time, device, source, target, reason: moves.append((time, device, target)))
    lifecycle = Lifecycle(world)
    lifecycle.release(0)
    lifecycle.release(1)
    world.env.run(until=10)
    [waiting] = [device for device in (0, 1) if lifecycle.cache.is_waiting(0, device)]
    lifecycle.interrupt(waiting, POWER_CUT, dark_for=3600)    # the seeder's download ends ~100 s in: while it is dark
    world.env.run(until=86400)
    assert [target for _, device, target in moves if device == waiting] == [
        S.DOWNLOADING, S.VERIFYING, S.INSTALLING, S.AWAITING_WINDOW, S.ACTIVATING, S.HEALTH_CHECK, S.COMMITTED]
    assert min(time for time, device, target in moves if device == waiting and target == S.VERIFYING) > 3600
    assert world.recorder.lan_bytes == 100e6                   # one copy over the LAN


def test_a_defect_on_the_200th_hardware_model_strikes_that_model_only(make_scenario):
    """A fleet naming 200 boards: the layout kept a device's hardware in a signed byte, so board 150 read as board
    -106 (Python's negative index: board-94), and a defect on board-150 struck board-94's cameras."""
    boards = [f"board-{number}" for number in range(200)]
    scenario = make_scenario({
        "fleet": {"site_kinds": {"gym": {"count": 50, "cameras_per_site": 20}},
                  "hardware": {"orin-nx": None, **{board: 1 / 200 for board in boards}}},
        "candidate": {"hardware": {"orin-nx": None, **{board: {"latency": "10ms", "power": 10} for board in boards}},
                      "defects": [{"cohort": {"hardware": "board-150"}, "failure_rate": 1.0}]}})
    story = run_story(scenario)
    hardware = World(scenario, scenario.seed).layout.device_hardware
    on_board_150 = {device for device in range(1000) if int(hardware[device]) % 256 == 150}   # the byte, unsigned
    assert on_board_150
    assert {device for device in range(1000) if story.times(device, S.ROLLING_BACK)} == on_board_150
    assert {outcome.cohort[0] for outcome in story.result.stragglers} == {"board-150"}
