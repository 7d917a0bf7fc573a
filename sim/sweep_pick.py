"""Which grid point a sweep points to: the best one on one measure among the points every bound of which held within
the risk, and what stands against it.

A sweep's table answers "what does each point do"; the person who ran it wants "which one do I ship". The pick is
the point with the best mean of the chosen measure (`t95` by default: the fastest) among the points that ran every
seed, reached the measure in every run, and broke no `expect:` bound in more than `max_risk` of their runs (the
rule that makes the sweep no-go). Three things are said beside it, because a number alone misleads there:

- Lint: a point whose plan `fleetlab lint` flags (a bake that sees no outcome before the next wave, a window too
  short to install in) can be the fastest *because* of the trap: its speed comes from not looking. The pick names
  its finding and the best point without one. Only the findings about what a point runs count: its alternatives are
  not run, and `expect:` and `hil:` are not the plan.
- Separation: every point runs the same seeds, so its lead over another is judged seed by seed (`Lead`): the
  seeds' luck cancels, and a lead of 1% that the two means' intervals hide shows (the intervals are the fallback
  where values do not pair up).
- The seeds' power: a bound that no run broke is shown below the risk only with enough runs. The sweep's table gives
  each risk's 95% Wilson interval; with 4 seeds, 0 of 4 broke reads as up to 49%. The pick says how many seeds a
  point needs, none broken, for that interval to end under `max_risk`.

When the points within the risk never reach the measure (plans that halt a bad candidate never reach T95), it says
to pick them on what the halt spares. Pure: the sweep's summaries and the points' scenarios in, a Pick out
(sweep.json's `pick`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sim.grid import GridPoint
from sim.model.aggregate import seeds_for_risk, wilson_interval
from sim.model.gates import HIGHER_IS_BETTER, METRICS, format_difference, format_metric
from sim.model.plan_traps import plan_warnings
from sim.model.stats import paired_difference, seeds_to_exclude_zero
from sim.sweep import PointSummary, SweepResult

# Keys of a point's lint findings that are not about what the point runs: its alternatives (a point runs its own
# `strategy:`), its expectations and its rigs' part.
NOT_THE_RUN = ("alternatives.", "expect.", "hil.")
SAID_OVERLAPS = 3           # points named in the overlap line (sweep.json lists them all)


@dataclass(frozen=True)
class Ranked:
    """One point's standing on the measure."""
    label: str
    mean: float
    ci_low: float | None        # None: one run, no interval
    ci_high: float | None

    def overlaps(self, other: Ranked) -> bool:
        """Whether the two means' intervals meet; without one (a single run) nothing tells the points apart."""
        if self.ci_low is None or self.ci_high is None or other.ci_low is None or other.ci_high is None:
            return True
        return self.ci_low <= other.ci_high and other.ci_low <= self.ci_high


@dataclass(frozen=True)
class Lead:
    """The best point's lead over another on the same seeds (common random numbers): seed by seed, how much better
    the best did (positive: better), its mean and 95% interval. Paired, it separates points whose own intervals
    overlap: the seeds' luck is the same on both sides and cancels."""
    label: str
    mean: float
    low: float | None           # None: one seed, no interval
    high: float | None

    @property
    def clear(self) -> bool:
        return self.low is not None and self.low > 0


def lead_over(best: PointSummary, other: PointSummary, higher_is_better: bool) -> Lead | None:
    """The paired lead, or None where the two points' seeds do not pair up (a value missing, or not kept)."""
    if best.by_seed is None or other.by_seed is None:
        return None
    better, worse = (best.by_seed, other.by_seed) if higher_is_better else (other.by_seed, best.by_seed)
    found = paired_difference(better, worse)
    if found is None or found.mean is None:
        return None
    return Lead(other.label, found.mean, found.low, found.high)


@dataclass(frozen=True)
class Pick:
    measure: str
    max_risk: float
    points: int
    best: Ranked | None                     # best mean among the points within the risk
    best_without_lint: Ranked | None        # the same among those `fleetlab lint` does not flag (None: best is one)
    lint: dict[str, list[str]]              # point label → its findings ("key: message"), for flagged points only
    over_risk: dict[str, str]               # point label → the bounds it broke too often (the sweep's no-go)
    left_out: dict[str, str]                # point label → another reason it could not be picked
    overlapping: list[str]                  # points within the risk the seeds do not separate from the best
    leads: list[Lead]                       # the best's paired lead over each other point within the risk
    seeds: int                              # runs per point
    bounded: bool                           # the scenario has `expect:` bounds, so a risk to show
    shown_below: float                      # the upper end of the risk's interval when none of `seeds` runs broke
    seeds_needed: int | None                # runs, none broken, whose interval ends under max_risk (None: max 0)

    def as_dict(self) -> dict[str, object]:
        def ranked(entry: Ranked | None) -> dict[str, object] | None:
            return None if entry is None else vars(entry)
        return {"measure": self.measure, "higher_is_better": self.measure in HIGHER_IS_BETTER,
                "max_risk": self.max_risk, "best": ranked(self.best),
                "best_without_lint": ranked(self.best_without_lint), "lint": self.lint, "over_risk": self.over_risk,
                "left_out": self.left_out,
                "overlapping": self.overlapping, "leads": [vars(lead) for lead in self.leads],
                "seeds": self.seeds, "bounded": self.bounded,
                "unbroken_risk_shown_below": self.shown_below, "seeds_needed": self.seeds_needed}

    def lines(self) -> list[str]:
        """The pick in words, for the terminal; the points over the risk are left to the sweep's no-go lines."""
        lines = self._pick_lines() if self.points > 1 else []   # one point: nothing to pick between
        if self.bounded and self.seeds_needed is not None and self.seeds < self.seeds_needed:
            lines.append(f"{self.seeds} runs per point: a bound none of them broke has a risk interval up to "
                         f"{self.shown_below:.1%}; {self.seeds_needed} seeds, none broken, bring it under "
                         f"{self.max_risk:.0%}")
        return lines

    def _pick_lines(self) -> list[str]:
        better = "highest" if self.measure in HIGHER_IS_BETTER else "lowest"
        within = f"every bound broken in at most {self.max_risk:.0%} of runs"
        if self.best is None:
            lines = [f"pick: no point qualifies ({within}, {self.measure} reached in every run)"]
            if any(why.startswith(f"{self.measure} not reached") for why in self.left_out.values()):
                # a scenario whose candidate must be stopped: the points that stop it hold every bound and never
                # get to T95
                lines.append(f"  the points within the risk never reach {self.measure} in some run: a plan that "
                             "halts does not; pick them on what the halt spares, e.g. --pick-by "
                             "exposure_device_hours or blast_radius")
        else:
            lines = [f"pick: {self.best.label}, the {better} mean {self.measure} with {within}: "
                     f"{self._figure(self.best)}"]
            lines += self._separation_lines()
            if self.best.label in self.lint:
                findings = self.lint[self.best.label]
                more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
                lines.append(f"  but `fleetlab lint` flags its plan: {findings[0]}{more}")
                lines.append("  best without a lint finding: " + (
                    "none" if self.best_without_lint is None else
                    f"{self.best_without_lint.label}: {self._figure(self.best_without_lint)}"))
        return lines + [f"  not picked: {label}: {why}" for label, why in self.left_out.items()]

    def _separation_lines(self) -> list[str]:
        """Whether the seeds separate the best point from the others: on the same seeds (paired) where the values
        pair up, else by the two means' intervals."""
        if self.overlapping and self.seeds < 2:
            return [f"  one run per point: nothing yet separates it from {_named(self.overlapping)}"]
        leads = {lead.label: lead for lead in self.leads}
        same = [label for label in self.overlapping if label in leads and leads[label].high == 0 == leads[label].low]
        unclear = [label for label in self.overlapping if label in leads and label not in same]
        unpaired = [label for label in self.overlapping if label not in leads]
        lines = [f"  the same {self.measure} as {_named(same)} on every seed"] if same else []
        if unclear:
            more = f"; nor over {len(unclear) - 1} more" if len(unclear) > 1 else ""
            nearest = leads[unclear[0]]
            lines.append(f"  on the same seeds its lead over {unclear[0]} is not clear: "
                         f"{self._lead(nearest)}{more}")
            if nearest.low is not None and nearest.high is not None and \
                    (needed := seeds_to_exclude_zero(nearest.mean, nearest.low, nearest.high, self.seeds)):
                lines.append(f"  about {needed:,} seeds would tell it from {unclear[0]}, were the lead and the "
                             f"seeds' spread to stay as measured (--seeds {needed})")
        if unpaired:
            lines.append(f"  its interval overlaps {_named(unpaired)}'s: the seeds do not yet separate them")
        if not self.overlapping and self.leads:
            nearest = min(self.leads, key=lambda lead: lead.mean)
            lines.append(f"  ahead of every other point on the same seeds; of {nearest.label} by "
                         f"{self._lead(nearest)}")
        return lines

    def _lead(self, lead: Lead) -> str:
        shown = f"{format_difference(self.measure, lead.mean)} a seed"
        if lead.low is not None and lead.high is not None:
            shown += (f" [{format_difference(self.measure, lead.low)}, {format_difference(self.measure, lead.high)}]"
                      " (95%, paired)")
        return shown

    def _figure(self, entry: Ranked) -> str:
        if entry.ci_low is None or entry.ci_high is None:
            return f"{format_metric(self.measure, entry.mean)} (one run: no interval)"
        return (f"{format_metric(self.measure, entry.mean)} [{format_metric(self.measure, entry.ci_low)}, "
                f"{format_metric(self.measure, entry.ci_high)}]")


def _named(labels: list[str]) -> str:
    """At most SAID_OVERLAPS labels, then how many more (sweep.json lists them all)."""
    shown = ", ".join(labels[:SAID_OVERLAPS])
    return shown + (f" and {len(labels) - SAID_OVERLAPS} more" if len(labels) > SAID_OVERLAPS else "")


def run_findings(point: GridPoint) -> list[str]:
    """`fleetlab lint`'s findings about what this point runs, as "key: message"."""
    return [f"{key}: {message}" for key, message in plan_warnings(point.scenario)
            if not key.startswith(NOT_THE_RUN)]


def _too_risky(summary: PointSummary, max_risk: float) -> str | None:
    broken = [f"{metric} broke in {risk.probability:.1%} of runs" for metric, risk in summary.bounds.items()
              if risk.probability > max_risk]
    return "; ".join(broken) if broken else None


def _unreached(summary: PointSummary, measure: str) -> str | None:
    values = summary.metrics.get(measure)
    if values is None or values.n == 0 or values.missing:
        missing = summary.runs if values is None else values.missing
        return f"{measure} not reached in {missing} of {summary.runs} runs"
    return None


def pick(result: SweepResult, points: list[GridPoint], measure: str, max_risk: float) -> Pick:
    """The sweep's pick on `measure` (a sim metric of gates.METRICS) at `max_risk`; `points` in result's order."""
    if measure not in METRICS:
        raise ValueError(f"unknown measure {measure!r}")
    over_risk: dict[str, str] = {}
    left_out: dict[str, str] = {}
    ranked: list[Ranked] = []
    for summary in result.points:
        if summary.failed:
            left_out[summary.label] = f"{summary.failed} of {summary.runs + summary.failed} runs failed"
            continue
        if (why := _too_risky(summary, max_risk)) is not None:
            over_risk[summary.label] = why
            continue
        if (why := _unreached(summary, measure)) is not None:
            left_out[summary.label] = why
            continue
        shown = summary.metric_dicts()[measure]
        ranked.append(Ranked(summary.label, cast(float, shown["mean"]), cast("float | None", shown["ci_low"]),
                             cast("float | None", shown["ci_high"])))
    sign = -1.0 if measure in HIGHER_IS_BETTER else 1.0
    lint = {point.label: found for point in points if (found := run_findings(point))}
    # among equal means the point lint does not flag comes first (a trap that buys nothing is no reason to pick it);
    # the sort is stable, so other ties keep the grid's order
    ranked.sort(key=lambda entry: (sign * entry.mean, entry.label in lint))
    best = ranked[0] if ranked else None
    clean = next((entry for entry in ranked if entry.label not in lint), None)
    summaries = {summary.label: summary for summary in result.points}
    leads = [] if best is None else [lead for entry in ranked[1:] if (lead := lead_over(
        summaries[best.label], summaries[entry.label], measure in HIGHER_IS_BETTER)) is not None]
    paired = {lead.label: lead for lead in leads}
    overlapping = [] if best is None else [
        entry.label for entry in ranked[1:]
        if (not paired[entry.label].clear if entry.label in paired else entry.overlaps(best))]
    return Pick(measure, max_risk, len(result.points), best,
                best_without_lint=clean if best is not None and best.label in lint else None, lint=lint,
                over_risk=over_risk, left_out=left_out, overlapping=overlapping, leads=leads,
                seeds=len(result.seeds),
                bounded=any(summary.bounds for summary in result.points),
                shown_below=wilson_interval(0, len(result.seeds))[1], seeds_needed=seeds_for_risk(max_risk))
