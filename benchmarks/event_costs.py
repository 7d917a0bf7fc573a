"""Where a simulated rollout spends its time, per kind of event: printed, not asserted.

    python benchmarks/event_costs.py            # bench-100k
    python benchmarks/event_costs.py 10         # the 1,000,000-camera fleet of `make bench`

Each event the calendar runs is timed and filed under the callback it calls (a device's lifecycle step under the
step it runs, e.g. `Lifecycle._verified`): how many ran, their share of the time inside events, and the time per
event. The events-per-CPU-second ratio of `make bench` weighs every event alike; this shows how unalike they are (the
controller's few wave releases start thousands of downloads each). Timing each event adds about a microsecond to it,
so the shares are what to read, not the total.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scale import BENCH, scaled  # noqa: E402
from sim.load import load_scenario  # noqa: E402
from sim.run import simulate  # noqa: E402
from sim.world.calendar_queue import CalendarEnvironment  # noqa: E402
from sim.world.device import Lifecycle  # noqa: E402


def kind_of(event: Any) -> str:
    """The callback an event will call, by name; a lifecycle step by the step it runs."""
    if type(event) is not tuple:    # a SimPy event (the stop signal): its class
        return type(event).__name__
    function, args = event
    if getattr(function, "__func__", None) is Lifecycle._step:
        function = args[2]
    return getattr(function, "__qualname__", None) or type(function).__qualname__


def measure(factor: float) -> tuple[dict[str, float], Counter[str], float, int]:
    """(seconds per kind, events per kind, CPU seconds of the whole run, events) of bench-100k scaled by `factor`."""
    seconds: dict[str, float] = {}
    counts: Counter[str] = Counter()
    untimed_step = CalendarEnvironment.step
    clock = time.perf_counter

    def timed_step(env: CalendarEnvironment) -> None:
        if not env._keys:
            env._open_next_bucket()
        group = env._groups[env._keys[0]]
        kind = kind_of(group[group[0]])
        started = clock()
        try:
            untimed_step(env)
        finally:
            seconds[kind] = seconds.get(kind, 0.0) + clock() - started
            counts[kind] += 1

    scenario = scaled(load_scenario(BENCH), factor)
    CalendarEnvironment.step = timed_step  # type: ignore[method-assign, assignment]
    try:
        cpu = time.process_time()
        result = simulate(scenario)
        cpu = time.process_time() - cpu
    finally:
        CalendarEnvironment.step = untimed_step  # type: ignore[method-assign]
    return seconds, counts, cpu, result.events_processed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("factor", nargs="?", type=float, default=1.0,
                        help="fleet size as a multiple of bench-100k (default 1: 100,000 cameras)")
    parser.add_argument("--top", type=int, default=15, help="kinds to print (default 15)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    seconds, counts, cpu, events = measure(args.factor)
    inside = sum(seconds.values())
    print(f"bench-100k × {args.factor:g}: {events:,} events, {cpu:.2f} s CPU for the whole run (timing included), "
          f"{inside:.2f} s inside events")
    print(f"{'event (callback)':<44} {'events':>10} {'share':>7} {'µs each':>10}")
    for kind, spent in sorted(seconds.items(), key=lambda item: -item[1])[: args.top]:
        print(f"{kind:<44} {counts[kind]:>10,} {spent / inside:>7.1%} {spent / counts[kind] * 1e6:>10.1f}")


if __name__ == "__main__":
    main()
