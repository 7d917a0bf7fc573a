"""Invariants of the simulated world over fleets that hypothesis invents."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.load import load_scenario
from sim.model.lifecycle import DeviceState as S
from sim.model.lifecycle import is_legal
from sim.run import simulate
from sim.world.network import Network
from tests.conftest import ROOT, merge, scenario_from
from tests.world.helpers import run_story

PROFILE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def small_fleets(draw, power_cuts=True, delivery=False):
    outages = draw(st.none() | st.fixed_dictionaries({
        "mtbf": st.sampled_from(["30m", "2h", "1d"]), "mttr": st.sampled_from(["5m", "1h", "6h"])}))
    gym = {"count": draw(st.integers(1, 5)), "cameras_per_site": f"1-{draw(st.integers(1, 4))}",
           "uplink": {"median": f"{draw(st.integers(1, 50))}Mbit/s", "sigma": draw(st.sampled_from([0, 0.8]))}}
    if outages:
        gym["outages"] = outages
    games = draw(st.none() | st.fixed_dictionaries({     # a game an hour into the run, or over the install window
        "days": st.just(["mon", "tue"]), "start": st.sampled_from(["01:00", "04:00"]),
        "duration": st.sampled_from(["30m", "3h"])}))
    if games:
        gym["games"] = games
    waves = {"kind": "waves", "waves": ["20%", "100%"], "bake": "2h", "check_every": "30m",
             "abort": {"failure_rate": "30%", "min_executed": 2},
             "rollback_on_abort": draw(st.booleans())}
    slots = draw(st.sampled_from(["ab", "in_place"]))
    return {
        "seed": draw(st.integers(0, 10_000)),
        "duration": "2d",
        "fleet": {
            "site_kinds": {"gym": gym},
            "slots": slots,
            "power_loss_per_day": draw(st.sampled_from([0, 2, 20])) if power_cuts else 0,
            "egress_cap": draw(st.none() | st.sampled_from(["5Mbit/s", "40Mbit/s"])),
            "storage_free": {"median": draw(st.sampled_from(["150MB", "1GB"])), "sigma": 0.5},
            "install_windows": [{"start": "02:00", "duration": "4h"}],
            # agents that poll: orders at check-ins, halts withdrawing what nobody picked up
            **({"poll_interval": draw(st.none() | st.sampled_from(["5m", "30m"]))} if delivery else {}),
        },
        "artifact": {"full_size": f"{draw(st.integers(5, 200))}MB", "resumable": draw(st.booleans()),
                     "checkpoint": "4MB", "corruption_rate": draw(st.sampled_from([0, 0.3]))},
        "candidate": {"defects": [{"failure_rate": draw(st.sampled_from([0, 0.2, 0.9]))}]},
        "strategy": draw(st.just({"kind": "all_at_once"}) | st.just(waves)),
        "faults": draw(st.sampled_from([[], [{"kind": "power_cut", "at": "20m", "share": "50%"}],
                                        [{"kind": "outage", "at": "10m", "duration": "3h"}]])),
        # how the bytes travel (LAN copies, deltas, retries), failed updates started again, when a camera stops its
        # model and what a failed check leaves: only where a test does not count origin bytes per move
        "delivery": draw(st.fixed_dictionaries({}, optional={
            "site_cache": st.booleans(), "lan_rate": st.sampled_from(["1MB/s", "50MB/s"]),
            "retries": st.just({"backoff": "5m", "factor": 2, "max_backoff": "1h"}),
            "freeze_during_games": st.booleans(),
            "defer_limit": st.sampled_from(["10m", "2h"]),
            "link_expiry": st.sampled_from(["2m", "20m", "3h"]),
            "in_progress_timeout": st.sampled_from(["10m", "2h", "20h"]),
            "update_strategy": st.sampled_from(["download_then_kill", "kill_then_download", "hand_over"]),
            "failure_handling": st.sampled_from(["rollback", "do_nothing"])})) | _staging(draw, slots)
        | _failure_retries(draw)
        if delivery else {},
    }


def _failure_retries(draw) -> dict:
    """Failed updates started again, each carrying on or fetching again (refused without retries to fetch in)."""
    if not draw(st.booleans()):
        return {}
    return {"failure_retries": draw(st.sampled_from([1, 3])), "retry_fetches_again": draw(st.booleans())}


def _staging(draw, slots: str) -> dict:
    """Staging ahead where it can work: A/B slots (an error for in-place, sim/model/lint.py), the model kept running
    through the download (kill_then_download is then drawn as download_then_kill)."""
    if slots != "ab" or not draw(st.booleans()):
        return {}
    return {"stage_ahead": True, "update_strategy": draw(st.sampled_from(["download_then_kill", "hand_over"]))}


@PROFILE
@given(small_fleets(delivery=True))
def test_every_move_is_in_the_lifecycle_table(changes):
    story = run_story(scenario_from(changes))
    assert all(is_legal(move.source, move.target) for move in story.moves)


@PROFILE
@given(small_fleets(delivery=True))
def test_cameras_dark_while_their_site_cache_fills_move_only_as_the_table_allows(changes):
    """Frequent cuts and long reboots around a site cache: a camera that was dark when the cache filled once
    copied twice and moved INSTALLING → VERIFYING."""
    changes = merge(changes, {"fleet": {"power_loss_per_day": 20, "reboot_time": "30m",
                                        "site_kinds": {"gym": {"count": 3, "cameras_per_site": "2-4"}}},
                              "delivery": {"site_cache": True}, "artifact": {"full_size": "100MB"}})
    story = run_story(scenario_from(changes))
    assert all(is_legal(move.source, move.target) for move in story.moves)


@PROFILE
@given(small_fleets())
def test_bytes_are_conserved(changes):
    scenario = scenario_from(changes)
    story = run_story(scenario)
    moved = story.result.bytes
    metered = sum(story.result.egress.series.values) * story.result.egress.series.step
    assert metered == pytest.approx(moved.total, rel=1e-6, abs=1.0)      # two independent integrations agree
    assert moved.total == pytest.approx(moved.useful + moved.wasted + moved.unfinished, rel=1e-9, abs=1.0)
    verified = sum(1 for move in story.moves if move.source == S.VERIFYING and move.target == S.INSTALLING)
    assert moved.useful == pytest.approx(verified * scenario.artifact.full_size)
    assert moved.wasted >= -1.0
    ends = [move.time for move in story.moves if move.source == S.DOWNLOADING and move.target != S.DOWNLOADING]
    if moved.unfinished == 0 and ends:   # after the last download, not a trickle of rounding may remain
        series = story.result.egress.series
        busy = [index for index, value in enumerate(series.values) if value > 0]
        assert not busy or busy[-1] <= max(ends) // series.step + 1


@PROFILE
@given(small_fleets(), st.sampled_from(["10m", "1h", "6h"]), st.integers(0, 2), st.sampled_from([0, 0.5]))
def test_bytes_are_conserved_through_timeouts_and_deltas_that_do_not_apply(changes, timeout, retries, no_apply):
    """A timed-out download stops (and starts over or resumes on a retry); a delta that does not apply is wasted and
    the full image fetched after it: every byte is still useful, wasted or unfinished, as the meter counted it."""
    changes = merge(changes, {"artifact": {"delta_size": "20MB"},
                              "delivery": {"delta": True, "base_mismatch": "20%", "delta_apply_failure": no_apply,
                                           "in_progress_timeout": timeout, "timeout_retries": retries}})
    story = run_story(scenario_from(changes))
    moved = story.result.bytes
    metered = sum(story.result.egress.series.values) * story.result.egress.series.step
    assert metered == pytest.approx(moved.total, rel=1e-6, abs=1.0)
    assert moved.total == pytest.approx(moved.useful + moved.wasted + moved.unfinished, rel=1e-9, abs=1.0)
    assert moved.wasted >= -1.0 and moved.total == pytest.approx(moved.full + moved.delta, rel=1e-9, abs=1.0)


@PROFILE
@given(small_fleets())
def test_coverage_never_decreases_except_by_rollback(changes):
    story = run_story(scenario_from(changes))
    values = story.result.coverage.series.values
    taken_back = any(move.source == S.COMMITTED for move in story.moves)
    if not taken_back:
        assert all(later >= earlier for earlier, later in zip(values, values[1:]))
    committed = 0
    for move in story.moves:
        before = committed
        committed += (move.target == S.COMMITTED) - (move.source == S.COMMITTED)
        assert committed >= before or move.target == S.ROLLING_BACK


@PROFILE
@given(small_fleets(), st.sampled_from(["2d", "47h50m"]), st.booleans())
def test_each_sample_stands_for_its_own_time_up_to_the_end(changes, duration, settle):
    """Coverage and state counts: value i is the state at i·step (one of the states of that instant, when moves
    happen at it), the last value is the state the run ended in, and no value stands past the end; the egress
    series has one bin per started step. The series once carried the end twice, and the coverage a third time."""
    story = run_story(scenario_from(merge(changes, {"duration": duration, "stop_when_settled": settle})))
    result = story.result
    series = result.coverage.series
    on_steps = int(result.simulated // series.step) + 1          # samples at 0, step, … up to the end
    ends_between = result.simulated > (on_steps - 1) * series.step
    assert len(series.values) == on_steps + ends_between
    assert series.values[-1] == result.coverage.final
    for name, counts in result.state_counts.items():
        assert len(counts.values) == len(series.values)
        assert counts.values[-1] == result.outcomes.get(S[name], 0)
    committed, moves = 0, iter(sorted(story.moves, key=lambda move: move.time))
    move = next(moves, None)
    for index, value in enumerate(series.values[:on_steps]):
        at = index * series.step
        while move is not None and move.time < at:
            committed += (move.target == S.COMMITTED) - (move.source == S.COMMITTED)
            move = next(moves, None)
        during = {committed}                                    # before, between and after the moves at `at`
        while move is not None and move.time == at:
            committed += (move.target == S.COMMITTED) - (move.source == S.COMMITTED)
            during.add(committed)
            move = next(moves, None)
        assert round(value * result.devices) in during, f"sample {index} ({at} s)"
    assert len(result.egress.series.values) == -(-result.simulated // result.egress.series.step)


@PROFILE
@given(small_fleets())
def test_ab_slots_never_brick_on_a_power_cut(changes):
    changes["fleet"]["slots"] = "ab"
    changes["fleet"]["power_loss_per_day"] = 50
    story = run_story(scenario_from(changes))
    assert S.BRICKED not in story.result.outcomes


@PROFILE
@given(small_fleets(power_cuts=False), st.sampled_from([1.5, 2.0, 10.0]))
def test_more_bandwidth_never_makes_a_device_finish_later(changes, factor):
    changes["strategy"] = {"kind": "all_at_once"}
    changes["faults"] = [fault for fault in changes["faults"] if fault["kind"] != "power_cut"]
    changes["fleet"]["egress_cap"] = None
    slow = run_story(scenario_from(changes))
    uplink = changes["fleet"]["site_kinds"]["gym"]["uplink"]
    uplink["median"] = f"{float(uplink['median'].removesuffix('Mbit/s')) * factor}Mbit/s"
    uplink["min"], uplink["max"] = f"{32 * factor}kbit/s", f"{1000 * factor}Mbit/s"
    fast = run_story(scenario_from(changes))
    for device in range(slow.result.devices):
        slow_done, fast_done = slow.times(device, S.COMMITTED), fast.times(device, S.COMMITTED)
        if slow_done:
            assert fast_done and fast_done[0] <= slow_done[0] + 1e-6
        slow_dl, fast_dl = slow.times(device, S.VERIFYING), fast.times(device, S.VERIFYING)
        if slow_dl:
            assert fast_dl and fast_dl[0] <= slow_dl[0] + 1e-6


def test_an_egress_series_is_never_negative(make_scenario):
    story = run_story(make_scenario({"fleet": {"egress_cap": "3Mbit/s"}}))
    assert np.min(story.result.egress.series.values) >= 0


@PROFILE
@given(small_fleets())
def test_when_no_free_site_moves_the_origin_demand_is_exactly_zero(changes):
    """Checked after every change of the sharing: the count of moving free sites is right, and with none the demand
    is 0.0 itself, not the residue of its additions and subtractions (which the meter would record as traffic)."""
    checked = []
    rescale = Network._rescale

    def checking(network: Network) -> None:
        free_rates = [rate for site, rate in network._site_rate.items() if site not in network._capped]
        assert network.moving_free == sum(rate > 0.0 for rate in free_rates)
        if network.moving_free == 0:
            assert network.demand == 0.0
        checked.append(network.demand)
        rescale(network)

    with pytest.MonkeyPatch.context() as patch:   # per example: hypothesis runs many in one test
        patch.setattr(Network, "_rescale", checking)
        story = run_story(scenario_from(changes))
    assert checked or story.result.bytes.total == 0     # every camera failed its storage preflight: nothing moved


def test_an_outage_of_every_downloading_site_meters_no_traffic():
    """The shipped outage scenario, where at times only sites that are down still hold downloads: a 5-minute bin
    either carried traffic or is exactly zero, and the egress p95 is taken over the bins with traffic. (Before the
    demand was reset, 159 bins held 1e-7 B/s of float residue and the p95 read 40 MB/s instead of 111 MB/s.)"""
    result = simulate(load_scenario(ROOT / "scenarios" / "regional-outage.yaml"), 1)
    rates = np.array(result.egress.series.values)
    assert not np.any((rates != 0.0) & (np.abs(rates) < 1.0)), rates[(rates != 0.0) & (np.abs(rates) < 1.0)]
    assert result.egress.p95 == pytest.approx(np.percentile(rates[rates > 0], 95))


@PROFILE
@given(small_fleets(delivery=True), st.sampled_from(["00:30", "13:00", "22:00", "23:30"]),
       st.sampled_from(["1h", "3h", "5h"]))
def test_under_the_game_day_freeze_no_camera_downloads_or_installs_during_a_game(changes, start, duration):
    """Games every day at every site, some running past midnight, released into by waves: a download the freeze
    held paused through a game moved nothing during it, and a copy from the site cache waits for the game's end.
    (A download released at a game's start, paused to its end, counted as a download during the game.)"""
    changes = merge(changes, {"fleet": {"site_kinds": {"gym": {"games": {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": start, "duration": duration}}}},
        "delivery": {"freeze_during_games": True}})
    result = run_story(scenario_from(changes)).result
    assert (result.downloads_during_games, result.installs_during_games) == (0, 0)


@PROFILE
@given(st.integers(0, 10_000), st.sampled_from(["100MB", "250MB"]), st.sampled_from(["1m", "10m", "1h"]),
       st.booleans())
def test_a_budgeted_plan_keeps_the_origins_traffic_within_its_hourly_budget(seed, budget, tick, site_cache):
    """Delta delivery where 30% of the cameras' bases do not match: the budget was planned on the 40 MB delta for
    every camera, and the full 100 MB images went out at up to twice the hourly budget in a trailing hour."""
    result = run_story(scenario_from({
        "seed": seed, "strategy": {"kind": "budgeted", "global_per_hour": budget, "tick": tick},
        "artifact": {"full_size": "100MB", "delta_size": "40MB"},
        "delivery": {"delta": True, "base_mismatch": "30%", "site_cache": site_cache},
        "fleet": {"site_kinds": {"gym": {"count": 6, "cameras_per_site": "1-4"}}}})).result
    series = result.egress.series
    per_bin = np.array(series.values) * series.step
    trailing_hour = np.convolve(per_bin, np.ones(int(3600 / series.step)), "valid")
    assert trailing_hour.max() <= {"100MB": 100e6, "250MB": 250e6}[budget] * (1 + 1e-9)
    assert result.outcomes.get(S.COMMITTED, 0) == result.devices       # and the plan got there


@PROFILE
@given(small_fleets(delivery=True),
       st.sampled_from([{"UTC": "100%"}, {"UTC-05:00": "50%", "UTC+05:30": "50%"}, {"UTC+14:00": "30%",
                                                                                  "UTC-12:00": "70%"}]),
       st.sampled_from([[{"start": "02:00", "duration": "4h"}], [{"start": "22:30", "duration": "3h"}],
                        [{"start": "01:30", "duration": "1h"}, {"start": "13:00", "duration": "30m"}],
                        [{"start": "00:00", "duration": "24h"}]]),
       st.sampled_from(["10s", "1m", "10m"]))
def test_no_camera_reports_a_commit_before_the_blind_bake_rules_soonest(changes, timezones, windows, switch):
    """The lint's soonest health report (sim/model/bake_traps.py) is a lower bound on the lifecycle: every camera
    that commits does so, plus the report delay, no sooner than the bound for a camera told when it first moved —
    across timezones, windows past midnight or open all day, staging, polling, outages and power cuts."""
    from sim.model.bake_traps import first_health_report

    scenario = scenario_from(merge(changes, {"fleet": {"timezones": timezones, "install_windows": windows,
                                                       "activation_time": switch}}))
    story = run_story(scenario)
    told: dict[int, float] = {}
    for move in story.moves:
        told.setdefault(move.device, move.time)
        if move.source == S.HEALTH_CHECK and move.target == S.COMMITTED:
            soonest, _ = first_health_report(scenario, told[move.device])
            assert move.time + scenario.fleet.report_delay >= soonest - 1e-6, (move, told[move.device], soonest)
