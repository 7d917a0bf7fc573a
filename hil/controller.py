"""The rig controller: drives the scenario's own strategy with rigs as the devices, in wall time.

It answers the same Actions as sim/world/controller.py through the same PlanDriver, so a plan cannot behave
differently on rigs than in the simulator:

- `Update(devices)`: those rigs run the install steps in parallel (one worker per rig), then activate — unless
  `shadow`, which installs and runs the shadow step only; `cool_below` waits (bounded) for a hot rig to cool, and a
  rig still too hot is tried again after each soak. An Update returns once its rigs have an outcome: a rig's
  sequence takes minutes, far less than any bake, and the plan's gates then judge hardware outcomes. A game on a rig
  (hil/defer.py) holds its switch, and so the Update, up to delivery.defer_limit × hil.time_scale; with no limit,
  until the game ends, while the simulator's plan clock would move on; a new attempt after such a failure
  (delivery.failure_retries, hil/failure_retries.py) is taken at once, within the Update.
- `Soak(d)`: waits d × hil.time_scale of wall time, sampling each rig's tegrastats meanwhile.
- `Sample(canary, control)`: metrics measured on the rigs (hil/measure.py).
- `Halt`: no rig not yet told will be told. `Rollback(devices)`: those rigs go back, with the proof that the previous
  engine reproduces its recorded outputs.

Under `delivery.stage_ahead` (hawkBit's download-only rollout) every rig installs before the plan's first action, and
the plan's releases then only activate; the plan hears of a rig only once it releases it, as in the simulator.

The plan's clock is the sum of its soaks (scenario seconds), as in the simulator, and the plan ends at the scenario's
duration. A rig the plan leaves on the candidate gets the rollback proof at the end, so the rack is left as found.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType

from hil.measure import sample_rigs
from hil.session import RigSession
from hil.stop import StopSignal
from sim.model.lifecycle import DeviceState as S
from sim.model.results import EventKind, TimelineEvent
from sim.model.strategy import (
    FleetView,
    Halt,
    Observation,
    PlanDriver,
    Rollback,
    Sample,
    Samples,
    Soak,
    StrategyParams,
    Update,
    start,
)

log = logging.getLogger(__name__)
TELEMETRY_EVERY = 5.0        # wall seconds between tegrastats samples of each rig during a soak
OUTCOMES = (S.COMMITTED, S.FAILED, S.ROLLED_BACK, S.BRICKED)


class RigController:
    def __init__(self, params: StrategyParams, fleet: FleetView, session: Callable[[int], RigSession],
                 time_scale: float, duration: float, stop: StopSignal, stage_ahead: bool = False) -> None:
        self.params, self.fleet, self.time_scale, self.duration, self.stop = params, fleet, time_scale, duration, stop
        self.stage_ahead = stage_ahead
        self._make_session = session
        self.sessions: dict[int, RigSession] = {}
        self.released: list[int] = []
        self.releases = 0
        self.clock = 0.0                       # scenario seconds: the sum of the plan's soaks
        self.started = time.monotonic()
        self.timeline: list[TimelineEvent] = []
        self.trace: list[tuple[object, Observation]] = []   # every action with the observation sent back
        self._acted: object = None
        self.halted, self.halt_reason = False, ""
        self.ended = ""                        # why the plan stopped before its end ('' when it ran to the end)

    def session(self, device: int) -> RigSession:
        if device not in self.sessions:
            self.sessions[device] = self._make_session(device)
        return self.sessions[device]

    # --- driving the plan --------------------------------------------------------------------------------------

    def run(self) -> None:
        if self.stage_ahead:           # every rig installs into its inactive slot; a release then only activates
            self._each(range(self.fleet.size), lambda rig: rig.install(shadow=False))
        driver = PlanDriver(start(self.params, self.fleet), self._perform, self.observe, self._sample)
        soak = driver.advance(None)
        while soak is not None:
            if self.stop.requested:
                self.ended = f"interrupted: {self.stop.reason}"
                break
            if self.clock + soak.duration > self.duration:
                self.ended = "the scenario's duration ran out"
                break
            self._soak(soak)
            self._acted = soak
            soak = driver.advance(self.observe(None))
        if not self.ended and self.stop.requested:      # stopped during the plan's last release: not its end
            self.ended = f"interrupted: {self.stop.reason}"
        self._event("strategy_done" if not self.ended else "end", self.ended, len(self.released))

    def _event(self, kind: EventKind, detail: str = "", devices: int = 0, told_before: int | None = None,
               outcomes_known: int | None = None) -> None:
        self.timeline.append(TimelineEvent(time=round(time.monotonic() - self.started, 3), kind=kind, detail=detail,
                                           devices=devices, told_before=told_before, outcomes_known=outcomes_known))

    def _perform(self, action: Update | Halt | Rollback) -> None:
        if isinstance(action, Update):
            self._update(action)
        elif isinstance(action, Halt):
            self.halted, self.halt_reason = True, action.reason
            self._event("halt", action.reason)
        elif isinstance(action, Rollback):
            targets = list(action.devices) if action.devices is not None else list(self.released)
            self._event("rollback", action.reason, len(targets))
            self._each(targets, lambda rig: rig.roll_back(action.reason))
        self._acted = action

    def _update(self, action: Update) -> None:
        if self.halted or self.stop.requested:
            return
        label = action.label or f"release {self.releases + 1}"
        fresh = any(device not in self.released for device in action.devices)
        told_before = len(self.released) if self.released and fresh else None     # as the simulator records it
        known = sum(self.sessions[device].state in OUTCOMES for device in self.released) if told_before else None
        self._event("update", label, len(action.devices), told_before, known)
        for device in action.devices:
            if device not in self.released:
                self.released.append(device)
                self.session(device).release = (self.releases, label)
        self.releases += 1

        def roll_out(rig: RigSession) -> None:
            rig.install(shadow=action.shadow)
            if not action.shadow:
                rig.activate(action.cool_below)

        self._each(action.devices, roll_out)

    def _each(self, devices: Iterable[int], work: Callable[[RigSession], None]) -> None:
        """Run `work` on each of these rigs at once, one worker per rig."""
        sessions = [self.session(device) for device in devices]
        if not sessions:
            return
        with ThreadPoolExecutor(max_workers=len(sessions), thread_name_prefix="rig") as pool:
            list(pool.map(work, sessions))

    def _soak(self, soak: Soak) -> None:
        """Wait the soak's duration scaled to wall time, sampling rig telemetry; then retry cool activations."""
        self.clock += soak.duration
        wall = soak.duration * self.time_scale
        deadline = time.monotonic() + wall
        while not self.stop.requested:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self.stop.sleep(min(left, TELEMETRY_EVERY)):
                break
            if deadline - time.monotonic() > 0:
                self._each(self._watched(), lambda rig: rig.sample_telemetry())
        waiting = [device for device, rig in self.sessions.items() if rig.state == S.AWAITING_WINDOW and
                   rig.pending_cool is not None]
        self._each(waiting, lambda rig: rig.activate(rig.pending_cool))

    def _watched(self) -> list[int]:
        return [device for device, rig in self.sessions.items() if rig.opened and not rig.ended]

    def _sample(self, action: Sample) -> Mapping[str, Samples]:
        self._acted = action
        return sample_rigs([self.session(device) for device in action.canary],
                           [self.session(device) for device in action.control], self._each_session)

    def _each_session(self, sessions: list[RigSession], work: Callable[[RigSession], None]) -> None:
        by_session = {id(rig): device for device, rig in self.sessions.items()}
        self._each([by_session[id(rig)] for rig in sessions], work)

    def observe(self, samples: Mapping[str, Samples] | None) -> Observation:
        """What the plan sees: the lifecycle state of every released rig (rigs report at once, over SSH)."""
        states = {device: self.sessions[device].state for device in self.released}
        counts = Counter(states.values())
        reasons = Counter(self.sessions[device].reason.split(":")[0] for device, state in states.items()
                          if state in (S.FAILED, S.ROLLED_BACK, S.BRICKED) and self.sessions[device].reason)
        known = sum(counts[state] for state in OUTCOMES)
        seen = Observation(time=self.clock, released=len(self.released), committed=counts[S.COMMITTED],
                           failed=counts[S.FAILED], rolled_back=counts[S.ROLLED_BACK], bricked=counts[S.BRICKED],
                           in_progress=len(self.released) - known, failures_by_reason=dict(reasons),
                           outcomes=MappingProxyType(states), samples=samples or {})
        self.trace.append((self._acted, seen))
        return seen
