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


def test_a_sweep_whose_scheduler_dies_stops_saying_so(tmp_path, sweep_file):
    """The scheduler killed mid-sweep (its machine rebooted): the tasks it held are gone. Once the sweep waited for
    them forever; now it stops with an error once Dask's client gives up reconnecting (10 s)."""
    import json
    import os
    import signal
    import threading

    from fleetlab.local_dask import _spawn, _stop, _wait_for

    scheduler_file = tmp_path / "scheduler.json"
    processes = [_spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                         "--scheduler-file", str(scheduler_file)], tmp_path / "scheduler.log")]
    try:
        _wait_for(scheduler_file.exists, "the scheduler file", processes, tmp_path)
        processes.append(_spawn(["distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file), "--host",
                                 "127.0.0.1", "--nthreads", "1", "--no-dashboard", "--local-directory", str(tmp_path)],
                                tmp_path / "worker.log"))
        address = json.loads(scheduler_file.read_text())["address"]
        first_result, outcome = threading.Event(), {}

        def run() -> None:
            try:
                with open_executor("dask://" + address.split("://")[1]) as (executor, _):
                    sweep(expand(sweep_file, []), list(range(1, 2001)), executor,
                          progress=lambda done, total: first_result.set())
            except Exception as error:
                outcome["error"] = error

        sweeping = threading.Thread(target=run, daemon=True)
        sweeping.start()
        assert first_result.wait(timeout=180), "no result came back from the cluster"
        os.killpg(processes[0].pid, signal.SIGKILL)
        sweeping.join(timeout=180)
        assert not sweeping.is_alive(), "the sweep still waits on a dead scheduler"
        assert isinstance(outcome.get("error"), ExecutorStalled), outcome
        assert "lost the Dask scheduler" in str(outcome["error"])
    finally:
        for process in reversed(processes):
            _stop(process)
