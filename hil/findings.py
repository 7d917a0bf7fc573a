"""What a rig session has learnt so far, in one typed record (the steps fill it, the result and the plan's Sample
read it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hil.errors import HilError
from hil.parsers import TegraSample
from sim.model.hil_results import LatencySummary, ParityResult, ShadowSummary

Outputs = dict[str, np.ndarray]


@dataclass
class Findings:
    facts: dict[str, str] = field(default_factory=dict)
    idle_temperature: float | None = None
    previous_slot: str | None = None           # the slot serving when the session began (after provisioning)
    candidate_slot: str | None = None
    switched: bool = False                     # `active` points at the candidate now
    killed_at: float | None = None             # when the kill step stopped the camera service, till it runs again
    baseline: Outputs = field(default_factory=dict)            # the current engine's outputs, per angle
    remote_frames: dict[str, str] = field(default_factory=dict)
    candidate_outputs: Outputs = field(default_factory=dict)
    parity: list[ParityResult] = field(default_factory=list)
    latency: LatencySummary | None = None
    latencies: list[float] = field(default_factory=list)       # ms per timed inference of the candidate
    current_latencies: list[float] = field(default_factory=list)   # ms, the current engine (control rigs)
    latency_telemetry: list[TegraSample] = field(default_factory=list)
    hand_over_telemetry: list[TegraSample] = field(default_factory=list)   # while both models ran (hand_over)
    telemetry: list[TegraSample] = field(default_factory=list)  # every sample: latency runs, hand-over and soaks
    shadow: ShadowSummary | None = None
    bytes_sent: int = 0

    def candidate(self) -> str:
        """The slot the candidate was installed in (a step that needs it runs after the transfer)."""
        if self.candidate_slot is None:
            raise HilError("no candidate slot yet: the transfer has not run")
        return self.candidate_slot

    def previous(self) -> str:
        """The slot of the engine that served before (known from the baseline on)."""
        if self.previous_slot is None:
            raise HilError("no previous slot yet: the baseline has not run")
        return self.previous_slot
