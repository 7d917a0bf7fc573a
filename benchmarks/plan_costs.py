"""What each kind of plan costs to simulate on bench-100k: printed, not asserted.

    python benchmarks/plan_costs.py              # every plan below
    python benchmarks/plan_costs.py phases waves # some of them

The same fleet and the same wave shape (1%, 10%, 50%, 100%) where the plan has one, each plan with its abort rule
on; CPU seconds on one core, and the run's cost against the waves plan's in the same process (a ratio, steady on a
busy machine). A plan's own looks (abort rules, budgets) run between events and are not in the events-per-second
ratio of `make bench`: this is where a look that costs in proportion to the fleet shows (it once did for four of them).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scale import BENCH  # noqa: E402
from sim.load import load_scenario  # noqa: E402
from sim.model.scenario import Scenario  # noqa: E402
from sim.run import simulate  # noqa: E402

ABORT = {"threshold": "10%", "min_executed": 500}
WAVES = ["1%", "10%", "50%", "100%"]
PLANS: dict[str, dict] = {
    "waves": {"kind": "waves", "waves": WAVES, "bake": "12h", "abort": ABORT},
    "thermal_aware": {"kind": "thermal_aware", "waves": WAVES, "bake": "12h", "max_temperature": 95, "abort": ABORT},
    "phases": {"kind": "phases", "abort": ABORT, "phases": [{"batch": "1%", "start": "0s"}, {"batch": "10%",
               "start": "12h"}, {"batch": "50%", "start": "24h"}, {"start": "36h"}]},
    "exponential": {"kind": "exponential", "base_rate_per_minute": 50, "maximum_per_minute": 200, "abort": [ABORT]},
    "canary": {"kind": "canary", "then": WAVES[1:], "abort": ABORT},
    "groups": {"kind": "groups", "groups": 4},
    "budgeted": {"kind": "budgeted", "global_per_hour": "1TB", "abort": ABORT},
    "budgeted per site": {"kind": "budgeted", "site_per_hour": "1GB", "abort": ABORT},
}


def main(names: list[str]) -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    base = load_scenario(BENCH).model_dump()
    measured: dict[str, float] = {}
    for name in ["waves"] + [name for name in names or PLANS if name != "waves"]:
        scenario = Scenario.model_validate({**base, "strategy": PLANS[name], "alternatives": {}})
        started = time.process_time()
        result = simulate(scenario)
        measured[name] = time.process_time() - started
        print(f"{name}: {measured[name]:.2f} s CPU, {result.events_processed:,} events, "
              f"{measured[name] / measured['waves']:.2f}× the waves plan", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
