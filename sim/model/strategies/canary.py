"""A stratified canary: every cohort (hardware × site kind × camera angle) gets canary devices, judged against control
devices of the same stratum, then the rest of the fleet follows in waves.

Size: n = ⌈ln(1 − confidence) / ln(1 − p)⌉ devices see at least one failure of rate p with that confidence; with
`per_stratum` every stratum gets n (a defect confined to one cohort is caught with that power), otherwise n is
spread over the strata in proportion, at least `min_per_stratum` each. With `stratify: false` the canary is a plain
random sample judged as one group (the common practice this is compared against).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Generator
from typing import Annotated, Literal

from pydantic import Field, field_validator

from sim.model.gating.analysis import AnalysisRun, MetricAnalysis
from sim.model.gating.judge import CanaryJudge, judge
from sim.model.gating.sequential import SequentialTest
from sim.model.gating.threshold import ThresholdAbort
from sim.model.strategies.common import abort_watch, cumulative_counts, soak_watching
from sim.model.strategy import (
    Action,
    FleetView,
    Halt,
    Observation,
    Rollback,
    Rollout,
    Sample,
    Soak,
    StrategyParams,
    Update,
    register,
)
from sim.model.unit_fields import Confidence, Duration, Fraction, PlanInterval
from sim.model.units import counted

Stratum = Literal["cohort", "hardware", "site_kind", "camera_angle"]
_AXIS = {"hardware": 0, "site_kind": 1, "camera_angle": 2}


def detection_size(failure_rate: float, confidence: float) -> int:
    """Smallest n with 1 − (1 − p)^n ≥ confidence (0 < p ≤ 1, confidence < 1: CanaryParams checks)."""
    if failure_rate >= 1.0:
        return 1            # every device fails: one sees it
    return max(1, math.ceil(math.log(1.0 - confidence) / math.log(1.0 - failure_rate)))


class CanaryParams(StrategyParams):
    kind: Literal["canary"] = "canary"
    detect_failure_rate: Fraction = Field(
        default=0.05, description="the failure rate the canary must be able to see (sizes it with `confidence`)")
    confidence: Confidence = Field(
        default=0.95,
        description="chance the canary sees at least one failure at that rate: "
                    "n = ln(1 − confidence) / ln(1 − p)")
    stratify: bool = Field(
        default=True, description="canary devices in every stratum, each judged against control of its stratum")
    stratum: Stratum = Field(default="cohort", description="what a stratum is: a whole cohort, or one of its axes")
    per_stratum: bool = Field(
        default=False,
        description="every stratum gets the full canary size "
                    "(a defect in one stratum is caught with that power)")
    min_per_stratum: Annotated[int, Field(ge=1)] = Field(
        default=10, description="canary devices a stratum gets at least")
    bake: Duration = Field(default=86400.0, description="how long the canary runs before it is judged")
    check_every: PlanInterval = Field(
        default=3600.0, description="how often the abort rule, the sequential test and analyses look during the bake")
    judge: CanaryJudge | None = Field(
        default=CanaryJudge(),
        description="the canary judge (Mann-Whitney per metric against control); none: no judgement at the end")
    analysis: list[MetricAnalysis] = Field(default_factory=list, description="metric analysis runs during the bake")
    sequential: SequentialTest | None = Field(
        default=None, description="a sequential test that halts early on strong evidence")
    abort: ThresholdAbort | None = Field(
        default=ThresholdAbort(threshold=0.05, min_executed=10),
        description="halt when this share of the known canary outcomes failed")
    then: list[Fraction] = Field(default_factory=lambda: [0.25, 1.0], description="cumulative waves after the canary")
    bake_between: Duration = Field(default=12 * 3600.0, description="time between the waves after the canary")
    rollback_on_halt: bool = Field(default=True, description="roll the canary back when it fails")
    max_control: Annotated[int, Field(ge=10)] = Field(
        default=400, description="control devices sampled per stratum at most")

    @field_validator("detect_failure_rate")
    @classmethod
    def _a_rate_to_see(cls, rate: float) -> float:
        if rate <= 0.0:
            raise ValueError("more than 0%: no canary is large enough to see a failure rate of zero")
        return rate


def strata_of(fleet: FleetView, stratum: Stratum) -> dict[tuple[str, ...], list[int]]:
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for device in fleet.shuffled():
        cohort = fleet.cohorts[device]
        groups[cohort if stratum == "cohort" else (cohort[_AXIS[stratum]],)].append(device)
    return dict(sorted(groups.items()))


def choose_canary(params: CanaryParams, fleet: FleetView) -> dict[tuple[str, ...], list[int]]:
    """Canary devices by stratum (one stratum, ('all',), when not stratified)."""
    size = detection_size(params.detect_failure_rate, params.confidence)
    if not params.stratify:
        return {("all",): fleet.shuffled()[:size]}
    strata = strata_of(fleet, params.stratum)
    chosen = {}
    for key, members in strata.items():
        want = size if params.per_stratum else max(params.min_per_stratum, round(size * len(members) / fleet.size))
        chosen[key] = members[:min(want, len(members) // 2 or 1)]   # keep at least half of a stratum as control
    return chosen


@register("canary", CanaryParams, "stratified canary sized for detection power, judged against control, then waves")
def canary(params: CanaryParams, fleet: FleetView) -> Rollout:
    chosen = choose_canary(params, fleet)
    in_canary = {device for members in chosen.values() for device in members}
    canary_devices = sorted(in_canary)
    strata = f"{len(chosen)} {'stratum' if len(chosen) == 1 else 'strata'}"
    yield Update(tuple(canary_devices), label=f"canary ({counted(len(canary_devices), 'device')}, {strata})")
    verdict = yield from _bake_canary(params, fleet, chosen, in_canary)
    if verdict:
        if params.rollback_on_halt:
            yield Rollback(None, verdict)
        yield Halt(verdict)
        return
    rest = [device for device in fleet.shuffled() if device not in in_canary]
    told = 0
    for number, upto in enumerate(cumulative_counts(params.then, len(rest)), start=1):
        if upto > told:
            yield Update(tuple(rest[told:upto]), label=f"wave {number} after canary")
            told = upto
        tripped = yield from soak_watching(params.bake_between, params.check_every, abort_watch(params.abort))
        if tripped and params.abort:
            reason = f"abort: {params.abort.describe(tripped.totals)}"
            yield Halt(reason)
            return


Chosen = dict[tuple[str, ...], list[int]]
Verdict = Generator[Action, Observation, str]     # a halt reason, or '' when the canary passed


def _bake_canary(params: CanaryParams, fleet: FleetView, chosen: Chosen, in_canary: set[int]) -> Verdict:
    """Soak the canary; return a halt reason, or '' when it passed."""
    canary_devices = sorted(in_canary)
    runs = [AnalysisRun(spec) for spec in params.analysis]
    waited = 0.0
    while waited < params.bake:
        seen = yield Soak(params.check_every)
        waited += params.check_every
        tally = seen.count(canary_devices)
        if params.abort and params.abort.breached(tally):
            return f"canary abort: {params.abort.describe(tally)}"
        if params.sequential:
            decision = params.sequential.decide(tally.bad, tally.committed, len(canary_devices) - tally.executed)
            if decision == "halt":
                return f"canary sequential test: {tally.bad} failures in {tally.executed} reported"
        for run in runs:
            sample = yield Sample(tuple(canary_devices), ())
            if run.record(sample.samples.get(run.spec.metric)) in ("failed", "inconclusive"):
                return f"canary analysis of {run.spec.metric}: {run.status}"
    if params.judge:
        return (yield from _judge_strata(params, params.judge, fleet, chosen, in_canary))
    return ""


def _judge_strata(params: CanaryParams, rules: CanaryJudge, fleet: FleetView, chosen: Chosen,
                  in_canary: set[int]) -> Verdict:
    strata: Chosen = {("all",): fleet.shuffled()} if not params.stratify else strata_of(fleet, params.stratum)
    for key, members in chosen.items():
        control = [device for device in strata[key] if device not in in_canary][:params.max_control]
        seen = yield Sample(tuple(members), tuple(control))
        judgment = judge(seen.samples, rules)
        if judgment.outcome == "fail":
            return f"canary judge, stratum {'/'.join(key)}: {judgment.describe()}"
    return ""
