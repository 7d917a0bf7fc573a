"""Power cuts on a device: its own Poisson stream of cuts from time 0, drawn here; what a cut does in each state is
part of the lifecycle (sim/world/device.py, `_power_cut`).

A/B slots keep the old model bootable, so a cut costs a reboot and a retry; an in-place install or rollback that a
cut interrupts leaves nothing bootable (BRICKED).
"""

from __future__ import annotations

from sim.model import streams

POWER_CUT = "power cut"


def next_cut(seed: int, device: int, counter: int, rate: float, start: float, after: float) -> tuple[float, int]:
    """The device's first cut later than `after`, drawing the gaps of its stream on from `start`: (moment, the
    counter of the last draw). The same device meets the same cuts whatever else happens (common random numbers)."""
    moment = start
    while True:
        counter += 1
        moment += streams.exponential(seed, streams.POWER_CUT, device, counter, 1.0 / rate)
        if moment > after:
            return moment, counter
