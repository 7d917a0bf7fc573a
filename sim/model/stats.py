"""Summaries over seeds: mean with a Student-t confidence interval, and percentiles."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from statistics import NormalDist

# two-sided 95% Student-t quantiles by degrees of freedom; beyond 30 the normal quantile is close enough
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045, 30: 2.042}


@dataclass(frozen=True)
class Summary:
    n: int
    missing: int          # runs where the value was never reached (a T95 that did not happen)
    mean: float | None
    low: float | None     # 95% confidence interval of the mean
    high: float | None


def summarize(values: list[float | None], within: tuple[float, float] = (-math.inf, math.inf)) -> Summary:
    """Mean and its 95% interval, the interval cut to `within`: the range the values can take."""
    present = [value for value in values if value is not None]
    missing = len(values) - len(present)
    if not present:
        return Summary(len(values), missing, None, None, None)
    mean = statistics.fmean(present)
    if len(present) == 1:
        return Summary(len(values), missing, mean, None, None)
    low, high = mean_interval(len(present), mean, statistics.stdev(present), within)
    return Summary(len(values), missing, mean, low, high)


def paired_difference(mine: list[float | None], theirs: list[float | None]) -> Summary | None:
    """The mean difference between two plans' values seed by seed, with its 95% interval: both ran the same seeds
    (the same fleets, outages and luck), so what the seeds share cancels. None where the lists do not pair up (not
    the same length, empty, or a value missing on either side: a T95 never reached)."""
    if not mine or len(mine) != len(theirs):
        return None
    differences: list[float | None] = []
    for a, b in zip(mine, theirs):
        if a is None or b is None:
            return None
        differences.append(a - b)
    return summarize(differences)


def _t95(degrees: int) -> float:
    return _T95.get(degrees, NormalDist().inv_cdf(0.975))


def seeds_to_exclude_zero(mean: float, low: float, high: float, n: int, most: int = 100_000) -> int | None:
    """How many seeds would put a mean's 95% interval [low, high] over n seeds clear of zero, were the mean and the
    spread of the seeds to stay as measured: the smallest m with t(m − 1) · s / √m < |mean|, s read back from the
    interval's half width. None where no number of seeds would (a mean of 0, no spread to read, or more than
    `most`). An estimate to plan the next run with, not a promise: the next seeds move the mean too."""
    if n < 2 or mean == 0 or high <= low:
        return None
    spread = (high - low) / 2 * math.sqrt(n) / _t95(n - 1)
    # t(m − 1) ≥ z, so m ≥ (z · s / |mean|)²: start there, and walk up while the t quantile is still above z
    seeds = max(2, math.ceil((NormalDist().inv_cdf(0.975) * spread / abs(mean)) ** 2))
    while seeds <= most:
        if _t95(seeds - 1) * spread / math.sqrt(seeds) < abs(mean):
            return seeds
        seeds += 1
    return None


def mean_interval(n: int, mean: float, std: float,
                  within: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float | None, float | None]:
    """95% Student-t confidence interval of a mean from n values with sample standard deviation std, cut to
    `within` (the range the values can take, sim.model.gates.possible_range): a mean cannot leave it."""
    if n < 2:
        return None, None
    half = _t95(n - 1) * std / math.sqrt(n)
    return max(within[0], mean - half), min(within[1], mean + half)
