"""Scale figures of the simulator, printed (not asserted): run with `make bench` or `python benchmarks/scale.py`.

Prints, each measured in a fresh process pinned to one core:
- bench-100k (100,000 cameras, 14 simulated days): wall and CPU time, peak RSS, events, events per device-day;
- 1,000,000 cameras (bench-100k with ten times the sites): the same;
- fluid model against the naive 1-MB-chunk SimPy model on the same fleet, all at once: the speed-up;
- model events per CPU-second against a bare SimPy callback loop in the same process (a ratio, steady on a
  noisy machine where absolute times are not);
- the goals of issue 15 in those terms: the ratio at 100k and 1M, the 1M wall over the 100k wall (bench-100k run
  before and after the 1M run, their mean), KiB per device.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.load import load_scenario  # noqa: E402
from sim.model.lifecycle import DeviceState  # noqa: E402
from sim.model.scenario import Scenario  # noqa: E402

BENCH = ROOT / "scenarios" / "bench-100k.yaml"


def scaled(scenario: Scenario, factor: float) -> Scenario:
    """The same fleet with `factor` times the sites of each kind (and the origin cap scaled alike)."""
    kinds = {name: kind.model_copy(update={"count": max(1, round(kind.count * factor))})
             for name, kind in scenario.fleet.site_kinds.items()}
    cap = scenario.fleet.egress_cap * factor if scenario.fleet.egress_cap else None
    fleet = scenario.fleet.model_copy(update={"site_kinds": kinds, "egress_cap": cap})
    return scenario.model_copy(update={"fleet": fleet})


def bare_simpy_rate(events: int = 300_000) -> float:
    """Events per CPU-second of a SimPy loop whose callbacks do nothing but schedule the next timeout."""
    import simpy
    from simpy.events import Timeout

    env = simpy.Environment()
    left = [events]

    def tick(_event: object) -> None:
        left[0] -= 1
        if left[0] > 0:
            Timeout(env, 1.0).callbacks.append(tick)

    for _ in range(1000):
        Timeout(env, 1.0).callbacks.append(tick)
    started = time.process_time()
    env.run()
    return events / (time.process_time() - started)


def measure_one(kind: str, factor: float) -> dict[str, float]:
    """Runs inside the child process."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    scenario = scaled(load_scenario(BENCH), factor)
    if kind == "fluid":
        from sim.run import simulate
        # the bare loop before and after the model, the faster of the two: a busy moment can only slow the loop,
        # so the ratio errs on the model's side of nothing
        bare_before = bare_simpy_rate()
        wall, cpu = time.perf_counter(), time.process_time()
        result = simulate(scenario)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        figures = {"devices": result.devices, "events": result.events_processed,
                   "simulated_days": result.simulated / 86400,
                   "t95_hours": (result.coverage.t95 or float("nan")) / 3600,
                   "bare_simpy_events_per_cpu_s": max(bare_before, bare_simpy_rate())}
    else:
        all_at_once = Scenario.model_validate({**scenario.model_dump(), "strategy": {"kind": "all_at_once"}})
        if kind == "fluid-all":
            from sim.run import simulate
            wall, cpu = time.perf_counter(), time.process_time()
            result = simulate(all_at_once)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            figures = {"devices": result.devices, "committed": result.outcomes.get(DeviceState.COMMITTED, 0)}
        else:
            from benchmarks.naive_model import run_naive
            wall, cpu = time.perf_counter(), time.process_time()
            outcome = run_naive(all_at_once, all_at_once.seed)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            figures = {"committed": outcome["committed"], "chunks": outcome["chunks"]}
    figures.update(wall_s=wall, cpu_s=cpu, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


def in_child(kind: str, factor: float) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(factor)], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FACTOR"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-million", action="store_true", help="leave out the 1,000,000-camera run")
    parser.add_argument("--naive-factor", type=float, default=0.1,
                        help="fleet size of the naive comparison as a share of bench-100k (default 0.1: 10,000)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_one(args.child[0], float(args.child[1]))))
        return
    sizes = [("bench-100k", 1.0)] + ([] if args.skip_million else [("1,000,000 cameras", 10.0)])
    measured: dict[float, dict[str, float]] = {}
    for label, factor in sizes:
        figures = measured[factor] = in_child("fluid", factor)
        device_days = figures["devices"] * figures["simulated_days"]
        model_rate = figures["events"] / figures["cpu_s"]
        figures["ratio"] = model_rate / figures["bare_simpy_events_per_cpu_s"]
        print(f"{label}: {figures['devices']:,.0f} devices, {figures['simulated_days']:.2f} simulated days "
              f"(T95 {figures['t95_hours']:.1f} h); wall {figures['wall_s']:.2f} s, CPU {figures['cpu_s']:.2f} s, "
              f"peak RSS {figures['peak_rss_mb']:.0f} MB ({figures['peak_rss_mb'] * 1024 / figures['devices']:.2f} KiB "
              f"per device); {figures['events']:,} events "
              f"({figures['events'] / figures['devices']:.2f} per device, {figures['events'] / device_days:.2f} per "
              f"device-day); {model_rate:,.0f} events/CPU-s = "
              f"{figures['ratio']:.3f}× a bare SimPy loop's {figures['bare_simpy_events_per_cpu_s']:,.0f}")
    if 10.0 in measured:
        small, big = measured[1.0], measured[10.0]
        # the machine's pace drifts over the two minutes of the 1M run: bench-100k once more after it, and the
        # growth over the mean of both (each printed, so the drift shows)
        again = in_child("fluid", 1.0)
        small_wall = (small["wall_s"] + again["wall_s"]) / 2
        print(f"bench-100k again after the 1M run: wall {again['wall_s']:.2f} s (before it: {small['wall_s']:.2f} s)")
        print(f"goals: events/CPU-s ≥ 0.25× the bare loop: {small['ratio']:.3f}× at 100k, {big['ratio']:.3f}× at 1M; "
              f"1M wall ≤ 10× the 100k wall: {big['wall_s'] / small_wall:.1f}× (the 100k wall before and after) "
              f"for {big['devices'] / small['devices']:.1f}× the fleet; peak memory ≤ 1 kB per device at 1M: "
              f"{big['peak_rss_mb'] * 1024 / big['devices']:.2f} KiB")
    fluid = in_child("fluid-all", args.naive_factor)
    naive = in_child("naive", args.naive_factor)
    print(f"naive 1-MB-chunk SimPy model against the fluid model, {fluid['devices']:,.0f} devices all at once, "
          f"14 days: naive {naive['cpu_s']:.2f} s CPU ({naive['chunks']:,} chunk events, "
          f"{naive['committed']:,} committed), "
          f"fluid {fluid['cpu_s']:.2f} s CPU ({fluid['committed']:,} committed): "
          f"fluid is {naive['cpu_s'] / fluid['cpu_s']:.1f}× faster")


if __name__ == "__main__":
    main()
