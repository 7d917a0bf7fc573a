"""The first screen of a NO-GO report answers what is decided, the verdict and why: measured in headless Chromium
at 1400×1000 (the DOM's layout), and no table runs past the right edge."""

from __future__ import annotations

import pytest

from fleetlab.report import write_report
from fleetlab.suite import run_suite
from tests.conftest import ROOT
from tests.report.browser import measure

FOLD = 1000


@pytest.fixture(scope="module")
def no_go_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("no-go")
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("name: tiny", "name: nano-defect").replace(
        "    nano: {latency: 45ms, power: 8}\n",
        "    nano: {latency: 45ms, power: 8}\n  defects:\n    - {cohort: {hardware: nano}, failure_rate: 90%}\n", 1)
    (folder / "nano-defect.yaml").write_text(text)
    for name in ("hot-candidate-thermal.yaml", "power-cuts-in-place.yaml", "fleet-10k-500mb.yaml",
                 "angle-regression-canary.yaml", "game-day-freeze.yaml"):      # the last two: long bound names
        (folder / name).write_text((ROOT / "scenarios" / name).read_text())
    result = run_suite([folder], mode="sim", seeds=2, executor_spec="serial")
    return result, write_report(result, tmp_path_factory.mktemp("report"))


def test_the_failing_expectation_and_its_cause_are_data(no_go_report):
    result, _ = no_go_report
    assert result.verdict == "NO-GO"
    failing = [check for outcome in result.scenarios for check in outcome.checks if not check.passed]
    assert failing and all(check.cause for check in failing), failing
    assert any("halted at" in check.cause and "failure rate" in check.cause and "inference service crashed" in
               check.cause for check in failing)
    assert all(check.judged_on == "every seed (the worst of 2)" for check in failing)


def test_a_no_go_page_shows_subject_failure_and_cause_above_the_fold(no_go_report, chromium, tmp_path):
    _, files = no_go_report
    found = measure(files["index.html"], tmp_path, {"subject": "h1", "meaning": ".meaning", "failing": ".causes li",
                                                    "cause": ".causes .cause"})
    assert "2.1" in found["subject"]["text"] and "4.3-hot over 4.2" in found["subject"]["text"]
    assert "NO-GO" in found["meaning"]["text"]
    assert "nano-defect" in found["failing"]["text"] and "t95" in found["failing"]["text"]
    assert "halted at" in found["cause"]["text"]
    for name in ("subject", "meaning", "failing", "cause"):
        assert found[name]["bottom"] <= FOLD, (name, found[name])


def test_no_table_runs_past_the_right_edge_at_1400_px(no_go_report, chromium, tmp_path):
    """Nor scrolls sideways in the page's column: the plans tables of angle-regression-canary and game-day-freeze
    did (risk columns headed by unbreakable names such as downloads_during_games), hiding their last column."""
    _, files = no_go_report
    assert measure(files["index.html"], tmp_path, {})["overflowing"] == []


def test_a_plan_that_halted_says_in_how_many_runs(no_go_report):
    _, files = no_go_report
    assert "<b>halted in 2 of 2 runs</b>" in files["index.html"].read_text()


def test_the_measurement_does_see_an_overflowing_table(chromium, tmp_path):
    """The check above can fail: a table wider than the window is reported."""
    page = tmp_path / "wide.html"
    page.write_text("<!doctype html><body><table><tr><th>wide</th><td style='min-width:3000px'>x</td></tr></table>"
                    "</body>")
    assert measure(page, tmp_path, {})["overflowing"] == ["wide"]
    clipped = tmp_path / "clipped.html"
    clipped.write_text("<!doctype html><body><div style='max-width:500px;overflow-x:auto'><table><tr><th>clipped</th>"
                       "<td style='min-width:800px'>x</td></tr></table></div></body>")
    assert measure(clipped, tmp_path, {})["overflowing"] == ["clipped"]


def test_expected_findings_are_labelled_not_green(no_go_report):
    _, files = no_go_report
    page = files["index.html"].read_text()
    assert "EXPECTED FINDING" in page and "the reason A/B slots exist" in page
    summary = files["summary.md"].read_text()
    assert "## Why it is NO-GO" in summary and "cause: " in summary and "EXPECTED FINDING" in summary
