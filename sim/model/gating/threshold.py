"""Count-based gates: stop when enough of the devices that reported have failed."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field

from sim.model.strategy import StrategyParams, Tally
from sim.model.unit_fields import Fraction

FailureType = Literal["FAILED", "ROLLED_BACK", "BRICKED", "ALL"]


def bad_count(tally: Tally, failure_type: FailureType) -> int:
    return {"FAILED": tally.failed, "ROLLED_BACK": tally.rolled_back, "BRICKED": tally.bricked,
            "ALL": tally.bad}[failure_type]


class ThresholdAbort(StrategyParams):
    """Abort once `threshold` of at least `min_executed` known outcomes are failures of `failure_type`. Every plan's
    `abort:` is this one rule; `failure_rate` is its older spelling (waves), still read."""

    failure_type: FailureType = Field(
        default="ALL", description="which failures count: FAILED, ROLLED_BACK, BRICKED or ALL")
    threshold: Fraction = Field(validation_alias=AliasChoices("threshold", "failure_rate"),
                                description="share of known outcomes that fail (also read as failure_rate; 0%: any "
                                            "failure)")
    min_executed: Annotated[int, Field(ge=1)] = Field(
        default=10, description="known outcomes needed before the rule can trip")

    def breached(self, tally: Tally) -> bool:
        if tally.executed < self.min_executed:
            return False
        bad = bad_count(tally, self.failure_type)
        # a failure at least: `threshold: 0%` means "any failure" (it once halted a rollout that had none)
        return bad > 0 and bad / tally.executed >= self.threshold

    def describe(self, tally: Tally) -> str:
        bad = bad_count(tally, self.failure_type)
        return f"{bad} of {tally.executed} reported devices failed ({bad / max(tally.executed, 1):.1%})"


class GroupRollbackPolicy(StrategyParams):
    """Roll the whole group back when both the failed share and the failed count are reached."""

    failed_share: Fraction = Field(description="share of the group's known outcomes that failed")
    failed_count: Annotated[int, Field(ge=1)] = Field(default=1, description="failures the group needs as well")

    def triggered(self, tally: Tally) -> bool:
        return tally.executed > 0 and tally.bad >= self.failed_count and tally.bad / tally.executed >= self.failed_share
