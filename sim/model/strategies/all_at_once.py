"""Every device at once: the fastest plan and the widest blast radius. The baseline the others are measured by."""

from __future__ import annotations

from typing import Literal

from sim.model.strategy import FleetView, Rollout, StrategyParams, Update, register


class AllAtOnceParams(StrategyParams):
    kind: Literal["all_at_once"] = "all_at_once"


@register("all_at_once", AllAtOnceParams, "tell every device at once; no gate")
def all_at_once(params: AllAtOnceParams, fleet: FleetView) -> Rollout:
    yield Update(tuple(range(fleet.size)), label="everyone")
