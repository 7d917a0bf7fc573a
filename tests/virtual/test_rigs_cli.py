"""`fleetlab rigs up`, a HIL run on what it started, `rigs status` and `rigs down`, as a user types them."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hil.inventory import load_inventory
from tests.conftest import ROOT
from tests.hil.conftest import quick_hil_text

# On the fault matrix's worker (one group): its leftovers check must never see this file's rigs mid-test.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("virtual-rigs")]


def fleetlab(*args: str):
    return subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600, env={**os.environ, "COLUMNS": "250"})


def test_up_hil_status_down_on_a_nano_profile(lab, tmp_path):
    inventory, key = tmp_path / "virtual.yaml", tmp_path / "key"
    started = fleetlab("rigs", "up", "2", "--profile", "nano", "--bandwidth", "20Mbit/s", "--inventory",
                       str(inventory), "--key", str(key))
    assert started.returncode == 0, started.stderr
    assert "links unshaped" not in started.stdout
    containers = [rig.container for rig in load_inventory(inventory).rigs]
    try:
        rigs = load_inventory(inventory).rigs
        assert len(rigs) == 2 and all(rig.host_key and rig.host == "127.0.0.1" for rig in rigs)
        status = fleetlab("rigs", "status")
        assert all(rig.name in status.stdout and "running" in status.stdout for rig in rigs)
        scenario = tmp_path / "hil.yaml"      # a Nano's memory is why a fleet kills its model before the build
        scenario.write_text(quick_hil_text().replace("rig_tags: [orin]", "rig_tags: [nano]").replace(
            "\nhil:\n", "\ndelivery: {update_strategy: kill_then_download}\n\nhil:\n"))
        result = tmp_path / "out"
        done = fleetlab("hil", str(scenario), "--rigs", str(inventory), "--out", str(result))
        assert done.returncode == 0, done.stdout + done.stderr
        report = (result / "result.json").read_text()
        assert '"l4t": "32.7.1"' in report and "NVIDIA Jetson Nano Developer Kit" in report
        # the container's camera service was stopped over SSH, and the activation measured the spell without it
        for rig in json.loads(report)["rigs"]:
            steps = {step["name"]: step for step in rig["steps"]}
            assert steps["kill"]["outcome"] == "passed" and steps["activate"]["numbers"]["no_model_s"] > 0
            # the RAM in use is the container's own (its cgroup), within the profile's 1 GiB limit, of a Nano's 3956 MB
            assert 0 < rig["telemetry"]["max_memory"] <= 2**30 and rig["telemetry"]["total_memory"] == 3956 * 2**20
        assert "no model" in done.stdout
    finally:
        removed = fleetlab("rigs", "down", "--inventory", str(inventory))
    assert removed.returncode == 0 and "removed 2 virtual rigs" in removed.stdout
    assert not any(row["container"] in [c[:12] for c in containers] for row in lab.status())


def _ours(lab) -> set[str]:
    return {row["container"] for row in lab.status()}


def test_up_refuses_an_inventory_it_could_not_write_before_starting_a_rig(lab, tmp_path):
    """The inventory was written after the containers started: a path under a file left two rigs running that no
    inventory named (and a traceback)."""
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    before = _ours(lab)
    done = fleetlab("rigs", "up", "2", "--inventory", str(blocked / "virtual.yaml"), "--key", str(tmp_path / "key"))
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert "not a folder" in done.stderr
    assert _ours(lab) == before


@pytest.mark.parametrize("option, says", [
    (("--store-size", "0"), "--store-size 0: a store of less than 1 MiB holds no model"),
    (("--store-size", "16mb"), "--store-size 16mb: '16mb': a lowercase b is a bit"),
    (("--bandwidth", "20Mb"), "--bandwidth 20Mb: unknown rate unit"),
])
def test_up_refuses_a_store_size_or_bandwidth_it_cannot_use_before_starting_a_rig(lab, tmp_path, option, says):
    """`--store-size 0` started rigs with no tmpfs at all; `16mb` went to Docker as written and failed only as the
    containers started."""
    before = _ours(lab)
    done = fleetlab("rigs", "up", "2", *option, "--inventory", str(tmp_path / "virtual.yaml"), "--key",
                    str(tmp_path / "key"))
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert _ours(lab) == before and not (tmp_path / "virtual.yaml").exists()


def test_down_refuses_an_empty_container_id_and_trust_a_port_out_of_range(lab, tmp_path):
    """`rigs down --container ""` printed Docker's client's 'NullResource: Resource ID was not provided';
    `rigs trust --port 0` tried to connect to port 0."""
    before = _ours(lab)
    empty = fleetlab("rigs", "down", "--container", "")
    assert empty.returncode == 2 and "--container: give a container id" in empty.stderr, empty.stderr
    assert _ours(lab) == before
    port = fleetlab("rigs", "trust", "127.0.0.1", "--port", "0", "--rigs", str(ROOT / "rigs" / "lab.example.yaml"))
    assert port.returncode == 2 and "--port" in port.stderr and "Connection refused" not in port.stderr


def test_the_faults_validate_knows_are_the_ones_virtual_rigs_inject(lab):
    from hil.faults import BUILTIN, VIRTUAL_ONLY

    assert set(lab.injectors({})) - set(BUILTIN) == set(VIRTUAL_ONLY)


def test_a_store_size_is_read_in_fleetlabs_units_or_dockers_shorthand():
    from fleetlab.hil_commands import _store_size

    assert _store_size("16MB") == 16_000_000 and _store_size("16MiB") == _store_size("16m") == 16 * 2**20
    assert _store_size("1g") == 2**30


def test_up_is_all_or_nothing_when_a_rig_does_not_come_up(lab, tmp_path, monkeypatch):
    """The second rig's sshd never answers: the first, already running, is removed again with it."""
    import hil.virtual as virtual

    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    waited: list[int] = []

    def second_never_answers(port: int, timeout: float = virtual.BOOT_TIMEOUT) -> None:
        waited.append(port)
        if len(waited) == 2:
            raise virtual.VirtualRigError(f"no sshd answered on 127.0.0.1:{port} within 0 s")

    monkeypatch.setattr(virtual, "_wait_for_sshd", second_never_answers)
    before = _ours(lab)
    with pytest.raises(virtual.VirtualRigError, match="no sshd answered"):
        lab.up(2, "nano", (tmp_path / "key.pub").read_text().strip())
    assert len(waited) == 2 and _ours(lab) == before


def test_a_rig_that_cannot_start_leaves_no_container_behind_and_a_taken_port_is_tried_again(lab, tmp_path,
                                                                                           monkeypatch):
    """Docker creates a container, then starts it: a start that fails (here its port is taken, as when another
    program binds the port between fleetlab choosing it and Docker publishing it) raised out of the SDK's `run` and
    left the created container, labelled, in no inventory. A port taken once is not a reason to fail: another is
    tried (the failure above is three ports taken in a row)."""
    import socket

    import hil.virtual as virtual

    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    before = _ours(lab)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(virtual, "_free_port", lambda: taken.getsockname()[1])
        with pytest.raises(virtual.VirtualRigError, match="did not come up.*address already in use"):
            lab.up(1, "nano", (tmp_path / "key.pub").read_text().strip())
        assert _ours(lab) == before
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        ports = iter([taken.getsockname()[1], free])
        monkeypatch.setattr(virtual, "_free_port", lambda: next(ports))
        [rig] = lab.up(1, "nano", (tmp_path / "key.pub").read_text().strip())
    try:
        assert rig.port == free and _ours(lab) - before == {rig.container[:12]}
    finally:
        lab.down([rig.container])
    assert _ours(lab) == before


def test_down_and_faults_leave_a_container_that_is_not_a_virtual_rig_alone_with_its_volume(lab, tmp_path):
    """An inventory is a file anyone can edit, and Docker finds a container by name or id prefix too: `rigs down`
    force-removed whatever its `container:` named, with its volumes (a database's, say), and a scenario's
    `power_cut` would have killed it."""
    from types import SimpleNamespace

    import docker

    from hil.errors import HilError
    from hil.virtual import VirtualRig, inventory_entry
    from tests.hil.conftest import write_inventory

    client = docker.from_env()
    volume = client.volumes.create()
    stranger = client.containers.run("fleetlab/debian-base:bookworm", ["sleep", "300"], detach=True,
                                     volumes={volume.name: {"bind": "/data", "mode": "rw"}})
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
        host_key = " ".join((tmp_path / "key.pub").read_text().split()[:2])
        for named_by in (stranger.id, stranger.name):
            entry = inventory_entry(VirtualRig("vrig-x", named_by, 2222, host_key, "orin-nx"), tmp_path / "key")
            inventory = write_inventory(tmp_path / "virtual.yaml", entry)
            done = fleetlab("rigs", "down", "--inventory", str(inventory))
            assert done.returncode == 2 and "Traceback" not in done.stderr, done.stdout + done.stderr
            assert "is not a fleetlab virtual rig" in done.stderr and "nothing removed" in done.stderr
            stranger.reload()                     # still there, and so is its volume
            client.volumes.get(volume.name)
        assert lab.down([stranger.id]) == []      # the library call leaves it alone too
        # nor does a scenario's fault touch it: the runner faults the container an inventory names
        power_cut = lab.injectors({"vrig-x": stranger.id})["power_cut"]
        with pytest.raises(HilError, match="is not a fleetlab virtual rig"):
            power_cut(SimpleNamespace(name="vrig-x"))
        stranger.reload()
        assert stranger.status == "running"
    finally:
        stranger.remove(force=True)
        volume.remove(force=True)


def test_unshaped_rigs_are_said_to_have_no_link_rate_when_they_come_up(lab, tmp_path):
    """Without --bandwidth the inventory has no link_rate, and `fleetlab fidelity` later finds no download to
    predict: `rigs up` says so at once."""
    inventory = tmp_path / "virtual.yaml"
    started = fleetlab("rigs", "up", "1", "--inventory", str(inventory), "--key", str(tmp_path / "key"))
    try:
        assert started.returncode == 0, started.stderr
        assert "links unshaped (no --bandwidth)" in " ".join(started.stdout.split())
        assert all(rig.link_rate is None for rig in load_inventory(inventory).rigs)
    finally:
        removed = fleetlab("rigs", "down", "--inventory", str(inventory))
    assert removed.returncode == 0 and "removed 1 virtual rig" in removed.stdout


def rigs_up_signalled(lab, tmp_path, number: int) -> tuple[subprocess.Popen, str, set[str]]:
    """`rigs up 2` sent signal `number` once its first container shows: (the process, its stderr, our containers
    before it started)."""
    before = _ours(lab)
    process = subprocess.Popen([sys.executable, "-m", "fleetlab.cli", "rigs", "up", "2", "--inventory",
                                str(tmp_path / "virtual.yaml"), "--key", str(tmp_path / "key")], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _ours(lab) - before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "rigs up ended before a container was seen: " + process.stderr.read()
        process.send_signal(number)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process, err, before


def remove_left(lab, before: set[str]) -> set[str]:
    """Our containers not there `before`, removed (not ours to leave behind either way); returns them."""
    left = _ours(lab) - before
    if left:
        lab.down([row["container"] for row in lab.status() if row["container"] in left])
    return left


def test_sigterm_while_rigs_come_up_removes_the_rigs_already_started(lab, tmp_path):
    """A CI job cancelled during `rigs up`: Python's default SIGTERM ended the process where it stood, and the
    containers it had started ran on with no inventory naming them."""
    process, err, before = rigs_up_signalled(lab, tmp_path, signal.SIGTERM)
    assert not remove_left(lab, before) and not (tmp_path / "virtual.yaml").exists(), err
    assert process.returncode == 143, err


def test_rigs_a_killed_rigs_up_left_are_listed_and_removed_by_container_id(lab, tmp_path):
    """SIGKILL during `rigs up` (an OOM kill; a CI cancel's last resort) cleans nothing: the containers started so
    far run on and no inventory names them. `rigs status` lists them and `rigs down --container ID` removes them
    (once `rigs down` took only an inventory, and only `docker rm` by hand was left)."""
    _, _, before = rigs_up_signalled(lab, tmp_path, signal.SIGKILL)
    try:
        left, settled = sorted(_ours(lab) - before), time.monotonic()
        while time.monotonic() - settled < 5:       # a create the engine was still carrying out lands too
            time.sleep(0.5)
            if (now := sorted(_ours(lab) - before)) != left:
                left, settled = now, time.monotonic()
        assert left and not (tmp_path / "virtual.yaml").exists()
        status = fleetlab("rigs", "status")
        assert all(container in status.stdout for container in left) and "--container ID" in status.stdout
        mistyped = fleetlab("rigs", "down", "--container", "0000000000ff")
        assert mistyped.returncode == 2 and "no such container: 0000000000ff" in mistyped.stderr
        removed = fleetlab("rigs", "down", *[part for container in left for part in ("--container", container)])
        assert removed.returncode == 0, removed.stderr
        assert f"removed {len(left)} virtual rig" in removed.stdout
    finally:
        leftovers = remove_left(lab, before)
    assert not leftovers
