"""A game on a rig puts its switch off (hil/defer.py), as `delivery.defer_limit` does in the simulator: the rig's
`service.busy` answers 21 ("retry later") while a game is on; the switch waits for its end, up to the limit scaled
by `hil.time_scale`, and a rig still busy then fails its update with the current model serving. Fast rigs: LocalShell
and the rig tools in temporary folders (tests/hil/local_rigs.py); the virtual camera service is busy until the time
written in STORE/service/game-until."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from hil.defer import RETRY_LATER
from hil.runner import run_scenario
from hil.shell import LocalShell
from hil.stop import StopSignal
from sim.model.lifecycle import HELD_BY_A_GAME
from sim.model.lifecycle import DeviceState as S
from tests.hil.local_rigs import (
    HIL,
    active_version,
    game_for,
    inventory_of,
    names,
    run,
    scenario,
    step_named,
    with_busy,
)

pytestmark = pytest.mark.timeout(300)
ALL_AT_ONCE = {"kind": "all_at_once"}
# hil.time_scale 0.00001 (tests/hil/local_rigs.py): a limit of 10 days is 8.64 s on the rig, one of an hour 36 ms
LONG_LIMIT, SHORT_LIMIT = "10d", "1h"
GAME_BEFORE_THE_SWITCH = {"faults": [{"fault": "game", "at_step": "before:defer"}]}


def test_a_game_shorter_than_the_limit_puts_the_switch_off_until_it_ends(local_rigs):
    rig = with_busy(local_rigs()[0])
    result, _, _ = run(scenario(ALL_AT_ONCE, GAME_BEFORE_THE_SWITCH, defer_limit=LONG_LIMIT), [rig],
                       injectors=game_for(rig, 1.5))
    [done] = result.rigs
    assert done.state == S.COMMITTED and done.verdict == "passed", done.reason
    defer = step_named(done, "defer")
    assert names(done).index("defer") == names(done).index("activate") - 1
    assert defer.outcome == "passed" and defer.numbers["waited_s"] >= 1.0
    assert defer.numbers["retry_later_answers"] >= 1 and defer.numbers["limit_s"] == pytest.approx(8.64)
    assert "busy for" in defer.detail and "then free" in defer.detail
    assert [line.split(":")[0] for line in result.rig_delivery] == ["delivery.defer_limit"]
    # the switch came after the game (1.5 s from just before the defer step): once the busy check answered 0
    assert step_named(done, "activate").started >= defer.started + 1.0


def test_a_game_past_the_limit_fails_the_update_with_the_current_model_serving(local_rigs):
    rig = with_busy(local_rigs()[0])
    subprocess.run(rig["service"]["restart"], shell=True, capture_output=True, timeout=60, check=True)   # serving
    pid = (Path(rig["store"]) / "service" / "pid").read_text()
    result, _, _ = run(scenario(ALL_AT_ONCE, GAME_BEFORE_THE_SWITCH, defer_limit=SHORT_LIMIT), [rig],
                       injectors=game_for(rig, 60.0))
    [done] = result.rigs
    assert done.state == S.FAILED and done.verdict == "failed"
    assert done.reason.startswith(f"{HELD_BY_A_GAME} past delivery.defer_limit (1h 0m, 0.036 s on the rig")
    assert "the switch given up" in done.reason and "the current model kept" in done.reason
    assert step_named(done, "defer").outcome == "failed"
    assert step_named(done, "activate").outcome == "skipped" and "defer failed" in step_named(done, "activate").detail
    assert active_version(rig) == "1" and done.active_at_end == "1"
    healthy = subprocess.run(rig["service"]["health"], shell=True, capture_output=True, timeout=60)
    assert healthy.returncode == 0        # the current model serves on, never interrupted (the same service)
    assert (Path(rig["store"]) / "service" / "pid").read_text() == pid
    assert result.metrics()["rigs_failed"] == 1


def test_without_a_limit_the_switch_waits_for_the_games_end_and_a_free_camera_does_not_wait(local_rigs):
    rigs = local_rigs()
    held = with_busy(rigs[0])
    result, _, _ = run(scenario(ALL_AT_ONCE, GAME_BEFORE_THE_SWITCH), [held], injectors=game_for(held, 1.5))
    [done] = result.rigs
    assert done.state == S.COMMITTED, done.reason
    assert step_named(done, "defer").numbers["waited_s"] >= 1.0 and "limit_s" not in step_named(done, "defer").numbers
    free = with_busy(rigs[1])
    result, _, _ = run(scenario(ALL_AT_ONCE, defer_limit=SHORT_LIMIT), [free])
    [done] = result.rigs
    assert done.state == S.COMMITTED and step_named(done, "defer").detail == "the camera was free"
    assert step_named(done, "defer").numbers["retry_later_answers"] == 0


def test_a_busy_check_that_errs_fails_the_update_as_a_failing_state_script_does(local_rigs):
    rig = local_rigs()[0]
    rig["service"]["busy"] = "echo 'no such sensor' >&2; exit 3"
    result, _, _ = run(scenario(ALL_AT_ONCE, defer_limit=LONG_LIMIT), [rig])
    [done] = result.rigs
    assert done.state == S.FAILED and active_version(rig) == "1"
    assert f"busy check failed (exit 3: neither 0, go ahead, nor {RETRY_LATER}" in done.reason
    assert "no such sensor" in done.reason


def test_kill_then_download_held_by_a_game_starts_the_current_model_again(local_rigs):
    rig = with_busy(local_rigs()[0])
    subprocess.run(rig["service"]["restart"], shell=True, capture_output=True, timeout=60, check=True)
    result, _, _ = run(scenario(ALL_AT_ONCE, GAME_BEFORE_THE_SWITCH, defer_limit=SHORT_LIMIT,
                                update_strategy="kill_then_download"), [rig], injectors=game_for(rig, 60.0))
    [done] = result.rigs
    assert done.state == S.FAILED and done.reason.startswith(HELD_BY_A_GAME)
    assert "kill" in names(done) and step_named(done, "resume").outcome == "passed"
    healthy = subprocess.run(rig["service"]["health"], shell=True, capture_output=True, timeout=60)
    assert healthy.returncode == 0 and active_version(rig) == "1"


def test_a_stop_during_the_wait_ends_it_at_once_and_the_rig_is_left_on_the_current_model(local_rigs):
    rig = with_busy(local_rigs()[0])
    stop = StopSignal()
    injectors = {"game": lambda shell: (game_for(rig, 120.0)["game"](shell),
                                        threading.Timer(1.0, stop.request, args=("a test's stop",)).start())}
    began = time.monotonic()
    result = run_scenario(scenario(ALL_AT_ONCE, {**HIL, **GAME_BEFORE_THE_SWITCH}), inventory_of(rig), Path("."),
                          lambda rig: LocalShell(), stop=stop, injectors=injectors)
    [done] = result.rigs
    assert time.monotonic() - began < 60          # not the game's 120 s: the stop ended the wait
    assert result.interrupted and done.verdict != "passed" and "activate" not in [
        step.name for step in done.steps if step.outcome == "passed"]
    assert step_named(done, "defer").outcome == "interrupted" and step_named(done, "defer").numbers[
        "retry_later_answers"] >= 1
    assert active_version(rig) == "1" and done.active_at_end == "1"


def test_under_the_freeze_a_game_holds_the_transfer_until_it_ends(local_rigs):
    rig = with_busy(local_rigs()[0])
    game = {"faults": [{"fault": "game", "at_step": "before:hold_download"}]}
    result, _, _ = run(scenario(ALL_AT_ONCE, game, freeze_during_games=True, defer_limit=SHORT_LIMIT), [rig],
                       injectors=game_for(rig, 1.5))
    [done] = result.rigs
    assert done.state == S.COMMITTED, done.reason       # no limit on the download's wait: it went ahead after
    order = names(done)
    assert order.index("hold_download") + 1 == order.index("transfer") and \
        order.index("hold_install") + 1 == order.index("build")
    held = step_named(done, "hold_download")
    assert held.numbers["waited_s"] >= 1.0 and "limit_s" not in held.numbers
    assert "the download went ahead" in held.detail
    assert step_named(done, "transfer").started >= held.started + 1.0
    assert step_named(done, "hold_install").detail == "the camera was free"
    assert [line.split(":")[0] for line in result.rig_delivery] == ["delivery.freeze_during_games",
                                                                   "delivery.defer_limit"]


def test_under_the_freeze_a_game_past_the_limit_gives_the_install_up_before_the_build(local_rigs):
    rig = with_busy(local_rigs()[0])
    subprocess.run(rig["service"]["restart"], shell=True, capture_output=True, timeout=60, check=True)   # serving
    game = {"faults": [{"fault": "game", "at_step": "before:hold_install"}]}
    result, _, _ = run(scenario(ALL_AT_ONCE, game, freeze_during_games=True, defer_limit=SHORT_LIMIT), [rig],
                       injectors=game_for(rig, 60.0))
    [done] = result.rigs
    assert done.state == S.FAILED and done.reason.startswith(HELD_BY_A_GAME)
    assert "the install given up" in done.reason
    assert {step_named(done, name).outcome for name in ("build", "parity", "latency", "defer", "activate")} == \
        {"skipped"}
    assert active_version(rig) == "1"
    healthy = subprocess.run(rig["service"]["health"], shell=True, capture_output=True, timeout=60)
    assert healthy.returncode == 0


def test_without_the_freeze_a_rig_holds_neither_the_transfer_nor_the_build(local_rigs):
    rig = with_busy(local_rigs()[0])
    result, _, _ = run(scenario(ALL_AT_ONCE, defer_limit=LONG_LIMIT), [rig])
    [done] = result.rigs
    assert done.state == S.COMMITTED and "hold_download" not in names(done) and "hold_install" not in names(done)
    assert "defer" in names(done)


def test_under_the_freeze_a_game_that_starts_mid_transfer_pauses_it_until_the_game_ends(local_rigs):
    """The candidate (79 kB) at 200 kbit/s takes about 3.2 s; a 3 s game starts a quarter of the way in. Under the
    freeze the transfer stops within a second of the game's start and resumes from its part after it; without the
    freeze it goes on through the game."""
    rigs = local_rigs()
    slow_game = {"transfer_rate": "200kbit/s", "faults": [{"fault": "game", "at_step": "transfer@25%"}]}
    frozen, _, _ = run(scenario(ALL_AT_ONCE, slow_game, freeze_during_games=True), [with_busy(rigs[0])],
                       injectors=game_for(rigs[0], 3.0))
    through, _, _ = run(scenario(ALL_AT_ONCE, slow_game), [with_busy(rigs[1])], injectors=game_for(rigs[1], 3.0))
    [paused], [went_on] = frozen.rigs, through.rigs
    assert paused.state == went_on.state == S.COMMITTED, (paused.reason, went_on.reason)
    held = step_named(paused, "transfer")
    assert held.numbers["game_pauses"] == 1 and held.numbers["paused_for_games_seconds"] >= 1.5
    assert "paused 1 time for a game" in held.detail and "resumed at" in held.detail
    # the pause is neither the link's flow nor the step's setup (fleetlab calibrate reads those)
    assert held.numbers["flow_seconds"] < held.seconds - held.numbers["paused_for_games_seconds"] + 0.5
    assert held.numbers["setup_seconds"] < 1.0 and held.numbers["busy_check_seconds"] > 0
    assert step_named(paused, "hold_download").detail == "the camera was free"     # before the game began
    assert held.numbers["busy_checks"] >= 1 and "busy_checks" not in step_named(went_on, "transfer").numbers
    assert "paused" not in step_named(went_on, "transfer").detail
