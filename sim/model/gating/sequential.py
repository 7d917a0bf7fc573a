"""A sequential probability ratio test (Wald) on per-device failures, robust to devices that have not reported.

H0: the failure rate is `acceptable`; H1: it is `unacceptable`. With s failures and f successes reported and
`pending` devices released but silent, the test halts only if the evidence for H1 holds even when every pending
device turns out fine, and promotes only if the evidence for H0 holds even when every pending device fails. Fast
failures that report before slow successes (a failed storage check reports in minutes, a commit waits for the
night's install window) therefore cannot trigger a halt on their own.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from sim.model.strategy import StrategyParams
from sim.model.unit_fields import Fraction

Decision = Literal["halt", "promote", "continue"]


class SequentialTest(StrategyParams):
    acceptable: Fraction = Field(default=0.01, description="a failure rate that is fine")
    unacceptable: Fraction = Field(default=0.05, description="a failure rate that must halt")
    alpha: Fraction = Field(default=0.05, description="chance of halting a good candidate")
    beta: Fraction = Field(default=0.05, description="chance of promoting a bad one")

    @model_validator(mode="after")
    def _ordered(self) -> "SequentialTest":
        if not 0 < self.acceptable < self.unacceptable < 1:
            raise ValueError("need 0 < acceptable < unacceptable < 1")
        if not (0 < self.alpha and 0 < self.beta and self.alpha + self.beta < 1):   # Wald's bounds: log(0) else
            raise ValueError("need alpha and beta above 0 and alpha + beta below 100%")
        return self

    def log_likelihood_ratio(self, failures: int, successes: int) -> float:
        p0, p1 = self.acceptable, self.unacceptable
        return failures * math.log(p1 / p0) + successes * math.log((1 - p1) / (1 - p0))

    def decide(self, failures: int, successes: int, pending: int) -> Decision:
        upper = math.log((1 - self.beta) / self.alpha)
        lower = math.log(self.beta / (1 - self.alpha))
        if self.log_likelihood_ratio(failures, successes + pending) >= upper:
            return "halt"
        if self.log_likelihood_ratio(failures + pending, successes) <= lower:
            return "promote"
        return "continue"
