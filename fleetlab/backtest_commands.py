"""`fleetlab backtest`: a scenario's simulation beside a past rollout's records (fleetlab/backtest.py,
docs/calibration.md: Backtest)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from fleetlab import console
from fleetlab.errors import refuse, reported
from fleetlab.exit_codes import EXIT_NO_GO, EXIT_OK
from fleetlab.options import JsonFlag
from sim.model.streams import MAX_SEED, MAX_SEEDS

SYSTEM_HELP = "aws-iot-jobs, mender or csv (docs/calibration.md, Backtest)"


def _system(name: str) -> str:
    from fleetlab.past_rollout import SYSTEMS

    if name not in SYSTEMS:
        raise typer.BadParameter(f"unknown record format {name!r}; one of {', '.join(SYSTEMS)}")
    return name


def backtest(ctx: typer.Context,
             file: Annotated[Path, typer.Argument(help="the scenario of the fleet and plan the past rollout ran")],
             records: Annotated[Path, typer.Option(help="the past rollout's per-device records")],
             source: Annotated[str, typer.Option("--from", help=SYSTEM_HELP, callback=_system)],
             start: Annotated[Optional[datetime], typer.Option(help="when the rollout started (UTC); default: "
                                                                  "the first device's being told")] = None,
             seeds: Annotated[int, typer.Option(min=1, max=MAX_SEEDS, help="simulated runs to set the past "
                                                                        "beside")] = 10,
             first_seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="first seed")] = 1,
             tolerance: Annotated[float, typer.Option(help="a measure is off beyond this relative distance from "
                                                           "the simulated spread")] = 0.10,
             out: Annotated[Optional[Path], typer.Option(help="folder for backtest.json and "
                                                                "coverage.svg")] = None,
             json_out: JsonFlag = False) -> None:
    """Simulate the scenario beside a past rollout's records: T50-T99, failures and coverage, each against the
    spread of the seeds; a measure off by more than --tolerance flagged (exit 1)."""
    from fleetlab.backtest import LABELS, compare, curves, fleet_warnings, observe, simulate_seeds
    from fleetlab.cli import seed_range
    from fleetlab.files import write_whole
    from fleetlab.interrupts import stopped_at_once
    from fleetlab.options import out_folder, relative_tolerance
    from fleetlab.past_rollout import OUTCOMES, left_out_text, read_past_rollout
    from sim.load import load_scenario
    from sim.model.units import counted

    with reported():
        relative_tolerance(tolerance)
    with reported(file):
        scenario = load_scenario(file)
    with reported(records):
        rollout = read_past_rollout(records, source)
    chosen_seeds = seed_range(first_seed, seeds)
    if out is not None:
        with reported():    # before any run is spent
            out_folder(ctx, out)
    began = start.replace(tzinfo=start.tzinfo or timezone.utc).timestamp() if start is not None else None
    try:
        observed = observe(rollout, began)
    except ValueError as error:
        refuse(f"{records}: {error}", file=records)
    tally = console.Tally(seeds)
    with stopped_at_once(lambda: f"the backtest stopped after {tally.done:,} of {counted(tally.total, 'seed')}; "
                                 "nothing was written") as stop, \
            reported(file), console.progress_bar(f"simulating {counted(seeds, 'seed')}") as report:
        simulated = simulate_seeds(scenario, chosen_seeds, observed, tally.feeding(report), within_run=stop)
    compared = curves(observed, simulated)
    rows = compare(observed, simulated, compared, tolerance)
    at = simulated.at
    warnings = fleet_warnings(observed, simulated, scenario)

    human = console.err if json_out else console.out
    began_text = datetime.fromtimestamp(observed.start, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    counts = ", ".join(f"{rollout.count(outcome):,} {outcome}" for outcome in OUTCOMES)
    left_out = f"; left out: {left_out_text(rollout.left_out)}" if rollout.left_out else ""
    human.print(f"past rollout: {counted(observed.devices, 'device')} in {records} ({source}): {counts}{left_out}; "
                f"from {began_text}, the records reach {_shown('s', observed.span)} past it", markup=False)
    human.print(_table(rows, LABELS, file.name, counted(seeds, "seed")))
    for warning in warnings:
        human.print(f"warning: {warning}", markup=False)
    human.print(f"coverage compared hourly up to {_shown('s', at)} from the start; the curve's gap is the past's "
                "widest from the seeds' median curve, beside the seeds' own", markup=False)
    off = [row for row in rows if row.off]
    human.print(f"{len(rows) - len(off)} of {len(rows)} measures within {tolerance:.0%} of the simulated spread"
                + (f"; off: {'; '.join(f'{LABELS[row.measure]}: {row.verdict}' for row in off)}" if off else ""),
                markup=False)
    code = EXIT_NO_GO if off else EXIT_OK
    document = {"passed": not off, "exit_code": code, "tolerance": tolerance, "seeds": chosen_seeds,
                "records": {"file": str(records), "system": source, "devices": observed.devices,
                            "start": began_text, "span": observed.span,
                            "outcomes": {outcome: rollout.count(outcome) for outcome in OUTCOMES},
                            "left_out": rollout.left_out},
                "compared_at": at, "rows": [row.as_json() for row in rows], "warnings": warnings}
    if out is not None:
        from fleetlab.report.plots import backtest_curves

        with reported():
            write_whole(out / "backtest.json", json.dumps({**document, "curves": compared.as_json()}, indent=2,
                                                          allow_nan=False) + "\n")
            write_whole(out / "coverage.svg", backtest_curves(compared.step, compared.past, compared.median,
                                                              compared.low, compared.high, seeds))
        human.print(f"backtest: {out / 'backtest.json'}, {out / 'coverage.svg'}", markup=False)
    if json_out:
        console.print_json(document)
    raise typer.Exit(code)


def _shown(unit: str, value: float | None) -> str:
    from sim.model.units import format_duration

    if value is None:
        return "never"
    return format_duration(value) if unit == "s" else f"{value:.1%}"


def _table(rows, labels: dict[str, str], scenario: str, seeds: str):
    from rich.table import Table

    table = Table(title=f"backtest: the past rollout beside {scenario} on {seeds}", header_style="bold")
    for column in ("measure", "past rollout", "simulated median", "simulated p5 – p95", ""):
        table.add_column(column)
    for row in rows:
        spread = f"{_shown(row.unit, row.low)} – {_shown(row.unit, row.high)}"
        if row.unit == "s" and row.reached < row.seeds:
            spread += f" ({row.reached} of {row.seeds} seeds got there)"
        table.add_row(labels[row.measure], _shown(row.unit, row.observed), _shown(row.unit, row.median), spread,
                      f"OFF: {row.verdict}" if row.off else row.verdict)
    return table

