"""The RAM a rig has in use while the candidate runs (tegrastats' RAM field during the latency step): kept in the
rig's telemetry, the worst rig's as the HIL metric `rig_memory`, refused over `hil.max_memory`, shown in the terminal
and the report, and kept per rig in the history. Fast rigs (tests/hil/local_rigs.py)."""

from __future__ import annotations

import pytest

from fleetlab.history import Measurement, measurements
from fleetlab.report.html import render
from hil.parsers import parse_tegrastats_line
from hil.parsers.tegrastats import MIB
from hil.rig_telemetry import summarize, telemetry_problems
from sim.model.hil_results import TelemetrySummary
from tests.hil.local_rigs import names, one_night, run, scenario, table_text

pytestmark = pytest.mark.timeout(300)
LINE = ("12-06-2026 13:56:50 RAM {used}/3956MB (lfb 12x4MB) SWAP 0/1978MB (cached 0MB) CPU [10%@1479,5%@1479] "
        "EMC_FREQ 0%@1600 GR3D_FREQ 40%@[921] APE 25 cpu@41.5C gpu@40C VDD_IN 5000mW/5000mW")


def test_the_most_ram_in_use_and_the_boards_total_are_summarised_in_bytes():
    samples = [parse_tegrastats_line(LINE.format(used=used)) for used in (1210, 2950, 1800)]
    telemetry = summarize(samples)
    assert telemetry.max_memory == 2950 * MIB and telemetry.total_memory == 3956 * MIB
    assert telemetry.memory_in_use == "3.09 GB of 4.15 GB", telemetry.memory_in_use
    assert telemetry_problems(telemetry, None, 3e9) == ["had 3.09 GB of RAM in use, limit 3.00 GB"]
    assert telemetry_problems(telemetry, None, 3.2e9) == [] and telemetry_problems(telemetry, None, None) == []
    assert TelemetrySummary(samples=0).memory_in_use == ""
    assert "max_memory" not in TelemetrySummary(samples=0).model_dump_json()     # results without it unchanged


def test_a_rig_keeps_its_ram_in_use_and_the_worst_is_the_metric_the_terminal_and_the_history(local_rigs):
    rigs = local_rigs()[:2]
    result, _, _ = run(scenario({"kind": "all_at_once"}), rigs)
    used = [rig.telemetry.max_memory for rig in result.rigs if rig.telemetry]
    assert len(used) == 2 and all(value and value > 0 for value in used), used
    assert all(rig.telemetry and rig.telemetry.total_memory for rig in result.rigs)
    assert result.metrics()["rig_memory"] == max(used)
    text = table_text(result)
    assert "RAM" in text and result.rigs[0].telemetry.memory_in_use in text
    assert Measurement("k", "rig r0", "rig_memory", used[0]) in measurements(one_night(result))
    latency = next(step for step in result.rigs[0].steps if step.name == "latency")
    assert f"RAM {result.rigs[0].telemetry.memory_in_use}" in latency.detail, latency.detail
    page = render(one_night(result), None)
    assert f"RAM {result.rigs[0].telemetry.memory_in_use}" in page


def test_a_rig_over_the_scenarios_memory_limit_fails_its_latency_step_and_keeps_the_previous_engine(local_rigs):
    rigs = local_rigs()[:1]
    result, _, _ = run(scenario({"kind": "all_at_once"}, {"max_memory": "1MB"}), rigs)
    [rig] = result.rigs
    latency = next(step for step in rig.steps if step.name == "latency")
    assert rig.verdict == "failed" and latency.outcome == "failed"
    assert "of RAM in use, limit 1.00 MB" in rig.reason, rig.reason
    assert "activate" not in names(rig) or next(s for s in rig.steps if s.name == "activate").outcome == "skipped"


def test_a_calibration_run_records_the_ram_at_rest_and_while_each_model_runs_and_counts_the_models_from_them(
        local_rigs):
    from hil.calibration import _memory, rig_numbers
    from tests.hil.local_rigs import inventory_of

    rigs = local_rigs()[:1]
    plan = scenario({"kind": "all_at_once"}, {"calibrate": {"thermal_step": "1s"}})
    result, _, _ = run(plan, rigs)
    [rig] = result.rigs
    rest = next(step for step in rig.steps if step.name == "preflight").numbers
    probe = next(step for step in rig.steps if step.name == "calibrate").numbers
    assert rest["idle_memory_bytes"] > 0 and rest["total_memory_bytes"] >= rest["idle_memory_bytes"]
    assert probe["candidate_memory_bytes"] > 0 and probe["current_memory_bytes"] > 0
    numbers = rig_numbers(rig, inventory_of(*rigs).rigs[0], plan)
    held = _memory(rest, probe)
    assert (numbers["memory"], numbers["current"]["memory"], numbers["candidate"]["memory"]) == \
        (held["board"], held["current"], held["candidate"])
