"""The sweep's pick: the best point on a measure among those within the risk, what lint says against it, and how
many seeds a risk needs. Real runs of tiny.yaml's fleet (serially, in this process), no fakes."""

import json
import re
import subprocess
import sys

import pytest

from sim.grid import expand, parse_grid
from sim.model.aggregate import seeds_for_risk, wilson_interval
from sim.sweep import SerialExecutor, sweep
from sim.sweep_pick import pick
from tests.conftest import ROOT

TINY = ROOT / "scenarios" / "tiny.yaml"


def picked(grid: str, measure: str = "t95", max_risk: float = 0.05, seeds: int = 3, file=TINY, paired: bool = True):
    points = expand(file, parse_grid([grid]))
    result = sweep(points, list(range(1, seeds + 1)), SerialExecutor(), parse_grid([grid]),
                   paired=measure if paired else None)
    return pick(result, points, measure, max_risk)


def test_the_fastest_point_is_picked_and_a_lint_trap_behind_its_speed_is_named_with_the_best_clean_point():
    chosen = picked("strategy.bake=8h,1h")
    # a 1h bake releases wave 2 six hours before wave 1 can install in its 02:00 window: faster by not looking
    assert chosen.best is not None and chosen.best.label == "strategy.bake=1h"
    assert list(chosen.lint) == ["strategy.bake=1h"]
    assert chosen.lint["strategy.bake=1h"][0].startswith("strategy.bake: wave 2 (50%) is told at 1h 0m")
    assert chosen.best_without_lint is not None and chosen.best_without_lint.label == "strategy.bake=8h"
    assert chosen.best.mean < chosen.best_without_lint.mean
    lines = chosen.lines()
    assert lines[0].startswith("pick: strategy.bake=1h, the lowest mean t95 with every bound broken in at most 5% "
                               "of runs: 10h 11m")
    assert lines[1].startswith("  ahead of every other point on the same seeds; of strategy.bake=8h by +1d 0h a seed")
    assert lines[2].startswith("  but `fleetlab lint` flags its plan: strategy.bake: wave 2 (50%)")
    assert lines[3] == "  best without a lint finding: strategy.bake=8h: 1d 10h [1d 10h, 1d 10h]"


def test_of_equal_means_the_point_lint_does_not_flag_is_picked():
    """tiny's waves [1%, 100%] and [10%, 100%] reach T95 at the same moment on every seed; the first (its 1% wave
    releases nothing on 40 cameras, which lint flags) was picked for coming first in the grid."""
    chosen = picked("strategy.waves=[1%, 100%],[10%, 100%]")
    assert chosen.best is not None and chosen.best.label == "strategy.waves=[10%, 100%]"
    assert list(chosen.lint) == ["strategy.waves=[1%, 100%]"] and chosen.best_without_lint is None
    assert "  the same t95 as strategy.waves=[1%, 100%] on every seed" in chosen.lines()
    flagged_first = picked("strategy.bake=1h,8h", measure="coverage")        # both 100%: the clean 8h, not 1h
    assert flagged_first.best is not None and flagged_first.best.label == "strategy.bake=8h"


def test_a_point_over_the_risk_or_short_of_the_measure_is_not_picked_however_fast():
    over = picked("strategy.bake=1h,8h;expect.evidence_at_release='>= 10%'")
    assert over.best is not None and over.best.label == "strategy.bake=8h expect.evidence_at_release='>= 10%'"
    assert over.over_risk == {"strategy.bake=1h expect.evidence_at_release='>= 10%'":
                              "evidence_at_release broke in 100.0% of runs"}
    short = picked("duration=8h,3d")        # 8 hours: no seed gets 95% of the fleet there, so `t95: < 3d` breaks
    assert short.best is not None and short.best.label == "duration=3d"
    assert short.over_risk == {"duration=8h": "t95 broke in 100.0% of runs"} and not short.left_out


def test_coverage_is_picked_highest_and_equal_means_keep_the_grids_order_with_the_overlap_said():
    chosen = picked("strategy.bake=8h,10h", measure="coverage")
    assert chosen.best is not None and chosen.best.label == "strategy.bake=8h" and chosen.best.mean == 1.0
    assert chosen.overlapping == ["strategy.bake=10h"]
    assert "  the same coverage as strategy.bake=10h on every seed" in chosen.lines()
    unpaired = picked("strategy.bake=8h,10h", measure="coverage", paired=False)     # past PAIRED_LIMIT seeds
    assert unpaired.overlapping == ["strategy.bake=10h"] and not unpaired.leads
    assert "  its interval overlaps strategy.bake=10h's: the seeds do not yet separate them" in unpaired.lines()
    assert chosen.as_dict()["higher_is_better"] is True
    half = picked("strategy.waves=[10%, 50%],[10%, 50%, 100%];expect={bricked: 0}", measure="coverage")
    assert half.best is not None and half.best.label == "strategy.waves=[10%, 50%, 100%] expect={bricked: 0}"
    assert half.best.mean == 1.0 and not half.overlapping


def test_no_point_within_the_risk_is_said_and_one_point_has_nothing_to_pick_from():
    none = picked("expect.t95='< 1h','< 2h'")
    assert none.best is None and len(none.over_risk) == 2
    assert none.lines()[0] == ("pick: no point qualifies (every bound broken in at most 5% of runs, t95 reached in "
                               "every run)")
    single = pick(*_single_point())
    assert single.points == 1 and not any(line.startswith("pick:") for line in single.lines())


def test_one_seed_gives_no_interval_and_says_nothing_separates_the_points():
    chosen = picked("strategy.bake=8h,1h", seeds=1)
    assert chosen.best is not None and chosen.best.label == "strategy.bake=1h" and chosen.best.ci_low is None
    assert chosen.overlapping == ["strategy.bake=8h"]
    lines = chosen.lines()
    assert lines[0].endswith("10h 11m (one run: no interval)")
    assert lines[1] == "  one run per point: nothing yet separates it from strategy.bake=8h"


def _single_point():
    points = expand(TINY, [])
    return sweep(points, [1, 2], SerialExecutor()), points, "t95", 0.05


def test_the_seeds_a_risk_needs_are_the_fewest_whose_wilson_interval_ends_under_it():
    assert seeds_for_risk(0.05) == 73
    assert wilson_interval(0, 73)[1] <= 0.05 < wilson_interval(0, 72)[1]
    assert seeds_for_risk(0.2) == 16 and seeds_for_risk(0.0) is None
    few = picked("strategy.bake=8h,12h", seeds=2)
    assert few.lines()[-1] == ("2 runs per point: a bound none of them broke has a risk interval up to 65.8%; "
                               "73 seeds, none broken, bring it under 5%")
    enough = picked("strategy.bake=8h,12h", seeds=3, max_risk=0.6)
    assert not any("runs per point" in line for line in enough.lines())


@pytest.mark.timeout(300)
def test_the_cli_prints_the_pick_writes_it_to_sweep_json_and_refuses_a_measure_no_run_gives(tmp_path):
    def fleetlab(*args: str):
        return subprocess.run([sys.executable, "-m", "fleetlab.cli", "sweep", str(TINY), "--seeds", "2",
                               "--executor", "serial", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)

    done = fleetlab("--grid", "strategy.bake=8h,1h", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "pick: strategy.bake=1h, the lowest mean t95" in done.stdout
    assert "best without a lint finding: strategy.bake=8h" in done.stdout
    document = json.loads((tmp_path / "sweep.json").read_text())
    assert document["pick"]["best"]["label"] == "strategy.bake=1h"
    assert document["pick"]["best_without_lint"]["label"] == "strategy.bake=8h"
    refused = fleetlab("--pick-by", "latency_p99")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--pick-by: 'latency_p99' is not a simulated measure; one of t50, t90" in refused.stderr


def test_a_grid_of_many_points_is_one_row_a_point_with_its_settings_means_risks_and_the_picks_marks():
    """Twelve points as columns of distributions wrapped every label to "strategy.ba…": no column could be told
    from another. More than three points are one row each, the axes as columns."""
    from rich.console import Console

    from fleetlab.console import sweep_table

    grid = "strategy.bake=8h,1h;strategy.waves=[10%, 50%, 100%],[5%, 20%, 100%]"
    points = expand(TINY, parse_grid([grid]))
    result = sweep(points, [1, 2], SerialExecutor(), parse_grid([grid]))
    chosen = pick(result, points, "t99", 0.05)
    screen = Console(width=200, record=True)
    screen.print(sweep_table({**result.as_dict(), "pick": chosen.as_dict()}))
    text = screen.export_text()
    rows = {" ".join(cell.strip() for cell in line.split("│")[1:3]): line.rstrip("│ ").rsplit("│", 1)[1].strip()
            for line in text.splitlines() if line.startswith("│")}
    assert rows == {"8h [10%, 50%, 100%]": "best without lint", "8h [5%, 20%, 100%]": "lint",
                    "1h [10%, 50%, 100%]": "pick · lint", "1h [5%, 20%, 100%]": "lint"}
    headers = text.splitlines()[2]
    for column in ("strategy.bake", "strategy.waves", "t95", "t99", "P(breaks t95)", "P(breaks bricked)"):
        assert column in headers


def test_when_the_points_within_the_risk_are_those_that_halt_the_pick_says_to_pick_on_what_the_halt_spares():
    """A scenario whose candidate must be stopped: the canary that catches the regression holds every bound and
    never reaches T95, so "the fastest" picked nothing and said only that T95 was not reached."""
    canary = ROOT / "scenarios" / "angle-regression-canary.yaml"
    on_t95 = picked("strategy.min_per_stratum=5,15", file=canary)
    assert on_t95.best is None
    assert on_t95.left_out == {"strategy.min_per_stratum=15": "t95 not reached in 3 of 3 runs"}
    assert "strategy.min_per_stratum=5" in on_t95.over_risk      # too small to catch it: it never halts
    assert "  not picked: strategy.min_per_stratum=15: t95 not reached in 3 of 3 runs" in on_t95.lines()
    assert ("  the points within the risk never reach t95 in some run: a plan that halts does not; pick them on "
            "what the halt spares, e.g. --pick-by exposure_device_hours or blast_radius") in on_t95.lines()
    spared = picked("strategy.min_per_stratum=5,15", measure="exposure_device_hours", file=canary)
    assert spared.best is not None and spared.best.label == "strategy.min_per_stratum=15"


def test_on_the_same_seeds_a_lead_the_two_intervals_hide_is_shown_paired():
    """Every point runs the same seeds (common random numbers): 1% more bytes costs 1% more in every seed, yet the
    two means' intervals overlap across the seeds' spread of fleets. The paired lead separates them."""
    fleet = ROOT / "scenarios" / "fleet-10k-500mb.yaml"
    chosen = picked("artifact.full_size=505MB,500MB", measure="cost", seeds=4, file=fleet)
    assert chosen.best is not None and chosen.best.label == "artifact.full_size=500MB"
    [lead] = chosen.leads
    assert lead.label == "artifact.full_size=505MB" and lead.clear and not chosen.overlapping
    unpaired = picked("artifact.full_size=505MB,500MB", measure="cost", seeds=4, file=fleet, paired=False)
    assert unpaired.overlapping == ["artifact.full_size=505MB"]     # the means' intervals alone cannot tell
    line = next(line for line in chosen.lines() if "ahead of every other point" in line)
    assert re.fullmatch(r"  ahead of every other point on the same seeds; of artifact.full_size=505MB by "
                        r"\+\$4\.\d\d a seed \[\+\$4\.\d\d, \+\$4\.\d\d\] \(95%, paired\)", line), line


def test_past_the_paired_limit_a_point_keeps_no_values_and_the_pick_falls_back_to_the_intervals(monkeypatch):
    import sim.sweep

    monkeypatch.setattr(sim.sweep, "PAIRED_LIMIT", 2)
    chosen = picked("strategy.bake=8h,10h", measure="coverage", seeds=3)
    assert not chosen.leads and chosen.overlapping == ["strategy.bake=10h"]
    assert "  its interval overlaps strategy.bake=10h's: the seeds do not yet separate them" in chosen.lines()


def test_a_lead_the_seeds_do_not_make_clear_says_how_many_seeds_would():
    """4 seeds, a 60 s lead [−30 s, +150 s]: the interval reaches past zero, so the pick cannot be told from the
    next point; at the same mean and spread, 6 seeds would tell (t(5) · 56.6 s / √6 < 60 s, while 5 do not)."""
    from sim.sweep_pick import Lead, Pick, Ranked

    best, other = Ranked("strategy.bake=1h", 3600.0, 3500.0, 3700.0), Ranked("strategy.bake=2h", 3660.0, 3560.0,
                                                                            3760.0)
    chosen = Pick("t95", 0.05, 2, best, best_without_lint=None, lint={}, over_risk={}, left_out={},
                  overlapping=[other.label], leads=[Lead(other.label, 60.0, -30.0, 150.0)], seeds=4, bounded=False,
                  shown_below=wilson_interval(0, 4)[1], seeds_needed=seeds_for_risk(0.05))
    lines = chosen.lines()
    assert lines[1].startswith("  on the same seeds its lead over strategy.bake=2h is not clear: +1m 0s a seed")
    assert lines[2] == ("  about 6 seeds would tell it from strategy.bake=2h, were the lead and the seeds' spread to "
                        "stay as measured (--seeds 6)")
