"""`start_time`: the time of day (UTC) simulated time 0 falls at. A past rollout that began at 15:00 UTC met its install
windows, games and busy hours fifteen hours into its day, not at midnight; a backtest of it needs the simulated run
to start there too (fleetlab backtest), and an exported plan starts at that hour."""

from __future__ import annotations

import pytest

from sim.load import load_scenario_text
from sim.model.lifecycle import DeviceState as S
from sim.world.fleet import build_layout
from tests.conftest import ROOT, TINY_PLAN
from tests.world.helpers import run_story

HOUR = 3600.0
TINY = (ROOT / "scenarios" / "tiny.yaml").read_text()
ONE_ZONE = TINY.replace('timezones: {"UTC-05:00": 50%, "UTC-08:00": 50%}', 'timezones: {"UTC+00:00": 100%}')
assert ONE_ZONE != TINY


def tiny(start_time: str | None, text: str = ONE_ZONE):
    return load_scenario_text(text.replace("duration: 3d\n", "duration: 3d\n" + (
        f"start_time: '{start_time}'\n" if start_time else "")))


def first_commit(scenario) -> float:
    story = run_story(scenario)
    return min(move.time for move in story.moves if move.target == S.COMMITTED)


@pytest.mark.timeout(120)
def test_a_run_that_starts_at_15_00_meets_its_02_00_window_eleven_hours_in():
    """Every site at UTC: from midnight the first 02:00 window opens 2 h in; from 15:00, 11 h in (02:00 the next
    day). The first camera commits nine hours later, to the second."""
    midnight, afternoon = first_commit(tiny(None)), first_commit(tiny("15:00"))
    assert 2 * HOUR <= midnight < 3 * HOUR and afternoon - midnight == pytest.approx(9 * HOUR)


def test_the_default_changes_nothing_and_the_offset_reaches_every_site():
    """The default (00:00) is left out of the scenario's dump, so every result digest (its hash included) stays as
    it was; 15:00 moves every site's local clock by 15 hours, its timezone drawn as before."""
    plain, default = tiny(None, TINY), tiny("00:00", TINY)
    assert plain.fingerprint() == default.fingerprint() and "start_time" not in plain.model_dump()
    later = tiny("15:00", TINY)
    before, after = build_layout(plain.fleet, 7), build_layout(later.fleet, 7, later.start_time)
    assert list(after.site_utc_offset - before.site_utc_offset) == [15 * HOUR] * len(before.site_utc_offset)
    assert [offset for offset, _ in later.clock_offsets()] == [-5 * HOUR + 15 * HOUR, -8 * HOUR + 15 * HOUR]


def test_an_exponential_plans_utc_windows_stay_at_their_utc_hours():
    """AWS IoT Jobs' maintenance windows are UTC times of day: from a 15:00 start, a 20:00 window opens five hours in,
    as it would have opened twenty hours in from midnight."""
    text = ONE_ZONE.replace(TINY_PLAN, """strategy:
  kind: exponential
  base_rate_per_minute: 1
  windows: [{start: "20:00", duration: 1h}]""")
    assert "kind: exponential" in text
    for start, expected in ((None, 20 * HOUR), ("15:00", 5 * HOUR)):
        story = run_story(tiny(start, text))
        told = min(move.time for move in story.moves if move.target == S.DOWNLOADING)
        assert expected <= told < expected + HOUR, (start, told)
