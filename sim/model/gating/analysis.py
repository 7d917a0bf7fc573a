"""Metric analysis runs: measure a metric every `interval`, `count` times; too many failed measurements fail the
analysis, too many inconclusive ones (nobody online to measure) pause for a human."""

from __future__ import annotations

import operator
import re
import statistics
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, field_validator

from sim.model.strategy import Samples, StrategyParams
from sim.model.unit_fields import PlanInterval

Status = Literal["running", "successful", "failed", "inconclusive"]
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class MetricAnalysis(StrategyParams):
    metric: Literal["fps", "latency_ms", "temperature", "detection_rate", "agreement"] = Field(
        description="what the canary devices report: its median is held to `success`")
    success: str = Field(description="condition on the canary median, e.g. '>= 15' or '< 80'")
    interval: PlanInterval = Field(default=900.0, description="time between measurements")
    count: Annotated[int, Field(ge=1)] = Field(default=4, description="measurements that make a successful analysis")
    failure_limit: Annotated[int, Field(ge=0)] = Field(
        default=0, description="failed measurements tolerated; one more fails the analysis")
    inconclusive_limit: Annotated[int, Field(ge=0)] = Field(
        default=1, description="measurements without enough samples tolerated; one more pauses for a human")
    min_samples: Annotated[int, Field(ge=1)] = Field(default=3, description="canary samples a measurement needs")

    @field_validator("success")
    @classmethod
    def _condition(cls, text: str) -> str:
        if not re.fullmatch(r"\s*(<=|>=|<|>)\s*-?\d+(\.\d+)?\s*", text):
            raise ValueError(f"expected a condition such as '>= 15', got {text!r}")
        return text.strip()

    def holds(self, value: float) -> bool:
        match = re.fullmatch(r"(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)", self.success)
        assert match is not None
        return bool(_OPS[match.group(1)](value, float(match.group(2))))


@dataclass
class AnalysisRun:
    """The state of one analysis run; feed it one measurement per interval."""

    spec: MetricAnalysis
    failures: int = 0
    inconclusive: int = 0
    measured: list[float | None] = field(default_factory=list)

    def record(self, samples: Samples | None) -> Status:
        values = samples.canary if samples else ()
        if len(values) < self.spec.min_samples:
            self.measured.append(None)
            self.inconclusive += 1
        else:
            value = statistics.median(values)
            self.measured.append(value)
            self.failures += not self.spec.holds(value)
        return self.status

    @property
    def status(self) -> Status:
        if self.failures > self.spec.failure_limit:
            return "failed"
        if self.inconclusive > self.spec.inconclusive_limit:
            return "inconclusive"
        return "successful" if len(self.measured) >= self.spec.count else "running"
