"""A failed update started again on a rig (`delivery.failure_retries`, hil/failure_retries.py), as the simulator's
server starts a new attempt: after a game held the switch or the install past the limit, or every copy of the
candidate arrived corrupt (`artifact.max_download_attempts`, the copies sent again after `delivery.retries`' wait).
Fast rigs: LocalShell and the rig tools in temporary folders (tests/hil/local_rigs.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fleetlab.report.html import render
from hil.shell import LocalShell
from sim.model.lifecycle import CORRUPT_DOWNLOAD, HELD_BY_A_GAME
from sim.model.lifecycle import DeviceState as S
from tests.hil.local_rigs import (
    active_version,
    game_for,
    names,
    one_night,
    run,
    scenario,
    step_named,
    table_text,
    with_busy,
)

pytestmark = pytest.mark.timeout(300)
ALL_AT_ONCE = {"kind": "all_at_once"}
# hil.time_scale 0.00001 (tests/hil/local_rigs.py): a limit of 2 days is 1.73 s on the rig, one of an hour 36 ms.
# A 3 s game outlasts the first limit and ends within the second: a retry picked up at once waits the limit again.
LIMIT, SHORT_LIMIT, GAME = "2d", "1h", 3.0


def game_at(step: str) -> dict:
    return {"faults": [{"fault": "game", "at_step": f"before:{step}"}]}


def steps(rig, name: str) -> list:
    return [step for step in rig.steps if step.name == name]


def test_a_retry_after_a_game_past_the_limit_waits_again_and_the_update_goes_ahead_where_none_would_fail(
        local_rigs):
    rigs = local_rigs()
    failed, _, _ = run(scenario(ALL_AT_ONCE, game_at("defer"), defer_limit=LIMIT), [with_busy(rigs[0])],
                       injectors=game_for(rigs[0], GAME))
    retried, _, _ = run(scenario(ALL_AT_ONCE, game_at("defer"), defer_limit=LIMIT, failure_retries=1),
                        [with_busy(rigs[1])], injectors=game_for(rigs[1], GAME))
    [without], [done] = failed.rigs, retried.rigs
    assert without.state == S.FAILED and without.reason.startswith(HELD_BY_A_GAME) and "retry" not in names(without)
    assert done.state == S.COMMITTED and done.verdict == "passed", done.reason
    assert [step.outcome for step in steps(done, "defer")] == ["failed", "passed"]
    [retry] = steps(done, "retry")
    assert retry.args == {"retry": "1 of 1", "after": "defer", "starts_at": "defer"}
    assert retry.detail.startswith(f"a new attempt after defer failed ({HELD_BY_A_GAME} past delivery.defer_limit")
    order = names(done)      # carried on from what the rig had: no second transfer or build
    assert order.count("transfer") == 1 and order.count("build") == 1
    assert order[order.index("defer"):order.index("activate") + 1] == ["defer", "retry", "defer", "activate"]
    assert done.bytes_sent == without.bytes_sent
    assert any(line.startswith("delivery.failure_retries: ") for line in retried.rig_delivery)
    # the terminal's rig table and the report show the new attempt, where a rig made one
    assert (done.retries, without.retries) == (1, 0)
    assert "retries" in table_text(retried) and "retries" not in table_text(failed)
    assert "committed · 1 retry" in render(one_night(retried))


def test_a_rig_whose_retries_are_spent_fails_with_the_simulators_suffix_and_its_model_serving(local_rigs):
    rig = with_busy(local_rigs()[0])
    subprocess.run(rig["service"]["restart"], shell=True, capture_output=True, timeout=60, check=True)   # serving
    pid = (Path(rig["store"]) / "service" / "pid").read_text()
    result, _, _ = run(scenario(ALL_AT_ONCE, game_at("defer"), defer_limit=SHORT_LIMIT, failure_retries=2), [rig],
                       injectors=game_for(rig, 60.0))
    [done] = result.rigs
    assert done.state == S.FAILED and done.reason.startswith(HELD_BY_A_GAME)
    assert done.reason.endswith("(2 retries: delivery.failure_retries)")
    assert [step.outcome for step in steps(done, "defer")] == ["failed"] * 3
    assert [step.args["retry"] for step in steps(done, "retry")] == ["1 of 2", "2 of 2"]
    assert step_named(done, "activate").outcome == "skipped" and active_version(rig) == "1"
    assert (Path(rig["store"]) / "service" / "pid").read_text() == pid     # the same service served throughout


def test_a_failure_a_retry_cannot_mend_is_not_retried(local_rigs):
    rig = local_rigs()[0]
    rig["service"]["busy"] = "echo 'no such sensor' >&2; exit 3"
    result, _, _ = run(scenario(ALL_AT_ONCE, defer_limit=LIMIT, failure_retries=3), [rig])
    [done] = result.rigs
    assert done.state == S.FAILED and "busy check failed" in done.reason
    assert "retry" not in names(done) and "delivery.failure_retries" not in done.reason


class CorruptingShell(LocalShell):
    """A rig whose first `bad` copies of any model land with bytes flipped (a bad write, bit rot on the way)."""

    def __init__(self, bad: int) -> None:
        super().__init__()
        self.bad = bad

    def put(self, local, remote, offset=0, rate=None, progress=None):
        sent = super().put(local, remote, offset, rate, progress)
        if "/incoming/" in remote and self.bad > 0:      # the candidate on its way, not frames or tools
            self.bad -= 1
            with open(remote, "r+b") as part:
                part.seek(64)
                part.write(b"CORRUPT")
        return sent


def test_every_copy_corrupt_fails_the_transfer_with_the_simulators_reason_after_max_download_attempts(local_rigs):
    rig = local_rigs()[0]
    result, _, _ = run(scenario(ALL_AT_ONCE, artifact={"max_download_attempts": 3}, retries={"backoff": "1h"}), [rig],
                       shell=lambda: CorruptingShell(bad=100))
    [done] = result.rigs
    transfer = step_named(done, "transfer")
    assert done.state == S.FAILED and done.reason.startswith(f"{CORRUPT_DOWNLOAD} 3 times: "), done.reason
    assert transfer.numbers["copies"] == 3 and "every one of 3 copies was corrupted and deleted" in transfer.detail
    # two waits before copies 2 and 3: 1 h and 2 h × hil.time_scale (0.036 s and 0.072 s)
    assert transfer.numbers["backoff_seconds"] >= 0.108
    assert step_named(done, "build").outcome == "skipped" and active_version(rig) == "1"
    assert done.bytes_sent == 3 * transfer_bytes(done)


def test_a_retry_after_corrupt_copies_sends_the_candidate_again_and_the_update_goes_ahead(local_rigs):
    rig = local_rigs()[0]
    result, _, _ = run(scenario(ALL_AT_ONCE, artifact={"max_download_attempts": 2}, failure_retries=1), [rig],
                       shell=lambda: CorruptingShell(bad=2))
    [done] = result.rigs
    assert done.state == S.COMMITTED, done.reason
    first, second = steps(done, "transfer")
    assert first.outcome == "failed" and first.numbers["copies"] == 2 and second.outcome == "passed"
    [retry] = steps(done, "retry")
    assert retry.args["starts_at"] == "transfer" and retry.detail.startswith(
        f"a new attempt after transfer failed ({CORRUPT_DOWNLOAD} 2 times")
    assert done.bytes_sent == 3 * transfer_bytes(done)


def test_a_retry_that_fetches_again_after_a_held_install_sends_the_candidate_again(local_rigs):
    rig = with_busy(local_rigs()[0])
    result, _, _ = run(scenario(ALL_AT_ONCE, game_at("hold_install"), defer_limit=LIMIT, freeze_during_games=True,
                                failure_retries=1, retry_fetches_again=True), [rig], injectors=game_for(rig, GAME))
    [done] = result.rigs
    assert done.state == S.COMMITTED, done.reason
    order = names(done)
    # from the download: the hold (the game still on, no limit on it), the transfer, the install's hold, the build
    assert order[order.index("retry"):order.index("retry") + 5] == ["retry", "hold_download", "transfer",
                                                                    "hold_install", "build"]
    assert [step.outcome for step in steps(done, "hold_install")] == ["failed", "passed"]
    assert step_named(done, "retry").args["starts_at"] == "hold_download"
    assert "fetched again from its first byte" in step_named(done, "retry").detail
    assert done.bytes_sent == 2 * transfer_bytes(done) and order.count("transfer") == 2


def test_a_retry_that_fetches_again_after_a_held_switch_installs_again_before_it_asks_again(local_rigs):
    rig = with_busy(local_rigs()[0])
    result, _, _ = run(scenario(ALL_AT_ONCE, game_at("defer"), defer_limit=LIMIT, failure_retries=1,
                                retry_fetches_again=True), [rig], injectors=game_for(rig, GAME))
    [done] = result.rigs
    assert done.state == S.COMMITTED, done.reason
    order = names(done)
    assert order[order.index("defer"):] == ["defer", "retry", "transfer", "build", "parity", "latency", "defer",
                                            "activate", "rollback", "release"]
    assert [step.outcome for step in steps(done, "build")] == ["passed", "passed"]
    assert done.bytes_sent == 2 * transfer_bytes(done)


def transfer_bytes(rig) -> float:
    return float(step_named(rig, "transfer").args["bytes"])
