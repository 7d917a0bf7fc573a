"""The fault matrix on virtual Jetson rigs in Docker: each case on two rigs at once, both cores of the machine kept
busy. In every case the rig ends on a valid slot whose engine passes parity, the result records what happened,
nothing is half-activated, and no lease or container is left behind."""

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hil import modelzoo, steps
from hil.parity import compare
from hil.reference import reference_outputs
from hil.runner import run_scenario
from hil.ssh import SshShell
from hil.store import Store
from sim.load import load_scenario_text
from sim.model.lifecycle import DeviceState as S
from tests.hil.conftest import quick_hil_text
from tests.hil.local_rigs import inventory_of

# Every virtual-rig test on one worker, in file order: this file's last test then sees only rigs the tests before
# it left behind, never one another worker is using.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("virtual-rigs")]
RIGS_PER_CASE = 2                    # rigs at once per case: parallel rigs, within a 2-core CI budget


@dataclass(frozen=True)
class Case:
    faults: tuple[tuple[str, str], ...] = ()     # (fault, point), each where it hurts most
    candidate: str = "builtin:candidate"
    verdict: str = "passed"                      # the expected outcome of every rig
    says: str = ""                               # words the rig's result must contain (reason or a step's detail)
    rig_options: dict = field(default_factory=dict)
    delivery: dict = field(default_factory=dict)     # the scenario's delivery: keys


CASES = {
    "link drop mid-transfer": Case((("link_drop", "transfer@50%"),)),       # TCP may ride out 3 s: no resume needed
    "power cut mid-transfer": Case((("power_cut", "transfer@50%"),), says="reconnect|resumed at"),
    "power cut mid-install": Case((("power_cut", "mid:install"),), says="reconnect"),
    "power cut mid-build, a partial engine left": Case((("power_cut", "mid:build"),), says="reconnect"),
    "power cut between switch and health check": Case((("power_cut", "after:switch"),), says="reconnect"),
    "power cut during rollback": Case((("power_cut", "mid:rollback"),), says="reconnect"),
    "reboot loop (two reboots in a row)": Case((("reboot_loop", "before:build"),), says="reconnect"),
    "sshd restarted mid-transfer": Case((("sshd_restart", "transfer@50%"),), says="resumed at|reconnect"),
    "rig clock an hour forward, then back": Case((("clock_forward", "before:transfer"),
                                                  ("clock_back", "before:activate"))),
    "disk full": Case((("disk_full", "before:transfer"),), verdict="failed", says="disk full",
                      rig_options={"store_tmpfs": 16 * 2**20}),
    "corrupted artifact": Case((("corrupt_transfer", "transfer@50%"),), says="corrupted and is deleted; sent again"),
    "engine build failure": Case(candidate="builtin:broken", verdict="failed", says="engine build failed"),
    "health-check failure": Case(candidate="builtin:candidate-wrong-head", verdict="failed",
                                 says="did not come up healthy"),
    "health flapping (passes once, then fails)": Case((("health_flap", "after:switch"),), verdict="failed",
                                                      says="then failed"),
    "thermal stress": Case((("thermal_stress", "before:latency"),), says="°C"),
    "hand-over: both models held at once": Case(says="both models ran with",
                                                delivery={"update_strategy": "hand_over"}),
    "hand-over after a power cut at the switch (no old service left)": Case(
        (("power_cut", "after:switch"),), says="reconnect", delivery={"update_strategy": "hand_over"}),
    "a game past the defer limit, through a retry (the switch given up)": Case(
        (("game", "before:defer"),), verdict="failed",
        says="the current model kept (1 retry: delivery.failure_retries)",
        delivery={"defer_limit": 3600.0, "failure_retries": 1}),
    "a transfer under the freeze (the camera asked over SSH mid-way)": Case(delivery={"freeze_during_games": True}),
    "an engine build too big for the board (the kernel's OOM killer takes trtexec)": Case(
        (("oom_at_load", "before:build"),), verdict="failed", says="trtexec killed by SIGKILL (exit 137)"),
    "a candidate too big for the board (the kernel's OOM killer at the restart)": Case(
        (("oom_at_load", "after:switch"),), verdict="failed", says="killed by the kernel for memory"),
    "hand-over of a candidate too big for the board (the kernel's OOM killer takes the newcomer)": Case(
        (("oom_at_load", "after:switch"),), verdict="failed", says="killed by the kernel for memory",
        delivery={"update_strategy": "hand_over"}),
    "hand-over of a candidate whose service never comes up": Case(
        candidate="builtin:candidate-wrong-head", verdict="failed", says="did not come up beside the current model",
        delivery={"update_strategy": "hand_over"}),
}


def scenario_for(case: Case, lease_ttl_scale: str = ""):
    text = quick_hil_text().replace("rig_tags: [orin]", "rig_tags: [virtual]").replace(
        "candidate_model: builtin:candidate", f"candidate_model: {case.candidate}").replace(
        "  kind: waves\n  waves: [30%, 100%]\n  bake: 1h\n  abort: {threshold: 1%, min_executed: 1}",
        "  kind: all_at_once")
    # The matrix proves recovery, not speed or coolness: no latency budget and no temperature limit can fail it (the
    # rigs share two busy cores), while the latency step still runs and is recorded.
    for limit in ("  latency_budget: {p50: 1s, p99: 5s}\n", "  max_temperature: 85\n"):
        assert limit in text
        text = text.replace(limit, "")
    # Slow enough that 50% of a transfer is a moment in time; only where a fault waits for that moment (a capped
    # link costs every other case seconds of transfer and provisioning for nothing).
    # Under the freeze the camera is asked every second during the transfer: it must last that long too.
    mid_transfer = any(point.startswith("transfer@") for _, point in case.faults) or \
        case.delivery.get("freeze_during_games", False)
    extra = "  transfer_rate: 400kbit/s\n" if mid_transfer else ""
    if case.faults:
        extra += "  faults:\n" + "".join(f'    - {{fault: {name}, at_step: "{point}"}}\n'
                                         for name, point in case.faults)
    assert "  warmup: 30\n" in text
    scenario = load_scenario_text(text.replace("  warmup: 30\n", "  warmup: 10\n" + extra))
    return scenario.model_copy(update={"delivery": scenario.delivery.model_copy(update=case.delivery)})


def said(found, words: str) -> bool:
    texts = [found.reason] + [f"{step.name}: {step.detail}" for step in found.steps]
    return any(word in text for word in words.split("|") for text in texts)


def check_rig_afterwards(entry: dict, current_reference: dict) -> None:
    """The rig serves the current model from a whole slot, its engine passes parity, no staging, no lease."""
    rig = inventory_of(entry).rigs[0]
    shell = SshShell(rig)
    try:
        shell.run(f"rm -f {rig.store}/.filler", timeout=30)     # what a disk_full fault left: the operator frees it
        store = Store(shell, rig.store)
        active = store.active_slot()
        assert active in ("a", "b") and store.version(active) == "2.0"
        leftovers = shell.run(f"ls -a {rig.store} {rig.store}/slots", timeout=30).stdout.split()
        assert not any(name.endswith(".new") for name in leftovers) and ".lease" not in leftovers
        remote = steps.upload_frames(store, {a: modelzoo.frames_for(a) for a in modelzoo.ANGLES},
                                     Path(entry["key_file"]).parent)
        found = steps.infer_all(shell, rig, store, active, {a: modelzoo.frames_for(a) for a in modelzoo.ANGLES},
                                remote)
        for angle, outputs in found.items():
            assert not isinstance(outputs, str), outputs
            assert compare(angle, outputs, current_reference[angle], 0.02, 0.02).passed, angle
    finally:
        shell.close()


@pytest.fixture(scope="module")
def current_reference(tmp_path_factory):
    model = tmp_path_factory.mktemp("models") / "current.onnx"
    model.write_bytes(modelzoo.build_model("current"))
    return {angle: reference_outputs(model, modelzoo.frames_for(angle)) for angle in modelzoo.ANGLES}


@pytest.mark.parametrize("name", list(CASES))
def test_the_rig_survives(name, virtual_rigs, current_reference, busy_machine):
    case = CASES[name]
    entries = virtual_rigs(RIGS_PER_CASE, **case.rig_options)
    result = run_scenario(scenario_for(case), inventory_of(*entries), Path("."), SshShell)
    assert len(result.rigs) == RIGS_PER_CASE
    for found, entry in zip(result.rigs, entries):
        steps_seen = [(step.name, step.outcome, step.detail[:120]) for step in found.steps]
        assert found.verdict == case.verdict, (found.reason, steps_seen)
        assert not found.quarantined and found.active_at_end == "2.0"
        rolled_back = any(words in case.says for words in ("healthy", "then failed", "did not come up beside",
                                                           "for memory"))
        assert found.state == {"passed": S.COMMITTED, "failed": S.ROLLED_BACK if rolled_back else S.FAILED}[
            case.verdict]
        assert found.faults == [f"{name} at {point}" for name, point in case.faults]
        if case.says:
            assert said(found, case.says), (found.reason, steps_seen)
        if name == "thermal stress":
            assert found.telemetry.max_temperature > found.idle_temperature + 3
        if case.delivery.get("update_strategy") == "hand_over":    # the container's RAM with the newcomer running
            at_rest = next(step for step in found.steps if step.name == "preflight").numbers["idle_memory_bytes"]
            [*_, activated] = [step for step in found.steps if step.name == "activate"]   # after a reconnect too
            assert activated.numbers["memory_beside_bytes"] > at_rest
        if "oom_at_load" in dict(case.faults):          # the kernel's own count, read over SSH, says why
            # the count is the kernel's: on a busy machine, while the first victim's memory is still being reaped,
            # it has taken a second process (CI, stop 46: "killed 2 processes"), the old service serving on
            assert re.search(r"\(the rig's kernel killed (1 process|[2-9] processes) for memory since preflight\)",
                             found.reason), found.reason
            if case.delivery:                            # the newcomer never ran beside the old one
                assert "at the attempt's peak" in found.reason and "both models ran" not in found.reason
        if case.delivery.get("freeze_during_games"):    # an SSH command while the SFTP copy is under way
            [transfer] = [step for step in found.steps if step.name == "transfer"]
            assert transfer.numbers["busy_checks"] >= 1 and transfer.numbers["game_pauses"] == 0, steps_seen
        check_rig_afterwards(entry, current_reference)


def test_a_rig_gone_longer_than_its_lease_goes_to_the_run_that_waited(virtual_rigs, current_reference,
                                                                       busy_machine):
    """Run A loses its rig for longer than the lease lives (12 s here); run B, started meanwhile, waits for the rig.
    When the rig is back, B takes the expired lease and runs; A notices it lost the lease and keeps its hands off."""
    [entry] = virtual_rigs(1)
    entry = {**entry, "lease_ttl": "12s"}
    first = scenario_for(Case((("rig_gone", "before:build"),)))
    second = scenario_for(Case())
    results: dict[str, object] = {}
    a = threading.Thread(target=lambda: results.update(a=run_scenario(first, inventory_of(entry), Path("."),
                                                                      SshShell)))
    a.start()
    deadline = time.monotonic() + 120
    while not _link_is_down(entry) and time.monotonic() < deadline:
        time.sleep(0.5)
    results["b"] = run_scenario(second, inventory_of(entry), Path("."), SshShell, lease_wait=120)
    a.join(timeout=300)
    [lost], [won] = results["a"].rigs, results["b"].rigs
    assert lost.verdict == "error" and "lost the lease" in lost.reason, lost.reason
    assert "release" not in [step.name for step in lost.steps]          # not ours to release any more
    assert won.verdict == "passed", won.reason
    reserve = next(step for step in won.steps if step.name == "reserve")
    assert reserve.numbers.get("waited_s", 0) > 0 and "took over the expired lease" in reserve.detail
    check_rig_afterwards(entry, current_reference)


def _link_is_down(entry: dict) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", entry["port"]), timeout=2) as sock:
            sock.settimeout(2)
            return not sock.recv(8).startswith(b"SSH-")
    except OSError:
        return True


def test_no_virtual_rig_is_left_behind(lab):
    """Runs after the matrix (file order): every rig the tests started has been removed."""
    assert lab.status() == []
