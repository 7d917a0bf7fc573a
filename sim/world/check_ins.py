"""When a camera's update agent asks the server for orders (`fleet.poll_interval`).

Agents that poll (Mender's asks every 30 minutes by default) learn of a release, a promotion or a rollback only at
their next check-in, not when the controller decides it; a check-in needs the site's uplink, so the cameras of a
dark site ask again at their first check-in after it returns. Each camera checks in at its own phase of the
interval, drawn from its own stream (the same phase under every plan), so a wave's cameras start spread over one
interval, as a real fleet's do. Without a poll interval a camera is told at once (a pushed notification).

Questions are only asked at the present moment: the uplinks answer for a site's now, never for its future.
"""

from __future__ import annotations

import math

from sim.model import streams
from sim.world.link import Uplinks


class CheckIns:
    def __init__(self, interval: float, seed: int, uplinks: Uplinks, device_site: list[int]):
        self.interval = interval
        self.seed = seed
        self.uplinks = uplinks
        self._device_site = device_site

    def scheduled(self, device: int, time: float) -> float:
        """The device's first check-in at or after `time`, whether or not its site can be reached then."""
        phase = streams.uniform(self.seed, streams.CHECK_IN, device) * self.interval
        if time <= phase:
            return phase
        return phase + math.ceil((time - phase) / self.interval) * self.interval

    def wait(self, device: int, now: float) -> float | None:
        """None when a check-in at `now` reaches the server; else how long until the next one worth trying (the
        first after the site's uplink is back; math.inf when it is not back within the run)."""
        site = self._device_site[device]
        if self.uplinks.is_up(site, now):
            return None
        back = self.uplinks.next_up(site, now)
        if back == math.inf:
            return math.inf
        return self.scheduled(device, back) - now     # back > now: the site is dark now
