"""Which fleetlab input a YAML file is, by its top-level keys: a scenario, a calibration file or a rig inventory.

A folder of scenarios may also hold the calibration file they name (`calibration: calibration.yaml` is read beside
the scenario) and the rig inventory: `fleetlab run` leaves those out saying what they are, `validate` checks each as
what it is, `lint` passes them by (before, a calibration file in the folder made the whole suite CANNOT MEASURE).
And a file given where another kind belongs (`fleetlab hil rigs/lab.yaml --rigs scenario.yaml`, the two swapped)
is refused in one line saying so, instead of a page of "required key is missing"."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sim.model.errors import Problem, ScenarioError

Kind = Literal["scenario", "calibration file", "rig inventory"]

NOT_A_SCENARIO: dict[str, str] = {
    "calibration file": "a calibration file (fleetlab calibrate), not a scenario: scenarios take it with "
                        "`calibration:`",
    "rig inventory": "a rig inventory, not a scenario: give it with --rigs",
}
NOT_AN_INVENTORY: dict[str, str] = {
    "scenario": "a scenario, not a rig inventory: give the scenario as the command's file and the inventory "
                "with --rigs",
    "calibration file": "a calibration file (fleetlab calibrate), not a rig inventory",
}


def input_kind(path: str | Path) -> Kind | None:
    """By the top-level keys only; None when the file does not parse or its keys say nothing clear (the loader then
    says what is wrong with it). A file with `fleet`, `strategy` or `candidate` is a scenario, so a broken scenario
    is still reported as one."""
    from sim.load import read_document  # sim.load refuses a wrong kind through this module

    try:
        document = read_document(path)
    except ScenarioError:
        return None
    keys = set(document) if isinstance(document, dict) else set()
    if keys & {"fleet", "strategy", "candidate"}:
        return "scenario"
    if {"schema_version", "profiles"} <= keys:
        return "calibration file"
    if "rigs" in keys:
        return "rig inventory"
    return None


def other_input(path: str | Path) -> Kind | None:
    """The file's kind when it is plainly not a scenario (a calibration file, a rig inventory), else None."""
    kind = input_kind(path)
    return kind if kind in NOT_A_SCENARIO else None


def wrong_kind(path: str | Path, expected: Kind, said: dict[str, str]) -> ScenarioError | None:
    """One problem naming what the file is, when it is plainly another kind of input than `expected`."""
    kind = input_kind(path)
    if kind is None or kind == expected or kind not in said:
        return None
    return ScenarioError([Problem(str(path), 1, 1, "", said[kind])])
