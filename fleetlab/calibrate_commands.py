"""`fleetlab calibrate` (rigs -> calibration.yaml) and `fleetlab fidelity` (the simulator's prediction beside the
rigs' measurement). docs/calibration.md."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from fleetlab import console, json_promise
from fleetlab.errors import refuse, reported
from fleetlab.exit_codes import EXIT_BAD_INPUT, EXIT_NO_GO, EXIT_OK, exit_interrupted
from fleetlab.options import JsonFlag
from sim.model.calibration import Calibration

DEFAULT_OUT = Path("calibration.yaml")


OneAtATime = Annotated[bool, typer.Option(
    "--one-at-a-time", help="measure the rigs one after another: rigs that share a host's cores (virtual rigs) "
    "would otherwise time each other's load")]


def run_rigs(scenario, inventory, base: Path, chosen: list, one_at_a_time: bool, stop) -> list:
    """The scenario on the chosen rigs, all at once or one after another; RunResults (one, or one per rig)."""
    from hil.runner import run_scenario
    from hil.ssh import SshShell

    if not one_at_a_time:
        names = {rig.name for rig in chosen}
        return [run_scenario(scenario, inventory, base, SshShell, None if len(names) > 1 else chosen[0].name,
                             stop=stop)]
    runs = []
    for rig in chosen:
        runs.append(run_scenario(scenario, inventory, base, SshShell, rig.name, stop=stop))
        if stop.requested:
            break
    return runs


def measure_on_rigs(file: Path, scenario, inventory, rig: str | None, one_at_a_time: bool,
                    interrupted_note: str = "") -> tuple[list, list]:
    """(the chosen rigs, their runs); a stop signal or a rig problem ends the command with its exit code."""
    from fleetlab.interrupts import came_late, stop_on_signals
    from hil.errors import HilError
    from hil.runner import select_rigs
    from hil.stop import StopSignal

    stop = StopSignal()
    try:
        chosen = select_rigs(scenario, inventory, rig)
        shared = [found.name for found in chosen if found.container]
        if len(shared) > 1 and not one_at_a_time:   # measured together, they time each other's load
            console.err.print(f"warning: {', '.join(shared)} are virtual rigs sharing this machine's cores: measured "
                              "at once they slow each other (docs/calibration.md: totals 26-38% off); "
                              "--one-at-a-time measures them one after another", markup=False)
        with stop_on_signals(stop) as signals:
            runs = run_rigs(scenario, inventory, file.resolve().parent, chosen, one_at_a_time, stop)
    except HilError as error:      # no rig to measure, or none could be: exit 2 (1 is a phase off, for fidelity)
        refuse(f"{file}: {error}", file=file)
    cut_short = any(run.interrupted for run in runs) or len(runs) < (len(chosen) if one_at_a_time else 1)
    if cut_short:
        said = f"INTERRUPTED: {interrupted_note}every rig put back"
        console.err.print(said, markup=False)
        json_promise.note(said)
        raise typer.Exit(exit_interrupted(signals[0]) if signals else EXIT_BAD_INPUT)
    if signals:
        console.err.print(came_late(signals), markup=False)
    return chosen, runs


def calibration_overrides(thermal_step: str) -> dict:
    """A calibration measures; it does not judge. Every rig installs at once, no budget or fault stops a step."""
    return {"strategy": {"kind": "all_at_once"},
            "hil.calibrate": {"thermal_step": thermal_step},
            "hil.latency_budget": {}, "hil.max_temperature": None, "hil.max_memory": None, "hil.max_cv": None,
            "hil.faults": []}


def calibrate(file: Annotated[Path, typer.Argument(help="a scenario whose hil: part names the current and candidate "
                                                        "models (its plan is not used: every rig is measured)")],
              rigs: Annotated[Path, typer.Option(help="rig inventory (rigs/*.yaml)")],
              rig: Annotated[Optional[str], typer.Option(help="only this rig")] = None,
              out: Annotated[Path, typer.Option(help="calibration file to write")] = DEFAULT_OUT,
              thermal_step: Annotated[str, typer.Option(help="the thermal load step's length")] = "120s",
              history: Annotated[Optional[str], typer.Option(
                  help="also record the numbers in this history (SQLite file or postgresql:// URL)")] = None,
              one_at_a_time: OneAtATime = False,
              verbose: Annotated[bool, typer.Option(help="log every step")] = False) -> None:
    """Measure the simulator's device numbers on rigs, per hardware model, into calibration.yaml."""
    from fleetlab.files import output_file, write_whole
    from hil.calibration import calibration_yaml, from_run, transfer_warnings
    from hil.errors import HilError
    from hil.inventory import load_inventory
    from sim.load import load_scenario
    from sim.model.hil_spec import check_thermal_step
    from sim.model.units import UnitError, parse_duration

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    try:        # the option's own words: a problem in it is not one of the scenario file's
        step = parse_duration(thermal_step)
        if step <= 0:
            raise UnitError("a load step takes some time: give more than 0s")
        check_thermal_step(step)
    except (UnitError, ValueError) as error:
        refuse(f"--thermal-step {thermal_step}: {error}")
    with reported(file):
        inventory = load_inventory(rigs)
        scenario = load_scenario(file, overrides=calibration_overrides(thermal_step))
    with reported():        # before any rig time is spent
        output_file(out)
    if history:
        from fleetlab.history import check_location

        with reported("--history"):
            check_location(history)
    chosen, runs = measure_on_rigs(file, scenario, inventory, rig, one_at_a_time, "nothing written; ")
    try:
        calibration = from_run([found for run in runs for found in run.rigs], chosen, scenario)
    except HilError as error:      # a rig's numbers could not be measured: nothing written, exit 2
        refuse(f"{file}: {error}", file=file)
    with reported():
        write_whole(out, calibration_yaml(calibration))
    console.out.print(calibration_table(calibration))
    for warning in transfer_warnings(calibration, scenario):
        console.err.print(f"warning: {warning}", markup=False)
    console.out.print(f"calibration: {out} (a scenario takes it with `calibration: {out.name}`)", markup=False)
    if history:
        _record(history, calibration)
    raise typer.Exit(EXIT_OK)


def _record(location: str, calibration: Calibration) -> None:
    from fleetlab.history import History, HistoryError

    try:
        store = History(location)
        store.record_calibration(calibration)
        store.close()
        console.out.print(f"recorded in the history at {store.shown}", markup=False)
    except HistoryError as error:    # the calibration file stands; only the record is missing
        console.err.print(f"not recorded: {error}", markup=False)


def _link_cell(transfer) -> str:
    """'link → payload (efficiency)', or why there is no efficiency."""
    from sim.model.units import format_rate

    payload = format_rate(transfer.throughput)
    if transfer.link_rate is None:
        return f"link rate not given → {payload} (efficiency not measured)"
    if transfer.efficiency is None:
        return f"{format_rate(transfer.link_rate)} → {payload} (faster than the link: efficiency not measured)"
    return f"{format_rate(transfer.link_rate)} → {payload} ({transfer.efficiency:.0%})"


def calibration_table(calibration: Calibration):
    from rich.table import Table


    table = Table(title="calibration", header_style="bold")
    for column in ("hardware", "rigs", "link → payload", "setup", "build (fixed + per MB)", "activate",
                   "rollback", "p50 current → candidate", "power W", "thermal"):
        # the link's sentence on one line: wrapped, "(efficiency not" and "measured)" sat on two lines between the
        # other columns' text, and how it wrapped hung on how long the measured numbers came out
        table.add_column(column, no_wrap=column == "link → payload")
    for hardware, profile in calibration.profiles.items():
        transfer, build = profile.transfer, profile.engine_build
        per_mb = f" + {1e6 / build.rate:.3f} s/MB" if build.rate else ""
        thermal = profile.thermal
        table.add_row(hardware, ", ".join(profile.rigs), _link_cell(transfer), f"{transfer.setup:.2f} s",
                      f"{build.fixed:.2f} s{per_mb}",
                      f"{profile.activation:.2f} s", f"{profile.rollback:.2f} s",
                      f"{profile.current.latency.p50 * 1000:.3f} → {profile.candidate.latency.p50 * 1000:.3f} ms",
                      f"{profile.current.power:.1f} → {profile.candidate.power:.1f}",
                      f"{thermal.resistance:.2f} °C/W, τ {thermal.time_constant:.0f} s" if thermal else "not fitted")
    return table


def fidelity(ctx: typer.Context,
             file: Annotated[Path, typer.Argument(help="scenario with a hil: part (and usually calibration:)")],
             rigs: Annotated[Path, typer.Option(help="rig inventory (rigs/*.yaml)")],
             rig: Annotated[Optional[str], typer.Option(help="only this rig")] = None,
             out: Annotated[Optional[Path], typer.Option(help="folder for fidelity.json and the rigs' "
                                                                "result.json")] = None,
             tolerance: Annotated[float, typer.Option(help="a phase is off beyond this relative error")] = 0.10,
             one_at_a_time: OneAtATime = False,
             verbose: Annotated[bool, typer.Option(help="log every step")] = False,
             json_out: JsonFlag = False) -> None:
    """Run the scenario on the rigs and the simulator on a fleet of exactly those rigs; predicted beside measured,
    per rig and phase, each phase more than --tolerance off flagged."""
    import json

    from fleetlab.fidelity import compare_run, why_not_compared
    from fleetlab.files import write_whole
    from fleetlab.options import out_folder, relative_tolerance
    from hil.inventory import load_inventory
    from sim.calibration_use import calibrated_hardware
    from sim.load import load_scenario
    from sim.model.fidelity import SECONDS_FLOOR

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    with reported():
        relative_tolerance(tolerance)
    with reported(file):
        inventory = load_inventory(rigs)
        scenario = load_scenario(file)
    if scenario.hil is None:
        refuse(f"{file}: the scenario has no hil: section", file=file)
    if out is not None:
        with reported():    # before any rig time is spent
            out_folder(ctx, out)
    chosen, runs = measure_on_rigs(file, scenario, inventory, rig, one_at_a_time)
    rows = compare_run(scenario, chosen, [found for run in runs for found in run.rigs], file.resolve().parent,
                       tolerance)
    human = console.err if json_out else console.out
    human.print(fidelity_table(rows))
    off = [row for row in rows if row.off]
    judged = [row for row in rows if row.predicted is not None]
    human.print(f"{len(judged) - len(off)} of {len(judged)} phases within {tolerance:.0%} (a time: or "
                f"{SECONDS_FLOOR:g} s)"
                + (f"; off: {', '.join(f'{row.rig} {row.phase} ({row.error_text})' for row in off)}"
                   if off else ""), markup=False)
    # the commonest cause of a table full of OFF: the prediction stood on the scenario's own guesses
    guessed = sorted({row.hardware for row in off} - calibrated_hardware(scenario))
    if guessed:
        human.print(f"{', '.join(guessed)}: predicted from the scenario's own device numbers ("
                    + ("it names no calibration:" if scenario.calibration is None
                       else f"{scenario.calibration.file} does not measure {'them' if len(guessed) > 1 else 'it'}")
                    + f"); `fleetlab calibrate {file} --rigs {rigs}` measures them on these rigs, and a scenario "
                    "takes the file with `calibration: FILE` (docs/calibration.md)", markup=False)
    unpredicted: dict[str, list[str]] = {}
    for row in rows:
        if row.predicted is None:
            unpredicted.setdefault(row.unpredicted, []).append(f"{row.rig} {row.phase}")
    for why, phases in unpredicted.items():
        human.print(f"not predicted ({', '.join(phases)}): {why}", markup=False)
    if out is not None:
        with reported():
            write_whole(out / "fidelity.json", json.dumps([row.as_json() for row in rows], indent=2,
                                                          allow_nan=False) + "\n")
            for index, run in enumerate(runs):      # the rigs' own results: one run, or one per rig
                name = "result.json" if len(runs) == 1 else f"result-{index + 1}.json"
                write_whole(out / name, run.model_dump_json(indent=2) + "\n")
        human.print(f"fidelity: {out / 'fidelity.json'}", markup=False)
    # a rig whose update did not get through transfer, build and activation has nothing to compare: that is not a
    # pass (it once printed "0 of 0 phases within 10%" and exited 0)
    compared = {row.rig for row in rows}
    unmeasured = [found for run in runs for found in run.rigs if found.rig not in compared]
    for found in unmeasured:
        console.err.print(f"{found.rig}: nothing to compare: {why_not_compared(found)}", markup=False)
    code = EXIT_BAD_INPUT if unmeasured else EXIT_NO_GO if off else EXIT_OK
    if json_out:   # fidelity.json's rows, and the verdict the exit code gives
        console.print_json({"passed": code == EXIT_OK, "exit_code": code, "tolerance": tolerance,
                            "phases": [row.as_json() for row in rows], "off_on_own_numbers": guessed,
                            "not_compared": {found.rig: why_not_compared(found) for found in unmeasured}})
    raise typer.Exit(code)


def fidelity_table(rows):
    from rich.table import Table

    table = Table(title="fidelity: predicted beside measured", header_style="bold")
    for column in ("rig", "hardware", "phase", "predicted", "measured", "error", ""):
        table.add_column(column)
    for row in rows:
        table.add_row(row.rig, row.hardware, row.phase, row.predicted_text, row.measured_text, row.error_text,
                      "—" if row.predicted is None else "OFF" if row.off else row.within_text)
    return table
