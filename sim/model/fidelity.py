"""Fidelity: the simulator's prediction beside the rigs' measurement, per rig and phase (fleetlab fidelity, and the
suite report in --mode both). A phase is off when its relative error is above the tolerance (10% by default) and,
for a time, the two differ by more than SECONDS_FLOOR: a 1.5 ms miss on a 10 ms download is 15% and moves no
rollout. A phase the simulator cannot predict for this rig (no link rate to download at) is a row with its
measurement and why, never dropped without a word."""

from __future__ import annotations

import math
from typing import Literal

from sim.model.record import Record
from sim.model.units import format_duration

TOLERANCE = 0.10
SECONDS_FLOOR = 1.0     # a phase's time off by less than this is within, whatever its share: rollouts take hours
Unit = Literal["s", "ms", "°C"]


class FidelityRow(Record):
    rig: str
    hardware: str
    phase: str
    unit: Unit
    predicted: float | None       # None: not predicted, `unpredicted` says why
    measured: float
    tolerance: float = TOLERANCE
    unpredicted: str = ""

    @property
    def error(self) -> float | None:
        """Relative error of the prediction against the measurement (temperatures: against the rise above 0 °C
        would flatter them, so against the measured value in °C as shown); None when nothing was predicted."""
        if self.predicted is None:
            return None
        if self.measured == 0:
            return 0.0 if self.predicted == 0 else float("inf")
        return (self.predicted - self.measured) / abs(self.measured)

    @property
    def off(self) -> bool:
        if self.error is None or abs(self.error) <= self.tolerance:
            return False
        return self.unit != "s" or abs((self.predicted or 0.0) - self.measured) > SECONDS_FLOOR

    @property
    def within_text(self) -> str:
        """Why a row is not off: 'within 10%', or 'within 1 s' for a small time further off than that share."""
        share = self.error is not None and abs(self.error) <= self.tolerance
        return f"within {self.tolerance * 100:g}%" if share else f"within {SECONDS_FLOOR:g} s"

    def _text(self, value: float) -> str:
        if self.unit == "s":
            return format_duration(value) if value >= 60 else f"{value:.2f} s"
        return f"{value:.3f} ms" if self.unit == "ms" else f"{value:.1f} °C"

    @property
    def predicted_text(self) -> str:
        return self._text(self.predicted) if self.predicted is not None else "—"

    @property
    def measured_text(self) -> str:
        return self._text(self.measured)

    @property
    def error_text(self) -> str:
        if self.error is None:
            return "not predicted"
        return f"{self.error:+.1%}" if math.isfinite(self.error) else "measured 0"

    def as_json(self) -> dict[str, object]:
        """The row with its error and verdict, for fidelity.json: an error against a measured 0 is null there (JSON
        has no infinity; Python would write `Infinity`, which strict parsers refuse)."""
        error = self.error
        return self.model_dump() | {"error": error if error is not None and math.isfinite(error) else None,
                                    "off": self.off}
