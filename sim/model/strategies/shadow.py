"""Shadow mode: the candidate is installed on a sample and runs beside the current model without acting. It costs
compute (the world models the heat and the lost frames) and exposes defects that change outputs. Promote once the
agreement of every stratum stays above the threshold for `hold`; halt when it drops below."""

from __future__ import annotations

import statistics
from collections.abc import Generator
from typing import Annotated, Literal

from pydantic import Field

from sim.model.strategies.canary import Stratum, strata_of
from sim.model.strategies.common import cumulative_counts, soak_watching
from sim.model.strategy import (
    Action,
    FleetView,
    Halt,
    Observation,
    Rollback,
    Rollout,
    Sample,
    Soak,
    StrategyParams,
    Update,
    register,
)
from sim.model.unit_fields import Duration, Fraction, PlanInterval


class ShadowParams(StrategyParams):
    kind: Literal["shadow"] = "shadow"
    sample: Fraction = Field(default=0.05, description="share of each stratum that runs the candidate in shadow")
    stratum: Stratum = Field(
        default="camera_angle", description="what a stratum is: a whole cohort, or one of its axes")
    agreement: Fraction = Field(default=0.98, description="median agreement every stratum must keep")
    hold: Duration = Field(default=2 * 86400.0, description="how long agreement must hold before promotion")
    max_duration: Duration = Field(default=7 * 86400.0, description="give up (halt) after this long in shadow")
    check_every: PlanInterval = Field(default=3600.0, description="how often agreement is sampled")
    min_reports: Annotated[int, Field(ge=1)] = Field(
        default=5, description="reports a stratum needs before its agreement counts")
    then: list[Fraction] = Field(default_factory=lambda: [0.25, 1.0],
                                 description="cumulative waves after the shadow sample is promoted")
    bake_between: Duration = Field(default=12 * 3600.0, description="time between those waves")


@register("shadow", ShadowParams, "candidate runs beside the current model on a sample; promote on agreement")
def shadow(params: ShadowParams, fleet: FleetView) -> Rollout:
    strata = strata_of(fleet, params.stratum)
    sampled = {key: members[:max(params.min_reports, round(params.sample * len(members)))]
               for key, members in strata.items()}
    shadowing = sorted(device for members in sampled.values() for device in members)
    yield Update(tuple(shadowing), label=f"shadow sample ({len(shadowing)} devices)", shadow=True)
    held, elapsed = 0.0, 0.0
    while held < params.hold:
        if elapsed >= params.max_duration:
            yield Rollback(tuple(shadowing), "shadow inconclusive")
            yield Halt(f"shadow agreement not established within {elapsed / 86400:.1f} days")
            return
        yield Soak(params.check_every)
        elapsed += params.check_every
        worst = yield from _worst_agreement(params, sampled)
        if worst is not None and worst[1] < params.agreement:
            yield Rollback(tuple(shadowing), "shadow disagreement")
            yield Halt(f"shadow agreement {worst[1]:.3f} below {params.agreement:.3f} in stratum {'/'.join(worst[0])}")
            return
        held = held + params.check_every if worst is not None else 0.0
    yield Update(tuple(shadowing), label="promote shadow sample")
    promoted = set(shadowing)      # once built per device: 33 s for the rest of a 100,000-camera fleet
    rest = [device for device in fleet.shuffled() if device not in promoted]
    told = 0
    for number, upto in enumerate(cumulative_counts(params.then, len(rest)), start=1):
        if upto > told:
            yield Update(tuple(rest[told:upto]), label=f"wave {number} after shadow")
            told = upto
        yield from soak_watching(params.bake_between, params.check_every, lambda seen: False)


def _worst_agreement(params: ShadowParams, sampled: dict[tuple[str, ...], list[int]]) \
        -> Generator[Action, Observation, tuple[tuple[str, ...], float] | None]:
    """(stratum, median agreement) of the worst stratum, or None while some stratum has too few reports."""
    worst: tuple[tuple[str, ...], float] | None = None
    for key, members in sampled.items():
        seen = yield Sample(tuple(members), ())
        values = seen.samples["agreement"].canary if "agreement" in seen.samples else ()
        if len(values) < min(params.min_reports, len(members)):
            return None
        median = statistics.median(values)
        if worst is None or median < worst[1]:
            worst = (key, median)
    return worst
