"""`fleetlab validate` and `fleetlab schema`: scenario files checked (with the calibration files and rig inventories
met among them), and the schema and reference that describe them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from fleetlab import console
from fleetlab.errors import reported
from fleetlab.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from fleetlab.files import output_file, write_whole
from fleetlab.options import JsonFlag
from sim.input_kinds import other_input
from sim.load import plan_warnings
from sim.model.errors import ScenarioError
from sim.model.scenario import Scenario
from sim.model.units import counted


def validate(files: Annotated[list[Path], typer.Argument(help="scenario files or folders")],
             json_out: JsonFlag = False) -> None:
    """Check scenario files (and calibration files and rig inventories among them); print every problem as
    file:line:col: key.path: message."""
    from fleetlab.suite import scenario_paths

    with reported():
        paths = scenario_paths(files)
    human = console.err if json_out else console.out
    checked = [_checked(path, human) for path in paths]
    failed = any(not record["ok"] for record in checked)
    if json_out:
        console.print_json({"passed": not failed, "exit_code": EXIT_BAD_INPUT if failed else EXIT_OK,
                            "files": checked})
    raise typer.Exit(EXIT_BAD_INPUT if failed else EXIT_OK)


def _checked(path: Path, human: Console) -> dict[str, Any]:
    """One file checked: its problems and warnings shown, and the same as a record for `--json`."""
    try:
        scenario, warnings = plan_warnings(path)
    except ScenarioError as error:
        if kind := other_input(path):       # not a scenario at all: checked as what it is
            return _other_input_checked(path, kind, human)
        console.show_problems(error)
        return {"file": str(path), "kind": "scenario", "ok": False,
                "problems": console.problem_records(error.problems),
                "warnings": []}
    if scenario.hil is not None:     # what `fleetlab hil` would refuse: a warning, a sim run needs none of it
        from hil.artifacts import reference_warnings
        from hil.faults import fault_warnings
        from sim.load import positioned

        warnings += positioned(path, reference_warnings(scenario.hil, path.parent)
                               + fault_warnings(scenario.hil.faults))
    for warning in warnings:
        console.err.print(f"warning: {warning}", markup=False)
    say_calibration(scenario, human)
    human.print(f"{path}: ok ({scenario.name}, strategy {scenario.strategy.kind}, "
                f"about {scenario.fleet.size:,} devices)", markup=False)
    return {"file": str(path), "kind": "scenario", "ok": True, "problems": [],
            "warnings": console.problem_records(warnings), "name": scenario.name,
            "strategy": scenario.strategy.kind, "devices": scenario.fleet.size}


def _other_input_checked(path: Path, kind: str, human: Console) -> dict[str, Any]:
    """A calibration file or a rig inventory met among scenarios: checked as what it is."""
    from hil.inventory import load_inventory
    from sim.load import load_model
    from sim.model.calibration import Calibration

    try:
        if kind == "calibration file":
            profiles = load_model(Calibration, path).profiles
            what = "; ".join(f"{name} from {', '.join(profile.rigs)}" for name, profile in profiles.items())
        else:
            what = counted(len(load_inventory(path).rigs), "rig")
    except ScenarioError as error:
        console.show_problems(error)
        return {"file": str(path), "kind": kind, "ok": False, "problems": console.problem_records(error.problems),
                "warnings": []}
    human.print(f"{path}: ok ({kind}: {what})", markup=False)
    return {"file": str(path), "kind": kind, "ok": True, "problems": [], "warnings": []}


def schema(write: Annotated[Optional[Path], typer.Option(help="write to this file instead of stdout")] = None,
           markdown: Annotated[bool, typer.Option(
               "--markdown", help="the scenario reference for people instead: every key, what to write, its "
                                  "default, its meaning (docs/scenario-reference.md)")] = False) -> None:
    """Print the JSON Schema of scenario files (for editors), or with --markdown the scenario reference."""
    from fleetlab.scenario_reference import reference_markdown
    from fleetlab.scenario_schema import schema_text

    text = reference_markdown() if markdown else schema_text()
    if write:
        with reported():
            write_whole(output_file(write), text)
        console.err.print(f"wrote {write}")
    else:
        sys.stdout.write(text)


def say_calibration(scenario: Scenario, human: Console) -> None:
    """Which numbers are measured, by which rig and when (and what to be wary of), before any result."""
    from sim.calibration_use import provenance_lines

    for line in provenance_lines(scenario):
        human.print(f"calibrated: {line}", markup=False)
    for warning in scenario.calibration.warnings if scenario.calibration else []:
        console.err.print(f"warning: calibration: {warning}", markup=False)
