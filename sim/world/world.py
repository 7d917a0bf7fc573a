"""The world: one SimPy environment with the fleet, its links and calendars, the network and the recorder.

Everything that happens is a callback scheduled on the environment through `after`, so the whole model is one
event queue and `events` counts exactly what was scheduled (a deterministic figure per scenario and seed).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from sim.model.errors import IllegalTransition
from sim.model.lifecycle import BY_VALUE, LEGAL_TRANSITIONS, DeviceState
from sim.model.scenario import Scenario
from sim.world.calendar import SiteCalendar
from sim.world.calendar_queue import CalendarEnvironment
from sim.world.fleet import FleetLayout, build_layout
from sim.world.link import Uplinks
from sim.world.network import EgressMeter, Network
from sim.world.probes import FleetRecorder, TransitionHook
from sim.world.thermal import ThermalModel

EGRESS_BIN = 300.0      # seconds per egress bin: peak and p95 are over 5-minute averages
SAMPLE_STEP = 3600.0    # seconds between samples of the state counts and the coverage curve

_OUTCOMES = frozenset({DeviceState.COMMITTED, DeviceState.FAILED, DeviceState.ROLLED_BACK, DeviceState.BRICKED})
_LEGAL = tuple(LEGAL_TRANSITIONS[state] for state in BY_VALUE)


class World:
    def __init__(self, scenario: Scenario, seed: int, on_transition: TransitionHook | None = None):
        self.scenario = scenario
        self.seed = seed
        self.env = CalendarEnvironment()
        self._call_later = self.env.call_later
        self.layout: FleetLayout = build_layout(scenario.fleet, seed, scenario.start_time)
        self.calendar = SiteCalendar(scenario, self.layout, seed)
        self.uplinks = Uplinks.for_scenario(scenario, self.layout, seed, self.calendar)
        self.thermal = ThermalModel(scenario, self.layout)
        self.recorder = FleetRecorder(self.layout.size, SAMPLE_STEP, on_transition)
        self._transition = self.recorder.transition
        bins = int(math.ceil(scenario.duration / EGRESS_BIN)) + 1
        self.network = Network(self.env, self.uplinks, scenario.fleet.egress_cap or math.inf,
                               EgressMeter(EGRESS_BIN, np.zeros(bins)), self._downloaded, self.after,
                               fair=scenario.fleet.egress_sharing == "fair")
        self.states = bytearray(self.layout.size)          # DeviceState per device
        self.events = 0
        self._device_site = self.layout.hot_lists().device_site
        self._reports: list[tuple[float, int, int, int]] = []
        self._report_sequence = 0
        self.on_download_finished: Callable[[Any], None] = lambda download: None
        self.on_settled: Callable[[int], None] = lambda device: None

    # --- scheduling -----------------------------------------------------------------------------------------

    def after(self, delay: float, function: Callable[..., None], args: tuple = ()) -> None:
        """Call `function(*args)` `delay` seconds from now (a delay rounded a hair below zero means now)."""
        self.events += 1
        self._call_later(delay if delay > 0.0 else 0.0, function, args)

    @property
    def now(self) -> float:
        return self.env.now

    # --- state ----------------------------------------------------------------------------------------------

    def state(self, device: int) -> DeviceState:
        return BY_VALUE[self.states[device]]

    def move(self, device: int, target: DeviceState, reason: str = "", reported: bool = True) -> None:
        """Change a device's lifecycle state; only moves in the lifecycle table are possible. An outcome is reported
        to the controller unless not `reported` (a camera staged ahead: reported when the plan releases it)."""
        states = self.states
        source = BY_VALUE[states[device]]
        if target not in _LEGAL[source]:
            raise IllegalTransition(f"device {device}: {source.name} → {target.name} ({reason})")
        states[device] = target
        self._transition(self.env.now, device, source, target, reason)
        if reported and target in _OUTCOMES:
            self._report(device, target)

    def _downloaded(self, download: Any) -> None:
        self.on_download_finished(download)

    # --- what the controller hears, and when --------------------------------------------------------------

    def report(self, device: int, state: DeviceState) -> None:
        """Report an outcome held back (a staged camera's failure, when the plan releases it)."""
        self._report(device, state)

    def _report(self, device: int, state: DeviceState) -> None:
        """Queue the device's report: it leaves once its site's uplink is up, and arrives after the report delay."""
        site = self._device_site[device]
        leaves = self.uplinks.next_up(site, self.env.now)
        if leaves == math.inf:
            return
        self._report_sequence += 1
        arrival = leaves + self.scenario.fleet.report_delay
        heapq.heappush(self._reports, (arrival, self._report_sequence, device, int(state)))

    def reports_until(self, time: float) -> list[tuple[int, DeviceState]]:
        """Reports that have arrived by `time`, oldest first."""
        arrived = []
        while self._reports and self._reports[0][0] <= time:
            _, _, device, state = heapq.heappop(self._reports)
            arrived.append((device, BY_VALUE[state]))
        return arrived
