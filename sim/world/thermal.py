"""First-order (RC) thermal model of each camera: its temperature relaxes towards ambient + resistance × power.

    dT/dt = (ambient(t) + R·P(t) − T) / τ

Ambient follows a daily sinusoid per site kind (plus a per-site offset), in the site's local time. With power and
ambient held constant over a step, the solution is exact: T ← T_ss + (T − T_ss)·exp(−Δt/τ).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property

import numpy as np

from sim.model.fleet_spec import HardwareProfile
from sim.model.scenario import Scenario
from sim.world.fleet import FleetLayout

DAY = 86400.0
THROTTLE_CHUNK = 1 << 16   # devices per slice of the hourly temperature sweep


class ThermalModel:
    def __init__(self, scenario: Scenario, layout: FleetLayout):
        self.layout = layout
        self.params = scenario.fleet.thermal
        kinds = list(scenario.fleet.site_kinds.values())
        self.kind_mean = np.array([kind.ambient.mean for kind in kinds])
        self.kind_swing = np.array([kind.ambient.daily_swing for kind in kinds])
        self.kind_peak = np.array([kind.ambient.peak for kind in kinds])
        hardware = list(scenario.fleet.hardware)
        current, candidate = scenario.current_model, scenario.candidate
        self.power_current = np.array([current.hardware[name].power for name in hardware])
        self.power_candidate = np.array([candidate.hardware[name].power for name in hardware])
        self.latency_candidate = np.array([candidate.hardware[name].latency for name in hardware])
        self.latency_current = np.array([current.hardware[name].latency for name in hardware])
        self.shadow_cost = scenario.fleet.shadow_cost
        # the same columns as Python lists and floats, for the per-event questions (numpy scalars are ~10× slower;
        # the arithmetic is the same IEEE double arithmetic either way)
        self._hot = layout.hot_lists()
        self._kind_mean, self._kind_swing = self.kind_mean.tolist(), self.kind_swing.tolist()
        self._kind_peak = self.kind_peak.tolist()
        self._power_current, self._power_candidate = self.power_current.tolist(), self.power_candidate.tolist()
        self._latency_candidate: list[float] = self.latency_candidate.tolist()
        # per hardware model: a calibrated board has its own enclosure constants (fleet.hardware_profiles)
        profiles = scenario.fleet.hardware_profiles
        self.resistance = [self._profile_or(profiles, name, "thermal_resistance", self.params.resistance)
                           for name in hardware]
        self.time_constant = [self._profile_or(profiles, name, "thermal_time_constant", self.params.time_constant)
                              for name in hardware]

    @staticmethod
    def _profile_or(profiles: Mapping[str, HardwareProfile], name: str, key: str, default: float) -> float:
        value = getattr(profiles[name], key) if name in profiles else None
        return default if value is None else float(value)

    def ambient(self, site: int, time: float) -> float:
        hot = self._hot
        kind = hot.site_kind[site]
        local = time + hot.site_utc_offset[site]
        phase = 2.0 * math.pi * ((local - self._kind_peak[kind]) % DAY) / DAY
        return self._kind_mean[kind] + hot.site_ambient_offset[site] + self._kind_swing[kind] * math.cos(phase)

    def after_switch(self, device: int, time: float, elapsed: float) -> float:
        """Temperature `elapsed` seconds after a device at steady state on the current model switched to the
        candidate."""
        site = self._hot.device_site[device]
        hardware = self._hot.device_hardware[device]
        ambient, resistance = self.ambient(site, time), self.resistance[hardware]
        old = ambient + resistance * self._power_current[hardware]
        new = ambient + resistance * self._power_candidate[hardware]
        return new + (old - new) * math.exp(-elapsed / self.time_constant[hardware])

    def steady_temperature(self, device: int, time: float, candidate: bool, shadow: bool = False) -> float:
        """Temperature at steady state: on the candidate, on the current model, or on both (shadow)."""
        hardware = self.layout.device_hardware[device]
        power = self.power_candidate[hardware] if candidate else self.power_current[hardware]
        if shadow:
            power = self.power_current[hardware] + self.shadow_cost * self.power_candidate[hardware]
        return self.ambient(self.layout.device_site[device], time) + self.resistance[hardware] * float(power)

    def latency(self, device: int, candidate: bool) -> float:
        table = self.latency_candidate if candidate else self.latency_current
        return float(table[self.layout.device_hardware[device]])

    def candidate_fps(self, device: int, temperature: float) -> float:
        fps = 1.0 / self._latency_candidate[self._hot.device_hardware[device]]
        if temperature > self.params.throttle_at:
            fps *= self.params.throttled_fps_factor
        return fps

    def throttled_hours(self, candidate_start: np.ndarray, candidate_end: np.ndarray, until: float,
                        step: float = 3600.0, shadow_start: np.ndarray | None = None,
                        shadow_end: np.ndarray | None = None) -> float:
        """Device-hours above the throttle point over [0, until], each device on the candidate in [start, end).

        Integrated exactly per step (ambient and power held for the step), all devices at once as arrays: a chunk of
        them through every step at a time (at a million devices a full column is 8 MB, and only the chunk's need to
        live across steps), its constants gathered once, and the ambient's cosine worked out once per step for each
        (peak hour, UTC offset) pair rather than per site. The same values as a sweep of every device per step (the
        same operations on the same numbers: tests/world/test_throttling.py), in 0.32× its time on bench-100k's end
        state (0.69 s then, 0.22 s now: 7% of the run's CPU, now 2.5%).
        """
        moments = np.arange(0.0, until, step)
        edges = [candidate_start, candidate_end]
        if shadow_start is not None and shadow_end is not None:
            edges += [shadow_start, shadow_end]
        layout = self.layout
        *_, pairs = self._site_ambient_parts
        cosines = [_daily_cosines(pairs, moment) for moment in moments.tolist()]     # once per step, for every chunk
        hot = np.zeros(len(moments), dtype=np.int64)
        for low in range(0, layout.size, THROTTLE_CHUNK):
            part = slice(low, low + THROTTLE_CHUNK)
            # a device is on the candidate at step i when start <= moments[i] < end: from the step searchsorted
            # gives its start to the one it gives its end
            steps_on = [np.searchsorted(moments, edge[part]) for edge in edges]
            hot += self._hot_per_step(cosines, layout.device_site[part], layout.device_hardware[part], steps_on,
                                      step)
        total = 0.0
        for count, moment in zip(hot.tolist(), moments.tolist()):
            total += float(count) * min(step, until - moment) / 3600.0
        return total

    def _hot_per_step(self, cosines: list[np.ndarray], sites: np.ndarray, kinds: np.ndarray,
                      steps_on: list[np.ndarray], step: float) -> np.ndarray:
        """How many of these devices are above the throttle point at each step. `cosines`: per step, each (peak hour,
        UTC offset) pair's daily cosine; `steps_on`: per device, its first step on the candidate and its first step
        off it, and the same for a shadow (if any)."""
        heat_current, heat_candidate, heat_shadow, decay = self._heat_columns(step)
        current, candidate, shadow, decay_here = (heat_current[kinds], heat_candidate[kinds], heat_shadow[kinds],
                                                  decay[kinds])
        mean, swing, pair, _ = self._site_ambient_parts
        mean_here, swing_here, pair_here = mean[sites], swing[sites], pair[sites]
        throttle_at = self.params.throttle_at
        hot = np.empty(len(cosines), dtype=np.int64)
        temperature = np.empty(len(sites))
        for index, cosine in enumerate(cosines):
            ambient = mean_here + swing_here * cosine[pair_here]
            heat = np.where((steps_on[0] <= index) & (index < steps_on[1]), candidate, current)
            if len(steps_on) > 2:
                heat = np.where((steps_on[2] <= index) & (index < steps_on[3]), shadow, heat)
            steady = ambient + heat
            if index == 0:
                temperature[:] = steady
            else:   # steady + (T − steady)·decay, in place (IEEE addition commutes: the same values)
                temperature -= steady
                temperature *= decay_here
                temperature += steady
            hot[index] = np.count_nonzero(temperature > throttle_at)
        return hot

    def _heat_columns(self, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per hardware model: R·P on the current model, on the candidate, on both (shadow), and a step's decay."""
        resistance = np.array(self.resistance)
        heat_current = resistance * self.power_current
        heat_candidate = resistance * self.power_candidate
        return (heat_current, heat_candidate, heat_current + self.shadow_cost * heat_candidate,
                np.exp(-step / np.array(self.time_constant)))

    @cached_property
    def _site_ambient_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per site: its mean (its kind's and its own offset) and swing, and which (peak hour, UTC offset) pair it
        has; and the pairs, which are few: a site's daily cosine is its pair's."""
        kinds = self.layout.site_kind
        peak, mean, swing = (self.kind_peak[kinds], self.kind_mean[kinds] + self.layout.site_ambient_offset,
                             self.kind_swing[kinds])
        pairs, pair = np.unique(np.stack([peak, self.layout.site_utc_offset], axis=1), axis=0, return_inverse=True)
        return mean, swing, pair.reshape(-1), pairs


def _daily_cosines(pairs: np.ndarray, time: float) -> np.ndarray:
    """cos of each (peak, UTC offset) pair's daily phase at `time` (the phase `ambient` has; numpy's cos, which the
    sweep has always used)."""
    local = time + pairs[:, 1]
    return np.cos(2.0 * np.pi * ((local - pairs[:, 0]) % DAY) / DAY)
