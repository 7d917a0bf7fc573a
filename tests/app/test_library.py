"""Every scenario in the library asks a real question, and its expectations hold for its plan."""

import io
import statistics
import subprocess
import sys

import pytest
from rich.console import Console

from fleetlab.compare import UnknownPlan, compare, resolve_plans
from fleetlab.console import comparison_table
from sim.load import load_scenario
from sim.model.gates import evaluate
from sim.model.stats import mean_interval
from sim.run import simulate
from tests.conftest import ROOT, TINY_PLAN

LIBRARY = sorted(path for path in (ROOT / "scenarios").glob("*.yaml") if not path.name.startswith("bench-"))


@pytest.mark.parametrize("path", LIBRARY, ids=lambda path: path.stem)
def test_the_plan_of_each_library_scenario_meets_its_expectations(path):
    scenario = load_scenario(path)
    verdict = evaluate(scenario.expect, simulate(scenario).metrics())
    assert verdict.checks, f"{path.name} has no expect: bounds"
    assert verdict.passed, [check.reason for check in verdict.checks if not check.passed]


def test_a_stratified_canary_catches_a_one_angle_regression_that_a_random_canary_misses():
    scenario = load_scenario(ROOT / "scenarios" / "angle-regression-canary.yaml")
    stratified, random_canary = compare(scenario, ["plan", "random_canary"], [1, 2, 3])
    assert stratified.passes["halted"] == 3
    assert random_canary.passes["halted"] == 0
    assert max(stratified.values["blast_radius"]) < min(random_canary.values["blast_radius"]) / 10


def test_the_sequential_gate_keeps_the_demo_going_where_the_naive_threshold_halts():
    scenario = load_scenario(ROOT / "scenarios" / "fleet-10k-500mb.yaml")
    plan, naive = compare(scenario, ["plan", "naive_waves"], [2, 3])
    assert plan.passes["t95"] == 2
    assert naive.passes["t95"] == 0


def test_compared_intervals_stay_within_what_each_measure_can_be_and_the_halts_are_counted():
    scenario = load_scenario(ROOT / "scenarios" / "fleet-10k-500mb.yaml")
    rows = compare(scenario, ["naive_waves"], [1, 2, 3])
    naive = rows[0]
    coverage = naive.values["coverage"]
    plain_high = mean_interval(3, statistics.fmean(coverage), statistics.stdev(coverage))[1]
    assert plain_high is not None and plain_high > 1.0    # two seeds of three halt at half the fleet
    assert naive.summary("coverage").high == 1.0
    blast = naive.summary("blast_radius")
    assert blast.high is not None and blast.high <= naive.devices
    shown = Console(width=200, record=True, file=io.StringIO())
    shown.print(comparison_table(rows, scenario, 3))
    text = shown.export_text()
    halted_row = next(line for line in text.splitlines() if line.startswith("│ halted"))
    assert f"{sum(naive.values['halted']):.0f} of 3 runs" in halted_row and "2 of 3 runs" in halted_row
    assert "137" not in text and "(2 never)" in next(line for line in text.splitlines() if "oracle" in line)


def test_each_plan_is_set_against_the_first_on_the_same_seeds():
    """Every plan runs the same seeds: all_at_once moves a few more bytes than the waves in every seed (+$0.02),
    well inside the ±$5 the seeds' fleets spread each mean by; paired, the difference shows. A plan that never
    reaches T95 in some seed has no paired T95."""
    scenario = load_scenario(ROOT / "scenarios" / "fleet-10k-500mb.yaml")
    plan, naive, everyone = compare(scenario, ["plan", "naive_waves", "all_at_once"], [1, 2, 3, 4])
    cost = everyone.against(plan, "cost")
    assert cost is not None and cost.low is not None and cost.low > 0
    own = everyone.summary("cost")
    assert own.low is not None and own.high is not None and own.low < plan.summary("cost").mean < own.high
    sooner = everyone.against(plan, "t95")
    assert sooner is not None and sooner.high is not None and sooner.high < 0      # all at once: sooner
    assert naive.against(plan, "t95") is None                                      # halts in some seeds
    shown = Console(width=200, record=True, file=io.StringIO())
    shown.print(comparison_table([plan, naive, everyone], scenario, 4))
    text = shown.export_text()
    rows = [line for line in text.splitlines() if line.startswith("│ cost − plan's")]
    assert len(rows) == 1 and "│ —" in rows[0] and "+$0.02 [+$0.0" in rows[0]
    assert "— (not every seed has one)" in text


def test_a_paired_difference_of_nothing_is_said_to_be_the_same_on_every_seed():
    """tiny's all_at_once moves the same bytes as its plan on every seed: its cost row said "+$0.00 [+$0.00,
    +$0.00]"; a T95 a whole day sooner on every seed keeps its figures."""
    scenario = load_scenario(ROOT / "scenarios" / "tiny.yaml")
    rows = compare(scenario, ["plan", "all_at_once"], [1, 2, 3])
    shown = Console(width=200, record=True, file=io.StringIO())
    shown.print(comparison_table(rows, scenario, 3))
    lines = shown.export_text().splitlines()
    cost = next(line for line in lines if line.startswith("│ cost − plan's"))
    t95 = next(line for line in lines if line.startswith("│ t95 − plan's"))
    assert "the same on every seed" in cost and "$" not in cost
    assert "−1d 0h [−1d 0h, −1d 0h]" in t95


def test_compare_tells_within_run_of_each_runs_progress_the_oracles_first():
    """`within_run` is how a stopped command gets a second chance mid-run (fleetlab/interrupts.StopCheck): it hears
    from inside the oracle's runs, which come before any plan's, and from inside the plans' runs."""
    scenario = load_scenario(ROOT / "scenarios" / "tiny.yaml")
    heard: list[tuple[int, float]] = []
    runs_done: list[int] = []
    compare(scenario, ["plan"], [1, 2], lambda done, total: runs_done.append(done),
            within_run=lambda share: heard.append((len(runs_done), share)))
    assert runs_done == [1, 2]
    before_any_run = [share for done, share in heard if done == 0]
    assert before_any_run.count(0.0) >= 3     # the two oracle runs and the first plan run each start at 0
    assert {done for done, _ in heard} == {0, 1}

    class Stop(Exception):
        pass

    def stop(share: float) -> None:
        raise Stop
    with pytest.raises(Stop):
        compare(scenario, ["plan"], [1, 2], lambda done, total: runs_done.append(done), within_run=stop)
    assert runs_done == [1, 2]       # no run was done: the oracle's first sample raised


def test_compare_knows_plans_by_name_and_refuses_unknown_ones():
    scenario = load_scenario(ROOT / "scenarios" / "fleet-10k-500mb.yaml")
    assert set(resolve_plans(scenario, ["plan", "naive_waves", "all_at_once"])) == {"plan", "naive_waves",
                                                                                    "all_at_once"}
    with pytest.raises(UnknownPlan, match="unknown plan 'nope'"):
        resolve_plans(scenario, ["nope"])
    with pytest.raises(UnknownPlan, match="required parameters"):
        resolve_plans(scenario, ["waves"])


def test_the_compare_command_prints_a_table_with_efficiency(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "compare", "scenarios/power-cuts-ab.yaml",
                           "--strategies", "plan", "--seeds", "2"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "T95 / oracle T95" in done.stdout and "expect bricked" in done.stdout


def test_a_phase_that_rounds_to_zero_devices_is_a_load_error(tmp_path):
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    text = text.replace(TINY_PLAN, """strategy:
  kind: phases
  phases:
    - {batch: 1%}
    - {start: 1d}""")
    broken = tmp_path / "phases.yaml"
    broken.write_text(text)
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "validate", str(broken)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "strategy.phases.0.batch: this phase rounds to zero of about 40 devices" in done.stderr


def test_every_strategy_parameter_is_described_with_a_default_in_units():
    from fleetlab.parameters import parameter_lines
    from sim.model.strategy import REGISTRY

    for entry in REGISTRY.values():
        for line in parameter_lines(entry.params):
            name, rest = line.split(": ", 1)
            assert not rest.startswith("("), f"{entry.name}.{name} has no description"
            assert "PydanticUndefined" not in line and "Rule(" not in line and "Judge(" not in line, line
    canary = dict(line.split(": ", 1) for line in parameter_lines(REGISTRY["canary"].params))
    assert canary["bake"].endswith("(default 1d)") and canary["detect_failure_rate"].endswith("(default 5%)")
    assert canary["then"].endswith("(default [25%, 100%])")


def test_compare_exits_on_the_plan_and_reports_an_alternative_breaking_a_bound_as_a_finding():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "compare", str(ROOT / "scenarios" /
                                                                            "angle-regression-canary.yaml"),
                           "--strategies", "plan,random_canary", "--seeds", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr          # the stratified plan holds its bounds
    assert "finding: random_canary broke halted in 2 of 2 seeds" in done.stdout


def test_compare_with_no_plan_named_exits_2_without_a_traceback():
    """`--strategies ,` named no plan: the exit code's "first plan" did not exist (a ValueError traceback)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "compare", str(ROOT / "scenarios" / "tiny.yaml"),
                           "--strategies", " , ", "--seeds", "1"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert "name at least one plan" in done.stderr


def test_job_windows_keep_every_camera_within_its_timeout_where_notifying_around_the_clock_does_not():
    """job-timeout-windows: notified only between 22:00 and 01:00 at the gyms, cameras wait at most a few hours for
    their 01:00 window; notified around the clock, the morning's cameras wait most of a day and time out, and the
    abort, which only cancels the queue, comes after it is empty."""
    scenario = load_scenario(ROOT / "scenarios" / "job-timeout-windows.yaml")
    windowed, any_time = compare(scenario, ["plan", "any_time"], [1, 2])
    assert max(windowed.values["failed"]) < 50 and windowed.passes["t95"] == 2
    assert min(any_time.values["failed"]) > 0.25 * any_time.devices and any_time.passes["halted"] == 2
    timed_out = simulate(scenario.model_copy(update={"strategy": scenario.alternatives["any_time"]})).reasons
    assert timed_out.get("timed out after 12h 0m (delivery.in_progress_timeout)", 0) > 400, timed_out


def test_staging_ahead_on_thin_uplinks_switches_a_day_sooner_and_a_halt_saves_none_of_its_egress():
    """stage-ahead-thin-uplinks: fetched wave by wave, the last wave's slow cameras miss the night window; staged
    ahead, T95 comes a day sooner. A candidate that crashes on 60% of the Xavier boards halts the plan on its first
    wave either way, and staged, the whole fleet's bytes are already spent; fetched wave by wave, a fiftieth."""
    staged = load_scenario(ROOT / "scenarios" / "stage-ahead-thin-uplinks.yaml")
    assert staged.delivery.stage_ahead

    def variant(stage_ahead: bool, defective: bool = False):
        changes = {"delivery": staged.delivery.model_copy(update={"stage_ahead": stage_ahead})}
        if defective:
            crash = {"cohort": {"hardware": "xavier-nx"}, "failure_rate": 0.6}
            changes["candidate"] = staged.candidate.model_validate(
                {**staged.candidate.model_dump(), "defects": [crash]})
        return staged.model_copy(update=changes)

    for seed in (1, 2):
        ahead, by_wave = simulate(variant(True), seed), simulate(variant(False), seed)
        assert ahead.coverage.t95 is not None and by_wave.coverage.t95 is not None
        assert ahead.coverage.t95 <= by_wave.coverage.t95 - 20 * 3600, (ahead.coverage.t95, by_wave.coverage.t95)
        bad_ahead, bad_by_wave = simulate(variant(True, True), seed), simulate(variant(False, True), seed)
        assert bad_ahead.halted and bad_by_wave.halted and bad_ahead.halt_time < 12 * 3600
        fleet_bytes = bad_ahead.devices * staged.artifact.full_size
        assert bad_ahead.bytes.total > 0.9 * fleet_bytes and bad_by_wave.bytes.total < 0.05 * fleet_bytes
        assert bad_ahead.reasons["staged ahead, not released: rollout halted"] > 0.9 * bad_ahead.devices
