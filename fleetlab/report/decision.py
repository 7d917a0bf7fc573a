"""The decision a report opens with, shared by index.html and summary.md: what is decided, what the verdict means,
and every broken expectation in one line with its cause."""

from __future__ import annotations

from fleetlab.suite_results import SuiteResult

VERDICT_ORDER = {"INTERRUPTED": 0, "CANNOT MEASURE": 1, "NO-GO": 2, "GO": 3}
MEANINGS = {
    "GO": "GO: every expectation of every scenario held{judged}. Rows marked EXPECTED FINDING are failures the "
          "scenario exists to show, caught as they should be.",
    "NO-GO": "NO-GO: {count} expectation{s} broke; each is listed below with its cause.",
    "CANNOT MEASURE": "CANNOT MEASURE: something could not be measured, so no decision can be drawn from this run.",
    "INTERRUPTED": "INTERRUPTED: the run was stopped before its end; the rigs were put back.",
}


def subject(result: SuiteResult) -> str:
    """What is being decided: 'candidate 4.3 over 4.2', or each scenario's pair when they differ."""
    pairs = sorted({(o.candidate, o.current) for o in result.scenarios if o.candidate})
    if len(pairs) == 1:
        candidate, current = pairs[0]
        return f"Ship candidate {candidate}" + (f" over {current}?" if current else "?")
    if pairs:
        return "Ship these candidates? " + ", ".join(f"{c} over {cur}" if cur else c for c, cur in pairs[:4]) + (
            " …" if len(pairs) > 4 else "")
    return "fleetlab run"


def failing_lines(result: SuiteResult) -> list[dict]:
    """Every broken expectation in one line with the statistic it was judged on, then its cause."""
    lines = []
    for outcome in result.scenarios:
        for check in outcome.checks:
            if not check.passed:
                text = (f"{check.mode} {check.metric} = {check.shown}, bound {check.bound}, judged on "
                        f"{check.judged_on or 'the run'}: " + (f"broken in {check.broken} of {check.runs}"
                                                               if check.runs > 1 else "broken"))
                lines.append({"scenario": outcome.name, "text": text, "cause": check.cause})
        for problem in outcome.problems:
            lines.append({"scenario": outcome.name, "text": f"could not measure: {problem}", "cause": ""})
    return lines




def judged_on(result: SuiteResult) -> str:
    return ("every seed" if result.seeds > 1 else "the run") if result.mode != "hil" else "the worst rig"


def meaning_of(result: SuiteResult) -> str:
    broken = sum(not check.passed for outcome in result.scenarios for check in outcome.checks)
    return MEANINGS[result.verdict].format(judged=f" (judged on {judged_on(result)})", count=broken,
                                           s="s" if broken != 1 else "")
