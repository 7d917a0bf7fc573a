"""`fleetlab run`: every scenario under the given paths, in sim and/or hil mode, judged against its `expect:` bounds.

In sim mode each scenario's plan and its alternatives run over the same seeds (common random numbers, through the
sweep engine) and the plan's bounds must hold in every seed; seed one of each plan is also kept whole for the
report's curves and timeline. In hil mode the scenario's `hil:` part runs on the matching rigs. A bound that breaks
is NO-GO; a scenario that cannot be read, or a rig that cannot be reached, is CANNOT MEASURE.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime, timezone
from pathlib import Path

from fleetlab.assumptions import assumption_lines
from fleetlab.causes import cause_of, out_of_reach
from fleetlab.errors import AppError, SimulationsFailed
from fleetlab.parameters import plan_label
from fleetlab.suite_results import (
    BoundRiskSummary,
    CheckRow,
    LeftOut,
    Mode,
    PairedLead,
    PlanSummary,
    ScenarioOutcome,
    SuiteResult,
    Verdict,
    combine,
)
from hil.stop import StopSignal
from sim.calibration_use import provenance_lines
from sim.grid import Axis, expand
from sim.input_kinds import NOT_A_SCENARIO, other_input
from sim.load import load_scenario
from sim.model import plan_traps
from sim.model.errors import ScenarioError
from sim.model.gates import evaluate, format_metric, parse_bound
from sim.model.hil_results import hil_metrics
from sim.model.results import RunResult
from sim.model.scenario import Scenario
from sim.model.units import counted
from sim.provenance import git_sha, package_versions
from sim.sweep import ExecutorStalled, PointSummary, SweepStopped

Log = Callable[[str], None]
DEFAULT_PATHS = [Path("scenarios")]
BENCHMARK_TAG = "benchmark"
SEED_ONE_EVENTS = ("halt", "rollback", "fault", "update")


def collect(paths: list[Path]) -> list[tuple[Path, bool]]:
    """Scenario files under the paths, in order: (file, named) where `named` means the user named the file itself
    (benchmark-sized scenarios are only run when named)."""
    found: dict[Path, tuple[Path, bool]] = {}     # by the file itself: a folder and a file in it name it twice
    for path in paths or DEFAULT_PATHS:
        for file, named in ([(file, False) for file in sorted(path.rglob("*.yaml"))] if path.is_dir()
                            else [(path, True)]):
            itself = file.resolve()
            first = found.setdefault(itself, (file, named))
            if named and not first[1]:
                found[itself] = (first[0], True)
    return list(found.values())


def scenario_paths(paths: list[Path]) -> list[Path]:
    """Files as given, folders as every .yaml under them, each once (`fleetlab validate` and `lint`; `run` reads
    folders the same way). None at all is an error: a check of nothing must not pass."""
    files = [file for file, _ in collect(paths)]
    if not files:
        raise nothing_under(paths, "check")
    return files


def nothing_under(paths: list[Path], doing: str) -> AppError:
    """What a command that found no scenario file says (exit 2): where it looked (as `collect` does, the default
    folder when none was named) and what it could not do."""
    return AppError(f"no .yaml files under {', '.join(str(path) for path in paths or DEFAULT_PATHS)}: "
                    f"nothing to {doing}")


def shared_names(files: list[tuple[Path, bool]]) -> dict[str, list[Path]]:
    """Scenario names carried by more than one file the run would measure: the report, junit.xml and the history
    tell scenarios apart by name. Files that do not load are left to the run, which reports them."""
    by_name: dict[str, list[Path]] = {}
    for file, named in files:
        try:
            scenario = load_scenario(file)
        except ScenarioError:
            continue
        if BENCHMARK_TAG not in scenario.tags or named:
            by_name.setdefault(scenario.name, []).append(file)
    return {name: found for name, found in by_name.items() if len(found) > 1}


def shared_names_problem(clashes: dict[str, list[Path]]) -> str:
    """What to say of shared_names' answer (the run refuses such files; the pytest plugin fails their items)."""
    return ("scenarios are told apart by name in the report and the history, and these files share one: "
            + "; ".join(f"{name!r}: {', '.join(str(file) for file in files)}" for name, files in clashes.items())
            + " (rename one)")


def sim_part(file: Path, scenario: Scenario, seeds: list[int], executor: Executor, max_risk: float = 0.0,
             stop: StopSignal | None = None) -> tuple[list[PlanSummary], list[CheckRow], float | None]:
    """Every plan of the scenario over the seeds; a stop request drops the runs in flight (SweepStopped)."""
    from sim.oracle import oracle_times
    from sim.run import simulate
    from sim.sweep import sweep

    names = ["plan", *scenario.alternatives]
    axes = [Axis("plan", tuple(names), tuple(names))] if len(names) > 1 else []
    points = expand(file, axes)
    swept = sweep(points, seeds, executor, axes, should_stop=None if stop is None else lambda: stop.requested,
                  paired="t95")
    plans = []
    for name, point, summary in zip(names, points, swept.points):
        if stop is not None and stop.requested:     # seed one's curves take a whole run per plan
            raise SweepStopped(f"stopped after the {counted(len(seeds) * len(points), 'run')}, before seed one's "
                               "curves")
        whole = simulate(point.scenario, seeds[0])
        plans.append(PlanSummary(
            name=name, kind=point.scenario.strategy.kind, label=plan_label(point.scenario.strategy),
            runs=summary.runs, failed_runs=summary.failed,
            metrics=summary.metric_dicts(),
            bounds={metric: BoundRiskSummary.model_validate(risk.as_dict())
                    for metric, risk in summary.bounds.items()},
            coverage=whole.coverage.series, egress=whole.egress.series,
            timeline=[event for event in whole.timeline if event.kind in SEED_ONE_EVENTS],
            cause=cause_of(whole, point.scenario), t95_leads=_t95_leads(summary, names, swept.points)))
    plan = plans[0]
    if plan.failed_runs:
        raise SimulationsFailed(f"{plan.failed_runs} of {plan.runs + plan.failed_runs} simulation runs failed: "
                           + "; ".join(f"seed {failure.seed}: {failure.error}" for failure in swept.failures[:3]))
    oracle = oracle_times(scenario, seeds[0])
    checks = [_sim_check(metric, risk, plan, max_risk, oracle) for metric, risk in plan.bounds.items()]
    return plans, checks, oracle["t95"]


def _t95_leads(plan: PointSummary, names: list[str], others: list[PointSummary]) -> dict[str, PairedLead]:
    """The plan's paired T95 lead over each other plan, where the seeds pair up (sim.sweep_pick.lead_over)."""
    from sim.sweep_pick import lead_over

    leads = {}
    for name, other in zip(names, others):
        if other is not plan and len(plan.by_seed or []) > 1 \
                and (lead := lead_over(plan, other, higher_is_better=False)) is not None:
            leads[name] = PairedLead(mean=lead.mean, low=lead.low, high=lead.high)
    return leads


def _sim_check(metric: str, risk: BoundRiskSummary, plan: PlanSummary, max_risk: float,
               oracle: dict[str, float | None]) -> CheckRow:
    """A bound judged on every seed (or at a risk level with --max-risk), showing the statistic it is judged on:
    the worst seed, not the mean. A broken time bound the oracle breaks too says so first: no plan meets it."""
    summary = plan.metrics.get(metric, {})
    bound = parse_bound(metric, risk.bound)
    upper = bound.op in ("<", "<=")
    worst = summary.get("max" if upper else "min") if bound.op != "==" else summary.get("mean")
    never = bool(summary.get("missing")) and upper       # a time some seed never reached is the worst of all
    shown = "never reached" if never or worst is None else format_metric(metric, worst)
    passed = risk.held_within(max_risk)
    if risk.runs == 1:
        judged_on, reason = "the run", f"{metric} = {shown}, bound {risk.bound}: " + ("holds" if not risk.broken
                                                                                     else "broken")
    else:
        judged_on = (f"risk ≤ {max_risk:.0%} of {counted(risk.runs, 'seed')}" if max_risk
                     else f"every seed (the worst of {risk.runs})")
        mean = format_metric(metric, summary.get("mean")) if summary.get("mean") is not None else "—"
        reason = (f"{metric} worst seed {shown} (mean {mean}), bound {risk.bound}: "
                  + (f"broken in {risk.broken} of {counted(risk.runs, 'seed')}" if risk.broken
                     else "held in every seed"))
    cause = "" if passed and not risk.broken or not plan.cause \
        else plan.cause if risk.runs == 1 else f"in seed one: {plan.cause}"
    if risk.broken and (reach := out_of_reach(bound, oracle)):
        cause = f"{reach} · {cause}" if cause else reach
    return CheckRow(mode="sim", metric=metric, bound=risk.bound, measured=worst, shown=shown, runs=risk.runs,
                    broken=risk.broken, passed=passed, reason=reason, judged_on=judged_on, cause=cause)


def hil_part(file: Path, scenario: Scenario, rigs: Path, log: Log, rig_name: str | None = None,
             stop: StopSignal | None = None, lease_wait: float = 0.0):
    """The scenario's hil: part on the inventory's rigs (or one of them): the result and its checks. A rig another
    run holds is waited for up to `lease_wait` seconds, else it is a rig that could not be measured."""
    from hil.inventory import load_inventory
    from hil.runner import run_scenario
    from hil.ssh import SshShell

    inventory = load_inventory(rigs)
    result = run_scenario(scenario, inventory, file.resolve().parent, SshShell, rig_name,
                          on_rig_done=lambda rig: log(f"  {rig.rig}: {rig.verdict} {rig.reason}".rstrip()), stop=stop,
                          lease_wait=lease_wait)
    wanted = {metric: bound for metric, bound in scenario.expect.items() if metric in hil_metrics([])}
    for implicit in ("rigs_failed", "quarantined"):     # a failing rig is a no-go even when expect: is silent
        wanted.setdefault(implicit, 0)
    why = "; ".join(f"{rig.rig}: {rig.reason}" for rig in result.rigs if rig.verdict in ("failed", "error"))
    # one rig (a pytest [hil-RIG] item, a one-rig lab) is named: two such rows in one report must say whose they are
    judged_on = f"rig {result.rigs[0].rig}" if len(result.rigs) == 1 else f"the worst of {len(result.rigs)} rigs"
    checks = []
    for check in evaluate(wanted, result.metrics()).checks:
        reason = check.reason + (f" ({why})" if not check.passed and check.metric == "rigs_failed" and why else "")
        shown = format_metric(check.metric, check.measured)
        if check.measured is None:      # no rig got as far as measuring it: it cannot be shown to hold
            shown = "not measured"
            reason = f"{check.metric}: not measured, no rig got that far; bound {check.bound} cannot be shown to hold"
        checks.append(CheckRow(mode="hil", metric=check.metric, bound=parse_bound(check.metric, check.bound).text,
                               measured=check.measured, shown=shown, runs=len(result.rigs),
                               broken=0 if check.passed else 1, passed=check.passed, reason=reason,
                               judged_on=judged_on,
                               cause="" if check.passed else why or result.halt_reason))
    return result, checks


def why_left_out(scenario: Scenario, named: bool, mode: Mode) -> str:
    """Why the suite does not run this scenario in this mode ('' when it does)."""
    if BENCHMARK_TAG in scenario.tags and not named:
        return "a benchmark: run only when its file is named"
    if mode == "hil" and scenario.hil is None:
        return "no hil: part to run on rigs (--mode hil)"
    return ""


def run_scenario_file(file: Path, named: bool, mode: Mode, seeds: int, rigs: Path | None, executor: Executor,
                      log: Log, stop: StopSignal | None = None, max_risk: float = 0.0,
                      lease_wait: float = 0.0) -> ScenarioOutcome | LeftOut:
    """The scenario measured, or why it is left out in this mode."""
    try:
        scenario = load_scenario(file)
    except ScenarioError as error:
        if kind := other_input(file):       # the calibration file or inventory its scenarios use
            return LeftOut(file=str(file), why=NOT_A_SCENARIO[kind])
        return ScenarioOutcome(name=file.stem, file=str(file), verdict="CANNOT MEASURE",
                               problems=[str(problem) for problem in error.problems])
    if why := why_left_out(scenario, named, mode):
        return LeftOut(file=str(file), why=why)
    log(f"{scenario.name} ({file})")
    return measure(file, scenario, mode, seeds, rigs, executor, log, stop, max_risk=max_risk, lease_wait=lease_wait)


def measure(file: Path, scenario: Scenario, mode: Mode, seeds: int, rigs: Path | None, executor: Executor,
            log: Log, stop: StopSignal | None = None, rig_name: str | None = None,
            max_risk: float = 0.0, lease_wait: float = 0.0) -> ScenarioOutcome:
    """A loaded scenario measured in this mode (the suite and the pytest plugin both come here): its checks, plans
    and rig results, with everything that could not be measured as problems."""
    from hil.errors import HilError

    checks: list[CheckRow] = []
    problems: list[str] = []
    plans: list[PlanSummary] = []
    oracle: float | None = None
    hil: RunResult | None = None
    stopped = False
    if mode in ("sim", "both"):
        try:
            plans, sim_checks, oracle = sim_part(file, scenario, [scenario.seed + i for i in range(seeds)], executor,
                                                 max_risk, stop)
            checks += sim_checks
        except SweepStopped as error:       # nothing to put back: the simulations in flight are dropped
            problems.append(f"sim: {error} ({stop.reason if stop is not None else 'a stop request'})")
            stopped = True
        except (SimulationsFailed, ScenarioError, ExecutorStalled) as error:
            problems.append(f"sim: {error}")
    if stopped and mode == "both" and scenario.hil is not None:
        problems.append("hil: not started: the run was stopped during the simulations")
    elif mode in ("hil", "both") and scenario.hil is not None:
        if rigs is None:
            problems.append("hil: the scenario has a hil: part but no --rigs inventory was given")
        else:
            try:
                hil, hil_checks = hil_part(file, scenario, rigs, log, rig_name, stop, lease_wait)
                checks += hil_checks
                problems += [f"hil: {rig.rig}: {rig.reason}" for rig in hil.rigs if rig.verdict == "error"]
            except (HilError, ScenarioError) as error:
                problems.append(f"hil: {error}")
    outcome = outcome_of(scenario, file, checks, problems, plans, oracle, hil, stopped)
    if mode == "both" and hil is not None and rigs is not None:    # the prediction beside the measurement
        from fleetlab.fidelity import fidelity_of_run

        outcome = outcome.model_copy(update={"fidelity": fidelity_of_run(file, scenario, rigs, hil)})
    return outcome


def outcome_of(scenario: Scenario, file: Path, checks: list[CheckRow], problems: list[str],
               plans: list[PlanSummary] | None = None, oracle: float | None = None, hil=None,
               stopped: bool = False) -> ScenarioOutcome:
    """Judge a scenario from what was measured: CANNOT MEASURE with problems, else NO-GO if a check failed;
    INTERRUPTED when a stop request cut its simulations or its rigs short."""
    verdict: Verdict = "CANNOT MEASURE" if problems else ("GO" if all(c.passed for c in checks) else "NO-GO")
    if stopped or (hil is not None and hil.interrupted):
        verdict = "INTERRUPTED"
    budget = scenario.hil.latency_budget if scenario.hil else None
    budget_ms = {name: value * 1000 for name, value in (("p50", budget.p50), ("p99", budget.p99))
                 if value is not None} if budget else {}
    checks = [check.model_copy(update={"finding": scenario.findings[check.metric]})
              if check.metric in scenario.findings else check for check in checks]
    return ScenarioOutcome(name=scenario.name, file=str(file), description=scenario.description.strip(),
                           candidate=scenario.candidate.version,
                           current=scenario.current.version if scenario.current else "",
                           verdict=verdict, checks=checks, plans=plans or [], oracle_t95=oracle, hil=hil,
                           latency_budget_ms=budget_ms, problems=problems,
                           max_temperature=scenario.hil.max_temperature if scenario.hil else None,
                           plan_warnings=[f"{key}: {message}" for key, message in plan_traps.plan_warnings(scenario)],
                           assumptions=assumption_lines(scenario),
                           calibration=provenance_lines(scenario),
                           calibration_warnings=list(scenario.calibration.warnings) if scenario.calibration else [])


def suite_result(outcomes: list[ScenarioOutcome], mode: Mode, seeds: int, started: datetime,
                 wall: float, left_out: list[LeftOut] | None = None, max_risk: float = 0.0) -> SuiteResult:
    run_id = started.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    return SuiteResult(run_id=run_id, started=started.isoformat(timespec="seconds"), mode=mode, seeds=seeds,
                       verdict=combine([outcome.verdict for outcome in outcomes]) if outcomes else "CANNOT MEASURE",
                       scenarios=outcomes, git_sha=git_sha(), packages=package_versions(), wall_seconds=round(wall, 2),
                       left_out=left_out or [], max_risk=max_risk)


def run_suite(paths: list[Path], mode: Mode = "sim", seeds: int = 1, rigs: Path | None = None,
              executor_spec: str = "local", log: Log = lambda line: None,
              progress: Callable[[int, int], None] | None = None, stop: StopSignal | None = None,
              max_risk: float = 0.0, lease_wait: float = 0.0) -> SuiteResult:
    """Every scenario under the paths, in order. A stop request (a signal) ends the suite after the scenario in
    flight, whose rigs are put back first; the result then says INTERRUPTED when anything was cut short or left
    unrun (a request after the last scenario's work cut nothing: the verdict stands)."""
    from fleetlab.executors import abandon, open_executor

    started, clock = datetime.now(timezone.utc), time.perf_counter()
    outcomes: list[ScenarioOutcome] = []
    left_out: list[LeftOut] = []
    left_unrun = False
    files = collect(paths)
    with open_executor(executor_spec) as (executor, _):
        for done, (file, named) in enumerate(files, start=1):
            if stop is not None and stop.requested:
                log(f"stopped before {file}: {stop.reason}")
                left_unrun = True
                break
            outcome = run_scenario_file(file, named, mode, seeds, rigs, executor, log, stop, max_risk, lease_wait)
            if isinstance(outcome, LeftOut):
                left_out.append(outcome)
            else:
                outcomes.append(outcome)
                log(f"  {outcome.verdict}")
            if progress:
                progress(done, len(files))
        if stop is not None and stop.requested:
            abandon(executor)       # a stopped scenario's runs still under way are not waited for
    result = suite_result(outcomes, mode, seeds, started, time.perf_counter() - clock, left_out, max_risk)
    if left_unrun and result.verdict != "INTERRUPTED":
        result = result.model_copy(update={"verdict": "INTERRUPTED"})
    return result
