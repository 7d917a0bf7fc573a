"""Whether a board holds the models it must run at once: the candidate alone once it has switched, and, under
`delivery.update_strategy: hand_over`, the candidate beside the current model until it has started (balena starts the
new service before it stops the old). A 4 GB Jetson Nano shares that memory between CPU and GPU, so two TensorRT
engines of a large model do not fit: the kernel's out-of-memory killer ends the candidate, and the camera's health
check fails as if the candidate were bad. Known only where the scenario gives both numbers: the model's `memory` per
hardware and the board's `fleet.hardware_profiles.<hardware>.memory`; unset, nothing is checked.

The simulator fails such a camera's health check (sim/world/health.py) and `fleetlab lint` warns before the run
(sim/model/fleet_traps.py), from this one rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.model.scenario import Scenario
from sim.model.units import format_size

OUT_OF_MEMORY = "health check: out of memory"     # how the reason of a camera whose board was short starts


@dataclass(frozen=True)
class MemoryShortfall:
    hardware: str
    needed: float          # bytes the board must hold at once
    available: float       # bytes the board leaves for the camera's models
    held: str              # what it must hold, in words

    @property
    def reason(self) -> str:
        """The failed health check's reason, as the simulator reports it."""
        return (f"{OUT_OF_MEMORY} ({self.held}: {format_size(self.needed)}, over the {format_size(self.available)} "
                f"a {self.hardware} leaves for models)")


def memory_shortfall(scenario: Scenario, hardware: str) -> MemoryShortfall | None:
    """What a board of this hardware must hold at once that is more than it has, or None (it fits, or a number is
    not given)."""
    profile = scenario.fleet.hardware_profiles.get(hardware)
    available = profile.memory if profile is not None else None
    candidate_on = scenario.candidate.hardware.get(hardware)
    candidate = candidate_on.memory if candidate_on is not None else None
    if available is None or candidate is None:
        return None
    held = f"the candidate's {format_size(candidate)}"
    needed = candidate
    current_on = scenario.current_model.hardware.get(hardware)
    current = current_on.memory if current_on is not None else None
    if scenario.delivery.update_strategy == "hand_over" and current is not None:
        held += f" beside the current model's {format_size(current)} (delivery.update_strategy: hand_over)"
        needed += current
    return MemoryShortfall(hardware, needed, available, held) if needed > available else None
