"""The report's recommendation and plan labels, from data: lowest risk of breaking any bound first, then the
fastest T95; plans shown as their scenario writes them."""

from fleetlab.parameters import plan_label
from fleetlab.report.decision import recommended, subject
from fleetlab.suite_results import BoundRiskSummary, PlanSummary, ScenarioOutcome, SuiteResult
from sim.load import load_scenario
from tests.conftest import ROOT


def plan(name: str, risk: float, t95: float | None) -> PlanSummary:
    metrics = {"t95": {"n": 4, "mean": t95, "missing": 0} if t95 is not None else {"n": 0, "missing": 4}}
    bound = BoundRiskSummary(bound="< 3d", runs=4, broken=round(risk * 4), probability=risk, ci_low=0, ci_high=1)
    return PlanSummary(name=name, kind="waves", runs=4, metrics=metrics, bounds={"t95": bound})


def outcome(*plans: PlanSummary) -> ScenarioOutcome:
    return ScenarioOutcome(name="s", file="s.yaml", verdict="GO", plans=list(plans))


def test_the_lowest_risk_wins_then_the_fastest():
    assert recommended(outcome(plan("fast", 0.25, 3600), plan("safe", 0.0, 7200)))["name"] == "safe"
    assert recommended(outcome(plan("slow", 0.0, 7200), plan("fast", 0.0, 3600)))["name"] == "fast"
    assert recommended(outcome(plan("never", 0.0, None), plan("fast", 0.0, 3600)))["name"] == "fast"


def test_at_a_max_risk_the_fastest_plan_within_it_wins_as_the_sweep_picks():
    """`fleetlab run --max-risk 25%`: a plan that broke a bound in 1 of 4 seeds is within it, and a day sooner than
    one that broke nothing; the report passed it over (lowest risk first) where `fleetlab sweep` at the same
    --max-risk picked it."""
    fast, safe, reckless = plan("fast", 0.25, 3600), plan("safe", 0.0, 90000), plan("reckless", 0.5, 600)
    assert recommended(outcome(fast, safe, reckless))["name"] == "safe"                 # no risk allowed
    chosen = recommended(outcome(fast, safe, reckless), max_risk=0.25)
    assert chosen["name"] == "fast" and chosen["rule"] == "the fastest T95 among the plans within --max-risk 25%"
    assert recommended(outcome(fast, safe, reckless), max_risk=0.2)["name"] == "safe"   # 1 of 4 is over 20%
    # none within: the lowest risk, then the fastest, and the rule says so
    chosen = recommended(outcome(plan("a", 0.5, 600), plan("b", 0.75, 60)), max_risk=0.25)
    assert chosen["name"] == "a" and chosen["rule"].startswith("no plan is within --max-risk 25%")
    assert recommended(outcome(fast, safe))["rule"] == "the lowest risk of breaking any bound, then the fastest T95"


def test_one_plan_is_not_a_recommendation():
    assert recommended(outcome(plan("only", 0.0, 3600))) is None


def test_a_plan_label_is_written_as_in_the_scenario_without_defaults():
    scenario = load_scenario(ROOT / "scenarios" / "fleet-10k-500mb.yaml")
    assert plan_label(scenario.alternatives["naive_waves"]) == (
        "waves, waves [1%, 10%, 50%, 100%], bake 12h, abort {failure_type: ALL, threshold: 5%, min_executed: 20}")


def test_backticks_in_a_description_become_code_and_markup_stays_text():
    from fleetlab.report.html import inline_code

    shown = str(inline_code("use `kind: waves` <script>x</script> & `<b>`"))
    assert shown == "use <code>kind: waves</code> &lt;script&gt;x&lt;/script&gt; &amp; <code>&lt;b&gt;</code>"


def test_the_subject_names_each_candidate_once():
    """A suite where one scenario names no current model read 'Ship these candidates? 2.1, 2.1 over 2.0'."""
    def suite(*pairs: tuple[str, str]) -> SuiteResult:
        scenarios = [ScenarioOutcome(name=f"s{i}", file=f"s{i}.yaml", verdict="GO", candidate=candidate,
                                     current=current) for i, (candidate, current) in enumerate(pairs)]
        return SuiteResult(run_id="r", started="2026-12-05T00:00:00+00:00", mode="sim", seeds=1, verdict="GO",
                           scenarios=scenarios, git_sha="", packages={}, wall_seconds=0.0)

    assert subject(suite(("2.1", ""), ("2.1", "2.0"))) == "Ship candidate 2.1 over 2.0?"
    assert subject(suite(("2.1", ""))) == "Ship candidate 2.1?"
    assert subject(suite(("2.1", "2.0"), ("3.0", ""))) == "Ship these candidates? 2.1 over 2.0; 3.0"
    # the demo suite read "2.1, 4.3 over 4.2", as if both replaced 4.2
    assert subject(suite(("2.1", ""), ("4.3", "4.2"))) == "Ship these candidates? 4.3 over 4.2; 2.1"


def test_the_verdict_line_says_a_run_judged_at_a_risk_level_was_not_judged_on_every_seed():
    """`fleetlab run --max-risk 10%`: the rows said "risk ≤ 10% of 5 seeds" and the verdict line above them "judged
    on every seed"."""
    from fleetlab.report.decision import meaning_of

    result = SuiteResult(run_id="r", started="2026-12-05T00:00:00+00:00", mode="sim", seeds=5, verdict="GO",
                         scenarios=[outcome(plan("plan", 0.0, 3600))], git_sha="x", packages={}, wall_seconds=1.0)
    assert "(judged on every seed)" in meaning_of(result)
    at_risk = result.model_copy(update={"max_risk": 0.1})
    assert "(judged on a risk of at most 10% over 5 seeds)" in meaning_of(at_risk)
    assert "max_risk" not in result.model_dump(mode="json") and at_risk.model_dump(mode="json")["max_risk"] == 0.1


def test_a_recommended_plan_that_lint_flags_says_so_and_names_the_best_plan_without_a_finding():
    plans = (plan("fast", 0.0, 3600), plan("plan", 0.0, 7200), plan("slow", 0.0, 9000))
    warnings = ["fleet.install_windows: a window of 5 minutes",
                "alternatives.fast.bake: wave 2 (50%) is told at 1h 0m, before any camera can report",
                "alternatives.fast: a second finding", "alternatives.fastest.bake: another plan's"]
    chosen = recommended(outcome(*plans).model_copy(update={"plan_warnings": warnings}))
    assert chosen["name"] == "fast" and chosen["without_lint"] == "plan"
    assert chosen["lint"] == ("alternatives.fast.bake: wave 2 (50%) is told at 1h 0m, before any camera can report "
                              "(and 1 more)")
    also_own = warnings + ["strategy.bake: the scenario's own plan too"]
    assert recommended(outcome(*plans).model_copy(update={"plan_warnings": also_own}))["without_lint"] == "slow"
    clean = outcome(plan("fast", 0.0, 3600), plan("plan", 0.0, 7200))
    assert "lint" not in recommended(clean.model_copy(update={"plan_warnings": ["strategy.bake: the slower one"]}))

    # a plan with no finding that breaks a bound is no alternative (angle-regression-canary's random canary misses
    # the regression its halting canaries catch); within --max-risk it is
    flagged = ["strategy.detect_failure_rate: about 15 canaries a stratum"]
    halting = outcome(plan("plan", 0.0, None), plan("random_canary", 1.0, 3600)).model_copy(
        update={"plan_warnings": flagged})
    assert recommended(halting)["without_lint"] == ("none within the risk allowed (random_canary has none, but broke a "
                                                    "bound in 100% of its seeds)")
    risky = outcome(plan("plan", 0.0, 7200), plan("ok", 0.25, 3600)).model_copy(update={"plan_warnings": flagged})
    assert recommended(risky)["name"] == "plan" and recommended(risky)["without_lint"].startswith("none within")
    assert recommended(risky, max_risk=0.25)["name"] == "ok"            # then "ok", unflagged, is recommended
    everyone_flagged = flagged + ["alternatives.random_canary.bake: also"]
    assert recommended(halting.model_copy(update={"plan_warnings": everyone_flagged}))["without_lint"] == "none"


def test_of_two_plans_alike_in_risk_and_t95_the_one_lint_does_not_flag_is_recommended():
    """As the sweep's pick: a trap that makes a plan no faster is no reason to recommend it first."""
    alike = outcome(plan("flagged", 0.0, 3600), plan("clean", 0.0, 3600)).model_copy(
        update={"plan_warnings": ["alternatives.flagged.bake: told before any camera can report"]})
    chosen = recommended(alike)
    assert chosen["name"] == "clean" and "lint" not in chosen
    faster = outcome(plan("flagged", 0.0, 3000), plan("clean", 0.0, 3600)).model_copy(
        update={"plan_warnings": ["alternatives.flagged.bake: told before any camera can report"]})
    assert recommended(faster)["name"] == "flagged" and recommended(faster)["without_lint"] == "clean"


def test_a_go_at_a_risk_level_says_what_its_seeds_can_show_and_an_interrupted_sim_run_speaks_of_simulations():
    """`--max-risk 5%` on 20 seeds: "0 of 20 broke" passes, yet its Wilson interval reaches 16.1%, the figure the
    plans' risk cells show; the verdict line says so and how many seeds would show the limit. A stopped sim run was
    said to have put its rigs back."""
    from fleetlab.report.decision import meaning_of

    result = SuiteResult(run_id="r", started="2026-12-07T00:00:00+00:00", mode="sim", seeds=20, verdict="GO",
                         scenarios=[outcome(plan("plan", 0.0, 3600))], git_sha="x", packages={}, wall_seconds=1.0,
                         max_risk=0.05)
    assert meaning_of(result).endswith("(judged on a risk of at most 5% over 20 seeds). Rows marked EXPECTED FINDING "
                                       "are failures the scenario exists to show, caught as they should be. On 20 "
                                       "seeds, a bound none of them broke has a risk interval up to 16.1%; 73 seeds, "
                                       "none broken, bring it under 5% (--seeds).")
    assert "risk interval" not in meaning_of(result.model_copy(update={"seeds": 73}))
    assert "risk interval" not in meaning_of(result.model_copy(update={"max_risk": 0.0}))
    stopped = result.model_copy(update={"verdict": "INTERRUPTED"})
    assert meaning_of(stopped) == ("INTERRUPTED: the run was stopped before its end; the simulations under way were "
                                   "dropped.")
    assert meaning_of(stopped.model_copy(update={"mode": "hil"})).endswith("; the rigs were put back.")


def test_the_recommended_plans_t95_is_set_beside_the_runner_ups_on_the_same_seeds():
    """The plans' T95 intervals overlap across the seeds' spread of fleets; seed by seed (the same fleets for
    every plan) the difference is often clear. Said beside the recommendation, in each of its cases."""
    from fleetlab.suite_results import PairedLead

    def with_lead(row: PlanSummary, over: str, mean: float, low: float | None, high: float | None) -> PlanSummary:
        return row.model_copy(update={"t95_leads": {over: PairedLead(mean=mean, low=low, high=high)}})

    sooner = recommended(outcome(with_lead(plan("fast", 0.0, 3600), "slow", 1800, 1200, 2400),
                                 plan("slow", 0.0, 5400)))
    assert sooner["paired"] == ("On the same seeds its T95 comes sooner than slow's: +30m 0s a seed [+20m 0s, "
                                "+40m 0s] (95%, paired)")
    safer = recommended(outcome(with_lead(plan("safe", 0.0, 7200), "fast", -3600, -4000, -3200),
                                plan("fast", 0.25, 3600)))
    assert safer["paired"].startswith("On the same seeds its T95 comes later than fast's, the price of its lower "
                                      "risk: −1h 0m a seed [−1h 6m, −53m 20s]")
    unclear = recommended(outcome(with_lead(plan("a", 0.0, 3600), "b", 60, -30, 150), plan("b", 0.0, 3660)))
    assert unclear["paired"].startswith("On the same seeds its T95 is not clearly sooner than b's: +1m 0s a seed")
    # and what to do about it: t(m − 1) · 56.6 s / √m falls under the 60 s lead at m = 6 (the 4 seeds' spread, read
    # back from the interval's half width of 90 s)
    assert unclear["paired"].endswith("; about 6 seeds would tell them apart, were the lead and the seeds' spread to "
                                      "stay as measured (--seeds 6)")
    same = recommended(outcome(with_lead(plan("a", 0.0, 3600), "b", 0.0, 0.0, 0.0), plan("b", 0.0, 3600)))
    assert same["paired"] == "The same T95 as b on every seed"
    assert "paired" not in recommended(outcome(plan("a", 0.0, 3600), plan("b", 0.0, 3660)))   # unpaired
    # on one seed (`fleetlab run`'s default) the choice read as settled: "risk 0% over 1 seed"
    one_seed = [row.model_copy(update={"runs": 1}) for row in (plan("a", 0.0, 3600), plan("b", 0.0, 3660))]
    assert recommended(outcome(*one_seed))["paired"] == ("On one seed nothing yet separates it from b: more seeds "
                                                         "(--seeds) set them side by side, seed by seed")
