"""summary.md: the verdict table, sized for a CI job summary (GitHub caps those at 1 MiB)."""

from __future__ import annotations

from fleetlab.report.decision import failing_lines, meaning_of, recommendation_sentence, recommended, subject
from fleetlab.report.trends import Trends
from fleetlab.safe_text import markdown_cell
from fleetlab.suite_results import SuiteResult
from sim.model.units import counted

LIMIT = 1024 * 1024 - 4096


def _cell(text: object) -> str:
    """Markdown table cells: one line, no links, emphasis or HTML from rigs or files (safe_text.markdown_cell)."""
    return markdown_cell(text)


def render(result: SuiteResult, trends: Trends | None = None, report_link: str = "index.html") -> str:
    icon = {"GO": "✅ GO", "NO-GO": "❌ NO-GO", "CANNOT MEASURE": "⚠️ CANNOT MEASURE", "INTERRUPTED": "⏹ INTERRUPTED"}
    count = len(result.scenarios)
    lines = [f"# fleetlab: {icon[result.verdict]} · {_cell(subject(result))}", "",
             _cell(meaning_of(result)), "",
             f"{counted(count, 'scenario')} · {result.mode} mode · {counted(result.seeds, 'seed')} per plan · "
             f"run {_cell(result.run_id)} · git {_cell(result.git_sha[:12])} · [full report]({report_link})", ""]
    failing = failing_lines(result)
    if failing:
        lines += [f"## Why it is {result.verdict}", ""]
        lines += [f"- **{_cell(row['scenario'])}**: {_cell(row['text'])}"
                  + (f" — cause: {_cell(row['cause'])}" if row["cause"] else "") for row in failing]
        lines.append("")
    lines += ["| scenario | mode | expectation | judged on | measured | bound | verdict |",
              "|---|---|---|---|---|---|---|"]
    for outcome in result.scenarios:
        for problem in outcome.problems:       # first: what could not be measured decides the verdict
            lines.append(f"| {_cell(outcome.name)} | | | | | | ⚠️ {_cell(problem)} |")
        for check in sorted(outcome.checks, key=lambda check: check.passed):
            verdict = "EXPECTED FINDING" if check.finding and check.passed else ("PASS" if check.passed
                                                                                  else "**FAIL**")
            lines.append(f"| {_cell(outcome.name)} | {check.mode} | `{check.metric}` | "   # a known metric's name
                         f"{_cell(check.judged_on)} | {_cell(check.shown)} | {_cell(check.bound)} | {verdict} |")
    chosen = [(outcome.name, pick) for outcome in result.scenarios if (pick := recommended(outcome, result.max_risk))]
    if chosen:      # the plan a release manager would ship, where a scenario compared plans (the page has the table)
        lines += ["", "## Plans compared", ""]
        lines += [f"- **{_cell(name)}**: {_cell(recommendation_sentence(pick))}" for name, pick in chosen]
    warned = [(outcome.name, warning) for outcome in result.scenarios for warning in outcome.plan_warnings]
    if warned:
        lines += ["", "## Plan warnings (`fleetlab lint`)", ""]
        lines += [f"- {_cell(name)}: {_cell(warning)}" for name, warning in warned]
    if result.left_out:
        lines += ["", f"## Left out in {result.mode} mode", ""]
        lines += [f"- {_cell(str(line))}" for line in result.left_out]
    if trends and trends.regressions:
        lines += ["", "## Regressions against the last good run", ""]
        lines += [f"- {_cell(line)}" for line in trends.regressions]
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > LIMIT:
        cut = text.encode()[:LIMIT].decode(errors="ignore").rsplit("\n", 1)[0]
        text = cut + f"\n\n(cut to fit a CI summary: see the [full report]({report_link}))\n"
    return text
