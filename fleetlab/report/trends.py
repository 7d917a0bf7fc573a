"""Trends across runs, as the history hands them to the reports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Trends:
    # (scenario, metric) -> subject (plan or "rig NAME") -> [(run_id, value)], oldest first
    series: dict[tuple[str, str], dict[str, list[tuple[str, float]]]] = field(default_factory=dict)
    regressions: list[str] = field(default_factory=list)
    baseline: str | None = None       # the last good (GO) run compared against
    problem: str = ""                 # why the history could not be read or written this time ('' when it could)
