"""The `fleetlab` command. Exit codes: 0 all expectations hold, 1 an expectation failed, 2 bad input or harness
error, 130/143 interrupted by SIGINT/SIGTERM."""

from __future__ import annotations

import dataclasses
import inspect
import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from fleetlab import console
from fleetlab.errors import refuse, reported
from fleetlab.exit_codes import EXIT_BAD_INPUT, EXIT_NO_GO, EXIT_OK
from fleetlab.files import write_whole
from fleetlab.json_promise import JsonPromisingGroup
from fleetlab.options import JsonFlag, out_folder
from fleetlab.scenario_commands import say_calibration, schema, validate
from sim.load import plan_warnings
from sim.model.gates import evaluate
from sim.model.scenario import Scenario
from sim.model.strategy import REGISTRY
from sim.model.streams import MAX_SEED, MAX_SEEDS
from sim.model.units import counted


def _readable_types() -> None:
    """Help shows what to type, not Python's types: `PATH...` rather than `<list[Path]>`, nothing after a flag
    rather than `<bool>`, `N` rather than `<int range>`. Typer draws that column from one method of its parameter
    base class; this wraps it."""
    from typer.core import TyperOption, _TyperParameter

    def readable_label(label: str | None) -> str | None:
        if label is None or label == "<bool>":
            return None
        inner = label.strip("<>")
        if inner.startswith("list[") and inner.endswith("]"):
            return inner[5:-1].upper().replace("STR", "TEXT") + "..."
        if "|" in inner:
            return inner                               # choices, as they are typed
        return {"str": "TEXT", "int": "N", "int range": "N", "float": "NUMBER"}.get(inner.lower(), inner.upper())

    for kind in (_TyperParameter, TyperOption):        # options override the base's method
        shown = kind.display_type_rich

        def readable(self: _TyperParameter, ctx: typer.Context, shown: Any = shown) -> str | None:
            return readable_label(shown(self, ctx))

        type.__setattr__(kind, "display_type_rich", readable)     # a method replaced on the class, as mypy allows


_readable_types()
app = typer.Typer(add_completion=False, no_args_is_help=True, cls=JsonPromisingGroup,
                  help="Simulate and hardware-test ML model rollouts to fleets of edge cameras.")


def _version(asked: bool) -> None:
    if asked:
        from sim.provenance import git_sha, package_versions

        console.out.print(f"fleetlab {package_versions()['fleetlab']} (git {git_sha()[:12]})", markup=False)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                   help="print fleetlab's version and exit")] = False) -> None:
    """Simulate and hardware-test ML model rollouts to fleets of edge cameras."""



FirstSeed = Annotated[int, typer.Option(min=0, max=MAX_SEED, help="first seed")]


def seed_range(first: int, count: int) -> list[int]:
    """The seeds first, first + 1, …: each a seed the random streams tell apart (sim.model.streams.MAX_SEED)."""
    if first + count - 1 > MAX_SEED:
        raise typer.BadParameter(f"the last seed would be {first + count - 1:,}, above {MAX_SEED:,}",
                                 param_hint="'--first-seed'")
    return list(range(first, first + count))


def _load_or_exit(path: Path) -> Scenario:
    return _loaded_with_traps(path)[0]


def _loaded_with_traps(path: Path) -> tuple[Scenario, list[str]]:
    """The scenario, its plan traps said on stderr first (as `validate` says them): a plan that cannot finish reads
    as a slow rollout in the table that follows. The traps also as `key: message`, as the report keeps them."""
    with reported(path):
        scenario, warnings = plan_warnings(path)
    for warning in warnings:
        console.err.print(f"warning: {warning}", markup=False)
    return scenario, [f"{warning.path}: {warning.message}" for warning in warnings]


app.command(name="validate")(validate)
app.command(name="schema")(schema)


@app.command()
def strategies() -> None:
    """List the registered rollout strategies and their parameters, each with its meaning and default."""
    from fleetlab.parameters import parameter_lines

    for name, entry in sorted(REGISTRY.items()):
        console.out.print(console.styled(name, "bold"), f": {entry.summary}", sep="")
        for line in parameter_lines(entry.params):
            console.out.print(f"    {line}", markup=False)


@app.command()
def sim(ctx: typer.Context,
        file: Path,
        seed: Annotated[Optional[int], typer.Option(min=0, max=MAX_SEED, help="random seed (default: the scenario's)")]
        = None,
        out: Annotated[Optional[Path], typer.Option(help="folder for result.json")] = None,
        json_out: JsonFlag = False) -> None:
    """Simulate one rollout: summary table, expectations, and result.json in --out."""
    from fleetlab.interrupts import stopped_at_once
    from sim.run import simulate  # imported here so `validate` and `schema` start fast

    scenario = _load_or_exit(file)
    if out is not None:
        with reported():        # before the run: an --out that cannot be written fails now, not after it
            out_folder(ctx, out)
    human = console.err if json_out else console.out
    say_calibration(scenario, human)
    started = time.perf_counter()
    with stopped_at_once(lambda: "the simulation stopped; nothing was written") as stop, \
            console.progress_bar(f"simulating {scenario.name}") as report:
        result = simulate(scenario, seed, progress=stop.guarding(report))
    wall = time.perf_counter() - started
    human.print(console.summary_table(result))
    human.print(f"{result.events_processed:,} events in {wall:.1f} s of wall time")
    verdict = evaluate(scenario.expect, result.metrics())
    if verdict.checks:
        human.print(console.verdict_table(verdict))
    if out is not None:
        target = out / "result.json"
        with reported():
            write_whole(target, result.model_dump_json(indent=2) + "\n")
        human.print(f"result: {target}")
    if json_out:
        console.print_json({"passed": verdict.passed, "checks": [dataclasses.asdict(check) for check in verdict.checks],
                     "result": json.loads(result.model_dump_json())})
    raise typer.Exit(EXIT_OK if verdict.passed else EXIT_NO_GO)


@app.command()
def compare(file: Path,
            strategies: Annotated[str, typer.Option(help="plans by name: 'plan', names under alternatives:, or kinds")]
            = "plan",
            seeds: Annotated[int, typer.Option(min=1, max=MAX_SEEDS, help="seeds per plan (the same seeds for every "
                                                                 "plan)")] = 10,
            first_seed: FirstSeed = 1,
            json_out: JsonFlag = False) -> None:
    """Run several plans on the same fleet over several seeds; a table with 95% confidence intervals."""
    from fleetlab.compare import as_outcome
    from fleetlab.compare import compare as run_compare
    from fleetlab.interrupts import stopped_at_once
    from fleetlab.report.decision import recommendation_sentence, recommended

    scenario, traps = _loaded_with_traps(file)
    names = [name.strip() for name in strategies.split(",") if name.strip()]
    if not names:
        refuse(f"--strategies {strategies!r}: name at least one plan ('plan', a name under "
               "alternatives:, or a kind)")
    started = time.perf_counter()
    title = f"comparing {counted(len(names), 'plan')} × {counted(seeds, 'seed')}"
    tally = console.Tally(len(names) * seeds)
    with stopped_at_once(lambda: f"the comparison stopped after {tally.done:,} of {counted(tally.total, 'run')}") \
            as stop, reported(file), console.progress_bar(title) as report:
        rows = run_compare(scenario, names, seed_range(first_seed, seeds), tally.feeding(report), within_run=stop)
    human = console.err if json_out else console.out
    human.print(console.comparison_table(rows, scenario, seeds))
    human.print(f"{counted(len(rows) * seeds, 'run')} and {counted(seeds, 'oracle run')} in "
                f"{time.perf_counter() - started:.1f} s")
    judged, *others = rows          # the exit code is about the first plan named (the scenario's own, by default)
    # an alternative breaking a bound is a finding
    findings = [f"{row.name} broke {metric} in {seeds - count} of {counted(seeds, 'seed')}"
                for row in others for metric, count in row.passes.items() if count < seeds]
    for finding in findings:
        human.print(f"finding: {finding}", markup=False)
    broken = [f"{metric} in {seeds - count} of {counted(seeds, 'seed')}" for metric, count in judged.passes.items()
              if count < seeds]
    if broken:
        human.print(f"no-go: {judged.name} broke {'; '.join(broken)}", markup=False)
        for metric, why in judged.out_of_reach.items():      # the bound, not the plan: no plan would meet it
            human.print(f"  {metric}: {why}", markup=False)
    # the report's rule: the lowest risk of breaking any bound, then the fastest T95, lint's findings beside it
    chosen = recommended(as_outcome(rows, scenario, str(file), traps))
    if chosen is not None:
        human.print(recommendation_sentence(chosen), markup=False)
    if json_out:
        console.print_json({"seeds": seeds, "judged": judged.name, "no_go": broken, "findings": findings,
                            "recommended": chosen,
                     "plans": [{"name": row.name, "kind": row.kind, "passes": row.passes,
                                "out_of_reach": row.out_of_reach,
                                "efficiency": row.efficiency, "values": row.values,
                                "against_first": row.paired_with(judged) if row is not judged else None}
                               for row in rows]})
    raise typer.Exit(EXIT_NO_GO if broken else EXIT_OK)


@app.command()
def sweep(ctx: typer.Context,
          file: Path,
          seeds: Annotated[int, typer.Option(min=1, max=MAX_SEEDS, help="runs per grid point (the same seeds at every "
                                                             "point)")] = 20,
          first_seed: FirstSeed = 1,
          grid: Annotated[Optional[list[str]], typer.Option(
              help="axes as KEY=V1,V2;KEY2=... (values as in the file; `plan=` names alternatives)")] = None,
          executor: Annotated[str, typer.Option(help="serial, local[:N] or dask://HOST:PORT")] = "local",
          max_risk: Annotated[str, typer.Option(help="a bound broken in more than this share of runs is no-go")]
          = "5%",
          pick_by: Annotated[str, typer.Option("--pick-by", help="the measure the pick is best on (lowest; "
                                               "coverage, committed, evidence_at_release: highest)")] = "t95",
          out: Annotated[Optional[Path], typer.Option(help="folder for sweep.json")] = None,
          json_out: JsonFlag = False) -> None:
    """Monte Carlo over seeds and a parameter grid: distributions, the risk of breaking each expectation, and the
    point to pick."""
    from fleetlab.executors import open_executor
    from fleetlab.interrupts import stopped_at_once
    from fleetlab.options import risk_level, sim_measure
    from sim.grid import expand, parse_grid
    from sim.sweep import sweep as run_sweep
    from sim.sweep_pick import pick

    with reported():
        risk_limit = risk_level(max_risk)
        measure = sim_measure(pick_by, "--pick-by")
    with reported(file):
        axes = parse_grid(grid or [])
        points = expand(file, axes)
    if out is not None:
        with reported():        # before the sweep: an --out that cannot be written fails now
            out_folder(ctx, out)
    seed_list = seed_range(first_seed, seeds)
    started = time.perf_counter()
    tally = console.Tally(len(points) * len(seed_list))
    with stopped_at_once(lambda: f"the sweep stopped after {tally.done:,} of {counted(tally.total, 'run')}; "
                                 "nothing was written") as stop, \
            reported(), open_executor(executor) as (pool, info), \
            console.progress_bar(f"{counted(len(points), 'point')} × {counted(seeds, 'seed')} on "
                                 f"{info.description}") as report:
        result = run_sweep(points, seed_list, pool, axes, progress=tally.feeding(report), should_stop=stop.asked,
                           paired=measure)
    chosen = pick(result, points, measure, risk_limit)
    document = {**result.as_dict(), "pick": chosen.as_dict()}
    human = console.err if json_out else console.out
    human.print(console.sweep_table(document))
    runs = counted(len(points) * len(seed_list), "run")
    human.print(f"{runs} on {info.description} in {time.perf_counter() - started:.1f} s")
    if not result.failed:
        for line in chosen.lines():
            human.print(line, markup=False)
    for failure in result.failures:
        console.err.print(f"run failed: {failure.point} seed {failure.seed}: {failure.error}", markup=False)
    if out is not None:
        with reported():
            write_whole(out / "sweep.json", json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")
        human.print(f"sweep: {out / 'sweep.json'}")
    if json_out:
        console.print_json(document)
    if result.failed:
        console.err.print(f"{result.failed} of {runs} failed: the sweep is incomplete")
        raise typer.Exit(EXIT_BAD_INPUT)
    risky = [f"{point.label}: {metric} broke in {risk.probability:.1%} of runs"
             for point in result.points for metric, risk in point.bounds.items() if risk.probability > risk_limit]
    for line in risky:
        human.print(f"no-go ({line}, above {risk_limit:.0%})", markup=False)
    raise typer.Exit(EXIT_NO_GO if risky else EXIT_OK)


# CLI assembly: the commands that live in their own modules, registered after this module's own
from fleetlab.backtest_commands import backtest as _backtest  # noqa: E402
from fleetlab.calibrate_commands import calibrate as _calibrate  # noqa: E402
from fleetlab.calibrate_commands import fidelity as _fidelity  # noqa: E402
from fleetlab.hil_commands import hil as _hil  # noqa: E402
from fleetlab.hil_commands import models as _models  # noqa: E402
from fleetlab.hil_commands import rigs_app  # noqa: E402
from fleetlab.interop_commands import export as _export  # noqa: E402
from fleetlab.interop_commands import import_ as _import  # noqa: E402
from fleetlab.interop_commands import lint as _lint  # noqa: E402
from fleetlab.run_commands import history_command as _history  # noqa: E402
from fleetlab.run_commands import run as _run  # noqa: E402

app.command(name="hil")(_hil)
app.command(name="calibrate")(_calibrate)
app.command(name="fidelity")(_fidelity)
app.command(name="backtest")(_backtest)
app.command(name="models")(_models)
app.add_typer(rigs_app, name="rigs")
app.command(name="run")(_run)
app.command(name="history")(_history)
app.command(name="export")(_export)
app.command(name="import")(_import)
app.command(name="lint")(_lint)


def _one_line_summaries(*apps: typer.Typer) -> None:
    """The command list shows each command's first docstring paragraph; Typer's rich help keeps the docstring's line
    breaks there, so a summary wrapped at 120 columns in the source broke mid-sentence on the screen."""
    for each in apps:
        for info in each.registered_commands:
            if info.short_help is None and info.callback is not None and info.callback.__doc__:
                first_paragraph = inspect.cleandoc(info.callback.__doc__).split("\n\n")[0]
                info.short_help = " ".join(first_paragraph.split())


_one_line_summaries(app, rigs_app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
