"""`fleetlab backtest`: the simulator's prediction beside what a past rollout really did, fleet-wide.

`fleetlab fidelity` checks the device numbers on rigs; a backtest checks the fleet the scenario describes (uplinks,
outages, windows, check-ins, the plan's pace) against a past rollout's records (fleetlab/past_rollout.py). The
scenario runs on several seeds; each measure of the past rollout is set beside the simulated median and the spread
of the seeds (p5 to p95). A measure is off when it lies outside that spread by more than the tolerance (a share of
the fleet: and by more than one point), so one unlucky seed does not flag a good model and a spread that misses the
past by a day does. docs/calibration.md, Backtest.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from fleetlab.past_rollout import PastRollout
from sim.model.fleet_spec import WEEKDAYS
from sim.model.results import RunResult
from sim.model.scenario import Scenario
from sim.model.units import format_clock, format_duration

TIMES = (("t50", 0.5), ("t90", 0.9), ("t95", 0.95), ("t99", 0.99))
SHARE_FLOOR = 0.01          # a share within one point of the spread is not off, however small the share
FAILED_STATES = ("failed", "rolled_back", "bricked")
FAIR_SEEDS = 10             # below this, p5 and p95 are the extreme seeds: a warning says so


@dataclass(frozen=True)
class Observed:
    """The past rollout in the simulator's terms: times from its start, shares of its devices."""

    devices: int
    start: float                          # seconds since the epoch
    span: float                           # seconds from the start to the last moment the records know of
    times: dict[str, float | None]        # t50..t99: first moment that share of the devices had succeeded
    failed_share: float
    success_times: list[float]            # sorted, from the start

    def coverage_at(self, moment: float) -> float:
        return bisect.bisect_right(self.success_times, moment) / self.devices


def observe(rollout: PastRollout, start: float | None = None) -> Observed:
    """`start`: when the rollout began (seconds since the epoch); by default the first device's being told."""
    if start is None:
        told = [record.told_at for record in rollout.records if record.told_at is not None]
        if not told:
            raise ValueError("the records do not say when any device was told: give --start")
        start = min(told)
    devices = len(rollout.records)
    successes = sorted(record.finished_at - start for record in rollout.records
                       if record.outcome == "succeeded" and record.finished_at is not None)
    if successes and successes[0] < 0:
        raise ValueError(f"a device succeeded {format_duration(-successes[0])} before the start: give a --start "
                         "at or before the first device's")
    times: dict[str, float | None] = {}
    for name, share in TIMES:
        need = math.ceil(share * devices)
        times[name] = successes[need - 1] if len(successes) >= need else None
    last = rollout.last_moment
    return Observed(devices, start, max(0.0, (last if last is not None else start) - start), times,
                    rollout.count("failed") / devices, successes)


@dataclass
class Simulated:
    """Each measure over the seeds, in seed order (None: that seed never reached the share)."""

    values: dict[str, list[float | None]] = field(default_factory=dict)
    devices: int = 0
    at: float = 0.0               # the coverage sample the records' end is compared at
    step: float = 0.0             # seconds between the coverage samples
    curves: list[list[float]] = field(default_factory=list)     # per seed: coverage at 0, step, … up to `at`

    def add(self, result: RunResult, until: float) -> None:
        self.devices = result.devices
        for name, _ in TIMES:
            self.values.setdefault(name, []).append(getattr(result.coverage, name))
        metrics = result.metrics()
        failed = sum(metrics[state] or 0.0 for state in FAILED_STATES)
        self.values.setdefault("failed_share", []).append(failed / max(result.devices, 1))
        # the coverage curve is sampled hourly: the past is read at the same samples, not an hour's successes later
        series = result.coverage.series
        self.step, self.at = series.step, (until // series.step) * series.step
        self.curves.append([_sampled(series.values, series.step, index * series.step)
                            for index in range(int(self.at // series.step) + 1)])
        self.values.setdefault("coverage_at_end", []).append(self.curves[-1][-1])


def _sampled(values: list[float], step: float, moment: float) -> float:
    """A sampled series' value at a moment: the sample at or before it (the last one past the run's end)."""
    return values[min(int(moment // step), len(values) - 1)] if values else 0.0


def simulate_seeds(scenario: Scenario, seeds: list[int], observed: Observed,
                   progress: Callable[[int, int], None] = lambda done, total: None,
                   within_run: Callable[[float], None] | None = None) -> Simulated:
    """The scenario on each seed, its coverage compared up to the records' last moment (the run's end if the
    records go on longer). `progress` hears of each seed done, `within_run` of each run's progress."""
    from sim.run import simulate

    until = min(observed.span, scenario.duration)
    simulated = Simulated()
    for done, seed in enumerate(seeds, start=1):
        simulated.add(simulate(scenario, seed, progress=within_run), until)
        progress(done, len(seeds))
    return simulated


@dataclass(frozen=True)
class Row:
    measure: str
    unit: str                      # "s" or "share"
    observed: float | None
    median: float | None
    low: float | None              # p5 over the seeds
    high: float | None             # p95
    reached: int                   # seeds that reached it (times), else all
    seeds: int
    off: bool
    verdict: str                   # "within the spread", "within 10% of it", or what is off and which way

    def as_json(self) -> dict[str, object]:
        return {"measure": self.measure, "unit": self.unit, "observed": self.observed, "median": self.median,
                "p5": self.low, "p95": self.high, "reached": self.reached, "seeds": self.seeds, "off": self.off,
                "verdict": self.verdict}


LABELS = {"t50": "T50", "t90": "T90", "t95": "T95", "t99": "T99", "failed_share": "failed",
          "coverage_at_end": "on the candidate at the end", "coverage_curve": "coverage curve: widest gap"}


def compare(observed: Observed, simulated: Simulated, compared: Curves, tolerance: float) -> list[Row]:
    """`compared`: curves(observed, simulated), which the command also writes out."""
    rows = []
    for name, _ in TIMES:
        rows.append(_time_row(name, observed.times[name], simulated.values[name], tolerance))
    rows.append(_share_row("failed_share", observed.failed_share, simulated.values["failed_share"], tolerance,
                           ("the simulator fails more cameras", "the simulator fails fewer cameras")))
    rows.append(_share_row("coverage_at_end", observed.coverage_at(simulated.at),
                           simulated.values["coverage_at_end"], tolerance,
                           ("the simulator is ahead", "the simulator is behind")))
    rows.append(_curve_row(compared, simulated, tolerance))
    return rows


@dataclass(frozen=True)
class Curves:
    """The coverage curves compared, sample by sample (every `step` seconds from the start): the past's, and the
    seeds' median, p5 and p95 at each sample."""

    step: float
    past: list[float]
    median: list[float]
    low: list[float]
    high: list[float]

    def as_json(self) -> dict[str, object]:
        return {"step": self.step, "past": self.past, "median": self.median, "p5": self.low, "p95": self.high}


def curves(observed: Observed, simulated: Simulated) -> Curves:
    samples = len(simulated.curves[0])
    columns = [sorted(curve[index] for curve in simulated.curves) for index in range(samples)]
    return Curves(simulated.step, [observed.coverage_at(index * simulated.step) for index in range(samples)],
                  *([_rank(column, share) for column in columns] for share in (0.5, 0.05, 0.95)))


def _curve_row(compared: Curves, simulated: Simulated, tolerance: float) -> Row:
    """The widest gap between the past's coverage curve and the seeds' median curve, beside how far the seeds
    themselves stray from it: T50..T99 can agree while the curves part in between (a plan whose waves and windows
    set the quantiles, over uplinks slower than the scenario says)."""
    seeds = sorted(max(abs(value - middle) for value, middle in zip(curve, compared.median))
                   for curve in simulated.curves)
    gaps = [value - middle for value, middle in zip(compared.past, compared.median)]
    widest = max(range(len(gaps)), key=lambda index: abs(gaps[index]))
    low, middle, high = (_rank(seeds, share) for share in (0.05, 0.5, 0.95))
    gap = abs(gaps[widest])
    # one-sided: a past closer to the median curve than the seeds themselves is no fault
    off = gap > high + max(tolerance * high, SHARE_FLOOR)
    way = "behind" if gaps[widest] > 0 else "ahead"
    verdict = (f"the simulator is {way} by {gap * 100:.1f} points at {format_duration(widest * simulated.step)}"
               if off else "within the spread" if gap <= high else f"within {tolerance:.0%} (or a point) of the "
               "spread")
    return Row("coverage_curve", "share", gap, middle, low, high, len(seeds), len(seeds), off, verdict)


def _rank(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted values (inf standing for a seed that never got there)."""
    return values[max(0, math.ceil(share * len(values)) - 1)]


def _time_row(name: str, observed: float | None, values: list[float | None], tolerance: float) -> Row:
    ordered = sorted(math.inf if value is None else value for value in values)
    reached = sum(value is not None for value in values)
    low, median, high = (_rank(ordered, share) for share in (0.05, 0.5, 0.95))
    past = math.inf if observed is None else observed
    within = f"within {tolerance:.0%} of the spread"
    if low <= past <= high:
        off, verdict = False, "within the spread"
    elif past < low:            # the fleet got there sooner than all but the fastest seeds
        off = math.isinf(low) or past < low * (1 - tolerance)
        verdict = (f"the simulator got there on {reached} of {len(values)} seeds only" if math.isinf(low)
                   else f"the simulator is slower: its fastest seeds {_relative(low, past)}" if off else within)
    else:
        off = math.isinf(past) or past > high * (1 + tolerance)
        verdict = (f"the fleet never got there; the simulator did on {reached} of {len(values)} seeds"
                   if math.isinf(past) else f"the simulator is faster: its slowest seeds {_relative(high, past)}" if off
                   else within)
    return Row(name, "s", observed, _finite(median), _finite(low), _finite(high), reached, len(values), off,
               verdict)


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def _relative(simulated: float, past: float) -> str:
    """'32% sooner', '25% later': the spread's nearer edge against the past."""
    if past == 0:
        return f"{format_duration(simulated)} later"
    change = (simulated - past) / past
    return f"{abs(change):.0%} {'later' if change > 0 else 'sooner'}"


def _share_row(name: str, observed: float, values: list[float | None], tolerance: float,
               ways: tuple[str, str]) -> Row:
    ordered = sorted(value for value in values if value is not None)
    low, median, high = (_rank(ordered, share) for share in (0.05, 0.5, 0.95))

    def margin(value: float) -> float:
        return max(tolerance * value, SHARE_FLOOR)

    if low <= observed <= high:
        off, verdict = False, "within the spread"
    elif observed < low:
        off = observed < low - margin(low)
        verdict = f"{ways[0]} ({(low - observed) * 100:+.1f} points)" if off else \
            f"within {tolerance:.0%} (or a point) of the spread"
    else:
        off = observed > high + margin(high)
        verdict = f"{ways[1]} ({(high - observed) * 100:+.1f} points)" if off else \
            f"within {tolerance:.0%} (or a point) of the spread"
    return Row(name, "share", observed, median, low, high, len(ordered), len(values), off, verdict)


def fleet_warnings(observed: Observed, simulated: Simulated, scenario: Scenario) -> list[str]:
    """What makes the comparison weaker, said beside it."""
    warnings = []
    if abs(simulated.devices - observed.devices) > 0.1 * observed.devices:
        warnings.append(f"the scenario's fleet has {simulated.devices:,} cameras and the past rollout "
                        f"{observed.devices:,}: shares compare, times only as far as the plan's pace and the origin's "
                        "cap do not depend on the fleet's size")
    seeds = len(simulated.curves)
    if seeds < FAIR_SEEDS:
        warnings.append(f"{seeds} seed{'' if seeds == 1 else 's'} make{'s' if seeds == 1 else ''} a narrow spread "
                        f"(p5 and p95 are the extreme seeds): {FAIR_SEEDS} or more judge the past more fairly")
    began = datetime.fromtimestamp(observed.start, timezone.utc)
    weekday, clock = WEEKDAYS[began.weekday()], began.hour * 3600 + began.minute * 60
    if (weekday, clock) != (scenario.start_weekday, scenario.start_time):
        # install windows, games and busy hours meet the plan at other hours of the run: a 15:00 start reaches its
        # first night window 9 hours later than a midnight one
        warnings.append(f"the past rollout started on a {weekday} at {began:%H:%M} UTC and the scenario starts on a "
                        f"{scenario.start_weekday} at {format_clock(scenario.start_time)} UTC: its windows, games and "
                        f"daily patterns fall at other hours of the run; set start_weekday: {weekday} and "
                        f"start_time: '{began:%H:%M}'")
    if observed.span > scenario.duration:
        warnings.append(f"the records go on {format_duration(observed.span)} from the start, past the scenario's "
                        f"duration ({format_duration(scenario.duration)}): the coverage is compared at its end")
    return warnings
