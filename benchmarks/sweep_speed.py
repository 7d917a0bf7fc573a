"""Sweep speed-ups, printed (not asserted): `python benchmarks/sweep_speed.py [--runs 40]`.

40 runs of the 10k scenario (scenarios/fleet-10k-500mb.yaml, seeds 1..40), three ways in one process:
serially, on the local process pool (one process per core) and on a real Dask cluster of two single-threaded
workers started on loopback. Prints the wall time of each and the speed-ups against serial (goals on a 2-core
machine: local ≥ 1.7×, Dask ≥ 1.5×), and checks that all three gave identical aggregates.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleetlab.executors import open_executor  # noqa: E402
from fleetlab.local_dask import local_cluster  # noqa: E402
from sim.grid import expand  # noqa: E402
from sim.sweep import sweep  # noqa: E402

SCENARIO = ROOT / "scenarios" / "fleet-10k-500mb.yaml"


def timed(spec: str, runs: int) -> tuple[float, str]:
    points = expand(SCENARIO, [])
    with open_executor(spec) as (executor, info):
        if spec != "serial":   # start the workers and import the simulator in them before the clock starts
            list(executor.map(pow, range(info.workers * 4), range(info.workers * 4)))
        started = time.perf_counter()
        result = sweep(points, list(range(1, runs + 1)), executor)
        wall = time.perf_counter() - started
    return wall, json.dumps(result.as_dict(), sort_keys=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    runs = parser.parse_args().runs
    serial, reference = timed("serial", runs)
    print(f"serial:            {runs} runs in {serial:6.1f} s  ({serial / runs:.2f} s per run)")
    local, pooled = timed("local", runs)
    print(f"local pool:        {runs} runs in {local:6.1f} s  speed-up {serial / local:.2f}× (goal ≥ 1.7×)")
    with local_cluster(workers=2) as address:
        dask, distributed = timed("dask://" + address.split("://")[1], runs)
    print(f"dask, 2 workers:   {runs} runs in {dask:6.1f} s  speed-up {serial / dask:.2f}× (goal ≥ 1.5×)")
    same = reference == pooled == distributed
    print(f"identical aggregates on all three: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
