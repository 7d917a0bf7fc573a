"""A stop request (Ctrl-C, SIGTERM) during `fleetlab run`: INTERRUPTED when it cut something short or left a scenario
unrun; a request after the last scenario's work cut nothing, and the suite's verdict stands."""

from fleetlab.suite import run_suite
from hil.stop import StopSignal
from tests.conftest import ROOT


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
