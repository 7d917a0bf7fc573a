"""Stopping a HIL run is a normal path: a signal at a precise step (sent by the `sigint`/`sigterm` fault hooks to the
fleetlab process itself) leaves the rig on its previous engine, its lease released, result.json saying
`interrupted`, and a rerun passes at once. Against a real sshd."""

import json
from pathlib import Path

from hil.errors import HilError
from hil.runner import run_scenario
from hil.ssh import SshShell
from tests.hil.conftest import hil_scenario, quick_hil_text, write_inventory
from tests.hil.local_rigs import inventory_of
from tests.hil.test_cli import fleetlab


def scenario_with(folder: Path, *faults: tuple[str, str], rate: str | None = None) -> Path:
    extra = ""
    if rate:
        extra += f"  transfer_rate: {rate}\n"
    if faults:
        extra += "  faults:\n" + "".join(f'    - {{fault: {name}, at_step: "{point}"}}\n' for name, point in faults)
    text = quick_hil_text()
    assert "  warmup: 30\n" in text
    path = folder / "hil.yaml"
    path.write_text(text.replace("  warmup: 30\n", "  warmup: 30\n" + extra))
    return path


def the_rig_is_back_and_free(rig: dict) -> None:
    store = Path(rig["store"])
    assert (store / "active" / "version").read_text().strip() == "2.0"     # the previous engine serves
    assert not (store / ".lease").exists()


def interrupted_run(rig_entry, tmp_path, *faults, rate=None, code: int, rerun: bool = False):
    rig = rig_entry("orin-a", tags=["orin"])
    inventory = write_inventory(tmp_path / "rigs.yaml", rig)
    done = fleetlab("hil", str(scenario_with(tmp_path, *faults, rate=rate)), "--rigs", str(inventory),
                    "--out", str(tmp_path / "out"))
    assert done.returncode == code, done.stdout + done.stderr
    assert "INTERRUPTED" in done.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["interrupted"].startswith("interrupted: SIG")
    [found] = result["rigs"]
    the_rig_is_back_and_free(rig)      # enough for a rerun to start at once; one test reruns to show it
    if rerun:
        again = fleetlab("hil", str(scenario_with(tmp_path)), "--rigs", str(inventory))
        assert again.returncode == 0, again.stdout + again.stderr
    return found


def names(found: dict) -> list[str]:
    return [step["name"] for step in found["steps"]]


def test_sigterm_during_activation_restores_releases_and_exits_143(rig_entry, tmp_path):
    found = interrupted_run(rig_entry, tmp_path, ("sigterm", "after:switch"), code=143, rerun=True)
    order = names(found)
    assert order.index("activate") < order.index("restore") < order.index("release")
    assert found["verdict"] == "interrupted" and found["active_at_end"] == "2.0"
    assert next(step for step in found["steps"] if step["name"] == "restore")["outcome"] == "passed"


def test_ctrl_c_twice_during_activation_still_restores_and_releases(rig_entry, tmp_path):
    found = interrupted_run(rig_entry, tmp_path, ("sigint", "after:switch"), ("sigint", "mid:restore"), code=130)
    assert "restore" in names(found) and names(found)[-1] == "release"
    assert found["faults"] == ["sigint at after:switch", "sigint at mid:restore"]   # the second came mid-restore
    assert found["active_at_end"] == "2.0"


def test_one_ctrl_c_during_the_transfer_stops_before_anything_is_activated(rig_entry, tmp_path):
    found = interrupted_run(rig_entry, tmp_path, ("sigint", "transfer@50%"), rate="160kbit/s", code=130)
    transfer = next(step for step in found["steps"] if step["name"] == "transfer")
    assert transfer["outcome"] == "interrupted"
    assert "activate" not in names(found) and "build" not in names(found)
    assert found["state"] == "IDLE"


def test_after_a_harness_error_the_rig_is_restored_under_its_lease(rig_entry):
    rig = rig_entry("rig-a")

    def harness_breaks(shell):
        raise HilError("the harness lost its footing")

    scenario = hil_scenario(faults=[{"fault": "harness_breaks", "at_step": "after:switch"}])
    [found] = run_scenario(scenario, inventory_of(rig), Path("."), SshShell,
                           injectors={"harness_breaks": harness_breaks}).rigs
    order = [step.name for step in found.steps]
    assert found.verdict == "error" and "lost its footing" in found.reason
    assert order.index("restore") < order.index("release") and found.active_at_end == "1"
    assert (Path(rig["store"]) / "active" / "version").read_text().strip() == "1"
    assert not (Path(rig["store"]) / ".lease").exists()


def test_a_link_drop_while_putting_the_rig_back_after_ctrl_c_is_waited_out_and_the_rig_restored(rig_entry, tmp_path):
    """The restore is what the stop asked for: a rig that drops away during it is waited for and restored, not
    abandoned on the candidate (once: a `Stopped` traceback, exit 1, no result.json, the rig left on 2.1)."""
    found = interrupted_run(rig_entry, tmp_path, ("sigint", "after:switch"), ("link_drop", "mid:restore"), code=130)
    order = names(found)
    assert order.index("restore") < order.index("reconnect") < order.index("release")
    restores = [step for step in found["steps"] if step["name"] == "restore"]
    assert restores[-1]["outcome"] == "passed" and not found["quarantined"]
    assert found["verdict"] == "interrupted" and found["active_at_end"] == "2.0"


def test_a_signal_after_the_plan_ended_cuts_nothing_short_and_the_verdict_stands(rig_entry, tmp_path):
    """Ctrl-C while the rig proves its rollback at the end: the run is whole (result.json says passed, not
    interrupted), so the exit code is the verdict's, not 130 with 'INTERRUPTED ()' beside a whole result."""
    rig = rig_entry("orin-a", tags=["orin"])
    inventory = write_inventory(tmp_path / "rigs.yaml", rig)
    done = fleetlab("hil", str(scenario_with(tmp_path, ("sigint", "before:rollback"))), "--rigs", str(inventory),
                    "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SIGINT came after the plan had ended: nothing was cut short" in done.stderr
    assert "INTERRUPTED" not in done.stderr and "Traceback" not in done.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    [found] = result["rigs"]
    assert not result.get("interrupted") and found["verdict"] == "passed"
    assert next(step for step in found["steps"] if step["name"] == "rollback")["outcome"] == "passed"
    the_rig_is_back_and_free(rig)


def test_the_run_after_a_killed_one_takes_the_expired_lease_and_puts_the_current_engine_back_first(rig_entry, tmp_path):
    """A SIGKILL (an out-of-memory kill; a CI runner's cancel, which kills 10 s after its SIGINT) puts nothing back:
    the rig is left serving the untested candidate under a lease nobody renews. The next run waits the lease out,
    takes it over and switches back to the slot that still holds the current engine (no transfer, no build) before it
    measures anything, and leaves the rig on it. Once: the same, but the current model sent and built again, and
    the baseline silent about what it had found."""
    rig = rig_entry("orin-a", tags=["orin"], lease_ttl="12s")
    inventory = write_inventory(tmp_path / "rigs.yaml", rig)
    killed = fleetlab("hil", str(scenario_with(tmp_path, ("sigkill", "after:switch"))), "--rigs", str(inventory),
                      "--out", str(tmp_path / "killed"))
    store = Path(rig["store"])
    assert killed.returncode == -9
    assert (store / "active" / "version").read_text().strip() == "2.1" and (store / ".lease").exists()
    again = fleetlab("hil", str(scenario_with(tmp_path)), "--rigs", str(inventory), "--wait-for-rigs", "60",
                     "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stdout + again.stderr
    [found] = json.loads((tmp_path / "again" / "result.json").read_text())["rigs"]
    steps = {step["name"]: step for step in found["steps"]}
    assert "took over the expired lease" in steps["reserve"]["detail"]
    baseline = steps["baseline"]
    assert baseline["detail"].startswith("served 2.1, not the current 2.0"), baseline
    assert baseline["numbers"].get("restored") == 1 and "provisioned" not in baseline["numbers"]   # no re-transfer
    the_rig_is_back_and_free(rig)
