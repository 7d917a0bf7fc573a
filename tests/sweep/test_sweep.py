"""Sweeps: the same aggregates on every executor, common random numbers across grid points, failures as data."""

import json
import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from fleetlab.executors import open_executor
from sim.grid import expand, parse_grid
from sim.sweep import RunOutcome, SerialExecutor, SweepStopped, run_metrics, sweep

SEEDS = list(range(1, 7))


def aggregates(result) -> str:
    return json.dumps(result.as_dict(), sort_keys=True)


def failing_on_seed_3(scenario, seed):
    if seed == 3:
        raise RuntimeError("the world broke")
    return run_metrics(scenario, seed)


def reporting_an_error_on_seed_4(scenario, seed):
    return RunOutcome(None, "ValueError: no fleet") if seed == 4 else run_metrics(scenario, seed)


def killing_the_worker_on_seed_2(scenario, seed):
    if seed == 2:
        os._exit(9)      # a worker killed mid-run, as the OOM killer would
    return run_metrics(scenario, seed)


@pytest.fixture
def points(sweep_file):
    axes = parse_grid(["plan=plan,fast"])
    return axes, expand(sweep_file, axes)


def test_serial_and_a_local_process_pool_give_identical_aggregates(points):
    axes, grid = points
    serial = sweep(grid, SEEDS, SerialExecutor(), axes)
    with open_executor("local:2") as (pool, _):
        pooled = sweep(grid, SEEDS, pool, axes, window=3)
    assert aggregates(serial) == aggregates(pooled)
    assert [point.runs for point in serial.points] == [6, 6] and serial.failed == 0


@pytest.mark.slow
def test_a_real_dask_cluster_gives_the_same_aggregates_as_a_serial_sweep(points, dask_address):
    axes, grid = points
    serial = sweep(grid, SEEDS, SerialExecutor(), axes)
    with open_executor("dask://" + dask_address.split("://")[1]) as (executor, info):
        assert info.workers == 2
        on_dask = sweep(grid, SEEDS, executor, axes)
    assert aggregates(serial) == aggregates(on_dask)


def test_grid_points_see_the_same_fleets_so_only_the_varied_setting_differs(sweep_file):
    axes = parse_grid(["pricing.egress_per_gb=$0.05,$0.10"])
    cheap, dear = sweep(expand(sweep_file, axes), SEEDS, SerialExecutor(), axes).points
    for metric in ("t50", "t90", "t95", "committed", "failed", "bytes_total", "egress_peak", "egress_p95"):
        assert cheap.metrics[metric].as_dict() == dear.metrics[metric].as_dict(), metric
    assert dear.metrics["cost"].mean == pytest.approx(2 * cheap.metrics["cost"].mean, rel=1e-12)
    # seeds differ (tiny's T50 does not: every seed's second wave switches as the first window opens)
    assert cheap.metrics["t90"].as_dict()["std"] > 0 < cheap.metrics["egress_p95"].as_dict()["std"]


@pytest.mark.parametrize("runner, seed, error", [(failing_on_seed_3, 3, "RuntimeError: the world broke"),
                                                 (reporting_an_error_on_seed_4, 4, "ValueError: no fleet")])
def test_a_failed_run_is_reported_with_its_seed_and_the_rest_still_count(points, runner, seed, error):
    axes, grid = points
    result = sweep(grid, SEEDS, SerialExecutor(), axes, run=runner)
    assert result.failed == 2
    assert [(failure.point, failure.seed) for failure in result.failures] == [("plan=plan", seed), ("plan=fast", seed)]
    assert all(error in failure.error for failure in result.failures)
    assert [point.runs for point in result.points] == [5, 5]
    assert all(point.metrics["t95"].n + point.metrics["t95"].missing == 5 for point in result.points)


def test_a_killed_pool_worker_fails_runs_but_not_the_sweep(points):
    axes, grid = points
    with ProcessPoolExecutor(max_workers=2) as pool:
        result = sweep(grid[:1], SEEDS, pool, axes, run=killing_the_worker_on_seed_2, window=2)
    assert result.failed >= 1
    assert any(failure.seed == 2 and "BrokenProcessPool" in failure.error for failure in result.failures)
    assert result.points[0].runs + result.points[0].failed == len(SEEDS)


class CountingExecutor(SerialExecutor):
    """Serial, and counts what was submitted."""
    submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_results_are_consumed_through_a_bounded_window(points):
    axes, grid = points
    executor = CountingExecutor()
    outstanding, consumed = [], []

    def progress(done, total):   # called once a result is consumed: what was submitted and not yet consumed
        outstanding.append(executor.submitted - (done - 1))
        consumed.append(done)

    sweep(grid, list(range(1, 13)), executor, axes, window=4, progress=progress)
    assert max(outstanding) == 4 and consumed == list(range(1, 25))


def half_the_seeds_halting(scenario, seed):
    """Metrics as a plan that halts at half the fleet on odd seeds would give, on a fleet of 10 devices."""
    halted = seed % 2 == 1
    return RunOutcome({"coverage": 0.5 if halted else 1.0, "blast_radius": 5.0 if halted else 10.0,
                       "halted": float(halted)}, devices=10)


def test_a_sweeps_intervals_stay_within_what_each_measure_can_be(points):
    axes, grid = points
    found = sweep(grid[:1], [1, 2, 3], SerialExecutor(), axes, run=half_the_seeds_halting).as_dict()
    metrics = found["points"][0]["metrics"]
    assert metrics["coverage"]["ci_high"] == 1.0 and metrics["coverage"]["ci_low"] == 0.0     # t: [-0.05, 1.38]
    assert metrics["blast_radius"]["ci_high"] == 10.0 and metrics["halted"]["ci_high"] == 1.0
    assert run_metrics(grid[0].scenario, 1).devices == 40     # tiny's fleet: 10 gyms × 3 + 2 stadiums × 5


def test_a_fleet_not_known_for_every_run_leaves_the_device_counts_uncut(points):
    axes, grid = points

    def fleet_unknown_on_seed_2(scenario, seed):
        outcome = half_the_seeds_halting(scenario, seed)
        return RunOutcome(outcome.metrics) if seed == 2 else outcome

    found = sweep(grid[:1], [1, 2, 3], SerialExecutor(), axes, run=fleet_unknown_on_seed_2).as_dict()
    assert found["points"][0]["metrics"]["blast_radius"]["ci_high"] > 10.0
    assert found["points"][0]["metrics"]["coverage"]["ci_high"] == 1.0


def test_a_stop_request_ends_the_sweep_saying_how_many_runs_were_done_and_drops_the_queued_ones(points):
    """The suite asks its sweeps to stop on Ctrl-C (a signal handler only sets a flag): the sweep once ran to its
    end, every seed of the scenario in flight, whatever the flag said."""
    axes, grid = points
    ran: list[int] = []

    def counting(scenario, seed):
        ran.append(seed)
        return run_metrics(scenario, seed)

    with pytest.raises(SweepStopped, match=r"^stopped after 3 of 12 runs$"):   # serial: runs as each is submitted
        sweep(grid, SEEDS, SerialExecutor(), axes, run=counting, should_stop=lambda: len(ran) >= 3)
    assert len(ran) == 3
    release, started = threading.Event(), []

    def held(scenario, seed):
        started.append(seed)
        release.wait(30)
        return RunOutcome({"t95": 1.0})

    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        threading.Timer(0.5, stop.set).start()      # while the first run is held: nothing has finished yet
        try:
            with pytest.raises(SweepStopped, match=r"^stopped after 0 of 12 runs$"):
                sweep(grid, SEEDS, pool, axes, run=held, should_stop=stop.is_set)
        finally:
            release.set()
    assert started == [1], "queued runs started after the stop"
