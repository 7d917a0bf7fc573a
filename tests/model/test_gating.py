"""The gate library: statistics checked against scipy and closed forms, decisions stepped by hand."""

import math
import random
from types import MappingProxyType

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.load import load_scenario_text
from sim.model.gating.analysis import AnalysisRun, MetricAnalysis
from sim.model.gating.judge import CanaryJudge, MetricRule, hodges_lehmann, judge, mann_whitney_u
from sim.model.gating.sequential import SequentialTest
from sim.model.gating.threshold import GroupRollbackPolicy, ThresholdAbort
from sim.model.lifecycle import DeviceState as S
from sim.model.strategies.canary import detection_size
from sim.model.strategies.groups import GroupsParams
from sim.model.strategy import FleetView, Halt, Observation, Samples, Soak, Tally, Update, start
from sim.run import simulate
from tests.conftest import ROOT

values = st.lists(st.integers(0, 30).map(lambda v: v / 2), min_size=3, max_size=60)


@settings(max_examples=200, deadline=None)
@given(values, values)
def test_mann_whitney_agrees_with_scipy_on_the_same_samples(canary, control):
    if len(set(canary + control)) == 1:
        return   # every value tied: scipy divides by zero, we answer p = 1
    ours = mann_whitney_u(canary, control)
    theirs = scipy.stats.mannwhitneyu(canary, control, alternative="two-sided", method="asymptotic")
    assert ours[0] == pytest.approx(theirs.statistic)
    assert ours[1] == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-12)


def test_hodges_lehmann_finds_a_known_shift():
    rng = np.random.default_rng(3)
    control = rng.normal(10, 1, 200)
    shift, low, high = hodges_lehmann(control + 2.0, control, 0.95)
    assert shift == pytest.approx(2.0, abs=0.01) and low <= 2.0 <= high


@pytest.mark.parametrize("p, confidence", [(0.01, 0.63), (0.01, 0.95), (0.05, 0.95), (0.001, 0.99)])
def test_the_canary_size_matches_one_minus_one_minus_p_to_the_n(p, confidence):
    n = detection_size(p, confidence)
    assert 1 - (1 - p) ** n >= confidence > 1 - (1 - p) ** (n - 1)


def test_rollout_facts_numbers_for_canary_power():
    assert 1 - (1 - 0.01) ** 100 == pytest.approx(0.634, abs=0.001)   # n = 100 catches 1% only 63% of the time
    assert detection_size(0.01, 0.95) == 299


def test_a_canary_sized_for_an_impossible_rate_or_certainty_is_refused_where_it_is_written():
    """These reached math.log(0) or a division by zero at the plan's first step."""
    from pydantic import ValidationError

    from sim.model.strategies.canary import CanaryParams

    assert detection_size(1.0, 0.95) == 1                # every device fails: one sees it
    for changes, says in (({"detect_failure_rate": "0%"}, "more than 0%"),
                          ({"confidence": "100%"}, "less than 100%")):
        with pytest.raises(ValidationError, match=says):
            CanaryParams.model_validate(changes)
    for alpha, beta in ((0.0, 0.05), (0.05, 0.0), (1.0, 0.05), (0.5, 0.5)):
        with pytest.raises(ValidationError, match="alpha and beta above 0 and alpha \\+ beta below 100%"):
            SequentialTest(alpha=alpha, beta=beta)


def samples(canary, control):
    return {"detection_rate": Samples(tuple(canary), tuple(control))}


def test_the_judge_fails_a_critical_metric_that_drops_beyond_the_band():
    rng = np.random.default_rng(1)
    control = rng.normal(0.90, 0.01, 100)
    judgment = judge(samples(control[:40] * 0.85, control), CanaryJudge())
    [detection] = [m for m in judgment.metrics if m.metric == "detection_rate"]
    assert detection.classification == "Low" and detection.failed
    assert judgment.score == 0 and judgment.outcome == "fail"


def test_the_judge_passes_a_shift_inside_the_tolerance_band():
    rng = np.random.default_rng(2)
    control = rng.normal(0.90, 0.01, 100)
    judgment = judge(samples(control[:40] * 0.99, control), CanaryJudge())
    assert judgment.outcome == "pass" and judgment.score == 100


def test_a_metric_moving_the_harmless_way_does_not_fail():
    config = CanaryJudge(metrics={"fps": MetricRule(fails_when="Low")})
    rng = np.random.default_rng(4)
    control = rng.normal(30, 1, 100)
    judgment = judge({"fps": Samples(tuple(control[:50] * 1.5), tuple(control))}, config)
    assert judgment.metrics[0].classification == "High" and judgment.outcome == "pass"


def test_no_samples_means_no_verdict():
    assert judge({}, CanaryJudge()).outcome == "nodata"


def test_the_sequential_test_is_not_fooled_by_fast_failures_while_successes_are_pending():
    test = SequentialTest(acceptable=0.01, unacceptable=0.05)
    assert test.decide(failures=18, successes=336, pending=4500) == "continue"
    assert test.decide(failures=18, successes=336, pending=0) == "halt"
    assert test.decide(failures=0, successes=400, pending=0) == "promote"
    assert test.decide(failures=0, successes=400, pending=400) == "continue"


def test_the_sequential_boundaries_are_walds():
    test = SequentialTest(acceptable=0.01, unacceptable=0.05, alpha=0.05, beta=0.05)
    assert test.log_likelihood_ratio(1, 0) == pytest.approx(math.log(5))
    assert test.log_likelihood_ratio(0, 1) == pytest.approx(math.log(0.95 / 0.99))


def test_threshold_abort_waits_for_enough_outcomes_and_counts_its_failure_type():
    rule = ThresholdAbort(failure_type="ROLLED_BACK", threshold=0.2, min_executed=5)
    assert not rule.breached(Tally(committed=0, rolled_back=4))
    assert rule.breached(Tally(committed=4, rolled_back=1))
    assert not rule.breached(Tally(committed=4, failed=5))


def test_a_zero_threshold_means_any_failure_not_a_halt_of_a_healthy_rollout():
    """`abort: {threshold: 0%}` (zero tolerance) halted tiny's healthy rollout at 7h 30m: "failure rate 0.0% over 12
    devices", since 0 of 12 is at least 0%. It trips on the first failure now, and never without one."""
    rule = ThresholdAbort(threshold=0.0, min_executed=4)
    assert not rule.breached(Tally(committed=12))
    assert rule.breached(Tally(committed=11, failed=1))
    assert not rule.breached(Tally(committed=2, failed=1))        # min_executed still waits
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    assert "abort: {threshold: 20%, min_executed: 4}" in text
    healthy = simulate(load_scenario_text(text.replace("threshold: 20%", "threshold: 0%")))
    assert not healthy.halted and healthy.outcomes.get(S.FAILED, 0) == 0


def test_a_groups_error_threshold_of_zero_pauses_on_a_failure_only():
    """hawkBit's error condition at 0%: the groups plan paused its first group at the first look, "0 of N"."""


    fleet = FleetView(20, tuple(("orin", "gym", "overhead") for _ in range(20)), random.Random(0),
                      sites=tuple(range(20)), artifact_bytes=1e8, egress_price_per_byte=0.0)
    rollout = start(GroupsParams(groups=2, error_threshold=0.0, success_threshold=0.5), fleet)
    group = next(rollout)
    assert isinstance(group, Update) and isinstance(rollout.send(None), Soak)
    quiet = Observation(time=900, released=10, in_progress=10, outcomes=MappingProxyType({}))
    assert isinstance(rollout.send(quiet), Soak)                   # nothing failed: it looks again
    failing = Observation(time=1800, released=10, failed=1, in_progress=9,
                          outcomes=MappingProxyType({group.devices[0]: S.FAILED}))
    halt = rollout.send(failing)
    assert isinstance(halt, Halt) and "1 of 10" in halt.reason


def test_group_rollback_needs_both_the_share_and_the_count():
    policy = GroupRollbackPolicy(failed_share=0.1, failed_count=3)
    assert not policy.triggered(Tally(committed=8, failed=2))
    assert policy.triggered(Tally(committed=17, failed=3))


def test_an_analysis_run_fails_after_its_failure_limit_and_pauses_when_nobody_reports():
    spec = MetricAnalysis(metric="fps", success=">= 15", count=3, failure_limit=1, inconclusive_limit=0)
    run = AnalysisRun(spec)
    good, bad = Samples((20.0,) * 5, ()), Samples((10.0,) * 5, ())
    assert run.record(good) == "running"
    assert run.record(bad) == "running"
    assert run.record(bad) == "failed"
    quiet = AnalysisRun(spec)
    assert quiet.record(Samples((), ())) == "inconclusive"
    assert AnalysisRun(spec).record(good) == "running"


def test_every_plan_reads_one_abort_rule_and_the_older_failure_rate_spelling_still_works():
    from sim.model.strategies.waves import WavesParams

    old = WavesParams(kind="waves", waves=[0.5, 1.0], abort={"failure_rate": 0.05, "min_executed": 20})
    new = WavesParams(kind="waves", waves=[0.5, 1.0], abort={"threshold": 0.05, "min_executed": 20})
    assert old == new and isinstance(new.abort, ThresholdAbort) and new.abort.threshold == 0.05
