"""A stop request (Ctrl-C, SIGTERM) during `fleetlab run`: INTERRUPTED when it cut something short or left a scenario
unrun; a request after the last scenario's work cut nothing, and the suite's verdict stands."""

import json
import re
import signal

from fleetlab.suite import run_suite
from hil.stop import StopSignal
from tests.conftest import ROOT
from tests.processes import left_alive, stopped_mid_run


def two_scenarios(folder):
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    assert "name: tiny\n" in text
    (folder / "a.yaml").write_text(text.replace("name: tiny\n", "name: tiny-a\n"))
    (folder / "b.yaml").write_text(text.replace("name: tiny\n", "name: tiny-b\n"))
    return [folder / "a.yaml", folder / "b.yaml"]


def suite_stopped_after(scenarios_done: int, folder):
    stop, log = StopSignal(), []

    def progress(done: int, total: int) -> None:
        if done == scenarios_done:
            stop.request("SIGINT received")

    result = run_suite(two_scenarios(folder), "sim", executor_spec="serial", log=log.append, progress=progress,
                       stop=stop)
    return result, log


def test_a_stop_that_leaves_a_scenario_unrun_interrupts_the_suite(tmp_path):
    result, log = suite_stopped_after(1, tmp_path)
    assert [outcome.name for outcome in result.scenarios] == ["tiny-a"]
    assert result.verdict == "INTERRUPTED" and result.exit_code == 130
    assert any(line.startswith("stopped before") and "b.yaml" in line for line in log)


def test_a_stop_after_the_last_scenario_cut_nothing_and_the_verdict_stands(tmp_path):
    """Once INTERRUPTED (exit 130) for a suite whose every scenario had been measured in full."""
    result, _ = suite_stopped_after(2, tmp_path)
    assert [outcome.name for outcome in result.scenarios] == ["tiny-a", "tiny-b"]
    assert result.verdict == "GO" and result.exit_code == 0


def test_ctrl_c_during_a_sim_suite_drops_the_simulations_under_way_and_reports_what_finished(tmp_path):
    """`fleetlab run --mode sim` asked its rigs-minded stop to end "after the scenario in flight": a Ctrl-C on 60
    seeds of the 10k fleet ran all 120 runs on, a second Ctrl-C changed nothing, and the run ended GO saying the signal
    "came after the plan had ended" (exit 0), its notes about rigs and leases it never touched. Now the sweep in
    flight stops, its runs under way are dropped, that scenario is INTERRUPTED and the next is not started."""
    fleet = ROOT / "scenarios" / "fleet-10k-500mb.yaml"
    args = ["run", str(fleet), str(ROOT / "scenarios" / "tiny.yaml"), "--seeds", "60", "--executor", "local:2",
            "--history", "", "--out", str(tmp_path / "report")]
    with stopped_mid_run(args, signal.SIGINT, ROOT, timeout=200) as (done, family):
        assert done.returncode == 130, done.stderr
        assert "SIGINT: stopping — the simulations under way are dropped; the report is written with what " \
               "finished." in done.stderr
        assert "rig" not in done.stderr and "came after" not in done.stderr
        assert re.search(r"fleet-10k-500mb: sim: stopped after \d+ of 120 runs \(SIGINT received\)", done.stderr)
        assert "stopped before" in done.stderr and "tiny.yaml" in done.stderr
        result = json.loads((tmp_path / "report" / "result.json").read_text())
        assert result["verdict"] == "INTERRUPTED"
        assert [(outcome["name"], outcome["verdict"]) for outcome in result["scenarios"]] == [
            ("fleet-10k-500mb", "INTERRUPTED")]
        assert not left_alive(family, within=30), "pool processes outlived the stopped run"
