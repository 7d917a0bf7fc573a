"""What the candidate's known defects do to one device: its crash rate, its accuracy drop, whether it is exposed.

A defect strikes a cohort (hardware, site kind, camera angle); a device gets the combined chance of every defect
that matches it, 1 − Π(1 − rate). Worked out once per cohort: every health check and telemetry sample asks, and a
fleet has a few dozen cohorts.
"""

from __future__ import annotations

from sim.model.scenario import Defect
from sim.world.fleet import FleetLayout


class CohortDefects:
    def __init__(self, layout: FleetLayout, defects: list[Defect]):
        self._layout = layout
        self._defects = [(defect, defect.cohort) for defect in defects]
        self._by_code: dict[int, tuple[float, float, bool]] = {}
        self._code = layout.cohort_codes()

    def crash_rate(self, device: int) -> float:
        return self._of(device)[0]

    def accuracy_drop(self, device: int) -> float:
        return self._of(device)[1]

    def exposed(self, device: int) -> bool:
        """Does any defect strike this device (its time on the candidate counts as exposure)?"""
        return self._of(device)[2]

    def _of(self, device: int) -> tuple[float, float, bool]:
        code = self._code[device]
        found = self._by_code.get(code)
        if found is None:
            cohort = self._layout.cohort(device)
            found = self._by_code[code] = (
                self._combined(cohort, "failure_rate"), self._combined(cohort, "accuracy_drop"),
                any((defect.failure_rate or defect.accuracy_drop) and where.matches(*cohort)
                    for defect, where in self._defects))
        return found

    def _combined(self, cohort: tuple[str, str, str], field: str) -> float:
        spared = 1.0
        for defect, where in self._defects:
            rate = getattr(defect, field)
            if rate and where.matches(*cohort):
                spared *= 1.0 - rate
        return 1.0 - spared
