"""What `fleetlab run` found, as data: every report (HTML, Markdown, JUnit, JSON) and the history are drawn from it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sim.model.fidelity import FidelityRow
from sim.model.record import Record
from sim.model.results import RunResult, Series, TimelineEvent

Verdict = Literal["GO", "NO-GO", "CANNOT MEASURE", "INTERRUPTED"]
Mode = Literal["sim", "hil", "both"]


class CheckRow(Record):
    """One expectation, judged: in sim over every seed of the scenario's plan; in hil for the whole rig set."""
    mode: Literal["sim", "hil"]
    metric: str
    bound: str
    measured: float | None            # sim: the mean over seeds; hil: the worst rig
    shown: str                        # the measured number in the metric's unit
    runs: int
    broken: int                       # runs (sim seeds) in which the bound broke
    passed: bool
    reason: str
    judged_on: str = Field(default="", description="the statistic the bound is judged on: every seed, the rig set")
    cause: str = Field(default="", exclude_if=lambda cause: not cause,
                       description="why it broke, in one line: the halt, the reason devices failed, the stratum")
    finding: str = Field(default="", exclude_if=lambda finding: not finding,
                         description="the scenario's intended finding this expectation shows (scenario findings:)")


class BoundRiskSummary(Record):
    """How often one `expect:` bound broke over a plan's seeds (sim.model.aggregate.BoundRisk, recorded)."""
    bound: str
    runs: int
    broken: int
    probability: float
    ci_low: float                     # 95% Wilson interval of the probability
    ci_high: float

    def held_within(self, max_risk: float) -> bool:
        """Broken in at most `max_risk` of the runs (`--max-risk`; at 0, in none): how the suite judges the bound
        and which plans the report's recommendation chooses among."""
        return self.broken <= max_risk * self.runs


class PairedLead(Record):
    """One plan's lead over another on the same seeds (sim.sweep_pick.Lead): seed by seed, how much sooner its T95
    came (positive: sooner), the mean and its 95% interval."""
    mean: float
    low: float | None
    high: float | None


class PlanSummary(Record):
    """A plan (the scenario's strategy or an alternative) over every seed."""
    name: str
    kind: str
    label: str = Field(default="", exclude_if=lambda label: not label,
                       description="the plan as its scenario writes it, defaults left out")
    runs: int
    failed_runs: int = 0
    metrics: dict[str, dict] = Field(default_factory=dict)      # sim.model.aggregate.MetricSummary.as_dict()
    bounds: dict[str, BoundRiskSummary] = Field(default_factory=dict)
    coverage: Series | None = None                              # seed 1: share of the fleet on the candidate
    egress: Series | None = None                                # seed 1: bytes/s from the origin
    timeline: list[TimelineEvent] = Field(default_factory=list)  # seed 1: halts, rollbacks, faults
    cause: str = Field(default="", exclude_if=lambda cause: not cause,
                       description="seed 1 in one line: its halt, why devices failed (fleetlab/causes.py)")
    t95_leads: dict[str, PairedLead] = Field(
        default_factory=dict, exclude_if=lambda leads: not leads,
        description="this plan's T95 lead over each other plan on the same seeds (two or more seeds, T95 reached "
                    "in every one)")


class ScenarioOutcome(Record):
    name: str
    file: str
    description: str = ""
    verdict: Verdict
    checks: list[CheckRow] = Field(default_factory=list)
    plans: list[PlanSummary] = Field(default_factory=list)
    oracle_t95: float | None = None
    hil: RunResult | None = None
    latency_budget_ms: dict[str, float] = Field(default_factory=dict)   # p50 / p99 budgets of the hil: part
    max_temperature: float | None = Field(default=None, description="°C the hil: part lets a rig reach")
    problems: list[str] = Field(default_factory=list)          # why something could not be measured
    candidate: str = Field(default="", description="the candidate model's version")
    current: str = Field(default="", description="the version it replaces ('' when the scenario names none)")
    plan_warnings: list[str] = Field(default_factory=list, exclude_if=lambda found: not found,
                                     description="plan traps (sim/model/plan_traps.py): `key: message`")
    assumptions: list[str] = Field(default_factory=list, exclude_if=lambda found: not found,
                                   description="what the simulation assumed about delivery (fleetlab/assumptions.py)")
    calibration: list[str] = Field(default_factory=list, exclude_if=lambda found: not found,
                                   description="which numbers were measured on which rig, and when")
    calibration_warnings: list[str] = Field(default_factory=list, exclude_if=lambda found: not found)
    fidelity: list[FidelityRow] = Field(default_factory=list, exclude_if=lambda found: not found,
                                        description="--mode both: predicted beside measured, per rig and phase")


class LeftOut(Record):
    """A scenario file the suite found and did not run in this mode, and why (a benchmark not named, no hil: part)."""

    file: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}: {self.why}"


class SuiteResult(Record):
    run_id: str
    started: str                      # ISO 8601, UTC
    mode: Mode
    seeds: int
    verdict: Verdict
    scenarios: list[ScenarioOutcome]
    git_sha: str
    packages: dict[str, str]
    wall_seconds: float
    left_out: list[LeftOut] = Field(default_factory=list, exclude_if=lambda found: not found,
                                description="scenario files found and not run in this mode, each with why")
    max_risk: float = Field(default=0.0, exclude_if=lambda risk: not risk,
                            description="--max-risk: sim bounds judged at this risk over the seeds (0: on every seed)")

    @property
    def exit_code(self) -> int:
        return {"GO": 0, "NO-GO": 1, "CANNOT MEASURE": 2, "INTERRUPTED": 130}[self.verdict]


def combine(verdicts: list[Verdict]) -> Verdict:
    """Interrupted outranks could-not-measure outranks no-go outranks go."""
    for worst in ("INTERRUPTED", "CANNOT MEASURE", "NO-GO"):
        if worst in verdicts:
            return worst
    return "GO"
