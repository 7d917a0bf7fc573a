"""`fleetlab run` (the suite, its reports and history) and `fleetlab history` (trends)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from fleetlab import console
from fleetlab.errors import refuse, reported
from fleetlab.exit_codes import exit_interrupted
from fleetlab.options import JsonFlag
from sim.model.streams import MAX_SEEDS
from sim.model.units import counted

DEFAULT_HISTORY = "reports/history.sqlite"


def run(ctx: typer.Context,
        paths: Annotated[Optional[list[Path]], typer.Argument(help="scenario files or folders (default: "
                                                                   "scenarios/, benchmarks left out)")] = None,
        mode: Annotated[Literal["sim", "hil", "both"], typer.Option(help="simulate, run on rigs, or both")] = "sim",
        rigs: Annotated[Optional[Path], typer.Option(help="rig inventory for hil mode")] = None,
        seeds: Annotated[int, typer.Option(min=1, max=MAX_SEEDS, help="seeds per plan (the same seeds for every "
                                                         "plan)")] = 1,
        out: Annotated[Optional[Path], typer.Option(help="report folder (default reports/<run-id>)")] = None,
        history: Annotated[str, typer.Option(help="SQLite file or postgresql:// URL; '' for none")]
        = DEFAULT_HISTORY,
        executor: Annotated[str, typer.Option(help="serial, local[:N] or dask://HOST:PORT for simulations")]
        = "local",
        max_risk: Annotated[str, typer.Option(help="judge sim bounds at a risk level: a bound broken in at most this "
                                                   "share of seeds holds (default 0%: every seed)")] = "0%",
        wait_for_rigs: Annotated[float, typer.Option(help="seconds to wait for a rig another run holds (default "
                                                           "0: such a rig could not be measured)")] = 0.0,
        json_out: Annotated[bool, typer.Option("--json", help="print result.json on stdout (the summary goes to "
                                                              "stderr)")] = False) -> None:
    """Run a scenario suite; write index.html, summary.md, junit.xml and result.json. Exit 0 go, 1 no-go,
    2 could not measure."""
    from fleetlab.files import output_folder
    from fleetlab.history import check_location, record_run
    from fleetlab.interrupts import came_late, stop_on_signals
    from fleetlab.options import out_folder, risk_level, wait_seconds
    from fleetlab.report import write_report
    from fleetlab.suite import run_suite
    from hil.stop import StopSignal

    with reported():
        risk_limit = risk_level(max_risk)
        wait_seconds(wait_for_rigs)
    missing = [str(path) for path in paths or [] if not path.exists()]
    if missing:
        refuse(f"no such file or folder: {', '.join(missing)}")
    if rigs is not None and mode != "sim":       # every input checked before anything runs
        _check_inventory(rigs)
    with reported("--history"):     # a location no history can have (a database that fails later is a warning)
        if history:
            check_location(history)
    with reported():        # and the report's folder (its default's parent): not writable fails now, not after
        if out is None:
            output_folder(Path("reports"))      # each run writes its own folder in it
        else:
            out_folder(ctx, out)
        _check_scenarios(list(paths or []))
    stop = StopSignal()
    # a progress bar on a terminal (console.progress_bar is silent in CI logs); the log lines either way
    with reported(), console.progress_bar(f"{mode} suite") as report, \
            stop_on_signals(stop, rigs=mode != "sim", simulations=mode != "hil") as signals:
        result = run_suite(list(paths or []), mode, seeds, rigs, executor,
                           log=lambda line: console.err.print(line, markup=False, highlight=False),
                           progress=lambda done, total: report(done / total), stop=stop, max_risk=risk_limit,
                           lease_wait=wait_for_rigs)
    trends = record_run(history, result) if history else None
    if trends and trends.problem:       # a broken history is said; the report and the exit code stand
        console.err.print(f"warning: history not updated: {trends.problem}", markup=False)
    folder = out or Path("reports") / result.run_id
    with reported():
        written = write_report(result, folder, trends)
    for outcome in result.scenarios:
        for problem in outcome.problems:
            console.err.print(f"{outcome.name}: {problem}", markup=False)
    count = len(result.scenarios)
    human = console.err if json_out else console.out
    if result.left_out and not count:        # otherwise the report lists them; here they are the whole story
        for line in result.left_out:
            human.print(f"left out: {line}", markup=False)
    human.print(f"{result.verdict}: {counted(count, 'scenario')} in {result.wall_seconds:.1f} s",
                markup=False)
    human.print(f"report: {written['index.html'].resolve()}", markup=False)
    if json_out:
        console.print_json_text(written["result.json"].read_text(encoding="utf-8"))
    interrupted = result.verdict == "INTERRUPTED"
    if signals and not interrupted:
        console.err.print(came_late(signals), markup=False)
    raise typer.Exit(exit_interrupted(signals[0]) if signals and interrupted else result.exit_code)


def _check_scenarios(paths: list[Path]) -> None:
    """Something to run, and no two scenarios of one name. A folder with no scenario in it exits 2 saying so (it
    wrote a report of nothing, "CANNOT MEASURE: 0 scenarios", and left the reader to guess why)."""
    from fleetlab.errors import AppError
    from fleetlab.suite import collect, nothing_under, shared_names, shared_names_problem

    found = collect(paths)
    if not found:
        raise nothing_under(paths, "run")
    clashes = shared_names(found)
    if clashes:
        raise AppError(shared_names_problem(clashes))


def _check_inventory(rigs: Path) -> None:
    from hil.inventory import load_inventory

    if not rigs.exists():
        example = Path("rigs/lab.example.yaml")
        hint = f" ({example} is an example inventory to copy and fill in)" if example.exists() else ""
        refuse(f"--rigs {rigs}: no such file{hint}")
    with reported(rigs):
        load_inventory(rigs)


def history_command(location: Annotated[str, typer.Option("--history", help="SQLite file or postgresql:// URL")]
                    = DEFAULT_HISTORY,
                    scenario: Annotated[Optional[str], typer.Option(help="only this scenario")] = None,
                    limit: Annotated[int, typer.Option(min=1, help="how many recent runs")] = 10,
                    json_out: JsonFlag = False) -> None:
    """Trends across recorded runs: T95 per plan and p99 latency per rig."""
    from rich.table import Table

    from fleetlab.history import SEEDS, T95_NEVER, History, HistoryError, show_value

    try:
        store = History(location, create=False)      # a read-only command creates nothing
        runs = store.runs(limit)
        trends = store.trends(limit=limit)
        calibrations = store.calibrations(limit)
        values = {run_id: store.values(run_id) for run_id, _, _ in runs}
        store.close()
    except HistoryError as error:
        refuse(str(error))
    human = console.err if json_out else console.out
    if calibrations:
        human.print(calibration_drift_table(calibrations))
    recorded = sorted({name for measured in values.values() for name, _, _ in measured})
    if scenario is not None and runs and scenario not in recorded:   # an empty table would read as "nothing changed"
        refuse(f"--scenario {scenario}: not in the last {counted(len(runs), 'run')} of {location}; "
               "recorded: " + (", ".join(recorded) or "none"))
    series = [(name, metric, subject, [(run_id, value, values[run_id].get((name, subject, SEEDS)))
                                       for run_id, value in points])
              for (name, metric), subjects in sorted(trends.series.items()) if not scenario or name == scenario
              for subject, points in sorted(subjects.items())]
    if json_out:
        console.print_json({
            "runs": [{"run_id": run_id, "started": started, "verdict": verdict} for run_id, started, verdict in runs],
            "series": [{"scenario": name, "metric": metric, "subject": subject,
                        "points": [{"run_id": run_id, "value": value, "seeds": seeds}
                                   for run_id, value, seeds in points]}
                       for name, metric, subject, points in series],
            "calibrations": [{"hardware": hardware, "metric": metric,
                              "points": [{"measured": measured, "value": value} for measured, value in points]}
                             for (hardware, metric), points in sorted(calibrations.items())]})
    if not runs:
        human.print(f"no runs recorded in {location}", markup=False)
        return
    table = Table(title=f"last {counted(len(runs), 'run')}: " + " ".join(verdict for _, _, verdict in runs),
                  header_style="bold")
    for column in ("scenario", "metric", "subject", "values, oldest first"):
        table.add_column(column)
    for name, metric, subject, points in series:
        # "2" alone cannot tell 2 seeds of 2 from 2 of 20; runs of one suite can differ in --seeds
        shown = [f"{value:.0f} of {seeds:.0f}" if metric == T95_NEVER and seeds is not None
                 else show_value(metric, value) for _, value, seeds in points]
        table.add_row(name, HISTORY_LABELS.get(metric, metric), subject, " → ".join(shown))
    human.print(table)


# the history's metric keys as a release manager reads them (the keys stay in the database and `--json` outputs)
HISTORY_LABELS = {"t95": "T95 (mean where reached)", "t95_never": "seeds without a T95", "latency_p99": "p99 latency"}


def calibration_drift_table(series: dict[tuple[str, str], list[tuple[str, float]]]):
    """Each board's calibrated numbers across calibrations, oldest first, with the change from first to last."""
    from rich.table import Table

    moments = sorted({moment for points in series.values() for moment, _ in points})
    table = Table(title=f"calibration: {len(moments)} measured, {moments[0]} … {moments[-1]}", header_style="bold")
    for column in ("hardware", "number", "values, oldest first", "change"):
        table.add_column(column)
    for (hardware, metric), points in sorted(series.items()):
        first, last = points[0][1], points[-1][1]
        change = f"{(last - first) / abs(first):+.1%}" if first and len(points) > 1 else ""
        table.add_row(hardware, metric, " → ".join(f"{value:.4g}" for _, value in points), change)
    return table
