"""The oracle: how soon the fleet has the candidate when every device is told at once and nothing goes wrong.

Every device is told at time 0 and nothing goes wrong that a plan could avoid or cause: no defects, no corrupt
downloads, no power cuts, room for every slot, no health check that fails, no update timed out. What remains is what
no plan escapes: link availability and bandwidth, the site uplinks' sharing, the origin's egress cap, install
windows and games. A plan's T95 divided by the oracle's T95 is its efficiency.

It is a reference, not a strict lower bound: where downloads share a bottleneck (a capped origin, a site uplink
shared by its cameras), sharing finishes them together, while a plan that paces releases lets most finish first.
Measured: 1,000 cameras behind a 100 Mbit/s origin, released in twenty 5% batches 400 s apart, reach T95 at 0.96×
the oracle's (tests/world/test_oracle.py). A pacing plan can come in a few percent under 1.0; every other plan is
above it.
"""

from __future__ import annotations

from sim.model.gates import COVERAGE_TIMES
from sim.model.scenario import Scenario
from sim.run import Progress, simulate


def oracle_scenario(scenario: Scenario) -> Scenario:
    data = scenario.model_dump()
    fleet = data["fleet"]
    fleet["power_loss_per_day"] = 0.0
    fleet["storage_free"] = {"median": 1e15, "sigma": 0.0, "min": 1e15, "max": 1e15}
    fleet["fps_needed"] = 1e-9
    fleet["thermal"]["health_limit"] = 1e9
    data["artifact"]["corruption_rate"] = 0.0
    data["delivery"].update(in_progress_timeout=None, timeout_retries=0)    # a timed-out camera is a failure
    data["candidate"]["defects"] = []
    data["faults"] = [fault for fault in data["faults"] if fault["kind"] == "outage"]
    data["strategy"] = {"kind": "all_at_once"}
    data["alternatives"] = {}
    data["stop_when_settled"] = True
    data["expect"] = {}
    return Scenario.model_validate(data)


def oracle_t95(scenario: Scenario, seed: int, progress: Progress | None = None) -> float | None:
    return oracle_times(scenario, seed, progress)["t95"]


def oracle_times(scenario: Scenario, seed: int, progress: Progress | None = None) -> dict[str, float | None]:
    """The oracle's T50, T90, T95 and T99 (None: not reached within the run), by measure name."""
    metrics = simulate(oracle_scenario(scenario), seed, progress=progress).metrics()
    return {metric: metrics[metric] for metric in COVERAGE_TIMES}
