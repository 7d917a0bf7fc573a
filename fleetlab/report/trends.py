"""Trends across runs, as the history hands them to the reports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Trends:
    # (scenario, metric) -> subject (plan or "rig NAME") -> [(run_id, value)], oldest first
    series: dict[tuple[str, str], dict[str, list[tuple[str, float]]]] = field(default_factory=dict)
    regressions: list[str] = field(default_factory=list)
    # the last good (GO) run; each number is compared with the last GO run that measured it (over as many seeds)
    baseline: str | None = None
    problem: str = ""                 # why the history could not be read or written this time ('' when it could)
