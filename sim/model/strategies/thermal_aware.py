"""Waves whose devices activate only when cool enough — predicted below `max_temperature` after the switch — inside
an install window with no game. Hot outdoor sites wait for the night instead of throttling or failing health checks."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from sim.model.gating.threshold import ThresholdAbort
from sim.model.strategies.common import abort_watch, cumulative_counts, soak_watching
from sim.model.strategy import FleetView, Halt, Rollout, StrategyParams, Update, register
from sim.model.unit_fields import Duration, Fraction, PlanInterval


class ThermalAwareParams(StrategyParams):
    kind: Literal["thermal_aware"] = "thermal_aware"
    waves: Annotated[list[Fraction], Field(min_length=1)] = Field(default_factory=lambda: [0.05, 0.3, 1.0],

        description="cumulative share of the fleet told by the end of each wave")
    bake: Duration = Field(default=12 * 3600.0, description="time between waves")
    check_every: PlanInterval = Field(default=900.0, description="how often the abort rule looks")
    max_temperature: float = Field(default=80.0, description="°C the device may reach after the switch")
    abort: ThresholdAbort | None = Field(
        default=None, description="halt when this share of the known outcomes failed")


@register("thermal_aware", ThermalAwareParams, "waves that activate only when the device will stay cool, no game on")
def thermal_aware(params: ThermalAwareParams, fleet: FleetView) -> Rollout:
    order, told = fleet.shuffled(), 0
    abort = params.abort
    for number, upto in enumerate(cumulative_counts(params.waves, fleet.size), start=1):
        if upto > told:
            yield Update(tuple(order[told:upto]), label=f"cool wave {number}", cool_below=params.max_temperature)
            told = upto
        tripped = yield from soak_watching(params.bake, params.check_every, abort_watch(abort))
        if tripped and abort:
            yield Halt(f"abort: {abort.describe(tripped.totals)}")
            return
