"""What the world records while it runs: state counts, coverage, bytes, exposure, game clashes, reasons.

Kept compact (typed arrays, counters) so that a million devices cost a few MB here. A test can pass
`on_transition` to see every lifecycle move as it happens.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim.model.lifecycle import DeviceState

_COMMITTED = DeviceState.COMMITTED
_REASONED = frozenset({DeviceState.FAILED, DeviceState.ROLLING_BACK, DeviceState.BRICKED, DeviceState.IDLE})

TransitionHook = Callable[[float, int, DeviceState, DeviceState, str], None]


@dataclass
class FleetRecorder:
    size: int
    sample_step: float
    on_transition: TransitionHook | None = None
    counts: list[int] = field(default_factory=lambda: [0] * len(DeviceState))
    commits: array = field(default_factory=lambda: array("d"))       # times a device became COMMITTED
    uncommits: array = field(default_factory=lambda: array("d"))     # times a COMMITTED device started rolling back
    samples: list[list[int]] = field(default_factory=list)  # state counts at 0, step, 2 step, … and at the end
    sampled_at: float = -1.0                                      # when the last of them was taken
    reasons: dict[int, str] = field(default_factory=dict)           # device -> why it failed / rolled back / bricked
    useful_bytes: float = 0.0
    lan_bytes: float = 0.0
    first_failure: float | None = None
    exposure_seconds: float = 0.0
    downloads_during_games: int = 0
    installs_during_games: int = 0
    retried_failures: int = 0       # new executions after a failed update (delivery.failure_retries)
    transitions: int = 0
    candidate_start: np.ndarray = field(init=False)
    candidate_end: np.ndarray = field(init=False)
    _shadow: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        self.counts[DeviceState.IDLE] = self.size
        self.candidate_start = np.full(self.size, np.inf)
        self.candidate_end = np.full(self.size, np.inf)

    @property
    def shadowing(self) -> bool:
        """Has any device run the candidate in shadow (only then do the shadow columns exist: 16 MB a million)."""
        return self._shadow is not None

    def _shadow_columns(self) -> tuple[np.ndarray, np.ndarray]:
        if self._shadow is None:
            self._shadow = (np.full(self.size, np.inf), np.full(self.size, np.inf))
        return self._shadow

    @property
    def shadow_start(self) -> np.ndarray:
        return self._shadow_columns()[0]

    @property
    def shadow_end(self) -> np.ndarray:
        return self._shadow_columns()[1]

    def transition(self, time: float, device: int, source: DeviceState, target: DeviceState, reason: str) -> None:
        self.transitions += 1
        counts = self.counts
        counts[source] -= 1
        counts[target] += 1
        if target == _COMMITTED:
            self.commits.append(time)
        elif source == _COMMITTED:
            self.uncommits.append(time)
        if reason and target in _REASONED:
            self.reasons[device] = reason
            if self.first_failure is None and target != DeviceState.IDLE and not reason.startswith("rollback"):
                self.first_failure = time
        if self.on_transition is not None:
            self.on_transition(time, device, source, target, reason)

    def sample(self, now: float) -> None:
        """The state counts at `now`: a later sample at the same time (the run's end on a step) replaces the
        earlier one, so each sample stands for its own time and the last is the state the run ended in."""
        if self.samples and self.sampled_at == now:
            self.samples[-1] = list(self.counts)
        else:
            self.samples.append(list(self.counts))
        self.sampled_at = now

    def reason_counts(self) -> Counter[str]:
        return Counter(self.reasons.values())
