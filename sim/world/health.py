"""What a device's health check finds after `fleet.health_check` seconds on the candidate: the rules of the check,
apart from the lifecycle that runs it (sim/world/device.py decides what a failed check leads to).

A check fails when the candidate's inference service crashed (the device's cohort crash rate, drawn from the
device's own stream), when the device ran over the health temperature limit, or when the candidate's frame rate at
that temperature (throttled above `thermal.throttle_at`) falls short of `fleet.fps_needed`.
"""

from __future__ import annotations

from sim.model import streams
from sim.world.defects import CohortDefects
from sim.world.world import World

CRASHED = "health check: inference service crashed"


class HealthCheck:
    def __init__(self, world: World, defects: CohortDefects):
        self.world = world
        self.defects = defects
        self.fleet = world.scenario.fleet

    def problem(self, device: int) -> str:
        """Why the health check fails now, or '' when the candidate runs well on this device."""
        world, fleet = self.world, self.fleet
        crash_rate = self.defects.crash_rate(device)
        if crash_rate and streams.uniform(world.seed, streams.HEALTH, device) < crash_rate:
            return CRASHED
        temperature = world.thermal.after_switch(device, world.now, fleet.health_check)
        if temperature > fleet.thermal.health_limit:
            return "health check: over temperature"
        if world.thermal.candidate_fps(device, temperature) < fleet.fps_needed:
            return "health check: fps below need"
        return ""
