"""Release devices only as fast as egress budgets allow: global and per-site bytes per hour and per day, and a cost
cap for the whole rollout. Budgets are planned on artifact bytes per released device (what the release commits the
origin to), checked every `tick`."""

from __future__ import annotations

import math
from collections import Counter, deque
from typing import Literal

from pydantic import Field

from sim.model.gating.threshold import ThresholdAbort
from sim.model.strategy import FleetView, Halt, Rollout, Soak, StrategyParams, Update, register
from sim.model.unit_fields import Money, PlanInterval, Size

HOUR, DAY = 3600.0, 86400.0


class BudgetedParams(StrategyParams):
    kind: Literal["budgeted"] = "budgeted"
    global_per_hour: Size | None = Field(
        default=None, description="bytes all releases together may commit the origin to in any hour (none: no limit)")
    global_per_day: Size | None = Field(
        default=None, description="bytes all releases may commit the origin to in any 24 hours")
    site_per_hour: Size | None = Field(
        default=None, description="bytes one site's releases may commit in any hour (a shared stadium uplink)")
    site_per_day: Size | None = Field(
        default=None, description="bytes one site's releases may commit in any 24 hours")
    cost_cap: Money | None = Field(default=None, description="stop releasing once planned egress would cost more")
    tick: PlanInterval = Field(
        default=600.0, description="how often the budgets are looked at and the next batch released")
    abort: ThresholdAbort | None = Field(
        default=None, description="halt when this share of the known outcomes failed")


class _Ledger:
    """Bytes committed by releases, in trailing hour and day windows, globally and per site."""

    def __init__(self) -> None:
        self.releases: deque[tuple[float, int]] = deque()     # (time, site)
        self.total = 0

    def window(self, now: float, span: float) -> tuple[int, Counter[int]]:
        recent = [site for time, site in self.releases if time > now - span]
        return len(recent), Counter(recent)

    def add(self, now: float, site: int) -> None:
        self.releases.append((now, site))
        self.total += 1
        while self.releases and self.releases[0][0] <= now - DAY:
            self.releases.popleft()


def _room(limit: float | None, used: int, per_device: float) -> float:
    return float("inf") if limit is None else limit / per_device - used


@register("budgeted", BudgetedParams, "release under global/per-site hourly and daily egress budgets and a cost cap")
def budgeted(params: BudgetedParams, fleet: FleetView) -> Rollout:
    per_device = max(fleet.artifact_bytes, 1.0)
    queue, ledger, now = deque(fleet.shuffled()), _Ledger(), 0.0
    affordable = _room(params.cost_cap / fleet.egress_price_per_byte if params.cost_cap and fleet.egress_price_per_byte
                       else None, 0, per_device)
    while queue:
        hour, hour_sites = ledger.window(now, HOUR)
        day, day_sites = ledger.window(now, DAY)
        room = min(_room(params.global_per_hour, hour, per_device), _room(params.global_per_day, day, per_device),
                   affordable - ledger.total)
        room = math.floor(room) if room != math.inf else len(queue)
        batch: list[int] = []
        skipped: list[int] = []
        while queue and len(batch) < room:
            device = queue.popleft()
            site = fleet.sites[device] if fleet.sites else 0
            if min(_room(params.site_per_hour, hour_sites[site], per_device),
                   _room(params.site_per_day, day_sites[site], per_device)) < 1:
                skipped.append(device)
                continue
            batch.append(device)
            hour_sites[site] += 1
            day_sites[site] += 1
            ledger.add(now, site)
        queue.extendleft(reversed(skipped))
        if batch:
            yield Update(tuple(batch), label="within budget")
        if queue and affordable - ledger.total < 1:
            yield Halt(f"cost cap reached: {ledger.total} devices released, {len(queue)} left")
            return
        seen = yield Soak(params.tick)
        now += params.tick
        if params.abort and params.abort.breached(seen.totals):
            yield Halt(f"abort: {params.abort.describe(seen.totals)}")
            return
