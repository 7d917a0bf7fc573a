"""Monte Carlo sweeps: every grid point × every seed, on any concurrent.futures Executor.

One run is one possible week; a decision needs the distribution. Every grid point runs the same seeds, and a seed
fixes each device's random streams (sim.model.streams), so plans are compared on the same fleets, outages and power
cuts (common random numbers): differences between points are the plans', not noise between fleets.

Results are consumed in task order through a bounded window of submitted tasks: memory does not grow with the
number of runs (but for one measure kept seed by seed for paired comparisons, up to PAIRED_LIMIT seeds), and
aggregates are identical whether the executor is serial, a process pool or a Dask cluster (floating-point sums
depend on order). A run that raises is recorded with its grid point and seed; the sweep
goes on. An executor that can run nothing (a Dask cluster without workers) is asked while the sweep waits, and
stops it with ExecutorStalled rather than leave it waiting forever.
"""

from __future__ import annotations

import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

from sim.grid import Axis, GridPoint
from sim.model.aggregate import BoundRisk, MetricSummary
from sim.model.errors import FleetlabError
from sim.model.gates import evaluate, possible_range
from sim.model.scenario import Scenario
from sim.provenance import git_sha, package_versions

Metrics = dict[str, float | None]
Progress = Callable[[int, int], None]
LISTED_FAILURES = 100     # failures listed one by one in sweep.json; the count is always exact
PAIRED_LIMIT = 10_000     # seeds whose value of the paired measure a point keeps (a float each); beyond, none
STALL_POLL = 5.0          # seconds between asking a waiting executor whether it can still run anything
STOP_POLL = 0.25          # seconds between looking whether the sweep was asked to stop, while a run is awaited


class ExecutorStalled(FleetlabError):
    """The executor can run nothing (its `stalled()` said why): the sweep stops."""


class SweepStopped(FleetlabError):
    """The caller asked the sweep to stop (`should_stop`, a signal's request): its queued runs are dropped."""


@dataclass(frozen=True)
class RunOutcome:
    metrics: Metrics | None
    error: str | None = None
    devices: int | None = None      # the run's fleet: what its device counts cannot exceed


def run_metrics(scenario: Scenario, seed: int) -> RunOutcome:
    """One simulated run reduced to its metrics (small to send back from a worker). Module level: picklable."""
    from sim.run import simulate  # imported in the worker, so that submitting costs no SimPy import

    try:
        result = simulate(scenario, seed)
        return RunOutcome(result.metrics(), devices=result.devices)
    except Exception as error:   # a broken run is data here: the sweep reports it with its seed and goes on
        last = traceback.extract_tb(error.__traceback__)[-1]
        return RunOutcome(None, f"{type(error).__name__}: {error} (at {last.filename}:{last.lineno})")


Runner = Callable[[Scenario, int], RunOutcome]


class SerialExecutor(Executor):
    """Runs each task at submit time, in this process: the reference the parallel executors must match."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:   # noqa: B902 — mirrors what a pool does with a task's exception
            future.set_exception(error)
        return future


@dataclass
class PointSummary:
    label: str
    settings: dict[str, str]
    scenario_hash: str
    runs: int = 0
    failed: int = 0
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    bounds: dict[str, BoundRisk] = field(default_factory=dict)
    fleets: set[int | None] = field(default_factory=set)    # each run's fleet size (None: not known)
    # the paired measure's value in each seed, in seed order (None: failed or never reached); None once past
    # PAIRED_LIMIT seeds. Every point runs the same seeds, so two points' lists pair up seed by seed.
    by_seed: list[float | None] | None = None

    def keep(self, value: float | None) -> None:
        if self.by_seed is not None and len(self.by_seed) >= PAIRED_LIMIT:
            self.by_seed = None
        elif self.by_seed is not None:
            self.by_seed.append(value)

    def add(self, metrics: Metrics, expect: Mapping[str, object], devices: int | None = None) -> None:
        self.runs += 1
        self.fleets.add(devices)
        for name, value in metrics.items():
            self.metrics.setdefault(name, MetricSummary()).add(value)
        for check in evaluate(expect, metrics).checks:
            self.bounds.setdefault(check.metric, BoundRisk(check.bound)).add(check.passed)

    def metric_dicts(self) -> dict[str, dict[str, object]]:
        """Each metric's summary, its mean's interval cut to the values the metric can take."""
        sizes = [size for size in self.fleets if size is not None]
        largest = max(sizes) if sizes and len(sizes) == len(self.fleets) else None
        return {name: summary.as_dict(possible_range(name, largest)) for name, summary in self.metrics.items()}

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "settings": self.settings, "scenario_hash": self.scenario_hash,
                "runs": self.runs, "failed": self.failed,
                "metrics": self.metric_dicts(),
                "bounds": {name: risk.as_dict() for name, risk in self.bounds.items()}}


@dataclass(frozen=True)
class RunFailure:
    point: str
    seed: int
    error: str


@dataclass
class SweepResult:
    scenario: str
    grid: list[Axis]
    seeds: list[int]
    points: list[PointSummary]
    failed: int = 0
    failures: list[RunFailure] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """sweep.json: aggregates, grid, seeds and provenance; no clock, host or executor, so the same sweep gives
        the same bytes wherever it ran."""
        return {
            "scenario": self.scenario,
            "grid": [{"path": axis.path, "values": list(axis.texts)} for axis in self.grid],
            "seeds": {"first": self.seeds[0], "count": len(self.seeds)} if self.seeds else {"count": 0},
            "runs": len(self.points) * len(self.seeds), "failed": self.failed,
            "failures": [vars(failure) for failure in self.failures],
            "points": [point.as_dict() for point in self.points],
            "provenance": {"git_sha": git_sha(), "packages": package_versions()},
        }


def _record_failure(result: SweepResult, point: PointSummary, seed: int, error: str) -> None:
    point.failed += 1
    result.failed += 1
    if len(result.failures) < LISTED_FAILURES:
        result.failures.append(RunFailure(point.label, seed, error))


def _submit(executor: Executor, run: Runner, scenario: Scenario, seed: int) -> Future:
    """A pool that lost a worker refuses new tasks (BrokenProcessPool): each refused task becomes a failed run."""
    try:
        return executor.submit(run, scenario, seed)
    except Exception as error:
        refused: Future = Future()
        refused.set_exception(error)
        return refused


StopAsked = Callable[[], bool]


def _wait_for(future: Future, executor: Executor, should_stop: StopAsked | None) -> None:
    """Until the future is done; an executor with a `stalled()` (the Dask one) is asked every STALL_POLL seconds
    meanwhile, and a reason it gives ends the wait; `should_stop` is looked at every STOP_POLL seconds."""
    stalled: Callable[[], str | None] | None = getattr(executor, "stalled", None)
    if stalled is None and should_stop is None:
        return                              # future.result() waits
    asked = time.monotonic()
    while wait([future], timeout=STALL_POLL if should_stop is None else STOP_POLL).not_done:
        if should_stop is not None and should_stop():
            raise SweepStopped("stopped")
        if stalled is not None and time.monotonic() - asked >= STALL_POLL:
            asked = time.monotonic()
            if problem := stalled():
                future.cancel()
                raise ExecutorStalled(problem)


def sweep(points: list[GridPoint], seeds: list[int], executor: Executor, grid: list[Axis] | None = None,
          run: Runner = run_metrics, window: int = 32, progress: Progress | None = None,
          should_stop: StopAsked | None = None, paired: str | None = None) -> SweepResult:
    """Run every point with every seed on `executor` and aggregate as results arrive, in task order. Once
    `should_stop()` says so, the queued runs are cancelled and SweepStopped says how many were done (the runs
    under way are the executor's to end: fleetlab.executors.abandon). `paired`: a measure each point keeps seed by
    seed (PointSummary.by_seed), for comparisons on the same seeds (sim/sweep_pick.py)."""
    summaries = [PointSummary(point.label, point.settings, point.scenario.fingerprint(),
                              by_seed=[] if paired else None) for point in points]
    name = points[0].scenario.name if points else ""
    result = SweepResult(name, grid or [], list(seeds), summaries)
    tasks = iter([(index, seed) for index in range(len(points)) for seed in seeds])
    total, done = len(points) * len(seeds), 0
    in_flight: deque[tuple[int, int, Future]] = deque()

    def asked_to_stop() -> bool:
        return should_stop is not None and should_stop()

    def stopped() -> SweepStopped:
        held = [queued for *_, queued in in_flight]
        finished = done + sum(queued.done() and not queued.cancelled() for queued in held)
        for queued in held:
            queued.cancel()
        return SweepStopped(f"stopped after {finished:,} of {total:,} runs")

    while True:
        # a serial executor runs each task as it is submitted: the stop is looked at between submissions too
        while not asked_to_stop() and len(in_flight) < window and (task := next(tasks, None)) is not None:
            index, seed = task
            in_flight.append((index, seed, _submit(executor, run, points[index].scenario, seed)))
        if asked_to_stop():
            raise stopped()
        if not in_flight:
            return result
        index, seed, future = in_flight[0]
        point = summaries[index]
        try:
            _wait_for(future, executor, should_stop)
        except SweepStopped:
            raise stopped() from None
        except ExecutorStalled:
            for *_, queued in in_flight:
                queued.cancel()
            raise
        in_flight.popleft()
        try:
            outcome = future.result()
        except Exception as error:   # the executor lost the task (a killed worker): data, like a failed run
            outcome = RunOutcome(None, f"{type(error).__name__}: {error}")
        if outcome.metrics is None:
            _record_failure(result, point, seed, outcome.error or "no result")
        else:
            point.add(outcome.metrics, points[index].scenario.expect, outcome.devices)
        if paired:
            point.keep(None if outcome.metrics is None else outcome.metrics.get(paired))
        done += 1
        if progress is not None:
            progress(done, total)
