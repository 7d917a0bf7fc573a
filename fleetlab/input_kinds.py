"""Which fleetlab input a YAML file is: a folder of scenarios may also hold the calibration file they name
(`calibration: calibration.yaml` is read beside the scenario) and the rig inventory. `fleetlab run` leaves those out
saying what they are, `validate` checks each as what it is, and `lint` passes them by; before, a calibration file
in the folder made the whole suite CANNOT MEASURE with a page of "unknown key" problems."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sim.load import read_document
from sim.model.errors import ScenarioError

Kind = Literal["scenario", "calibration file", "rig inventory"]

NOT_A_SCENARIO: dict[str, str] = {
    "calibration file": "a calibration file (fleetlab calibrate), not a scenario: scenarios take it with "
                        "`calibration:`",
    "rig inventory": "a rig inventory, not a scenario: give it with --rigs",
}


def input_kind(path: Path) -> Kind:
    """By the top-level keys only; anything else, or a file that does not parse, is a scenario (whose loader then
    says what is wrong with it)."""
    try:
        document = read_document(path)
    except ScenarioError:
        return "scenario"
    keys = set(document) if isinstance(document, dict) else set()
    if keys & {"fleet", "strategy", "candidate"}:
        return "scenario"
    if {"schema_version", "profiles"} <= keys:
        return "calibration file"
    if "rigs" in keys:
        return "rig inventory"
    return "scenario"
