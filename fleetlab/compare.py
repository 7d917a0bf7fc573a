"""`fleetlab compare`: the same fleet (the same per-device random streams) under several plans and seeds."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleetlab.causes import out_of_reach
from fleetlab.errors import UnknownPlan
from fleetlab.parameters import plan_label
from fleetlab.suite_results import BoundRiskSummary, PairedLead, PlanSummary, ScenarioOutcome, Verdict
from sim.model.aggregate import BoundRisk
from sim.model.gates import evaluate, parse_bound, possible_range
from sim.model.scenario import Scenario
from sim.model.stats import Summary, paired_difference, summarize
from sim.model.strategy import REGISTRY, StrategyParams
from sim.oracle import oracle_times
from sim.run import Progress, simulate

PAIRED = ("t95", "cost")       # measures each plan is set against the first named on the same seeds
COLUMNS = ("t95", "coverage", "cost", "failed", "rolled_back", "bricked", "exposure_device_hours",
           "service_lost_device_hours", "evidence_at_release", "blast_radius", "halted")


def resolve_plans(scenario: Scenario, names: list[str]) -> dict[str, StrategyParams]:
    """'plan' is the scenario's own strategy, other names come from `alternatives:`, or a registered kind with its
    default parameters."""
    plans: dict[str, StrategyParams] = {}
    for name in names:
        if name == "plan":
            plans[name] = scenario.strategy
        elif name in scenario.alternatives:
            plans[name] = scenario.alternatives[name]
        elif name in REGISTRY:
            try:
                plans[name] = REGISTRY[name].params()
            except ValueError:
                raise UnknownPlan(f"strategy {name!r} has required parameters: describe it under alternatives:") \
                    from None
        else:
            known = ["plan", *scenario.alternatives, *REGISTRY]
            raise UnknownPlan(f"unknown plan {name!r}; known: {', '.join(known)}")
    return plans


@dataclass
class PlanRow:
    name: str
    kind: str
    label: str = ""           # the plan as its scenario writes it (fleetlab.parameters.plan_label)
    values: dict[str, list[float | None]] = field(default_factory=dict)
    passes: dict[str, int] = field(default_factory=dict)
    bounds: dict[str, str] = field(default_factory=dict)      # each `expect:` bound as written, by metric
    efficiency: list[float | None] = field(default_factory=list)
    devices: int = 0        # the largest fleet of its runs: no device count's interval reaches past it
    # each broken time bound the oracle misses too, with why no plan meets it (fleetlab.causes.out_of_reach)
    out_of_reach: dict[str, str] = field(default_factory=dict)

    def summary(self, column: str) -> Summary:
        return summarize(self.values.get(column, []), possible_range(column, self.devices))

    def against(self, other: PlanRow, column: str) -> Summary | None:
        """This plan's value minus the other's, seed by seed (every plan runs the same seeds, so each seed's fleet,
        outages and luck are the same on both sides and cancel): the mean difference and its 95% interval. None
        where a seed has no value on one side (a T95 never reached)."""
        return paired_difference(self.values.get(column, []), other.values.get(column, []))

    def paired_with(self, first: PlanRow) -> dict[str, dict[str, float | None] | None]:
        """The table's "− first's, same seeds" rows for --json: each PAIRED measure's mean difference from `first`
        with its 95% interval; None where the seeds do not pair up."""
        pairs = {column: self.against(first, column) for column in PAIRED}
        return {column: None if pair is None else {"mean": pair.mean, "low": pair.low, "high": pair.high}
                for column, pair in pairs.items()}


def compare(scenario: Scenario, names: list[str], seeds: list[int], progress=lambda done, total: None,
            within_run: Progress | None = None) -> list[PlanRow]:
    """Each plan on the same seeds, with the oracle's T95 on each seed for its efficiency. `progress` hears of
    each run done, `within_run` of each run's own progress (the oracle's included)."""
    plans = resolve_plans(scenario, names)
    oracle = {seed: oracle_times(scenario, seed, within_run) for seed in seeds}
    rows = []
    total, done = len(plans) * len(seeds), 0
    for name, plan in plans.items():
        row = PlanRow(name, plan.kind, plan_label(plan))
        variant = scenario.model_copy(update={"strategy": plan})
        for seed in seeds:
            result = simulate(variant, seed, progress=within_run)
            metrics = result.metrics()
            row.devices = max(row.devices, result.devices)
            for column in COLUMNS:
                row.values.setdefault(column, []).append(metrics[column])
            for check in evaluate(scenario.expect, metrics).checks:
                row.passes[check.metric] = row.passes.get(check.metric, 0) + check.passed
                row.bounds[check.metric] = check.bound
            bound, t95 = oracle[seed]["t95"], metrics["t95"]
            row.efficiency.append(t95 / bound if t95 is not None and bound else None)
            done += 1
            progress(done, total)
        row.out_of_reach = {metric: why for metric, held in row.passes.items() if held < len(seeds)
                            if (why := out_of_reach(parse_bound(metric, row.bounds[metric]), oracle[seeds[0]]))}
        rows.append(row)
    return rows


def as_outcome(rows: list[PlanRow], scenario: Scenario, file: str, plan_warnings: list[str]) -> ScenarioOutcome:
    """The compared plans as a suite run records a scenario's plans, so that the report's recommendation
    (fleetlab.report.decision.recommended) chooses among them by the same rule: `compare` showed every figure and
    left the choice to whoever read the table. `plan_warnings` are lint's `key: message` lines about the file."""
    plans = []
    for row in rows:
        runs = len(row.values.get("t95", []))
        t95 = row.summary("t95")
        bounds = {metric: BoundRiskSummary.model_validate(BoundRisk(row.bounds[metric], runs, runs - held).as_dict())
                  for metric, held in row.passes.items()}
        leads = {}
        for other in rows:
            # a lead is how much sooner this plan's T95 came than the other's, seed by seed
            behind = other.against(row, "t95") if other is not row and runs > 1 else None
            if behind is not None and behind.mean is not None:
                leads[other.name] = PairedLead(mean=behind.mean, low=behind.low, high=behind.high)
        plans.append(PlanSummary(
            name=row.name, kind=row.kind, label=row.label, runs=runs,
            metrics={"t95": {"mean": t95.mean, "missing": t95.missing}},
            bounds=bounds, t95_leads=leads))
    judged = plans[0]           # compare's exit code is about the first plan named
    verdict: Verdict = "NO-GO" if any(bound.broken for bound in judged.bounds.values()) else "GO"
    return ScenarioOutcome(name=scenario.name, file=file, verdict=verdict, plans=plans, plan_warnings=plan_warnings)

