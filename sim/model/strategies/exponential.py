"""Notification pacing in the IoT-jobs style: a rate per minute that grows by a factor each time enough devices were
notified (or succeeded), capped per minute, with abort criteria that stop queued devices — devices already
notified carry on, and the result shows that in-flight exposure as the blast radius."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from sim.model.fleet_spec import lasting_at_most_a_day
from sim.model.gating.threshold import ThresholdAbort
from sim.model.strategy import FleetView, Halt, Observation, Rollout, Soak, StrategyParams, Update, register
from sim.model.unit_fields import Clock, Duration


def _within_a_day(seconds: float) -> float:
    return lasting_at_most_a_day(seconds, "a rollout window")


class RateIncrease(StrategyParams):
    notified: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="raise the rate each time this many more devices were notified")
    succeeded: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="raise the rate each time this many more devices succeeded")

    @model_validator(mode="after")
    def _one(self) -> "RateIncrease":
        if (self.notified is None) == (self.succeeded is None):
            raise ValueError("give exactly one of notified or succeeded")
        return self


class RolloutWindow(StrategyParams):
    """A daily window, in UTC (the simulated run starts at the scenario's start_time, 00:00 UTC by default), in which
    the job notifies devices."""

    start: Clock = Field(description="time of day (UTC) the window opens")
    duration: Annotated[Duration, AfterValidator(_within_a_day)] = Field(
        description="how long it stays open (at most 24h)")


class ExponentialParams(StrategyParams):
    kind: Literal["exponential"] = "exponential"
    base_rate_per_minute: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=10, description="devices notified per minute at the start")
    increment_factor: Annotated[float, Field(ge=1.1, le=5)] = Field(
        default=2.0, description="the rate is multiplied by this at each increase")
    rate_increase: RateIncrease = Field(
        default=RateIncrease(notified=50),
        description="when the rate increases: after so many notified, or so many succeeded")
    maximum_per_minute: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=1000, description="the rate never exceeds this")
    abort: list[ThresholdAbort] = Field(default_factory=list,

        description="abort rules; any one breached stops the queue (devices in flight carry on)")
    windows: list[RolloutWindow] = Field(
        default_factory=list, description="daily UTC windows in which devices are notified (AWS IoT Jobs' "
        "schedulingConfig.maintenanceWindows); outside them the queue waits and the abort rules still look; "
        "none: any time")


TICK = 1.0             # seconds: devices due within the same second are notified together
ABORT_EVERY = 60.0     # seconds between looks of the abort criteria


@register("exponential", ExponentialParams, "notifications per minute growing by a factor; abort stops the queue")
def exponential(params: ExponentialParams, fleet: FleetView) -> Rollout:
    """The n-th device is notified when the rate's running total reaches n (so base 50/min, ×2 every 1,000
    notified, cap 1,000/min notifies 10,000 devices in 43.75 min); the abort criteria look once a minute."""
    order, told = fleet.shuffled(), 0
    rate, due = float(params.base_rate_per_minute), 0.0      # due: notifications owed so far, fractional
    mark = 0                           # notified (or succeeded) count at the last rate increase
    clock, next_look = 0.0, ABORT_EVERY
    seen: Observation | None = None
    while told < fleet.size:
        batch = min(int(due + 1e-9), fleet.size - told)
        if batch:
            seen = yield Update(tuple(order[told:told + batch]), label=f"{rate:.0f}/min")
            told, due = told + batch, due - batch
        if seen is not None and clock >= next_look - 1e-9:     # the devices due by now are notified, then it looks
            next_look += ABORT_EVERY
            for rule in params.abort:
                if rule.breached(seen.totals):      # every device notified so far: the controller's totals
                    # queued: not notified yet, or notified and not picked up by the device (AWS: QUEUED)
                    queued, in_flight = fleet.size - told + seen.awaiting_check_in, \
                        seen.in_progress - seen.awaiting_check_in
                    yield Halt(f"abort: {rule.describe(seen.totals)}; {queued} queued devices cancelled, "
                               f"{in_flight} in flight carry on")
                    return
        if told == fleet.size:
            break
        if params.rate_increase.notified:
            rate, mark = raised_rate(params, rate, mark, told)
        per_second = min(rate, params.maximum_per_minute) / 60.0
        inside, edge = window_at(params.windows, clock + fleet.start_time)     # the windows are UTC times of day
        edge -= fleet.start_time
        if inside:      # notifications accrue until the window closes
            wait = min(max(TICK, (1.0 - due) / per_second), next_look - clock, edge - clock)
        else:           # the queue waits for the next window; the abort rules still look
            wait = min(edge - clock, next_look - clock)
        seen = yield Soak(wait)
        clock, due = clock + wait, due + (per_second * wait if inside else 0.0)
        if params.rate_increase.succeeded:
            rate, mark = raised_rate(params, rate, mark, seen.committed)


def raised_rate(params: ExponentialParams, rate: float, mark: int, progress: int) -> tuple[float, int]:
    """The rate after `progress` notified (or succeeded) things, and the count at its last increase."""
    step = params.rate_increase.notified or params.rate_increase.succeeded or 1
    while progress - mark >= step and rate < params.maximum_per_minute:
        rate, mark = min(rate * params.increment_factor, params.maximum_per_minute), mark + step
    return rate, mark


DAY = 86400.0


def window_at(windows: list[RolloutWindow], clock: float) -> tuple[bool, float]:
    """(whether a window is open at `clock`, the next moment that may change it: the close of the window open now,
    else the next opening); without windows, always open."""
    if not windows:
        return True, math.inf
    closes = [start + window.duration for window in windows
              if clock < (start := window.start + math.floor((clock - window.start) / DAY) * DAY) + window.duration]
    if closes:
        return True, min(closes)
    return False, min(window.start + math.ceil((clock - window.start) / DAY) * DAY for window in windows)
