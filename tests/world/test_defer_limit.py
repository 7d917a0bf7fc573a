"""`delivery.defer_limit`: a camera that a game holds puts its switch (and, under the freeze, its install) off for at
most this long, then fails its update, the current model kept (Mender's state-script "retry later" window)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.load import load_scenario_text
from sim.model.lifecycle import HELD_BY_A_GAME
from sim.model.lifecycle import DeviceState as S
from sim.world.fleet import build_layout
from sim.world.world import World
from tests.conftest import ROOT, scenario_from
from tests.world.helpers import run_story

LATE_GAMES = (ROOT / "scenarios" / "late-games-retry-later.yaml").read_text()
DAY = 86400.0


def late_games(limit: str | None, *replacements: tuple[str, str]):
    text = LATE_GAMES.replace("defer_limit: 30m ", f"defer_limit: {limit} " if limit else "{} # ")
    if limit is None:
        text = text.replace("delivery:\n  {} #", "delivery: {} #")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return load_scenario_text(text)


def local_clock(scenario, seed: int, device: int, time: float) -> float:
    layout = build_layout(scenario.fleet, seed)
    return (time + float(layout.site_utc_offset[layout.device_site[device]])) % DAY


@pytest.mark.timeout(120)
def test_a_camera_held_past_the_limit_fails_at_its_end_and_never_switches():
    """The arena cameras ready when the 22:00 window opens during a late game (19:30–23:00) give up at 22:30 local:
    FAILED from AWAITING_WINDOW with the reason naming the limit, never activated, every one at an arena."""
    scenario = late_games("30m")
    story = run_story(scenario, seed=1)
    layout = build_layout(scenario.fleet, 1)
    held = [move for move in story.moves if move.target == S.FAILED and move.reason.startswith(HELD_BY_A_GAME)]
    assert len(held) > 50, len(held)
    for move in held:
        assert move.source == S.AWAITING_WINDOW
        assert move.reason == ("held by a game past delivery.defer_limit (30m 0s): the switch given up, the current "
                               "model kept"), move.reason
        assert local_clock(scenario, 1, move.device, move.time) == pytest.approx(22.5 * 3600), move
        assert layout.kind_names[layout.site_kind[layout.device_site[move.device]]] == "arena"
        assert not story.times(move.device, S.ACTIVATING)
    assert story.result.metrics()["failed"] == len(held)


@pytest.mark.timeout(120)
def test_a_limit_as_long_as_the_hold_lets_every_camera_switch_after_the_game_as_without_a_limit():
    """With 1h (the game holds a camera ready at 22:00 until 23:00) nothing fails, and every camera switches when it
    does without a limit; the cameras held at 30m switch at 23:00 local instead."""
    held_at_30m = {move.device for move in run_story(late_games("30m"), seed=1).moves if move.target == S.FAILED}
    enough = late_games("1h")
    story, unlimited = run_story(enough, seed=1), run_story(late_games(None), seed=1)
    assert story.result.outcomes == unlimited.result.outcomes and story.result.metrics()["failed"] == 0
    for device in held_at_30m:
        switched = story.first(device, S.ACTIVATING)
        assert switched == unlimited.first(device, S.ACTIVATING)
        assert local_clock(enough, 1, device, switched) == pytest.approx(23 * 3600), device


@pytest.mark.timeout(120)
def test_under_the_freeze_an_install_held_past_the_limit_fails_and_none_runs_during_a_game():
    """Under freeze_during_games an install waits for the game's end. Games from 19:05 for 4h (local) meet the
    downloads the plan starts at 19:00 in UTC-05:00: a camera whose download ends just before 19:05 would install
    into the game, so it waits, and with a limit of 1h gives up while the game is on, from INSTALLING; and the
    window from 22:00 meets the game too, so switches ready at 22:00 give up at 23:00."""
    scenario = late_games("1h", ("  defer_limit: 1h ", "  freeze_during_games: true\n  defer_limit: 1h "),
                          ('start: "19:30", duration: 3h30m', 'start: "19:05", duration: 4h'))
    story = run_story(scenario, seed=1)
    held = [move for move in story.moves if move.target == S.FAILED and move.reason.startswith(HELD_BY_A_GAME)]
    installs = [move for move in held if move.source == S.INSTALLING]
    assert installs and len(installs) < len(held), story.result.outcomes
    for move in installs:
        assert move.reason.endswith("the install given up, the current model kept"), move
        assert 19 * 3600 + 300 < local_clock(scenario, 1, move.device, move.time) < 23 * 3600 + 300, move
    for move in (move for move in held if move.source != S.INSTALLING):
        assert move.source == S.AWAITING_WINDOW and "the switch given up" in move.reason, move
        assert local_clock(scenario, 1, move.device, move.time) == pytest.approx(23 * 3600), move
    assert story.result.metrics()["installs_during_games"] == 0


def test_the_same_seed_gives_the_same_bytes_and_no_limit_changes_nothing_else():
    first, again = (run_story(late_games("30m"), seed=4).result.model_dump_json() for _ in range(2))
    assert first == again
    assert "defer_limit" not in late_games(None).delivery.model_dump(exclude_defaults=True)


@settings(max_examples=300, deadline=None)
@given(time=st.floats(0, 6 * DAY), need=st.sampled_from([60.0, 660.0, 3 * 3600.0]),
       windows=st.lists(st.tuples(st.integers(0, 23), st.sampled_from(["30m", "2h", "7h", "24h"])), min_size=1,
                        max_size=3),
       offset=st.sampled_from(["UTC+0", "UTC-05:00", "UTC+09:30"]))
def test_the_window_moment_a_hold_counts_from_is_the_calendars_switch_moment_without_games(time, need, windows,
                                                                                          offset):
    """`next_window` (the moment a window alone would let a camera switch) is what `next_activation` finds at a site
    with no games: the same moment to the bit, so a hold's length, their difference at a site with games, is exact."""
    fleet = {"site_kinds": {"gym": {"count": 2, "cameras_per_site": 1}}, "timezones": {offset: 1.0},
             "install_windows": [{"start": f"{hour:02d}:00", "duration": length} for hour, length in windows]}
    calendar = World(scenario_from({"fleet": fleet}), seed=5).calendar
    for site in range(2):
        assert calendar.next_window(site, time, need) == calendar.next_activation(site, time, need)
