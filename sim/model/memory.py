"""Whether a board holds the models it must run at once: the candidate alone once it has switched, and, under
`delivery.update_strategy: hand_over`, the candidate beside the current model until it has started (balena starts the
new service before it stops the old). A 4 GB Jetson Nano shares that memory between CPU and GPU, so two TensorRT
engines of a large model do not fit: the kernel's out-of-memory killer ends the candidate, and the camera's health
check fails as if the candidate were bad. Known only where the scenario gives both numbers: the model's `memory` per
hardware and the board's `fleet.hardware_profiles.<hardware>.memory`; unset, nothing is checked.

A shadow runs the candidate beside the current model by design: on such a board it is killed as it starts. The
simulator fails such a camera's health check, or its shadow (sim/world/health.py), and `fleetlab lint` warns before
the run (sim/model/fleet_traps.py), from this one rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.model.scenario import Scenario
from sim.model.units import format_size

OUT_OF_MEMORY = "health check: out of memory"     # how the reason of a camera whose board was short starts
SHADOW_OUT_OF_MEMORY = "shadow: out of memory"     # the same for a camera running the candidate in shadow


@dataclass(frozen=True)
class MemoryShortfall:
    hardware: str
    needed: float          # bytes the board must hold at once
    available: float       # bytes the board leaves for the camera's models
    held: str              # what it must hold, in words
    beside_current: bool   # the candidate and the current model at once (hand_over, or a shadow)
    shadow: bool = False   # asked for a shadow, which runs both by design

    @property
    def reason(self) -> str:
        """The failed health check's reason (a shadow's: its failure as it starts), as the simulator reports it."""
        return (f"{SHADOW_OUT_OF_MEMORY if self.shadow else OUT_OF_MEMORY} ({self.held}: "
                f"{format_size(self.needed)}, over the {format_size(self.available)} a {self.hardware} leaves for "
                "models)")


def memory_shortfall(scenario: Scenario, hardware: str, beside_current: bool | None = None) -> MemoryShortfall | None:
    """What a board of this hardware must hold at once that is more than it has, or None (it fits, or a number is
    not given). `beside_current`: whether the candidate runs beside the current model (None: as the delivery says,
    under hand_over; True for a shadow, which runs both by design)."""
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
    handing_over = scenario.delivery.update_strategy == "hand_over"
    both = False
    if current is not None and (handing_over if beside_current is None else beside_current):
        both = True
        held += f" beside the current model's {format_size(current)}"
        held += " (delivery.update_strategy: hand_over)" if handing_over else ""
        needed += current
    shadow = beside_current is True
    return MemoryShortfall(hardware, needed, available, held, both, shadow) if needed > available else None
