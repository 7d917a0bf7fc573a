"""The latency step's stability limit: a noisy run fails with the figure when a limit is set, and a scenario that
sets `max_cv: null` still measures and reports the noise without failing on it (the fault matrix's busy rigs)."""
from hil.steps import latency_problems, robust_cv
from sim.load import load_scenario_text
from sim.model.hil_results import LatencySummary
from tests.hil.conftest import quick_hil_text


def _summary(cv: float, stable: bool) -> LatencySummary:
    return LatencySummary(source="exportTimes", iterations=40, mean=4.0, p50=3.6, p99=18.5, cv=cv, stable=stable)


def test_a_noisy_run_over_the_limit_is_unstable_and_says_by_how_much():
    problems = latency_problems(_summary(1.053, stable=False), None, None, max_cv=0.5)
    assert problems == ["unstable: coefficient of variation 105.3% above 50%"]


def test_without_a_limit_the_same_run_is_reported_not_failed():
    assert latency_problems(_summary(1.053, stable=True), None, None, max_cv=None) == []


def test_robust_cv_ignores_a_few_slow_iterations_that_p99_reports():
    steady = [4.0, 4.1, 3.9, 4.0, 4.05, 3.95] * 10
    assert robust_cv(steady + [40.0, 55.0]) < 0.05
    assert robust_cv([1.0, 4.0, 9.0, 2.0, 7.0, 3.0]) > 0.5


def test_the_scenario_accepts_null_and_keeps_the_default_otherwise():
    assert load_scenario_text(quick_hil_text()).hil.max_cv is None
    assert load_scenario_text(quick_hil_text().replace("max_cv: null", "max_cv: 40%")).hil.max_cv == 0.4
