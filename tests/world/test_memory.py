"""A board short of memory for the models it must hold at once (sim/model/memory.py): the candidate alone, or beside
the current model under hand_over. The simulator fails those cameras' health checks out of memory, `fleetlab lint`
says so before the run, and an abort rule reads the failures as the candidate's."""

from __future__ import annotations

import pytest

from sim.load import load_scenario_text
from sim.model.lifecycle import DeviceState as S
from sim.model.memory import OUT_OF_MEMORY, memory_shortfall
from sim.model.plan_traps import plan_warnings as traps
from sim.world.fleet import build_layout
from tests.conftest import ROOT
from tests.world.helpers import run_story

TINY = (ROOT / "scenarios" / "tiny.yaml").read_text()
PROFILES = "  hardware_profiles: {nano: {memory: 3.2GB}, orin-nx: {memory: 14GB}}\n  storage_free: {median: 4GB}"
CURRENT = ("current:\n  version: '2.0'\n  hardware:\n    orin-nx: {latency: 12ms, power: 12, memory: 2.2GB}\n"
           "    nano: {latency: 45ms, power: 8, memory: 1.6GB}\n\nartifact:")
CANDIDATE = ("    orin-nx: {latency: 12ms, power: 12, memory: 2.4GB}\n"
             "    nano: {latency: 45ms, power: 8, memory: NANO}")
NO_GATE = "strategy:\n  kind: waves\n  waves: [10%, 50%, 100%]\n  bake: 8h\n"


def tiny(update_strategy: str = "download_then_kill", nano: str = "1.9GB", plan: str = NO_GATE, profiles: bool = True,
         failure_handling: str = "rollback"):
    text = TINY.replace("  storage_free: {median: 4GB}", PROFILES if profiles else "  storage_free: {median: 4GB}")
    text = text.replace("    orin-nx: {latency: 12ms, power: 12}\n    nano: {latency: 45ms, power: 8}",
                        CANDIDATE.replace("NANO", nano))
    text = text.replace("artifact:", f"delivery: {{update_strategy: {update_strategy}, failure_handling: "
                                     f"{failure_handling}}}\n{CURRENT}", 1)
    start = text.index("strategy:\n")
    text = text[:start] + plan + text[text.index("\nexpect:"):]
    return load_scenario_text(text)


def test_the_rule_counts_the_candidate_alone_or_beside_the_current_model_under_hand_over_and_only_known_numbers():
    assert memory_shortfall(tiny(), "nano") is None                            # 1.9 GB of 3.2 GB
    both = memory_shortfall(tiny("hand_over"), "nano")
    assert both is not None and both.needed == pytest.approx(3.5e9) and both.available == pytest.approx(3.2e9)
    assert both.reason == ("health check: out of memory (the candidate's 1.90 GB beside the current model's 1.60 GB "
                           "(delivery.update_strategy: hand_over): 3.50 GB, over the 3.20 GB a nano leaves for "
                           "models)"), both.reason
    alone = memory_shortfall(tiny(nano="3.3GB"), "nano")
    assert alone is not None and alone.held == "the candidate's 3.30 GB"
    assert memory_shortfall(tiny("hand_over"), "orin-nx") is None              # 4.6 GB of 14 GB
    assert memory_shortfall(tiny("hand_over", profiles=False), "nano") is None  # the board's memory not given


@pytest.mark.timeout(60)
def test_under_hand_over_every_nano_fails_its_health_check_out_of_memory_and_the_orins_commit():
    story = run_story(tiny("hand_over"), seed=7)
    layout = build_layout(tiny("hand_over").fleet, 7)
    boards = {device: layout.hardware_names[layout.device_hardware[device]] for device in range(layout.size)}
    failed = {move.device: move for move in story.moves if move.source == S.HEALTH_CHECK and
              move.target == S.ROLLING_BACK}
    assert failed and {boards[device] for device in failed} == {"nano"}
    assert all(move.reason.startswith(OUT_OF_MEMORY) for move in failed.values())
    committed = story.devices_reaching(S.COMMITTED)
    assert committed and {boards[device] for device in committed} == {"orin-nx"}
    fits = run_story(tiny("download_then_kill"), seed=7)
    assert "nano" in {boards[device] for device in fits.devices_reaching(S.COMMITTED)}
    assert not [move for move in fits.moves if move.reason.startswith(OUT_OF_MEMORY)]


@pytest.mark.timeout(60)
def test_an_abort_rule_halts_on_the_out_of_memory_failures_and_do_nothing_leaves_those_cameras_without_a_model():
    gated = NO_GATE + "  abort: {threshold: 20%, min_executed: 4}\n"
    result = run_story(tiny("hand_over", plan=gated), seed=7).result
    assert result.halted is not None, result.outcomes
    left = run_story(tiny("hand_over", failure_handling="do_nothing"), seed=7)
    failed = [move for move in left.moves if move.target == S.FAILED]
    assert failed and all(OUT_OF_MEMORY in move.reason for move in failed)
    killed = run_story(tiny("download_then_kill", failure_handling="do_nothing", nano="3.3GB"), seed=7)
    assert left.result.metrics()["service_lost_device_hours"] > 0
    assert killed.result.metrics()["failed"] > 0


def memory_warnings(scenario) -> list[str]:
    return [message for key, message in traps(scenario) if key.endswith(".memory")]


def test_lint_names_the_board_the_models_and_the_way_out_before_the_run():
    said = memory_warnings(tiny("hand_over"))
    assert said == [
        "a nano board must hold the candidate's 1.90 GB beside the current model's 1.60 GB (delivery.update_strategy: "
        "hand_over), 3.50 GB in all, and leaves 3.20 GB for models: every nano camera's candidate is killed out of "
        "memory and fails its health check, however good the model (download_then_kill holds one model at a time)"]
    assert [key for key, _ in traps(tiny("hand_over")) if key.endswith(".memory")] == \
        ["fleet.hardware_profiles.nano.memory"]
    alone = memory_warnings(tiny(nano="3.3GB"))
    assert alone and alone[0].endswith("the candidate must shrink (a smaller engine, FP16 or INT8) or the board's "
                                       "other services"), alone
    assert memory_warnings(tiny()) == [] and memory_warnings(tiny("hand_over", profiles=False)) == []


SHADOW = ("strategy:\n  kind: shadow\n  sample: 50%\n  stratum: hardware\n  max_duration: 1d\n  hold: 6h\n"
          "  min_reports: 2\n")


@pytest.mark.timeout(60)
def test_a_shadow_on_a_board_that_cannot_hold_both_models_fails_as_it_starts_and_the_shadow_halts_inconclusive():
    """A shadow runs the candidate beside the current model by design, whatever the update strategy: the nano
    shadows fail as they start, report no agreement, and the shadow halts inconclusive; with the boards' memory
    unknown, the same plan promotes and every camera commits. The lint says it first."""
    story = run_story(tiny(plan=SHADOW), seed=7)
    failed = [move for move in story.moves if move.target == S.FAILED]
    assert failed and all(move.source == S.AWAITING_WINDOW for move in failed)
    assert {move.reason for move in failed} == {
        "shadow: out of memory (the candidate's 1.90 GB beside the current model's 1.60 GB: 3.50 GB, over the "
        "3.20 GB a nano leaves for models)"}
    assert story.result.halted and story.result.metrics()["committed"] == 0
    unknown = run_story(tiny(plan=SHADOW, profiles=False), seed=7).result
    assert not unknown.halted and unknown.metrics()["committed"] == unknown.devices
    said = memory_warnings(tiny(plan=SHADOW))
    assert said and said[0].startswith("a shadow runs the candidate beside the current model, 3.50 GB in all"), said
    assert said[0].endswith("the shadow halts inconclusive"), said


@pytest.mark.timeout(120)
def test_the_library_scenario_halts_a_good_candidate_under_hand_over_and_rolls_it_out_one_model_at_a_time():
    """nano-hand-over-memory: the gate halts on the Nanos' out-of-memory failures; download_then_kill commits all."""
    text = (ROOT / "scenarios" / "nano-hand-over-memory.yaml").read_text()
    handing_over = run_story(load_scenario_text(text), seed=1)
    failed = [move for move in handing_over.moves if move.source == S.HEALTH_CHECK and move.target == S.ROLLING_BACK]
    assert handing_over.result.halted and failed and all(move.reason.startswith(OUT_OF_MEMORY) for move in failed)
    one_at_a_time = run_story(load_scenario_text(text.replace("update_strategy: hand_over",
                                                              "update_strategy: download_then_kill")), seed=1).result
    assert not one_at_a_time.halted and one_at_a_time.metrics()["committed"] == one_at_a_time.devices
