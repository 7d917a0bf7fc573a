"""The canary judge: canary devices against control devices, metric by metric (the Kayenta method).

For each metric: drop outliers (beyond 3 IQR), run a two-sided Mann-Whitney U test; if the difference is
significant at the configured confidence, estimate the shift (Hodges-Lehmann) with its distribution-free confidence
interval, and call the metric High or Low when that interval lies wholly outside a tolerance band around zero
(a share of the control median). Otherwise it passes. Score = weighted share of passing metrics × 100; a critical
metric that fails makes the score 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from sim.model.strategy import Samples, StrategyParams
from sim.model.unit_fields import Confidence, Fraction

Classification = Literal["Pass", "High", "Low", "NoData"]
MAX_PAIRWISE = 400   # samples per side used for the shift interval (pairwise differences grow as n·m)


Values = Sequence[float] | np.ndarray
MetricName = Literal["fps", "latency_ms", "temperature", "detection_rate", "agreement"]


def mann_whitney_u(canary: Values, control: Values) -> tuple[float, float]:
    """(U of `canary`, two-sided p-value), normal approximation with tie correction and continuity correction.

    Matches scipy.stats.mannwhitneyu(canary, control, alternative='two-sided', method='asymptotic').
    """
    x, y = np.asarray(canary, dtype=float), np.asarray(control, dtype=float)
    n1, n2 = len(x), len(y)
    both = np.concatenate([x, y])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(len(both))
    sorted_values = both[order]
    start = 0
    ties = 0.0
    while start < len(both):           # average ranks over runs of equal values
        end = start
        while end + 1 < len(both) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
        size = end - start + 1
        ties += size ** 3 - size
        start = end + 1
    u1 = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    mean = n1 * n2 / 2.0
    n = n1 + n2
    variance = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return u1, 1.0
    z = (abs(u1 - mean) - 0.5) / math.sqrt(variance)
    return u1, min(1.0, 2.0 * (1.0 - NormalDist().cdf(max(z, 0.0))))


def hodges_lehmann(canary: Values, control: Values, confidence: float) -> tuple[float, float, float]:
    """(shift estimate, low, high): the median of pairwise differences canary − control and its confidence interval."""
    x = np.asarray(canary, dtype=float)[:MAX_PAIRWISE]
    y = np.asarray(control, dtype=float)[:MAX_PAIRWISE]
    differences = np.sort((x[:, None] - y[None, :]).ravel())
    n1, n2 = len(x), len(y)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    k = int(math.floor(n1 * n2 / 2.0 - z * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12.0)))
    k = min(max(k, 0), len(differences) - 1)
    return float(np.median(differences)), float(differences[k]), float(differences[len(differences) - 1 - k])


def without_outliers(values: Sequence[float]) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    if len(data) < 4:
        return data
    low, high = np.percentile(data, [25, 75])
    spread = 3.0 * (high - low)
    kept: np.ndarray = data[(data >= low - spread) & (data <= high + spread)]
    return kept


class MetricRule(StrategyParams):
    weight: Annotated[float, Field(gt=0)] = Field(default=1.0, description="this metric's weight in the score")
    critical: bool = Field(default=False, description="a failure of this metric makes the score 0")
    fails_when: Literal["High", "Low", "either"] = Field(
        default="either", description="which direction of change fails: High, Low or either")
    tolerance: Fraction = Field(default=0.25, description="shift tolerated, as a share of the control median")


def _default_rules() -> dict[MetricName, MetricRule]:
    return {"fps": MetricRule(fails_when="Low", critical=True, tolerance=0.10),
            "latency_ms": MetricRule(fails_when="High"),
            "temperature": MetricRule(fails_when="High", tolerance=0.10),
            "detection_rate": MetricRule(fails_when="Low", critical=True, tolerance=0.05)}


class CanaryJudge(StrategyParams):
    metrics: dict[MetricName, MetricRule] = Field(default_factory=_default_rules,

        description="metric → its rule; defaults judge fps, latency, temperature and detection rate")
    confidence: Confidence = Field(
        default=0.98, description="confidence of the Mann-Whitney test and the shift interval")
    pass_score: Annotated[float, Field(ge=0, le=100)] = Field(
        default=90.0, description="score at or above which the canary passes")
    marginal_score: Annotated[float, Field(ge=0, le=100)] = Field(
        default=75.0, description="score at or above which it is marginal (below: fails)")
    min_samples: Annotated[int, Field(ge=2)] = Field(
        default=10, description="samples each side needs before a metric is judged")


@dataclass(frozen=True)
class MetricVerdict:
    metric: str
    classification: Classification
    p_value: float
    shift: float
    failed: bool


@dataclass(frozen=True)
class Judgment:
    score: float
    outcome: Literal["pass", "marginal", "fail", "nodata"]
    metrics: tuple[MetricVerdict, ...]

    def describe(self) -> str:
        failing = [f"{verdict.metric} {verdict.classification}" for verdict in self.metrics if verdict.failed]
        return f"canary score {self.score:.0f} ({self.outcome})" + (f": {', '.join(failing)}" if failing else "")


def classify(canary: Sequence[float], control: Sequence[float], rule: MetricRule,
             confidence: float, min_samples: int) -> MetricVerdict | None:
    x, y = without_outliers(canary), without_outliers(control)
    if len(x) < min_samples or len(y) < min_samples:
        return None
    _, p_value = mann_whitney_u(x, y)
    shift, low, high = hodges_lehmann(x, y, confidence)
    band = rule.tolerance * abs(float(np.median(y)))
    classification: Classification = "Pass"
    if p_value < 1.0 - confidence:
        if low > band:
            classification = "High"
        elif high < -band:
            classification = "Low"
    failed = classification != "Pass" and rule.fails_when in (classification, "either")
    return MetricVerdict("", classification, p_value, shift, failed)


def judge(samples: Mapping[str, Samples], config: CanaryJudge) -> Judgment:
    verdicts, weight_total, weight_pass, critical_failed = [], 0.0, 0.0, False
    for metric, rule in config.metrics.items():
        sample = samples.get(metric)
        verdict = classify(sample.canary, sample.control, rule, config.confidence, config.min_samples) \
            if sample else None
        if verdict is None:
            verdicts.append(MetricVerdict(metric, "NoData", 1.0, 0.0, False))
            continue
        verdicts.append(MetricVerdict(metric, verdict.classification, verdict.p_value, verdict.shift, verdict.failed))
        weight_total += rule.weight
        weight_pass += 0.0 if verdict.failed else rule.weight
        critical_failed |= verdict.failed and rule.critical
    if weight_total == 0:
        return Judgment(0.0, "nodata", tuple(verdicts))
    score = 0.0 if critical_failed else 100.0 * weight_pass / weight_total
    outcome: Literal["pass", "marginal", "fail"] = "pass" if score >= config.pass_score else \
        "marginal" if score >= config.marginal_score else "fail"
    return Judgment(score, outcome, tuple(verdicts))
