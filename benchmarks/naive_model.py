"""The reference the fluid model is measured against: a naive SimPy model that moves each download 1 MB at a time.

One SimPy process per device; every chunk is a timeout at the rate the device's share of its site uplink has
when the chunk starts (the naive baseline: one timeout per 1 MB chunk). Same fleet layout, same uplinks and
outages, same install windows as the real model, so the two do the same work. Not used by fleetlab itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator

import simpy

from sim.model.scenario import Scenario
from sim.world.calendar import SiteCalendar
from sim.world.fleet import build_layout
from sim.world.link import Uplinks

CHUNK = 1e6


def run_naive(scenario: Scenario, seed: int) -> dict[str, float]:
    """Every device starts at time 0 (an all-at-once rollout); returns events and devices committed."""
    env = simpy.Environment()
    layout = build_layout(scenario.fleet, seed)
    uplinks = Uplinks.for_scenario(scenario, layout, seed)
    calendar = SiteCalendar(scenario, layout, seed)
    active: Counter[int] = Counter()
    counters = {"chunks": 0, "committed": 0}
    artifact, fleet = scenario.artifact, scenario.fleet
    cap = fleet.egress_cap or float("inf")
    downloading = [0]

    def device(index: int, site: int) -> Generator[simpy.Event, None, None]:
        remaining = artifact.full_size
        active[site] += 1
        downloading[0] += 1
        while remaining > 0:
            rate = min(uplinks.rate(site, env.now) / active[site], cap / downloading[0])
            if rate <= 0:
                yield env.timeout(max(uplinks.next_change(site, env.now) - env.now, 1.0))
                continue
            chunk = min(CHUNK, remaining)
            yield env.timeout(chunk / rate)
            counters["chunks"] += 1
            remaining -= chunk
        active[site] -= 1
        downloading[0] -= 1
        yield env.timeout(artifact.full_size / artifact.verify_rate)
        if storage[index] < artifact.full_size + (artifact.installed_size or artifact.full_size):
            return
        yield env.timeout(artifact.full_size / artifact.install_rate + artifact.engine_build)
        start = calendar.next_activation(site, env.now, fleet.activation_time + fleet.health_check)
        if start < scenario.duration:
            yield env.timeout(start - env.now)
            yield env.timeout(fleet.activation_time + fleet.health_check)
            counters["committed"] += 1

    sites = layout.device_site.tolist()
    storage = layout.device_storage.tolist()
    for index in range(layout.size):
        env.process(device(index, sites[index]))
    env.run(until=scenario.duration)
    return {"chunks": counters["chunks"], "committed": counters["committed"]}
