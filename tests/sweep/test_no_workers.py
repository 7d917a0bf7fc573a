"""A Dask cluster that can run nothing — a scheduler with no workers, or whose workers all died — stops the sweep
with an error saying so, instead of leaving every task queued forever (`fleetlab sweep --executor dask://…` against
a scheduler without workers once hung without a word). Against a real `dask scheduler`."""

import time

import pytest

import fleetlab.executors
import sim.sweep
from fleetlab.executors import open_executor
from fleetlab.local_dask import local_cluster
from fleetlab.suite import run_suite
from sim.grid import expand
from sim.sweep import ExecutorStalled, sweep


@pytest.fixture
def workerless(monkeypatch):
    monkeypatch.setattr(fleetlab.executors, "NO_WORKERS_GRACE", 2.0)     # a minute by default
    monkeypatch.setattr(sim.sweep, "STALL_POLL", 0.2)
    with local_cluster(workers=0) as address:
        yield "dask://" + address.split("://")[1]


def test_a_sweep_on_a_cluster_without_workers_stops_saying_so(workerless, sweep_file):
    started = time.monotonic()
    with open_executor(workerless) as (executor, info), pytest.raises(ExecutorStalled) as stalled:
        sweep(expand(sweep_file, []), [1, 2, 3], executor)
    assert info.workers == 0
    assert "has had no workers for 2 s" in str(stalled.value) and "dask worker tcp://127.0.0.1:" in str(stalled.value)
    assert time.monotonic() - started < 120          # a bound on a hang, not a speed: the grace is 2 s


def test_a_suite_on_such_a_cluster_cannot_measure_its_scenarios(workerless, sweep_file):
    result = run_suite([sweep_file], executor_spec=workerless)
    [outcome] = result.scenarios
    assert result.verdict == "CANNOT MEASURE"
    assert any("no workers" in problem for problem in outcome.problems), outcome.problems
