"""sim.model.stats: the seeds a paired difference would need before its interval leaves zero."""

from __future__ import annotations

import random
import statistics

import pytest

from sim.model.stats import mean_interval, seeds_to_exclude_zero, summarize


@pytest.mark.parametrize("true_mean, spread, seeds", [(60.0, 100.0, 4), (0.3, 3.0, 10), (-1.0, 8.0, 6)])
def test_the_seeds_named_are_the_fewest_whose_interval_leaves_zero(true_mean, spread, seeds):
    """At the measured mean and spread, the number given puts the 95% interval clear of zero, and one fewer does
    not (a number too low sends the user back for another run, too high spends runs for nothing)."""
    draws = random.Random(7)
    values = [draws.gauss(true_mean, spread) for _ in range(seeds)]
    measured = summarize(values)
    assert measured.low is not None and measured.high is not None and measured.mean is not None
    assert measured.low < 0 < measured.high, "the case must start undecided"
    needed = seeds_to_exclude_zero(measured.mean, measured.low, measured.high, seeds)
    assert needed is not None and needed > seeds
    std = statistics.stdev(values)
    low, high = mean_interval(needed, measured.mean, std)
    assert low is not None and high is not None and (low > 0 or high < 0)
    low, high = mean_interval(needed - 1, measured.mean, std)
    assert low is not None and high is not None and low <= 0 <= high


def test_no_number_of_seeds_where_there_is_nothing_to_tell():
    assert seeds_to_exclude_zero(0.0, -1.0, 1.0, 10) is None            # no lead at all
    assert seeds_to_exclude_zero(1.0, 1.0, 1.0, 10) is None             # no spread to read
    assert seeds_to_exclude_zero(1.0, -5.0, 7.0, 1) is None             # one seed has no interval
    assert seeds_to_exclude_zero(1e-6, -100.0, 100.0, 10, most=1000) is None    # beyond what is worth running
