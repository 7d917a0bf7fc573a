"""Staging ahead under a plan that can halt (sim/model/staging_traps.py): the whole fleet's egress is spent before the
first gate looks, and the lint's figure is what the simulator sends when a bad candidate halts the plan on its first
wave."""

from __future__ import annotations

import pytest

from sim.load import load_scenario, load_scenario_text
from sim.model.plan_traps import plan_warnings
from sim.run import simulate
from tests.conftest import ROOT

STAGED = ROOT / "scenarios" / "stage-ahead-thin-uplinks.yaml"


def staging_warnings(scenario) -> list[str]:
    return [says for key, says in plan_warnings(scenario) if key == "delivery.stage_ahead"]


def variant(*replacements: tuple[str, str]):
    text = STAGED.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return load_scenario_text(text)


def test_the_library_scenario_is_told_its_price_up_front():
    [says] = staging_warnings(load_scenario(STAGED))
    # 800 gyms × 1.5 cameras × 500 MB; wave 1 is 2% of it; $0.09 a GB
    assert says.startswith("every camera fetches the candidate before the plan's first release, and a halt does "
                           "not stop it: about 600.00 GB from the origin ($54.00 of egress)"), says
    assert says.endswith("a halt after wave 1 (2%) would have sent about 12.00 GB ($1.08)"), says


@pytest.mark.timeout(300)
def test_the_figure_is_what_a_halted_staged_run_sends():
    """A candidate that crashes on 60% of the Xavier boards halts the plan on its first wave; staged, the origin still
    sends about the lint's figure (the fleet drawn is within a few % of its expected 1,200 cameras), fetched wave by
    wave a few percent of it."""
    crash = ("candidate:\n  version: \"5.1\"\n", "candidate:\n  version: \"5.1\"\n  defects:\n"
             "    - {cohort: {hardware: xavier-nx}, failure_rate: 60%}\n")
    staged = variant(crash)
    [says] = staging_warnings(staged)
    figure = float(says.split("about ")[1].split(" GB")[0]) * 1e9
    ahead = simulate(staged, 1)
    assert ahead.halted and ahead.bytes.total == pytest.approx(figure, rel=0.1), (ahead.bytes.total, figure)
    by_wave = simulate(variant(crash, ("stage_ahead: true", "stage_ahead: false")), 1)
    assert by_wave.halted and by_wave.bytes.total < 0.1 * figure


def test_quiet_without_staging_without_a_halt_rule_or_without_steps():
    assert staging_warnings(variant(("stage_ahead: true", "stage_ahead: false"))) == []
    unguarded = ("  abort: {threshold: 10%, min_executed: 10}\n  rollback_on_abort: true\n", "")
    assert staging_warnings(variant(unguarded)) == []             # nothing can halt: every byte goes anyway
    at_once = ("  kind: waves\n  waves: [2%, 10%, 50%, 100%]\n  bake: 1d\n", "  kind: all_at_once\n")
    assert staging_warnings(variant(at_once, unguarded)) == []


def test_a_site_cache_counts_one_fetch_a_site_and_a_delta_its_average():
    [cached] = staging_warnings(variant(("stage_ahead: true", "stage_ahead: true\n  site_cache: true")))
    assert "about 400.00 GB from the origin" in cached            # 800 seeders × 500 MB
    delta = ("artifact: {full_size: 500MB, checkpoint: 4MB}", "artifact: {full_size: 500MB, checkpoint: 4MB, "
             "delta_size: 100MB}")
    [smaller] = staging_warnings(variant(delta, ("stage_ahead: true", "stage_ahead: true\n  delta: true\n"
                                                 "  delta_apply_failure: 0%\n  base_mismatch: 10%")))
    assert "about 168.00 GB from the origin" in smaller           # 1,200 × (90% × 100 MB + 10% × 500 MB)


def test_each_alternative_plan_is_named():
    alternative = ("expect:", "alternatives:\n  canary_first:\n    kind: canary\n    bake: 1d\n"
                   "    abort: {threshold: 10%, min_executed: 5}\n    then: [100%]\nexpect:")
    found = staging_warnings(variant(alternative))
    assert len(found) == 2 and "before the plan alternatives.canary_first's first release" in found[1]
    assert found[1].endswith("a halt after the canary would have sent only the canary's cameras' bytes")
