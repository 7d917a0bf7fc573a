"""`fleetlab lint`: a `delivery.defer_limit` shorter than the games hold a camera. The rule's longest hold is an
upper bound the simulator never exceeds (a limit that long fails no camera), and it is tight where cameras wait for
a window to open during a game (a limit two minutes shorter fails some)."""

from __future__ import annotations

import math

import pytest

from sim.load import load_scenario_text
from sim.model.defer_traps import longest_game_hold
from sim.model.device_times import DeviceTimes
from sim.model.fleet_spec import Games, InstallWindow
from sim.model.fleet_traps import switch_time
from sim.model.lifecycle import HELD_BY_A_GAME
from sim.model.plan_traps import plan_warnings as traps
from sim.model.units import format_duration
from tests.conftest import ROOT
from tests.world.helpers import run_story
from tests.world.test_defer_limit import late_games

MINUTE = 60.0
FRIDAY = 4 * 1440


def hold(games: dict, windows: list[dict], need: float = 11 * MINUTE):
    return longest_game_hold(Games.model_validate(games), [InstallWindow.model_validate(w) for w in windows], need)


def test_a_late_game_holds_a_camera_ready_as_the_window_opens_until_it_ends():
    found = hold({"days": ["fri"], "start": "19:30", "duration": "3h30m"}, [{"start": "22:00", "duration": "6h"}])
    assert found is not None
    assert (found.seconds, found.ready, found.free) == (3600.0, FRIDAY + 22 * 60, FRIDAY + 23 * 60)


def test_a_game_starting_in_the_window_holds_a_switch_that_would_run_into_it():
    """All-day windows, a game 13:00–17:00: a camera ready at 12:49:30 would still be switching at 13:00 (an 11-minute
    switch and check): the minute 12:49 counts as held, to 17:00."""
    found = hold({"days": ["sat"], "start": "13:00", "duration": "4h"}, [{"start": "00:00", "duration": "24h"}])
    assert found is not None and found.seconds == 4 * 3600 + 11 * MINUTE, format_duration(found.seconds)


def test_a_game_over_the_whole_window_holds_for_good_and_one_clear_of_it_not_at_all():
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    forever = hold({"days": every_day, "start": "19:00", "duration": "6h"}, [{"start": "20:00", "duration": "2h"}])
    assert forever is not None and forever.seconds == math.inf and forever.free == -1
    a_day_later = hold({"days": ["fri"], "start": "19:00", "duration": "6h"}, [{"start": "20:00", "duration": "2h"}])
    assert a_day_later is not None and a_day_later.seconds == 24 * 3600.0
    assert hold({"days": every_day, "start": "13:00", "duration": "4h"}, [{"start": "01:00", "duration": "5h"}]) is None


def defer_warnings(scenario) -> list[str]:
    return [message for key, message in traps(scenario) if key == "delivery.defer_limit"]


def test_the_rule_names_the_hold_the_moment_and_the_limit_that_would_do_and_is_silent_at_that_limit():
    said = defer_warnings(late_games("30m"))
    assert said == [
        "the arena sites' games (fri, sat, sun from 19:30 for 3h 30m) hold a camera's switch up to 1h 0m (one ready "
        "at 22:00 on fri is free to switch at 23:00 on fri), longer than the 30m 0s a camera puts it off "
        "(delivery.defer_limit): such cameras give up and fail their update, however healthy the candidate, and an "
        "abort rule counts them; a limit of at least 1h 0m or 1 retry (delivery.failure_retries), or install windows "
        "clear of the games, lets them update after the game"], said
    assert defer_warnings(late_games("1h")) == []
    assert defer_warnings(late_games(None)) == []


def test_retries_after_a_failure_put_the_step_off_again_so_the_rule_counts_each_attempt():
    """Each new attempt puts the switch off for the limit again: 20m with 2 retries covers the 1h hold, with 1 it
    does not, and the rule says how many would do."""
    def retried(limit: str, retries: int):
        return late_games(limit, (f"  defer_limit: {limit} ", f"  failure_retries: {retries}\n  defer_limit: {limit} "))
    said = defer_warnings(retried("20m", 1))
    assert said and ("longer than the 20m 0s a camera puts it off (delivery.defer_limit) in each of its 2 attempts "
                     "(delivery.failure_retries: 1)") in said[0], said
    assert "a limit of at least 30m 0s or 2 retries (delivery.failure_retries)" in said[0], said
    assert defer_warnings(retried("20m", 2)) == []
    eleven = defer_warnings(late_games("5m"))        # 12 attempts would do: more than a job retries
    assert eleven and "a limit of at least 1h 0m, or install windows" in eleven[0], eleven


def test_under_the_freeze_the_install_held_for_a_game_is_named_and_a_window_never_free_says_so():
    freeze = ("  defer_limit: 2h ", "  freeze_during_games: true\n  defer_limit: 2h ")
    said = defer_warnings(late_games("2h", freeze))
    install = max(DeviceTimes.of(late_games("2h", freeze)).install)
    held = format_duration(3.5 * 3600 + install)
    assert said and (f"hold under freeze_during_games, an install that would run into a game up to {held} (the "
                     f"game's 3h 30m and the {format_duration(install)} install)") in said[0], said
    assert f"a limit of at least {held} or 1 retry (delivery.failure_retries), or install windows" in said[0], said
    covered = ('start: "19:30", duration: 3h30m', 'start: "21:00", duration: 9h')
    said = defer_warnings(late_games("30m", covered, ("days: [fri, sat, sun]", "days: [mon, tue, wed, thu, fri, "
                                                                                "sat, sun]")))
    assert "no install window has room to switch after the games" in said[0], said
    assert said[0].endswith("install windows clear of the games let them switch after the game"), said


VARIANTS = {
    "late games into the window": (),
    "two windows, one past midnight, three timezones": (
        ('install_windows: [{start: "22:00", duration: 6h}]',
         'install_windows: [{start: "21:00", duration: 30m}, {start: "23:30", duration: 3h}]'),
        ('timezones: {"UTC-05:00": 70%, "UTC-08:00": 30%}',
         'timezones: {"UTC-05:00": 40%, "UTC+05:30": 30%, "UTC+09:00": 30%}')),
    "a game past midnight played by chance, a slower switch on one board": (
        ('start: "19:30", duration: 3h30m', 'start: "21:10", duration: 4h25m, probability: 70%'),
        ("  storage_free:", "  hardware_profiles: {xavier-nx: {activation_time: 7m}}\n  storage_free:")),
    "the freeze, games in the afternoon and the evening window": (
        ('start: "19:30", duration: 3h30m', 'start: "19:05", duration: 4h'),
        ("delivery:\n", "delivery:\n  freeze_during_games: true\n")),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_limit_as_long_as_the_rules_hold_fails_no_simulated_camera_and_one_two_minutes_shorter_does(name):
    """Every variant's arenas: with the limit at the rule's longest hold (and under the freeze, a game and the
    longest install), no camera gives up; two minutes shorter, the rule warns and, where cameras wait for the window
    to open, some give up."""
    def scenario(limit: float):
        return late_games(f"{limit:.0f}s", *VARIANTS[name])

    probe = scenario(1800.0)
    fleet = probe.fleet
    games = fleet.site_kinds["arena"].games
    assert games is not None
    longest = max(found.seconds for hardware in fleet.hardware if (found := longest_game_hold(
        games, fleet.install_windows, switch_time(probe, hardware) + fleet.health_check)))
    if probe.delivery.freeze_during_games:
        longest = max(longest, games.duration + max(DeviceTimes.of(probe).install))
    assert math.isfinite(longest) and longest > 1800.0, longest
    story = run_story(scenario(longest), seed=2)
    held = [move for move in story.moves if move.reason.startswith(HELD_BY_A_GAME)]
    assert held == [], held[:3]
    shorter = scenario(longest - 2 * MINUTE)
    assert defer_warnings(shorter), name
    if not probe.delivery.freeze_during_games:      # under the freeze the install's hold is a few cameras' chance
        held = [move for move in run_story(shorter, seed=2).moves if move.reason.startswith(HELD_BY_A_GAME)]
        assert held, name


def test_retries_that_fetch_again_after_a_game_held_the_switch_are_said_to_fetch_during_the_game():
    """late-games-mender-retries.yaml gives up at 22:30 with the game on till 23:00 and fetches again at the next
    poll: warned, with the freeze as the cure; silent under the freeze, when a retry carries on, and when the limit
    covers the hold (nobody gives up)."""
    text = (ROOT / "scenarios" / "late-games-mender-retries.yaml").read_text()

    def fetch_warnings(*replacements: tuple[str, str]) -> list[str]:
        changed = text
        for old, new in replacements:
            assert old in changed, old
            changed = changed.replace(old, new)
        return [message for key, message in traps(load_scenario_text(changed)) if key == "delivery.retry_fetches_again"]

    said = fetch_warnings()
    assert said == [
        "the games at the arena sites hold a camera's switch past delivery.defer_limit (30m 0s): it gives up while the "
        "game is on, and its retry fetches the artifact again at its next check-in (within 30m 0s, "
        "fleet.poll_interval), so its download and install can run while the game is still on "
        "(downloads_during_games); freeze_during_games (a Mender Download_Enter state script answering 'retry later' "
        "during games) keeps them after it"], said
    assert fetch_warnings(("  failure_retries: 1 ", "  freeze_during_games: true\n  failure_retries: 1 ")) == []
    assert fetch_warnings(("  retry_fetches_again: true ", "  retry_fetches_again: false ")) == []
    assert fetch_warnings(("  defer_limit: 30m ", "  defer_limit: 1h ")) == []
