"""The rollout controller: drives a strategy generator against the simulated fleet.

It performs each action the strategy yields, then answers with an Observation built only from reports that have
arrived (late, and later still from sites whose uplink is down). The strategy therefore decides on the same
imperfect picture a real controller has.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from sim.model.lifecycle import BY_VALUE
from sim.model.lifecycle import DeviceState as S
from sim.model.results import TimelineEvent
from sim.model.strategy import (
    FleetView,
    Halt,
    Observation,
    PlanDriver,
    Rollback,
    Sample,
    Samples,
    StrategyParams,
    Update,
    plan_random,
    start,
)
from sim.world.device import Lifecycle
from sim.world.telemetry import Telemetry
from sim.world.world import World

_UNKNOWN = 255
WITHDRAWN = "not released: rollout halted before the camera checked in"


class KnownStates(Mapping[int, S]):
    """The last reported state of each device that has reported, read straight from the controller's byte per
    device: a dict of a million reports would cost ~70 bytes per device, this costs none. Read-only for strategies.
    Iterates in device order."""

    def __init__(self, known: bytearray):
        self._known = known

    def get(self, device: int, default: S | None = None) -> S | None:  # type: ignore[override]
        try:
            value = self._known[device] if device >= 0 else _UNKNOWN
        except (IndexError, TypeError):
            return default
        return default if value == _UNKNOWN else BY_VALUE[value]

    def __getitem__(self, device: int) -> S:
        state = self.get(device)
        if state is None:
            raise KeyError(device)
        return state

    def __iter__(self) -> Iterator[int]:
        return (device for device, value in enumerate(self._known) if value != _UNKNOWN)

    def __len__(self) -> int:
        return len(self._known) - self._known.count(_UNKNOWN)


class Controller:
    def __init__(self, world: World, lifecycle: Lifecycle, params: StrategyParams, on_done: Callable[[], None]):
        self.world = world
        self.lifecycle = lifecycle
        self.params = params
        self.on_done = on_done
        self.released = np.zeros(world.layout.size, dtype=bool)
        self.released_count = 0
        self.known = bytearray([_UNKNOWN]) * world.layout.size      # last reported state per device
        self.known_counts: Counter[int] = Counter()
        self.known_reasons: Counter[str] = Counter()
        self.known_states = KnownStates(self.known)
        self.telemetry = Telemetry(world, lifecycle)
        self.in_flight_at_halt = 0
        self.timeline: list[TimelineEvent] = []
        self.halted = False
        self.halt_reason = ""
        self.halt_time: float | None = None
        self.finished = False

    def fleet_view(self) -> FleetView:
        world = self.world
        return FleetView(world.layout.size, world.layout.cohorts(), plan_random(world.seed),
                         sites=world.layout.hot_lists().device_site, artifact_bytes=world.scenario.download_size,
                         egress_price_per_byte=world.scenario.pricing.egress_per_gb / 1e9,
                         start_time=world.scenario.start_time,
                         device_bytes=lambda device: self.lifecycle.download_size(device)[0])

    def begin(self) -> None:
        self._driver = PlanDriver(start(self.params, self.fleet_view()), self._perform, self.observe, self._sample)
        self._advance(None)

    def _advance(self, seen: Observation | None) -> None:
        """Run the strategy until it asks to wait (Soak) or ends."""
        soak = self._driver.advance(seen)
        if soak is None:
            self._strategy_done()
        else:
            self.world.after(soak.duration, self._soaked)

    def _sample(self, action: Sample) -> dict[str, Samples]:
        return self.telemetry.sample(action.canary, action.control)

    def _soaked(self) -> None:
        self._advance(self.observe())

    def _perform(self, action: Update | Halt | Rollback) -> None:
        now = self.world.now
        if isinstance(action, Update):
            if self.halted:
                return
            fresh = [device for device in action.devices if not self.released[device]]
            told_before, known = self.released_count, self._outcomes_known()
            self.released[fresh] = True
            self.released_count += len(fresh)
            self.timeline.append(TimelineEvent(time=now, kind="update", detail=action.label,
                                               devices=len(action.devices),
                                               # a release that tells no new camera (a shadow's promotion) decides
                                               # nothing on outcomes
                                               told_before=told_before if told_before and fresh else None,
                                               outcomes_known=known if told_before and fresh else None))
            for device in action.devices:   # devices already released: a shadow install being promoted
                self.lifecycle.release(device, shadow=action.shadow, cool_below=action.cool_below)
        elif isinstance(action, Halt):
            self.halted, self.halt_reason, self.halt_time = True, action.reason, now
            # with polling agents, the releases not yet picked up are withdrawn (the halt event counts them)
            withdrawn = self.lifecycle.withdraw_unstarted(WITHDRAWN)
            self.in_flight_at_halt = self.lifecycle.in_flight
            self.timeline.append(TimelineEvent(time=now, kind="halt", detail=action.reason, devices=withdrawn))
        elif isinstance(action, Rollback):
            targets = action.devices if action.devices is not None else np.flatnonzero(self.released).tolist()
            self.timeline.append(TimelineEvent(time=now, kind="rollback", detail=action.reason,
                                               devices=len(targets)))
            for device in targets:
                self.lifecycle.interrupt(int(device), f"rollback: {action.reason}")

    def observe(self, samples: Mapping[str, Samples] | None = None) -> Observation:
        """Fold in the reports that have arrived by now and summarise what the controller knows."""
        for device, state in self.world.reports_until(self.world.now):
            previous = self.known[device]
            if previous != _UNKNOWN:
                self.known_counts[previous] -= 1
            self.known[device] = int(state)
            self.known_counts[int(state)] += 1
            reason = self.world.recorder.reasons.get(device)
            if state != S.COMMITTED and reason:
                self.known_reasons[reason] += 1
        counts = self.known_counts
        outcomes = self._outcomes_known()
        return Observation(
            time=self.world.now, released=self.released_count, committed=counts[S.COMMITTED],
            failed=counts[S.FAILED], rolled_back=counts[S.ROLLED_BACK], bricked=counts[S.BRICKED],
            in_progress=self.released_count - outcomes, awaiting_check_in=self.lifecycle.unstarted,
            failures_by_reason=dict(self.known_reasons),
            outcomes=self.known_states, samples=samples or {})

    def _outcomes_known(self) -> int:
        """Released cameras whose last report is an outcome, as of the last look (a release comes right after one)."""
        counts = self.known_counts
        return counts[S.COMMITTED] + counts[S.FAILED] + counts[S.ROLLED_BACK] + counts[S.BRICKED]

    def _strategy_done(self) -> None:
        self.finished = True
        self.timeline.append(TimelineEvent(time=self.world.now, kind="strategy_done",
                                           devices=self.released_count))
        self.on_done()
