"""`delivery.failure_retries`: a failed update started again (AWS IoT Jobs' retries for FAILED, Mender's deployment
retries), the new attempt carrying on from what the camera has."""

from __future__ import annotations

import math

import pytest

from sim.model.lifecycle import HELD_BY_A_GAME
from sim.model.lifecycle import DeviceState as S
from sim.run import simulate
from tests.conftest import scenario_from
from tests.world.helpers import run_story
from tests.world.test_defer_limit import late_games, local_clock

TO_MIDNIGHT = ('start: "19:30", duration: 3h30m', 'start: "19:30", duration: 4h30m')   # holds a 22:00 switch 2h


def late_games_retried(retries: int, *more: tuple[str, str]):
    return late_games("30m", ("  defer_limit: 30m ", f"  failure_retries: {retries}\n  defer_limit: 30m "),
                      TO_MIDNIGHT, *more)


@pytest.mark.timeout(180)
def test_each_retry_puts_the_switch_off_for_the_limit_again_until_the_game_is_over():
    """A game to midnight holds the switches ready at 22:00 for 2h; the limit is 30m. Three retries cover the hold:
    every camera switches at midnight, exactly when it does without a limit. Two do not: each held camera gives up
    at 22:30, 23:00 and, for good, at 23:30, its reason saying so."""
    three = late_games_retried(3)
    covered, unlimited = run_story(three, seed=1), run_story(late_games(None, TO_MIDNIGHT), seed=1)
    assert covered.result.outcomes == unlimited.result.outcomes and covered.result.metrics()["failed"] == 0
    held_at_all = [move.device for move in run_story(late_games("30m", TO_MIDNIGHT), seed=1).moves
                   if move.target == S.FAILED]
    assert len(held_at_all) > 50
    for device in held_at_all:
        assert covered.first(device, S.ACTIVATING) == unlimited.first(device, S.ACTIVATING), device
        assert local_clock(three, 1, device, covered.first(device, S.ACTIVATING)) == pytest.approx(0.0), device
    assert covered.result.retried_failures == 3 * len(held_at_all)

    two = late_games_retried(2)
    short = run_story(two, seed=1)
    failed = [move for move in short.moves if move.target == S.FAILED]
    assert sorted(move.device for move in failed) == sorted(held_at_all)
    for move in failed:
        assert move.source == S.AWAITING_WINDOW and move.reason == (
            f"{HELD_BY_A_GAME} past delivery.defer_limit (30m 0s): the switch given up, the current model kept "
            "(2 retries: delivery.failure_retries)"), move
        assert local_clock(two, 1, move.device, move.time) == pytest.approx(23.5 * 3600), move
    assert short.result.retried_failures == 2 * len(failed)


@pytest.mark.timeout(180)
def test_a_polling_agent_picks_a_retry_up_at_its_next_check_in_and_puts_the_switch_off_from_there():
    """With agents checking in every 30 minutes, a retry starts at the camera's next check-in after it gave up, and
    its 30 minutes of putting off count from there: the same cameras fail with two retries, each later than at 23:30
    by its wait for that check-in (0 to 30 minutes, a different one per camera); none switches during the game."""
    polled = ("  egress_cap: 5Gbit/s", "  egress_cap: 5Gbit/s\n  poll_interval: 30m")
    scenario = late_games_retried(2, polled)
    story = run_story(scenario, seed=1)
    held = {move.device for move in run_story(late_games_retried(0, polled), seed=1).moves if move.target == S.FAILED}
    failed = [move for move in story.moves if move.target == S.FAILED]
    assert held and {move.device for move in failed} == held
    clocks = [local_clock(scenario, 1, move.device, move.time) for move in failed]
    assert all(23.5 * 3600 <= clock < 24 * 3600 for clock in clocks), clocks
    assert len({round(clock) for clock in clocks}) > 10, clocks
    assert story.result.retried_failures == 2 * len(held)


def corrupting(rate: str, retries: int, cameras: int = 1000):
    return scenario_from({
        "fleet": {"site_kinds": {"gym": {"count": cameras // 2, "cameras_per_site": 2}}},
        "artifact": {"corruption_rate": rate, "max_download_attempts": 2, "full_size": "10MB"},
        "delivery": {"failure_retries": retries}})


@pytest.mark.timeout(180)
@pytest.mark.parametrize("retries", [0, 1, 2])
def test_a_retry_after_corrupt_copies_draws_new_ones_so_a_camera_fails_when_every_attempt_of_every_try_is_bad(
        retries: int):
    """Half the copies corrupt, two attempts a try: a camera fails with probability 0.5^(2 × (1 + retries)), so the
    retries' draws are new ones (repeating the first try's would fail the same cameras again)."""
    result = simulate(corrupting("50%", retries))
    failed = result.metrics()["failed"]
    chance = 0.5 ** (2 * (1 + retries))
    expected, spread = 1000 * chance, math.sqrt(1000 * chance * (1 - chance))
    assert abs(failed - expected) <= 5 * spread + 1, (failed, expected)
    suffix = "" if not retries else f" ({retries} retr{'y' if retries == 1 else 'ies'}: delivery.failure_retries)"
    assert set(result.reasons) <= {f"corrupt download 2 times{suffix}"}, result.reasons
    assert result.outcomes[S.COMMITTED] + failed == 1000
    assert result.retried_failures >= retries * failed
    assert (result.retried_failures > 0) == (retries > 0)


@pytest.mark.timeout(180)
def test_a_retry_after_expired_links_carries_on_from_the_bytes_kept():
    """100MB at 1 Mbit/s takes 800 s; links last 5 minutes and a try has one attempt: without retries every camera
    fails, with enough each goes on from its last checkpoint on a new link, and the bytes moved stay within the
    checkpoints of the artifact (nothing fetched twice over)."""
    slow = {"fleet": {"site_kinds": {"gym": {"count": 20, "cameras_per_site": 1,
                                             "uplink": {"median": "1Mbit/s", "sigma": 0}}}},
            "artifact": {"max_download_attempts": 1, "checkpoint": "1MB"},
            "delivery": {"link_expiry": "5m"}}
    none = simulate(scenario_from(slow))
    assert none.metrics()["failed"] == 20 and set(none.reasons) == {"download link expired 1 times"}
    enough = simulate(scenario_from({**slow, "delivery": {"link_expiry": "5m", "failure_retries": 4}}))
    assert enough.metrics()["committed"] == 20 and enough.retried_failures == 20 * 2, enough.retried_failures
    assert 20 * 100e6 <= enough.bytes.total <= 20 * (100e6 + 3 * 1e6), enough.bytes.total


@pytest.mark.timeout(120)
def test_a_camera_short_of_storage_is_not_retried_and_a_run_without_retries_says_nothing_of_them():
    short = simulate(scenario_from({"fleet": {"storage_free": {"median": "10MB", "sigma": 0}},
                                    "delivery": {"failure_retries": 3}}))
    assert short.reasons == {"insufficient storage": 8} and short.retried_failures == 0
    assert "retried_failures" not in simulate(scenario_from()).model_dump_json()


@pytest.mark.timeout(120)
def test_a_halt_cancels_the_retries_no_agent_has_picked_up_and_their_cameras_stay_failed():
    """AWS cancels a halted job's queued executions, a retry not yet picked up among them: half the copies corrupt,
    one attempt a try, two retries, agents checking in hourly. The retries' failures halt the waves plan; the cameras
    whose retry was still queued then end FAILED at the halt, saying so, and do nothing after it."""
    scenario = scenario_from({
        "fleet": {"site_kinds": {"gym": {"count": 200, "cameras_per_site": 2}}, "poll_interval": "1h"},
        "artifact": {"corruption_rate": "50%", "max_download_attempts": 1},
        "delivery": {"failure_retries": 2},
        "strategy": {"kind": "waves", "waves": ["50%", "100%"], "bake": "12h",
                     "abort": {"threshold": "5%", "min_executed": 10}}})
    story = run_story(scenario)
    result = story.result
    assert result.halted and result.halt_time is not None
    withdrawn = [move for move in story.moves if "withdrawn: " in move.reason]
    assert withdrawn, result.reasons
    for move in withdrawn:
        assert move.target == S.FAILED and move.time == result.halt_time, move
        assert move.reason in [f"corrupt download 1 times (retry {retry} withdrawn: the rollout halted before the "
                               "camera checked in)" for retry in (1, 2)], move
        assert not [later for later in story.moves if later.device == move.device and later.time > move.time]
    halt = next(event for event in result.timeline if event.kind == "halt")
    assert halt.devices >= len(withdrawn)


@pytest.mark.timeout(180)
def test_a_retry_that_fetches_again_moves_the_artifact_once_more_and_counts_the_dropped_copy_wasted():
    """As a Mender agent does: the 117 cameras a late game held past 30m drop their installed copy at 22:30, fetch
    the artifact again and switch once the game is over, as the cameras that carried on do; the origin moved one more
    artifact (on the wire) for each, all of it wasted, and the useful bytes are the same."""
    fetched = "\n  retry_fetches_again: true"
    kept = run_story(late_games("30m", ("  defer_limit: 30m ", "  failure_retries: 1\n  defer_limit: 30m ")), seed=1)
    again_scenario = late_games("30m", ("  defer_limit: 30m ", f"  failure_retries: 1{fetched}\n  defer_limit: 30m "))
    again = run_story(again_scenario, seed=1)
    assert again.result.outcomes == kept.result.outcomes == {S.COMMITTED: 1636}
    retried = [move for move in again.moves if move.target == S.DOWNLOADING and move.source == S.AWAITING_WINDOW]
    assert len(retried) == again.result.retried_failures == 117
    for move in retried:
        assert move.reason.endswith("the switch given up, the current model kept: retried (delivery.failure_retries), "
                                    "fetching the artifact again"), move
        assert local_clock(again_scenario, 1, move.device, move.time) == pytest.approx(22.5 * 3600)
        assert local_clock(again_scenario, 1, move.device, again.first(move.device, S.ACTIVATING)) >= 23 * 3600 - 1e-6
    extra = again.result.bytes.total - kept.result.bytes.total      # on the wire: a few % of protocol overhead
    assert 117 * 300e6 <= extra <= 117 * 300e6 * 1.03, extra
    assert again.result.bytes.useful == pytest.approx(kept.result.bytes.useful)
    assert again.result.bytes.wasted - kept.result.bytes.wasted == pytest.approx(extra)


@pytest.mark.timeout(120)
def test_a_download_that_outlasts_its_link_never_ends_when_each_retry_starts_it_over():
    """800 s of download on 5-minute links: carried on, four retries finish it (the test above); fetched again from
    the first byte, none does, and every camera fails once its retries are spent."""
    slow = {"fleet": {"site_kinds": {"gym": {"count": 20, "cameras_per_site": 1,
                                             "uplink": {"median": "1Mbit/s", "sigma": 0}}}},
            "artifact": {"max_download_attempts": 1, "checkpoint": "1MB"},
            "delivery": {"link_expiry": "5m", "failure_retries": 4, "retry_fetches_again": True}}
    result = simulate(scenario_from(slow))
    assert result.reasons == {"download link expired 1 times (4 retries: delivery.failure_retries)": 20}
    assert result.retried_failures == 20 * 4 and result.bytes.useful == 0


def test_fetching_again_without_retries_does_nothing_and_the_lint_says_so():
    """Allowed, so that a sweep over failure_retries can pass 0 to a scenario that fetches again; the run is the run
    without it, and `fleetlab lint` names the key."""
    from sim.model.plan_traps import plan_warnings

    alone = scenario_from({"delivery": {"retry_fetches_again": True}})
    without = {"provenance"}        # the scenario's hash differs, the run does not
    assert simulate(alone).model_dump_json(exclude=without) == simulate(scenario_from()).model_dump_json(
        exclude=without)
    assert ("delivery.retry_fetches_again", "no failed update is started again (delivery.failure_retries: 0), so "
            "nothing is fetched again: set failure_retries, or leave this out") in plan_warnings(alone)
    assert not [key for key, _ in plan_warnings(scenario_from({"delivery": {"failure_retries": 1,
                                                                           "retry_fetches_again": True}}))
                if key == "delivery.retry_fetches_again"]


@pytest.mark.timeout(180)
def test_under_kill_then_download_the_current_model_runs_again_while_a_retry_waits_for_its_check_in(monkeypatch):
    """kill_then_download stops a camera's model for its whole update; a failed attempt restarts it (as a failure
    does), and the retry stops it again when the agent picks it up: the hours without a model are fewer than if the
    model had stayed stopped through that wait, by at most a poll interval a retry."""
    from sim.world.server_side import ServerSide

    polled = ("  egress_cap: 5Gbit/s", "  egress_cap: 5Gbit/s\n  poll_interval: 30m")
    killed = ("  defer_limit: 30m ", "  update_strategy: kill_then_download\n  defer_limit: 30m ")
    scenario = late_games("30m", killed, ("  defer_limit: 30m ", "  failure_retries: 1\n  defer_limit: 30m "),
                          polled)
    result = simulate(scenario)
    assert result.retried_failures > 50 and result.metrics()["failed"] == 0
    monkeypatch.setattr(ServerSide, "_restart_until_picked_up", lambda self, device: None)
    dark_through = simulate(scenario)
    assert dark_through.outcomes == result.outcomes
    saved = (dark_through.service_lost_device_hours - result.service_lost_device_hours) * 3600
    assert 0 < saved <= result.retried_failures * 1800, saved
