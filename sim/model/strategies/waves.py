"""Cumulative waves with a bake time between them and an abort rule checked while baking.

    waves: [1%, 10%, 50%, 100%]   bake: 12h   abort: {threshold: 5%, min_executed: 20}

Each wave tells the next slice of a shuffled fleet; during the bake the strategy looks every `check_every`
and halts (optionally rolling back what it released) once the reported failure rate reaches the threshold with
at least `min_executed` outcomes known.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from sim.model.gating.sequential import SequentialTest
from sim.model.gating.threshold import ThresholdAbort
from sim.model.strategies.common import cumulative_counts, soak_watching
from sim.model.strategy import FleetView, Halt, Observation, Rollback, Rollout, StrategyParams, Update, register
from sim.model.unit_fields import Duration, Fraction, PlanInterval


class WavesParams(StrategyParams):
    kind: Literal["waves"] = "waves"
    waves: Annotated[list[Fraction], Field(min_length=1)] = Field(
        description="cumulative share of the fleet told by the end of each wave; the last is usually 100%")
    bake: Duration = Field(default=12 * 3600.0, description="time between waves")
    check_every: PlanInterval = Field(default=900.0,
                                          description="how often the abort rule is evaluated while baking")
    abort: ThresholdAbort | None = Field(default=None, description="halt when this share of the known outcomes "
                                         "failed, e.g. {threshold: 5%, min_executed: 20}")
    sequential: SequentialTest | None = Field(
        default=None, description="halt on a sequential test that counts unreported devices (robust to fast failures)")
    rollback_on_abort: bool = Field(
        default=False, description="roll back every device told so far when the abort rule trips")

    @field_validator("waves")
    @classmethod
    def _increasing(cls, waves: list[float]) -> list[float]:
        if any(later <= earlier for earlier, later in zip(waves, waves[1:])):
            raise ValueError("waves are cumulative shares and must increase, e.g. [1%, 10%, 100%]")
        return waves


def sequential_halt(test: SequentialTest | None, seen: Observation) -> bool:
    if test is None:
        return False
    totals = seen.totals
    return test.decide(totals.bad, totals.committed, seen.in_progress) == "halt"


@register("waves", WavesParams, "cumulative waves, bake between them, abort on failure rate")
def waves(params: WavesParams, fleet: FleetView) -> Rollout:
    order = fleet.shuffled()
    told = 0
    abort, sequential = params.abort, params.sequential

    def gate_trips(seen: Observation) -> bool:
        return (abort is not None and abort.breached(seen.totals)) or sequential_halt(sequential, seen)

    for number, (share, upto) in enumerate(zip(params.waves, cumulative_counts(params.waves, fleet.size)), start=1):
        if upto > told:
            yield Update(tuple(order[told:upto]), label=f"wave {number} ({share:.0%})")
            told = upto
        tripped = yield from soak_watching(params.bake, params.check_every, gate_trips)
        if tripped:
            reason = f"failure rate {tripped.failure_rate:.1%} over {tripped.executed} devices in wave {number}"
            if params.rollback_on_abort:
                yield Rollback(None, reason)
            yield Halt(reason)
            return
