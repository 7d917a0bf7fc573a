"""Telemetry a device sends when asked: frame rate, latency, temperature, a detection-rate proxy and, for a device
running the candidate in shadow, the agreement of the two models' outputs.

Values are deterministic per (seed, device, time): a device has its own steady offset (its scene, its enclosure)
plus small per-sample noise, both from its own stream, so canary and control differ only by what the model does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.model import streams
from sim.model.lifecycle import DeviceState as S
from sim.model.strategy import Samples
from sim.world.world import World

if TYPE_CHECKING:
    from sim.world.device import Lifecycle

BASE_DETECTION = 0.90


def _noise(world: World, device: int, salt: int, spread: float) -> float:
    """Approximately normal noise (sum of three uniforms), keyed by device and salt."""
    total = sum(streams.uniform(world.seed, streams.TELEMETRY, device, salt * 4 + k) for k in range(3))
    return (total - 1.5) * 2.0 * spread


class Telemetry:
    def __init__(self, world: World, lifecycle: "Lifecycle"):
        self.world = world
        self.lifecycle = lifecycle

    def _shadowing(self, device: int) -> bool:
        known = self.lifecycle.devices[device]
        return known is not None and known.shadow and self.world.state(device) == S.AWAITING_WINDOW

    def sample(self, canary: tuple[int, ...], control: tuple[int, ...]) -> dict[str, Samples]:
        """Telemetry from online devices: canary devices running the candidate (or shadowing it), control devices
        running the current model."""
        tick = int(self.world.now // 60)
        canary_rows = [self._row(device, True, tick) for device in canary if self._reports(device, True)]
        control_rows = [self._row(device, False, tick) for device in control if self._reports(device, False)]
        metrics = ("fps", "latency_ms", "temperature", "detection_rate", "agreement")
        return {name: Samples(tuple(row[index] for row in canary_rows if not math.isnan(row[index])),
                              tuple(row[index] for row in control_rows if not math.isnan(row[index])))
                for index, name in enumerate(metrics)}

    def _reports(self, device: int, on_candidate: bool) -> bool:
        world = self.world
        site = world.layout.device_site[device]
        if not world.uplinks.is_up(int(site), world.now):
            return False
        state = world.state(device)
        if on_candidate:
            return state in (S.HEALTH_CHECK, S.COMMITTED) or self._shadowing(device)
        return state in (S.IDLE, S.DOWNLOADING, S.VERIFYING, S.INSTALLING, S.AWAITING_WINDOW, S.ROLLED_BACK)

    def _row(self, device: int, on_candidate: bool, tick: int) -> tuple[float, float, float, float, float]:
        world = self.world
        thermal = world.thermal
        shadowing = on_candidate and self._shadowing(device)
        temperature = thermal.steady_temperature(device, world.now, candidate=on_candidate and not shadowing,
                                                 shadow=shadowing) + _noise(world, device, tick, 0.5)
        latency = thermal.latency(device, candidate=on_candidate and not shadowing)
        fps = 1.0 / latency
        if temperature > world.scenario.fleet.thermal.throttle_at:
            fps *= world.scenario.fleet.thermal.throttled_fps_factor
        if shadowing:
            fps *= 1.0 - world.scenario.fleet.shadow_cost
        scene = _noise(world, device, 0, 0.01)
        drop = self.lifecycle.defects.accuracy_drop(device) if on_candidate else 0.0
        detection = (BASE_DETECTION + scene) * (1.0 - drop) + _noise(world, device, tick + 1, 0.005)
        agreement = math.nan
        if shadowing:
            crash = self.lifecycle.defects.crash_rate(device)
            agreement = min(1.0, 1.0 - drop - crash + 0.995 - 1.0 + _noise(world, device, tick + 2, 0.002))
        return (fps * (1.0 + _noise(world, device, tick + 3, 0.01)), latency * 1000.0 * (1.0 + _noise(
            world, device, tick + 4, 0.02)), temperature, detection, agreement)
