"""The reports a release manager and a CI system read: verdict first, escaped, self-contained, valid."""

import json
import re

import pytest
import xmlschema

from fleetlab.report import write_report
from fleetlab.suite import run_suite
from fleetlab.suite_results import SuiteResult
from sim.load import load_scenario_text
from tests.conftest import ROOT
from tests.report.browser import non_blank_share, render
from tests.report.conftest import HOSTILE

JUNIT_XSD = __import__("pathlib").Path(__file__).parent / "junit.xsd"


def test_the_suite_verdict_is_the_worst_of_its_scenarios(suite_result):
    verdicts = {outcome.name: outcome.verdict for outcome in suite_result.scenarios}
    assert verdicts == {"tiny": "GO", "tiny-too-strict": "NO-GO", "unreadable": "CANNOT MEASURE"}
    assert suite_result.verdict == "CANNOT MEASURE" and suite_result.exit_code == 2
    strict = next(o for o in suite_result.scenarios if o.name == "tiny-too-strict")
    [t95] = [check for check in strict.checks if check.metric == "t95"]
    assert not t95.passed and t95.broken == 3 and t95.runs == 3 and "broken in 3 of 3 seeds" in t95.reason
    assert [plan.name for plan in strict.plans] == ["plan", "everyone"]
    unreadable = next(o for o in suite_result.scenarios if o.name == "unreadable")
    assert any("unreadable.yaml:2" in problem and "fleet" in problem for problem in unreadable.problems)


def test_the_html_report_puts_the_verdict_first_and_escapes_what_files_said(report):
    page = report["index.html"].read_text()
    assert page.index("CANNOT MEASURE") < page.index("Verdict by expectation") < page.index("Plans compared")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#39;from a scenario file&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert not re.search(r"""(src|href)=["']?https?://""", page)      # no external requests
    for section in ("Coverage over time", "Origin egress", "Failures, halts and rollbacks", "Thermal",
                    "Trends", "Provenance", "oracle T95"):
        assert section in page, section
    assert page.count("<svg") >= 4        # coverage and egress per scenario; no empty throttling plot
    assert "halted in" not in page         # no plan of the suite halts: nothing said under the plans' names


def test_what_could_not_be_measured_heads_the_verdict_table(report, suite_result):
    """The table says "Failures first", and a scenario that could not be measured decides the verdict: its row
    once came last, under every PASS."""
    page = report["index.html"].read_text()
    table = page[page.index("Verdict by expectation"):]
    table = table[:table.index("</table>")]
    assert table.index("CANNOT MEASURE") < table.index("tiny-too-strict") < table.index("PASS")
    assert '<td><a href="#unreadable">unreadable</a></td>' in table

    # summary.md likewise, within a scenario that has both (its sim bounds held, its rigs could not be reached)
    from fleetlab.report.markdown import render as summary

    scenarios = [outcome.model_copy(update={"problems": ["hil: no rig answered"]}) if outcome.name == "tiny"
                 else outcome for outcome in suite_result.scenarios]
    text = summary(suite_result.model_copy(update={"scenarios": scenarios}))
    assert text.index("| tiny | | | | | | ⚠️ hil: no rig answered |") < text.index("| tiny | sim |")


def test_the_page_renders_in_chromium_without_console_errors_and_is_not_blank(report, chromium, tmp_path):
    rendered = render(report["index.html"], tmp_path)
    assert rendered.console == []
    assert non_blank_share(rendered.screenshot) > 0.05


def test_the_browser_check_does_see_console_errors(chromium, tmp_path):
    """The check above can fail: a page that logs to its console is caught."""
    page = tmp_path / "noisy.html"
    page.write_text("<!doctype html><body><p>x</p><script>console.error('boom')</script></body>")
    assert any("boom" in line for line in render(page, tmp_path, "400,300").console)


def test_junit_xml_validates_against_the_common_schema_with_one_case_per_expectation(report, suite_result):
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(report["junit.xml"]))
    text = report["junit.xml"].read_text()
    expectations = sum(len(outcome.checks) for outcome in suite_result.scenarios)
    problems = sum(len(outcome.problems) for outcome in suite_result.scenarios)   # the unreadable file's
    assert problems >= 1 and text.count("<testcase") == expectations + problems
    assert 'classname="tiny-too-strict.sim" name="t95 &lt; 1h"' in text and "ExpectationFailed" in text
    assert "CannotMeasure" in text


def test_summary_md_has_the_verdict_table_and_fits_a_ci_summary(report):
    text = report["summary.md"].read_text()
    assert text.startswith("# fleetlab: ⚠️ CANNOT MEASURE")
    assert "| scenario | mode | expectation | judged on | measured | bound | verdict |" in text
    assert "| tiny-too-strict | sim | `t95` |" in text and "**FAIL**" in text
    # the plan the page recommends, in a CI job's summary too (only the page had it)
    plans = text[text.index("## Plans compared"):].splitlines()[2]
    assert plans.startswith("- **tiny-too-strict**: Recommended: ") and "the fastest T95" in plans
    assert len(text.encode()) < 1024 * 1024 and "<script>" not in text


def test_result_json_round_trips(report, suite_result):
    again = SuiteResult.model_validate_json(report["result.json"].read_text())
    assert again == suite_result and json.loads(report["result.json"].read_text())["verdict"] == "CANNOT MEASURE"


@pytest.mark.parametrize("folder_name", ["index.html", "summary.md", "junit.xml", "result.json"])
def test_no_partial_files_are_left(report, folder_name):
    assert not list(report[folder_name].parent.glob(".*.partial"))


def test_hostile_text_is_also_safe_in_the_markdown(report):
    assert HOSTILE not in report["summary.md"].read_text()


def test_a_go_report_says_why_devices_failed_in_seed_one(suite_result):
    """fleet-10k-500mb is GO with 42 cameras failed for storage: the Plans table showed 'failed 47' and nothing in
    the page said why (the cause line was shown beside failing expectations only)."""
    from fleetlab.report import html

    tiny = next(outcome for outcome in suite_result.scenarios if outcome.name == "tiny")
    cause = "42 devices failed, 42 of them: insufficient storage <b>"
    failing = tiny.model_copy(update={"plans": [tiny.plans[0].model_copy(update={"cause": cause})]})
    page = html.render(suite_result.model_copy(update={"scenarios": [failing]}))
    section = page[page.index("Failures, halts and rollbacks (seed one)"):page.index("<h3>Thermal")]
    assert "<li><b>plan</b>: 42 devices failed, 42 of them: insufficient storage &lt;b&gt;</li>" in section


def test_each_scenario_says_what_its_simulation_assumed_about_delivery(suite_result):
    """A GO holds under the scenario's assumptions: cameras told at once, no timeout, links that never expire. The
    report says them beside the scenario, with the key behind each, and says the others when a scenario sets them."""
    from fleetlab.assumptions import assumption_lines
    from fleetlab.report import html

    tiny = next(outcome for outcome in suite_result.scenarios if outcome.name == "tiny")
    told = "cameras are told at once, as by a pushed notification (fleet.poll_interval: none)"
    assert any(told in line for line in tiny.assumptions), tiny.assumptions
    assert "a camera's model runs until its switch: it runs none for the switch (1m 0s) and any rollback (2m 0s) " \
           "(delivery.update_strategy: download_then_kill)" in tiny.assumptions
    page = html.render(suite_result)
    assert "What the simulation assumed" in page and "cameras switch only in install windows 02:00–06:00" in page
    assert ("local time (fleet.install_windows), the run starting on a mon at 00:00 UTC (start_weekday, start_time)"
            in page)
    assert "<th>no model</th>" in page and "no model running because of the update" in page
    polling = load_scenario_text((ROOT / "scenarios" / "tiny.yaml").read_text().replace(
        "fleet:\n", "fleet:\n  poll_interval: 30m\n", 1).replace(
        "artifact:", "delivery: {in_progress_timeout: 12h, timeout_retries: 2, link_expiry: 1d, failure_retries: 1}"
                     "\nartifact:", 1))
    said = " · ".join(assumption_lines(polling.model_copy(update={"delivery": polling.delivery.model_copy(
        update={"update_strategy": "kill_then_download"})})))
    assert "a camera stops its model when its update starts and runs none until the new one runs" in said
    assert "fails its health check stays on it" not in said
    left_on = polling.delivery.model_copy(update={"failure_handling": "do_nothing"})
    left = polling.model_copy(update={"delivery": left_on})
    assert "stays on it, reported FAILED" in " · ".join(assumption_lines(left))
    staged = polling.model_copy(update={"delivery": polling.delivery.model_copy(update={"stage_ahead": True})})
    assert "the plan's releases only switch (delivery.stage_ahead)" in " · ".join(assumption_lines(staged))
    assert "agents ask for orders every 30m 0s (fleet.poll_interval)" in said
    assert "an update is timed out 12h 0m after a camera started it and started again up to 2 times" in said
    assert "download links expire 1d 0h after they are issued (delivery.link_expiry)" in said
    assert "a failed update is started again up to 1 time (delivery.failure_retries)" in said


def test_the_hours_without_a_model_say_how_many_fell_in_games(suite_result):
    from fleetlab.report import html

    tiny = next(outcome for outcome in suite_result.scenarios if outcome.name == "tiny")
    plan = tiny.plans[0]
    assert "in games" not in " ".join(html._cell(plan, "service_lost_device_hours").extra)
    metrics = {**plan.metrics, "service_lost_in_games_device_hours": {
        **plan.metrics["service_lost_in_games_device_hours"], "mean": 12.5}}
    cell = html._cell(plan.model_copy(update={"metrics": metrics}), "service_lost_device_hours")
    assert "in games 12.5 h" in cell.extra, cell.extra



def test_a_failed_cell_says_how_often_failed_updates_were_started_again(suite_result):
    from fleetlab.report import html

    plan = next(outcome for outcome in suite_result.scenarios if outcome.name == "tiny").plans[0]
    assert not any(part.startswith("retried") for part in html._cell(plan, "failed").extra)
    metrics = {**plan.metrics, "retried_failures": {**plan.metrics["retried_failures"], "mean": 117.0}}
    cell = html._cell(plan.model_copy(update={"metrics": metrics}), "failed")
    assert "retried 117" in cell.extra, cell.extra


def test_a_device_hours_column_no_plan_has_any_of_is_left_out_with_a_note(suite_result):
    from fleetlab.report import html

    tiny = next(outcome for outcome in suite_result.scenarios if outcome.name == "tiny")
    section = html._section(tiny)
    assert "throttled" not in section["plan_columns"] and "no model" in section["plan_columns"]
    assert "no camera throttled (throttled)" in section["left_out"]
    assert all(len(row["cells"]) == len(section["plan_columns"]) for row in section["plan_rows"])
    plan = tiny.plans[0]
    # one seed of many throttled: its p95 over the seeds is still 0, the column shows
    hot = {**plan.metrics, "throttled_device_hours": {**plan.metrics["throttled_device_hours"], "max": 3.0}}
    warm = html._section(tiny.model_copy(update={"plans": [plan.model_copy(update={"metrics": hot})]}))
    assert "throttled" in warm["plan_columns"] and "no camera throttled (throttled)" not in warm["left_out"]


def test_the_report_says_what_each_plan_knew_at_its_least_informed_release(suite_result, report):
    """tiny's wave 2 is told at 8h knowing the outcomes of wave 1's cameras in UTC-05:00 only (those in UTC-08:00
    switch at 10:00 UTC): the line under the plans says which release, when, and how many of the cameras told before
    the plan knew of (seed one; at 16h it knows them all)."""
    from fleetlab.report import html

    tiny = next(outcome for outcome in suite_result.scenarios if outcome.name == "tiny")
    [row] = html._section(tiny)["evidence"]
    assert re.fullmatch(r"wave 2 \(50%\) at 8h 0m: it knew the outcomes of [0-4] of the 4 cameras told before "
                        r"\(\d+%\)", row["least"]), row
    assert "What each plan knew when it told more cameras" in report["index.html"].read_text()


def test_a_recommended_plan_that_lint_flags_is_named_with_its_finding_in_the_page(tmp_path):
    """An alternative with a 1h bake tells wave 2 before wave 1 can install in its 02:00 window: it wins on T95 by
    not looking, and the page says so beside the recommendation, with the scenario's own plan as the clean one."""
    from fleetlab.report import html

    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "tiny.yaml").write_text(
        text + "alternatives:\n  hasty:\n    kind: waves\n    waves: [10%, 50%, 100%]\n    bake: 1h\n"
        "    abort: {threshold: 20%, min_executed: 4}\n")
    result = run_suite([tmp_path / "suite"], mode="sim", seeds=2, executor_spec="serial")
    [tiny] = result.scenarios
    chosen = html._section(tiny)["recommended"]
    assert chosen["name"] == "hasty" and chosen["without_lint"] == "plan"
    assert chosen["lint"].startswith("alternatives.hasty.bake: wave 2 (50%) is told at 1h 0m")
    page = write_report(result, tmp_path / "report")["index.html"].read_text()
    assert "But <code>fleetlab lint</code> flags it: alternatives.hasty.bake: wave 2 (50%)" in page
    assert "the best plan without a finding: plan." in page


def test_the_recommendation_sets_its_t95_beside_the_runner_ups_on_the_same_seeds(tmp_path):
    """A slower alternative (its last wave a night later) on tiny's fleet, three seeds: the suite keeps each plan's
    T95 seed by seed, result.json holds each plan's paired lead over the other, and the page says the recommended
    plan's."""
    from fleetlab.report import html

    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "tiny.yaml").write_text(
        text + "alternatives:\n  slow:\n    kind: waves\n    waves: [10%, 50%, 100%]\n    bake: 20h\n")
    result = run_suite([tmp_path / "suite"], mode="sim", seeds=3, executor_spec="serial")
    [tiny] = result.scenarios
    plan, slow = tiny.plans
    assert slow.t95_leads["plan"].mean < 0 < plan.t95_leads["slow"].mean == -slow.t95_leads["plan"].mean
    chosen = html._section(tiny)["recommended"]
    assert chosen["name"] == "plan"
    assert chosen["paired"] == ("On the same seeds its T95 comes sooner than slow's: +1d 0h a seed [+1d 0h, +1d 0h] "
                                "(95%, paired)")
    page = write_report(result, tmp_path / "report")["index.html"].read_text()
    assert chosen["paired"].replace("'", "&#39;") in page
    one_seed = run_suite([tmp_path / "suite"], mode="sim", seeds=1, executor_spec="serial")
    assert all(not row.t95_leads for row in one_seed.scenarios[0].plans)   # nothing to pair on one seed
