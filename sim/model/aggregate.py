"""Streaming summaries of many runs: memory stays constant however many runs a sweep has.

- mean, standard deviation and a 95% confidence interval of the mean: Welford's update;
- p5 / p50 / p95: exact while a point has at most `EXACT_LIMIT` runs, then the P² estimator (Jain & Chlamtac, 1985),
  five markers per quantile, seeded from the exact values it held so far;
- the probability that a bound breaks: a count, with a Wilson score interval.

Results depend on the order values arrive in (floating point sums do), so the sweep feeds them in task order
whatever executor ran the tasks: a sweep gives the same aggregates serially, on a process pool and on Dask.
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass, field

from sim.model.stats import mean_interval

EXACT_LIMIT = 1000
QUANTILES = (0.05, 0.50, 0.95)
_Z95 = 1.959963984540054


def exact_quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default 'linear' method)."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass
class P2Quantile:
    """One quantile estimated from five markers, O(1) memory (Jain & Chlamtac's P² algorithm)."""
    q: float
    heights: list[float]
    positions: list[float]
    desired: list[float]

    @classmethod
    def from_sorted(cls, q: float, ordered: list[float]) -> P2Quantile:
        n = len(ordered)
        desired = [1.0, 1 + (n - 1) * q / 2, 1 + (n - 1) * q, 1 + (n - 1) * (1 + q) / 2, float(n)]
        positions = [float(round(d)) for d in desired]
        positions[0], positions[-1] = 1.0, float(n)
        for i in range(1, 4):   # markers must sit on distinct, increasing ranks
            positions[i] = min(max(positions[i], positions[i - 1] + 1), n - (4 - i))
        heights = [ordered[int(p) - 1] for p in positions]
        return cls(q, heights, positions, desired)

    def add(self, x: float) -> None:
        h, n = self.heights, self.positions
        if x < h[0]:
            h[0], k = x, 0
        elif x >= h[4]:
            h[4], k = x, 3
        else:
            k = next(i for i in range(4) if h[i] <= x < h[i + 1])
        for i in range(k + 1, 5):
            n[i] += 1
        increments = (0.0, self.q / 2, self.q, (1 + self.q) / 2, 1.0)
        self.desired = [d + inc for d, inc in zip(self.desired, increments)]
        for i in range(1, 4):
            self._adjust(i)

    def _adjust(self, i: int) -> None:
        h, n = self.heights, self.positions
        d = self.desired[i] - n[i]
        if (d >= 1 and n[i + 1] - n[i] > 1) or (d <= -1 and n[i - 1] - n[i] < -1):
            step = 1.0 if d > 0 else -1.0
            candidate = h[i] + step / (n[i + 1] - n[i - 1]) * (
                (n[i] - n[i - 1] + step) * (h[i + 1] - h[i]) / (n[i + 1] - n[i])
                + (n[i + 1] - n[i] - step) * (h[i] - h[i - 1]) / (n[i] - n[i - 1]))
            if not h[i - 1] < candidate < h[i + 1]:   # parabolic step overshoots: fall back to linear
                j = i + int(step)
                candidate = h[i] + step * (h[j] - h[i]) / (n[j] - n[i])
            h[i] = candidate
            n[i] += step

    @property
    def value(self) -> float:
        return self.heights[2]


@dataclass
class MetricSummary:
    """Everything a sweep reports about one metric at one grid point."""
    n: int = 0
    missing: int = 0            # runs where the metric was never reached (a T95 that did not happen)
    mean: float = 0.0
    _m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    _exact: list[float] | None = field(default_factory=list)
    _estimators: list[P2Quantile] = field(default_factory=list)

    def add(self, value: float | None) -> None:
        if value is None:
            self.missing += 1
            return
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (value - self.mean)
        self.low, self.high = min(self.low, value), max(self.high, value)
        if self._exact is not None:
            insort(self._exact, value)
            if len(self._exact) > EXACT_LIMIT:
                self._estimators = [P2Quantile.from_sorted(q, self._exact) for q in QUANTILES]
                self._exact = None
        else:
            for estimator in self._estimators:
                estimator.add(value)

    def quantiles(self) -> list[float | None]:
        if self.n == 0:
            return [None for _ in QUANTILES]
        if self._exact is not None:
            return [exact_quantile(self._exact, q) for q in QUANTILES]
        return [estimator.value for estimator in self._estimators]

    def as_dict(self, within: tuple[float, float] = (-math.inf, math.inf)) -> dict[str, object]:
        """`within`: the range the metric's values can take, which its mean's interval is cut to."""
        if self.n == 0:
            return {"n": 0, "missing": self.missing}
        std = math.sqrt(self._m2 / (self.n - 1)) if self.n > 1 else 0.0
        ci_low, ci_high = mean_interval(self.n, self.mean, std, within)
        p5, p50, p95 = self.quantiles()
        return {"n": self.n, "missing": self.missing, "mean": self.mean, "std": std, "ci_low": ci_low,
                "ci_high": ci_high, "min": self.low, "max": self.high, "p5": p5, "p50": p50, "p95": p95,
                "quantiles": "exact" if self._exact is not None else "p2-estimate"}


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion: sensible at 0 of n and n of n, unlike the normal approximation."""
    if trials == 0:
        return 0.0, 1.0
    p, z2 = successes / trials, _Z95 * _Z95
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = _Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


MOST_RUNS = 10**9           # where the search for the runs a risk needs gives up (a risk under about 4e-9)


def seeds_for_risk(max_risk: float) -> int | None:
    """The fewest runs, none broken, whose 95% Wilson interval ends at or under `max_risk` (None for a risk of 0,
    which no number of runs shows)."""
    if max_risk <= 0:
        return None
    low, high = 1, MOST_RUNS
    if wilson_interval(0, high)[1] > max_risk:
        return None
    while low < high:       # the upper end falls as the runs grow: the first n under the risk
        middle = (low + high) // 2
        if wilson_interval(0, middle)[1] <= max_risk:
            high = middle
        else:
            low = middle + 1
    return low


@dataclass
class BoundRisk:
    """How often one `expect:` bound broke across the runs of a grid point."""
    bound: str
    runs: int = 0
    broken: int = 0

    def add(self, passed: bool) -> None:
        self.runs += 1
        self.broken += not passed

    @property
    def probability(self) -> float:
        return self.broken / self.runs if self.runs else 0.0

    def as_dict(self) -> dict[str, object]:
        low, high = wilson_interval(self.broken, self.runs)
        return {"bound": self.bound, "runs": self.runs, "broken": self.broken, "probability": self.probability,
                "ci_low": low, "ci_high": high}
