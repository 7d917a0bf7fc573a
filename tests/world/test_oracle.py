"""The oracle (every device told at once, nothing going wrong) is the reference of T95 efficiency: no plan of the
shipped scenarios comes in under it, and a plan that paces a shared bottleneck can, by a few percent (sharing
finishes the downloads at a bottleneck together; pacing lets most of them finish first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.grid import Axis, expand
from sim.load import load_scenario, load_scenario_text
from sim.oracle import oracle_t95
from sim.run import simulate
from tests.conftest import ROOT

PACED = """\
name: paced
seed: 1
duration: 1d
fleet:
  site_kinds:
    gym: {count: 1000, cameras_per_site: 1, uplink: {median: 20Mbit/s, sigma: 0}}
  hardware: {orin-nx: 100%}
  install_windows: [{start: "00:00", duration: 24h}]
  storage_free: {median: 4GB}
  power_loss_per_day: 0
  egress_cap: 100Mbit/s
artifact: {full_size: 100MB, resumable: true, checkpoint: 1MB}
candidate: {version: "2.1", hardware: {orin-nx: {latency: 12ms, power: 12}}}
strategy:
  kind: phases
  phases: [PHASES]
"""


def test_a_plan_that_paces_a_capped_origin_comes_in_a_few_percent_under_the_oracle():
    phases = ", ".join(["{batch: 5%}"] + [f"{{batch: 5%, start: {400 * i}s}}" for i in range(1, 19)]
                       + ["{start: 7600s}"])       # 50 cameras per 400 s: what the 100 Mbit/s origin carries
    scenario = load_scenario_text(PACED.replace("PHASES", phases))
    oracle = oracle_t95(scenario, 1)
    paced = simulate(scenario, 1).coverage.t95
    assert oracle is not None and paced is not None
    assert 0.9 < paced / oracle < 0.99, (paced, oracle)
    everyone = load_scenario_text(PACED.replace("kind: phases\n  phases: [PHASES]", "kind: all_at_once"))
    assert simulate(everyone, 1).coverage.t95 == pytest.approx(oracle, rel=1e-9)


@pytest.mark.parametrize("file", sorted(path.name for path in (ROOT / "scenarios").glob("*.yaml")
                                        if path.name != "bench-100k.yaml"))
def test_no_plan_of_a_shipped_scenario_comes_in_under_the_oracle(file):
    path = ROOT / "scenarios" / file
    base = load_scenario(path)
    names = ["plan", *base.alternatives]
    points = expand(Path(path), [Axis("plan", tuple(names), tuple(names))] if len(names) > 1 else [])
    oracle = oracle_t95(base, 1)
    for name, point in zip(names, points):
        t95 = simulate(point.scenario, 1).coverage.t95
        assert t95 is None or oracle is not None and t95 >= oracle * 0.999, (name, t95, oracle)


def test_the_oracle_times_out_no_update():
    """A timeout shorter than the wait for tiny's install window fails healthy cameras: a failure a plan could avoid
    (by its timing), so the oracle, like a plan without it, has every camera commit."""
    from sim.oracle import oracle_scenario

    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace(
        "artifact:", "delivery: {in_progress_timeout: 1m}\nartifact:", 1)
    timed = load_scenario_text(text)
    assert any(why.startswith("timed out") for why in simulate(timed).reasons)
    oracle = oracle_scenario(timed)
    assert oracle.delivery.in_progress_timeout is None
    assert not any(why.startswith("timed out") for why in simulate(oracle, 7).reasons)
