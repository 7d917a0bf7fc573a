"""`fleetlab run --mode both` against rigs behind the real sshd: rig results in every report, rig output escaped."""

from pathlib import Path

from fleetlab.report import write_report
from fleetlab.suite import run_suite
from tests.hil.conftest import quick_hil_text, write_inventory
from tests.report.browser import render
from tests.report.conftest import chromium  # noqa: F401  (the fixture)

SHOUTING_HEALTH = "echo '<script>alert(\"from the rig\")</script>'; false"


def quick_hil_scenario(folder: Path) -> Path:
    """The library's HIL scenario with every rig told at once, so one rig's failure halts nothing."""
    path = folder / "hil.yaml"
    plan = "  kind: waves\n  waves: [30%, 100%]\n  bake: 1h\n  abort: {threshold: 1%, min_executed: 1}"
    assert plan in quick_hil_text()
    path.write_text(quick_hil_text().replace(plan, "  kind: all_at_once"))
    return path


def test_both_modes_report_the_rigs_and_escape_what_a_rig_printed(rig_entry, tmp_path, chromium):  # noqa: F811
    scenario = quick_hil_scenario(tmp_path)
    inventory = write_inventory(tmp_path / "rigs.yaml", rig_entry("orin-a", tags=["orin"], link_rate="8MB/s"),
                                rig_entry("orin-b", tags=["orin"], health=SHOUTING_HEALTH))
    result = run_suite([scenario], mode="both", rigs=inventory, executor_spec="serial")
    [outcome] = result.scenarios
    assert outcome.verdict == "NO-GO" and result.exit_code == 1
    assert {rig.rig: rig.verdict for rig in outcome.hil.rigs} == {"orin-a": "passed", "orin-b": "failed"}
    failing = [check for check in outcome.checks if not check.passed]
    assert [(check.mode, check.metric) for check in failing] == [("hil", "rigs_failed")]
    written = write_report(result, tmp_path / "report")
    page = written["index.html"].read_text()
    assert "<script" not in page and "&lt;script&gt;alert(&#34;from the rig&#34;)&lt;/script&gt;" in page
    assert "On the rigs" in page and "overhead:ok" in page
    # the prediction beside the measurement: for the rig that got through its update and has a link rate
    assert {row.rig for row in outcome.fidelity} == {"orin-a"}
    assert {row.phase for row in outcome.fidelity} >= {"download", "install + build", "activate", "total", "rollback"}
    assert "Fidelity: the simulator&#39;s prediction beside the rigs&#39; measurement" in page or \
        "Fidelity: the simulator's prediction beside the rigs' measurement" in page
    # informational, beside a verdict: no PASS/FAIL badges there (a red FAIL under a GO misread as a failure)
    fidelity = page[page.index("Fidelity: the simulator"):].split("<h3>")[0]
    assert "Not part of the verdict" in fidelity and "has no <code>calibration:</code>" in fidelity
    assert "FAIL" not in fidelity and "PASS" not in fidelity and ("OFF" in fidelity or "within 10%" in fidelity)
    # the rigs' temperatures drawn against the scenario's limit (an axis fitted to two points showed no headroom)
    assert "against the limit of 85 °C" in page and "limit 85 °C" in page
    junit = written["junit.xml"].read_text()
    assert 'classname="hil-orin-candidate.hil.orin-b"' in junit and "RigValidationFailed" in junit
    assert render(written["index.html"], tmp_path).console == []


def test_hil_mode_without_an_inventory_cannot_measure(tmp_path):
    result = run_suite([quick_hil_scenario(tmp_path)], mode="hil", executor_spec="serial")
    assert result.verdict == "CANNOT MEASURE"
    assert result.scenarios[0].problems == ["hil: the scenario has a hil: part but no --rigs inventory was given"]
