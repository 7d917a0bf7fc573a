"""`fleetlab export`, `fleetlab import` and `fleetlab lint`: from a simulated plan to an update system's
configuration, back, and the plan traps in between (docs/interop.md)."""

from __future__ import annotations

import copy
import io
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from ruamel.yaml import YAML

from fleetlab import console
from fleetlab.errors import refuse, reported
from fleetlab.exit_codes import EXIT_NO_GO, EXIT_OK
from fleetlab.files import write_whole
from fleetlab.interop.targets import (
    TARGETS,
    default_start,
    defer_mismatch,
    export_plan,
    failure_handling_mismatch,
    fill_in,
    import_document,
    link_mismatch,
    poll_mismatch,
    retry_mismatch,
    staging_mismatch,
    start_mismatch,
    switch_mismatch,
    timeout_mismatch,
)
from fleetlab.options import JsonFlag
from sim.load import load_scenario, plan_warnings
from sim.read_input import read_text

TARGET_HELP = "aws-iot-jobs, hawkbit, mender or azure-adu"


def _target(name: str) -> str:
    if name not in TARGETS:
        raise typer.BadParameter(f"unknown update system {name!r}; one of {', '.join(TARGETS)}")
    return name


def export(file: Path,
           to: Annotated[str, typer.Option("--to", help=TARGET_HELP, callback=_target)],
           plan: Annotated[str, typer.Option(help="'plan' (the strategy) or a name under alternatives:")] = "plan",
           out: Annotated[Optional[Path], typer.Option(help="write the document here instead of stdout")] = None,
           approximate: Annotated[bool, typer.Option(help="approximate what the target cannot express, saying "
                                                           "how in the document's description")] = False,
           start: Annotated[Optional[datetime], typer.Option(help="when the rollout starts (UTC); default: the "
                                                                  "scenario's next start weekday")] = None) -> None:
    """Write an update system's configuration for the scenario's plan; refuse what it cannot express."""
    from fleetlab.compare import resolve_plans

    with reported(file):
        scenario = load_scenario(file)
        chosen = resolve_plans(scenario, [plan])[plan]
        when = (start.replace(tzinfo=start.tzinfo or timezone.utc) if start
                else default_start(scenario, datetime.now(timezone.utc)))
        exported = export_plan(scenario, plan, chosen, to, when, approximate)
        notes = [note for note in (start_mismatch(scenario, when), link_mismatch(scenario, to),
                                   poll_mismatch(scenario, to), defer_mismatch(scenario, to),
                                   timeout_mismatch(scenario, to), retry_mismatch(scenario, to),
                                   switch_mismatch(scenario, to), failure_handling_mismatch(scenario, to),
                                   staging_mismatch(scenario, to)) if note]
    text = json.dumps(exported.document, indent=2) + "\n"
    for note in notes:
        console.err.print(f"note: {note}", markup=False)
    for line in exported.approximations:
        console.err.print(f"approximated: {line}", markup=False)
    for name in fill_in(to):
        console.err.print(f"fill in: {name}", markup=False)
    if out is None:
        sys.stdout.write(text)
        return
    with reported():
        write_whole(out, text)
    console.err.print(f"wrote {out} ({to})", markup=False)


def import_(file: Path,
            source: Annotated[str, typer.Option("--from", help=TARGET_HELP, callback=_target)],
            name: Annotated[str, typer.Option(help="the name under alternatives:")] = "") -> None:
    """Print the fleetlab `strategy:` (and `alternatives:` entry) equivalent to an update system's policy."""
    import re

    from sim.model.lint import PLAN_NAME

    if name and (name == "plan" or not re.fullmatch(PLAN_NAME, name)):     # what validate would refuse in the file
        refuse(f"--name {name!r}: a plan's name is letters, digits, '_' and '-', and not 'plan'")
    with reported(file):
        text = read_text(file)      # bounded like every input: a huge file or a device is refused, not read
        imported = import_document(text, source)
    yaml = YAML()
    yaml.default_flow_style = None
    yaml.width = 4096       # a plan's flow mapping on one line, not folded at ruamel's 80 columns mid-value
    buffer = io.StringIO()
    yaml.dump({"strategy": imported.strategy,
               "alternatives": {name or source.replace("-", "_"): copy.deepcopy(imported.strategy)}}, buffer)
    header = [f"# the {source} policy in {file.name}, as a fleetlab plan"]
    header += [f"# note: {note}" for note in imported.notes]
    sys.stdout.write("\n".join(header) + "\n" + buffer.getvalue())


def lint(files: Annotated[list[Path], typer.Argument(help="scenario files or folders")],
         json_out: JsonFlag = False) -> None:
    """Flag plans that look fine and are not, each with its line and the number that shows it (exit 1 if any)."""
    from fleetlab.suite import scenario_paths
    from sim.input_kinds import other_input
    from sim.model.errors import ScenarioError

    with reported():
        paths = scenario_paths(files)
    human = console.err if json_out else console.out
    linted: list[dict[str, object]] = []
    for path in paths:
        with reported(path):
            try:
                _, warnings = plan_warnings(path)
            except ScenarioError:
                if not (kind := other_input(path)):
                    raise
                human.print(f"{path}: a {kind}, not a scenario: no plan to lint", markup=False)
                linted.append({"file": str(path), "kind": kind, "findings": []})
                continue
        for warning in warnings:
            console.err.print(f"warning: {warning}", markup=False)
        if not warnings:
            human.print(f"{path}: no plan traps found", markup=False)
        linted.append({"file": str(path), "kind": "scenario", "findings": console.problem_records(warnings)})
    found = any(record["findings"] for record in linted)
    if json_out:
        console.print_json({"passed": not found, "exit_code": EXIT_NO_GO if found else EXIT_OK, "files": linted})
    raise typer.Exit(EXIT_NO_GO if found else EXIT_OK)
