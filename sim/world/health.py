"""What a device's health check finds after `fleet.health_check` seconds on the candidate: the rules of the check,
apart from the lifecycle that runs it (sim/world/device.py decides what a failed check leads to).

A check fails when the board cannot hold the models it must run at once (sim/model/memory.py: the out-of-memory
killer ends the candidate), when the candidate's inference service crashed (the device's cohort crash rate, drawn
from the device's own stream), when the device ran over the health temperature limit, or when the candidate's frame
rate at that temperature (throttled above `thermal.throttle_at`) falls short of `fleet.fps_needed`.
"""

from __future__ import annotations

from sim.model import streams
from sim.model.memory import memory_shortfall
from sim.world.defects import CohortDefects
from sim.world.world import World

CRASHED = "health check: inference service crashed"


class HealthCheck:
    def __init__(self, world: World, defects: CohortDefects):
        self.world = world
        self.defects = defects
        self.fleet = world.scenario.fleet
        # by hardware index: why a board of it cannot hold the models, or '' (known before the run, per board)
        short = [memory_shortfall(world.scenario, name) for name in self.fleet.hardware]
        self._out_of_memory = [found.reason if found else "" for found in short] if any(short) else None
        both = [memory_shortfall(world.scenario, name, beside_current=True) for name in self.fleet.hardware]
        self._shadow_out_of_memory = [found.reason if found else "" for found in both]
        self._hardware = world.layout.hot_lists().device_hardware

    def shadow_problem(self, device: int) -> str:
        """Why the candidate cannot run in shadow on this device (its board cannot hold it beside the current
        model: killed as it starts), or ''."""
        return self._shadow_out_of_memory[self._hardware[device]]

    def problem(self, device: int) -> str:
        """Why the health check fails now, or '' when the candidate runs well on this device."""
        world, fleet = self.world, self.fleet
        if self._out_of_memory is not None and (short := self._out_of_memory[self._hardware[device]]):
            return short
        crash_rate = self.defects.crash_rate(device)
        if crash_rate and streams.uniform(world.seed, streams.HEALTH, device) < crash_rate:
            return CRASHED
        temperature = world.thermal.after_switch(device, world.now, fleet.health_check)
        if temperature > fleet.thermal.health_limit:
            return "health check: over temperature"
        if world.thermal.candidate_fps(device, temperature) < fleet.fps_needed:
            return "health check: fps below need"
        return ""
