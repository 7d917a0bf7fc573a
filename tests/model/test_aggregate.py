"""Streaming summaries: exact while small, constant memory when large, and honest intervals."""

import statistics
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from sim.model.aggregate import EXACT_LIMIT, MetricSummary, P2Quantile, wilson_interval

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=200))
def test_small_samples_give_numpys_percentiles_and_the_sample_mean_and_deviation(values):
    summary = MetricSummary()
    for value in values:
        summary.add(value)
    found = summary.as_dict()
    assert found["quantiles"] == "exact"
    assert [found["p5"], found["p50"], found["p95"]] == pytest.approx(
        np.percentile(values, [5, 50, 95]).tolist(), rel=1e-9, abs=1e-6)
    assert found["mean"] == pytest.approx(statistics.fmean(values), rel=1e-9, abs=1e-6)
    assert found["std"] == pytest.approx(statistics.stdev(values), rel=1e-6, abs=1e-3)
    assert found["min"] == min(values) and found["max"] == max(values)


def test_missing_values_are_counted_apart():
    summary = MetricSummary()
    for value in (1.0, None, 3.0, None):
        summary.add(value)
    assert summary.as_dict()["n"] == 2 and summary.as_dict()["missing"] == 2
    assert summary.as_dict()["mean"] == 2.0


def test_beyond_the_exact_limit_the_p2_estimates_stay_close_to_the_true_percentiles():
    draws = np.random.default_rng(7).lognormal(mean=11.0, sigma=0.4, size=40_000)   # T95-like, in seconds
    summary = MetricSummary()
    for value in draws.tolist():
        summary.add(value)
    found = summary.as_dict()
    assert found["quantiles"] == "p2-estimate"
    for name, q in (("p5", 5), ("p50", 50), ("p95", 95)):
        assert found[name] == pytest.approx(np.percentile(draws, q), rel=0.02), name


def test_memory_does_not_grow_with_the_number_of_values():
    def peak_after(count: int) -> int:
        values = np.random.default_rng(1).normal(size=count).tolist()
        tracemalloc.start()
        summary = MetricSummary()
        for value in values[: EXACT_LIMIT + 1]:    # past the switch to the estimators
            summary.add(value)
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        for value in values[EXACT_LIMIT + 1:]:
            summary.add(value)
        grown = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.stop()
        return grown

    assert peak_after(5_000) < 4096 and peak_after(50_000) < 4096


def test_p2_seeded_from_sorted_values_starts_at_their_quantile():
    ordered = [float(value) for value in range(1, 1002)]
    assert P2Quantile.from_sorted(0.5, ordered).value == 501.0


@pytest.mark.parametrize("broken, runs", [(0, 10), (3, 40), (40, 40), (1, 200)])
def test_wilson_interval_matches_scipy(broken, runs):
    expected = binomtest(broken, runs).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(broken, runs) == pytest.approx((expected.low, expected.high), abs=1e-9)


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=40))
def test_the_interval_of_a_mean_is_cut_to_the_range_its_values_can_take(values):
    summary = MetricSummary()
    for value in values:
        summary.add(value)
    cut, plain = summary.as_dict(within=(0.0, 1.0)), summary.as_dict()
    assert 0.0 <= cut["ci_low"] <= cut["ci_high"] <= 1.0
    assert cut["ci_low"] == max(0.0, plain["ci_low"]) and cut["ci_high"] == min(1.0, plain["ci_high"])


def test_two_halted_seeds_of_three_gave_a_coverage_interval_past_100_percent_and_now_do_not():
    summary = MetricSummary()
    for coverage in (0.4976, 0.4982, 0.9954):      # what fleet-10k-500mb's naive_waves gave on seeds 1-3
        summary.add(coverage)
    assert summary.as_dict()["ci_high"] > 1.3
    assert summary.as_dict(within=(0.0, 1.0))["ci_high"] == 1.0
