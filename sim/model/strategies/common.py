"""Pieces several strategies share: watching a gate while soaking, and cumulative slices of an order."""

from __future__ import annotations

from collections.abc import Callable, Generator

from sim.model.gating.threshold import ThresholdAbort
from sim.model.strategy import Action, Observation, Soak

Watch = Generator[Action, Observation, "Observation | None"]


def soak_watching(duration: float, check_every: float, stop: Callable[[Observation], bool]) -> Watch:
    """Soak for `duration` in steps of `check_every`; return the observation that tripped `stop`, else None.

    Used as `tripped = yield from soak_watching(...)`.
    """
    waited = 0.0
    while waited < duration:
        step = min(check_every, duration - waited)
        seen = yield Soak(step)
        waited += step
        if stop(seen):
            return seen
    return None


def abort_watch(abort: ThresholdAbort | None) -> Callable[[Observation], bool]:
    """soak_watching's stop condition for a threshold abort rule over every device told so far (never, without a
    rule). Read from the controller's totals: counting the told devices one by one at every look cost O(fleet) a
    look — 5.8 s of a 100,000-camera thermal-aware run under cProfile, and with the IoT-jobs pace (a look a minute
    while the fleet grows) a cost that grew with the fleet's square."""
    return lambda seen: abort is not None and abort.breached(seen.totals)


def cumulative_counts(shares: list[float], size: int) -> list[int]:
    """[1%, 10%, 100%] of 1,000 devices -> [10, 100, 1000]."""
    return [round(share * size) for share in shares]
