"""Shared helpers: a small scenario written as data, and ways to change one part of it for a story."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sim.model.scenario import Scenario
from sim.model.unit_fields import UNITS_REQUIRED

pytest_plugins = ["pytester"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from tests.services import header_lines

    return header_lines()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    from tests.services import header_lines

    if terminalreporter.stats.get("skipped") and header_lines():
        for line in header_lines():
            terminalreporter.write_line(line)

ROOT = Path(__file__).resolve().parent.parent
# tiny.yaml's plan, as written there: a test swaps it for another
TINY_PLAN = ("strategy:\n  kind: waves\n  waves: [10%, 50%, 100%]\n  bake: 8h\n"
             "  abort: {threshold: 20%, min_executed: 4}")

BASE: dict[str, Any] = {
    "name": "story",
    "seed": 3,
    "duration": "3d",
    "fleet": {
        "site_kinds": {
            "gym": {"count": 4, "cameras_per_site": 2, "uplink": {"median": "8Mbit/s", "sigma": 0}},
        },
        "hardware": {"orin-nx": 1.0},
        "install_windows": [{"start": "00:00", "duration": "24h"}],
        "storage_free": {"median": "8GB", "sigma": 0},
        "health_check": "10m",
    },
    "artifact": {"full_size": "100MB", "engine_build": "0s"},
    "candidate": {"version": "2", "hardware": {"orin-nx": {"latency": "10ms", "power": 10}}},
    "strategy": {"kind": "all_at_once"},
}


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge `changes` into a copy of `base`; a value of None deletes the key."""
    merged = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def scenario_from(changes: Mapping[str, Any] | None = None) -> Scenario:
    """The base scenario with `changes` applied, validated exactly as a file would be."""
    return Scenario.model_validate(merge(BASE, changes or {}), context={UNITS_REQUIRED: True})


@pytest.fixture
def make_scenario():
    return scenario_from
