"""The decision a report opens with, shared by index.html and summary.md: what is decided, what the verdict means,
and every broken expectation in one line with its cause."""

from __future__ import annotations

import math
from collections.abc import Callable

from fleetlab.suite_results import PlanSummary, ScenarioOutcome, SuiteResult
from sim.model import units
from sim.model.aggregate import seeds_for_risk, wilson_interval
from sim.model.gates import format_difference
from sim.model.stats import seeds_to_exclude_zero

VERDICT_ORDER = {"INTERRUPTED": 0, "CANNOT MEASURE": 1, "NO-GO": 2, "GO": 3}
MEANINGS = {
    "GO": "GO: every expectation of every scenario held{judged}. Rows marked EXPECTED FINDING are failures the "
          "scenario exists to show, caught as they should be.",
    "NO-GO": "NO-GO: {count} expectation{s} broke; each is listed below with its cause.",
    "CANNOT MEASURE": "CANNOT MEASURE: something could not be measured, so no decision can be drawn from this run.",
    "INTERRUPTED": "INTERRUPTED: the run was stopped before its end; {put_back}.",
}
PUT_BACK = {"sim": "the simulations under way were dropped", "hil": "the rigs were put back",
            "both": "the simulations under way were dropped and the rigs put back"}


def subject(result: SuiteResult) -> str:
    """What is being decided: 'candidate 4.3 over 4.2', or each scenario's pair when they differ."""
    found = {(o.candidate, o.current) for o in result.scenarios if o.candidate}
    # a scenario that names no current model says nothing against one that does: "2.1 over 2.0", not "2.1, 2.1 over
    # 2.0" as if two candidates were up for decision
    replacing = {candidate for candidate, current in found if current}
    # those replacing a named model first, each pair set off by ';': "2.1, 4.3 over 4.2" read as two candidates over 4.2
    pairs = sorted((pair for pair in found if pair[1] or pair[0] not in replacing),
                   key=lambda pair: (not pair[1], pair))
    if len(pairs) == 1:
        candidate, current = pairs[0]
        return f"Ship candidate {candidate}" + (f" over {current}?" if current else "?")
    if pairs:
        return "Ship these candidates? " + "; ".join(f"{c} over {cur}" if cur else c for c, cur in pairs[:4]) + (
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
    if result.mode == "hil":
        return "the worst rig"
    if result.max_risk:     # --max-risk: a bound may break in that share of the seeds (the table's rows say so)
        return f"a risk of at most {result.max_risk:.0%} over {units.counted(result.seeds, 'seed')}"
    return "every seed" if result.seeds > 1 else "the run"


def meaning_of(result: SuiteResult) -> str:
    if not result.scenarios and result.verdict == "CANNOT MEASURE":
        found = len(result.left_out)
        if not found:
            return "CANNOT MEASURE: no scenario was run: no scenario files were found"
        return (f"CANNOT MEASURE: no scenario was run: the {found} file{'s' if found != 1 else ''} found "
                f"{'were' if found != 1 else 'was'} left out (listed below)")
    broken = sum(not check.passed for outcome in result.scenarios for check in outcome.checks)
    meaning = MEANINGS[result.verdict].format(judged=f" (judged on {judged_on(result)})", count=broken,
                                              s="s" if broken != 1 else "", put_back=PUT_BACK[result.mode])
    if result.verdict == "GO" and result.mode != "hil" and (power := seeds_power(result)):
        meaning += " " + power
    return meaning


def seeds_power(result: SuiteResult) -> str:
    """Under a --max-risk judgement, what the seeds can show: a bound that held in every one of 20 seeds still has
    a 95% interval up to 16% (Wilson, as the plans' risk cells give it), above a 5% limit."""
    needed = seeds_for_risk(result.max_risk)
    if needed is None or result.seeds >= needed:
        return ""
    shown = wilson_interval(0, result.seeds)[1]
    return (f"On {units.counted(result.seeds, 'seed')}, a bound none of them broke has a risk interval up to "
            f"{shown:.1%}; {needed} seeds, none broken, bring it under {result.max_risk:.0%} (--seeds).")


def plan_findings(outcome: ScenarioOutcome, name: str) -> list[str]:
    """The plan warnings (`key: message`) about one plan of the scenario: the scenario's own is under `strategy`,
    an alternative under `alternatives.NAME`."""
    prefix = "strategy" if name == "plan" else f"alternatives.{name}"
    return [warning for warning in outcome.plan_warnings if warning.startswith((f"{prefix}.", f"{prefix}:"))]


def _paired_t95(best: PlanSummary, runner_up: PlanSummary) -> str:
    """The recommended plan's T95 beside the runner-up's on the same seeds, where they pair up: the means' own
    intervals overlap across the seeds' spread of fleets, the seed-by-seed difference often does not."""
    if best.runs == 1:      # the demo's default: a choice on one seed reads as settled, and nothing has settled it
        return (f"On one seed nothing yet separates it from {runner_up.name}: more seeds (--seeds) set them side by "
                "side, seed by seed")
    lead = best.t95_leads.get(runner_up.name)
    if lead is None or lead.low is None or lead.high is None:
        return ""
    if lead.low == lead.high == 0:
        return f"The same T95 as {runner_up.name} on every seed"
    figures = (f"{format_difference('t95', lead.mean)} a seed [{format_difference('t95', lead.low)}, "
               f"{format_difference('t95', lead.high)}] (95%, paired)")
    if lead.low > 0:
        return f"On the same seeds its T95 comes sooner than {runner_up.name}'s: {figures}"
    if lead.high < 0:       # ranked first for its lower risk, and slower for it
        return f"On the same seeds its T95 comes later than {runner_up.name}'s, the price of its lower risk: {figures}"
    told = f"On the same seeds its T95 is not clearly sooner than {runner_up.name}'s: {figures}"
    needed = seeds_to_exclude_zero(lead.mean, lead.low, lead.high, best.runs)
    if needed is not None:      # what to do about it: the seeds that would tell them apart, were the lead to hold
        told += (f"; about {needed:,} seeds would tell them apart, were the lead and the seeds' spread to stay as "
                 f"measured (--seeds {needed})")
    return told


def recommended(outcome: ScenarioOutcome, max_risk: float = 0.0) -> dict[str, str] | None:
    """Among two or more plans: the fastest mean T95 among those whose every bound broke in at most `max_risk` of
    their seeds (`--max-risk`; at 0, in none), as `fleetlab sweep`'s pick; where none is within it, the lowest risk of
    breaking any bound, then the fastest. (At 0 this is the lowest risk, then the fastest; at 5% a plan that broke a
    bound in 1 of 20 seeds and is a day sooner is no longer passed over for one that broke nothing, which a sweep
    at the same --max-risk picked.) A plan `fleetlab lint` flags can win because of its trap (a bake that sees no
    outcome before it releases more is fast by not looking): the finding is said beside it, with the best plan that
    has none (as `fleetlab sweep`'s pick does); of two plans alike in both, the one without a finding is chosen."""
    if len(outcome.plans) < 2:
        return None

    def risk(plan: PlanSummary) -> float:
        return max((bound.probability for bound in plan.bounds.values()), default=0.0)

    def within(plan: PlanSummary) -> bool:
        return all(bound.held_within(max_risk) for bound in plan.bounds.values())

    def t95(plan: PlanSummary) -> float:
        mean = plan.metrics.get("t95", {}).get("mean")
        return math.inf if mean is None or plan.metrics["t95"].get("missing") else float(mean)

    # of plans alike in risk and T95, one lint flags comes after one it does not (its trap buys nothing there)
    flagged = {plan.name for plan in outcome.plans if plan_findings(outcome, plan.name)}
    ranked = sorted(outcome.plans, key=lambda plan: (
        (0, 0.0, t95(plan)) if within(plan) else (1, risk(plan), t95(plan))) + (plan.name in flagged,))
    best = ranked[0]
    speed = "never reaches T95 in some seed" if math.isinf(t95(best)) else f"T95 {units.format_duration(t95(best))}"
    why = (f"risk of breaking a bound {risk(best):.0%} over {best.runs} seed{'s' if best.runs != 1 else ''}, "
           f"{speed}")
    rule = ("the lowest risk of breaking any bound, then the fastest T95" if not max_risk else
            f"the fastest T95 among the plans within --max-risk {max_risk:.0%}" if within(best) else
            f"no plan is within --max-risk {max_risk:.0%}: the lowest risk of breaking any bound, then the fastest T95")
    chosen = {"name": best.name, "label": best.label or best.kind, "why": why, "rule": rule}
    if paired := _paired_t95(best, ranked[1]):
        chosen["paired"] = paired
    if findings := plan_findings(outcome, best.name):
        chosen["lint"] = findings[0] + (f" (and {len(findings) - 1} more)" if len(findings) > 1 else "")
        chosen["without_lint"] = _best_without_lint(ranked, flagged, within if within(best) else lambda plan: True,
                                                    risk)
    return chosen


def _best_without_lint(ranked: list[PlanSummary], flagged: set[str], eligible: Callable[[PlanSummary], bool],
                       risk: Callable[[PlanSummary], float]) -> str:
    """The best plan lint does not flag among those the recommendation could have chosen (within the risk, where
    the recommended one is): a plan with no finding that breaks its bounds is no alternative. angle-regression-canary's
    halting canaries were flagged and the page offered random_canary, the plan that misses the regression."""
    clean = [plan for plan in ranked if plan.name not in flagged]
    if chosen := next((plan for plan in clean if eligible(plan)), None):
        return chosen.name
    if clean:
        return (f"none within the risk allowed ({clean[0].name} has none, but broke a bound in {risk(clean[0]):.0%} "
                "of its seeds)")
    return "none"


def recommendation_sentence(chosen: dict[str, str]) -> str:
    """`recommended`'s choice as one plain sentence, for summary.md (the HTML page sets the same words with markup)."""
    text = f"Recommended: {chosen['name']} ({chosen['label']}) — {chosen['why']}; {chosen['rule']}."
    if chosen.get("paired"):
        text += f" {chosen['paired']}."
    if chosen.get("lint"):
        text += f" But fleetlab lint flags it: {chosen['lint']}; the best plan without a finding: "
        text += f"{chosen['without_lint']}."
    return text
