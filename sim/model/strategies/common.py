"""Pieces several strategies share: watching a gate while soaking, and cumulative slices of an order."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

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


def abort_watch(abort: ThresholdAbort | None, devices: Sequence[int]) -> Callable[[Observation], bool]:
    """soak_watching's stop condition for a threshold abort rule over these devices (never, without a rule)."""
    return lambda seen: abort is not None and abort.breached(seen.count(devices))


def cumulative_counts(shares: list[float], size: int) -> list[int]:
    """[1%, 10%, 100%] of 1,000 devices -> [10, 100, 1000]."""
    return [round(share * size) for share in shares]
