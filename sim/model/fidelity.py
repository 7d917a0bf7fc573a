"""Fidelity: the simulator's prediction beside the rigs' measurement, per rig and phase (fleetlab fidelity, and the
suite report in --mode both). A phase is off when its relative error is above the tolerance (10% by default)."""

from __future__ import annotations

import math
from typing import Literal

from sim.model.record import Record
from sim.model.units import format_duration

TOLERANCE = 0.10
PHASES = ("download", "build", "install/activate", "health", "rollback", "total", "latency p50", "peak temperature")
Unit = Literal["s", "ms", "°C"]


class FidelityRow(Record):
    rig: str
    hardware: str
    phase: str
    unit: Unit
    predicted: float
    measured: float
    tolerance: float = TOLERANCE

    @property
    def error(self) -> float:
        """Relative error of the prediction against the measurement (temperatures: against the rise above 0 °C
        would flatter them, so against the measured value in °C as shown)."""
        if self.measured == 0:
            return 0.0 if self.predicted == 0 else float("inf")
        return (self.predicted - self.measured) / abs(self.measured)

    @property
    def off(self) -> bool:
        return abs(self.error) > self.tolerance

    def _text(self, value: float) -> str:
        if self.unit == "s":
            return format_duration(value) if value >= 60 else f"{value:.2f} s"
        return f"{value:.3f} ms" if self.unit == "ms" else f"{value:.1f} °C"

    @property
    def predicted_text(self) -> str:
        return self._text(self.predicted)

    @property
    def measured_text(self) -> str:
        return self._text(self.measured)

    @property
    def error_text(self) -> str:
        return f"{self.error:+.1%}" if math.isfinite(self.error) else "measured 0"

    def as_json(self) -> dict[str, object]:
        """The row with its error and verdict, for fidelity.json: an error against a measured 0 is null there (JSON
        has no infinity; Python would write `Infinity`, which strict parsers refuse)."""
        return self.model_dump() | {"error": self.error if math.isfinite(self.error) else None, "off": self.off}
