"""Percentage batches with start offsets (the device-update-server style: 5% → 15% → 80%, two days apart).

The last phase may leave out its batch and takes the rest. A phase that rounds to zero devices is refused when the
scenario is loaded (sim/model/lint.py).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Annotated, Literal

from pydantic import Field, field_validator

from sim.model.gating.threshold import ThresholdAbort
from sim.model.strategies.common import abort_watch, soak_watching
from sim.model.strategy import Action, FleetView, Halt, Observation, Rollback, Rollout, StrategyParams, Update, register
from sim.model.unit_fields import Duration, Fraction, PlanInterval
from sim.model.units import format_duration


class Phase(StrategyParams):
    batch: Fraction | None = Field(default=None, description="share of the fleet; omitted on the last phase: the rest")
    start: Duration = Field(default=0.0, description="offset from the start of the rollout")


class PhasesParams(StrategyParams):
    kind: Literal["phases"] = "phases"
    phases: Annotated[list[Phase], Field(min_length=1)] = Field(
        description="batches in order: each a share of the fleet (batch) from a start offset; the last takes the rest")
    check_every: PlanInterval = Field(default=900.0, description="how often the abort rule looks")
    watch_after_last: Duration = Field(default=2 * 86400.0, description="how long the abort rule keeps watching")
    abort: ThresholdAbort | None = Field(
        default=None, description="halt when this share of the known outcomes failed")
    rollback_on_abort: bool = Field(
        default=False, description="roll back every device told so far when the abort rule trips")

    @field_validator("phases")
    @classmethod
    def _shape(cls, phases: list[Phase]) -> list[Phase]:
        """Said at `phases`, naming the phase by its index as the file's key path does (phases.2)."""
        for index in range(1, len(phases)):
            if phases[index].start < phases[index - 1].start:
                raise ValueError(f"phases.{index} starts at {format_duration(phases[index].start)}, before phases."
                                 f"{index - 1} ({format_duration(phases[index - 1].start)}): start offsets must not "
                                 "decrease")
        for index, phase in enumerate(phases[:-1]):
            if phase.batch is None:
                raise ValueError(f"phases.{index} leaves out its batch: only the last phase may (it takes the rest)")
        total = sum(phase.batch or 0.0 for phase in phases)
        if total > 1.0 + 1e-9:
            raise ValueError(f"the batches add up to {total * 100:.4g}%, more than 100%")
        return phases


def phase_sizes(params: PhasesParams, size: int) -> list[int]:
    """Devices per phase; the last takes the rest."""
    sizes = [round((phase.batch or 0.0) * size) for phase in params.phases[:-1]]
    return sizes + [size - sum(sizes) if params.phases[-1].batch is None
                    else round(params.phases[-1].batch * size)]


@register("phases", PhasesParams, "percentage batches at start offsets; the last takes the rest")
def phases(params: PhasesParams, fleet: FleetView) -> Rollout:
    order, told, clock = fleet.shuffled(), 0, 0.0
    stop = abort_watch(params.abort)
    for number, (phase, size) in enumerate(zip(params.phases, phase_sizes(params, fleet.size)), start=1):
        if phase.start > clock:
            tripped = yield from soak_watching(phase.start - clock, params.check_every, stop)
            clock = phase.start
            if tripped:
                yield from _abort(params, tripped)
                return
        yield Update(tuple(order[told:told + size]), label=f"phase {number}")
        told += size
    tripped = yield from soak_watching(params.watch_after_last, params.check_every, stop)
    if tripped:
        yield from _abort(params, tripped)


def _abort(params: PhasesParams, seen: Observation) -> Generator[Action, Observation, None]:
    reason = f"abort: {params.abort.describe(seen.totals)}" if params.abort else "abort"
    if params.rollback_on_abort:
        yield Rollback(None, reason)
    yield Halt(reason)
