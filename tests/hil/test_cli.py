"""`fleetlab hil`, `fleetlab rigs trust` and `fleetlab models` as a user runs them, against the real sshd."""

import json
import os
import subprocess
import sys

import pytest

from hil.inventory import load_inventory
from hil.ssh import fingerprint
from sim.model.errors import ScenarioError
from tests.conftest import ROOT
from tests.hil.conftest import quick_hil_text, write_inventory

SCENARIO = ROOT / "scenarios" / "hil-orin-candidate.yaml"


def fleetlab(*args: str):
    wide = {**os.environ, "COLUMNS": "250"}     # one table row per rig, so the assertions can read it
    return subprocess.run([sys.executable, "-m", "fleetlab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600, env=wide)


@pytest.fixture
def quick_scenario(tmp_path):
    """The library's HIL scenario with fewer timed iterations and no soak, for test speed."""
    text = quick_hil_text(60)
    path = tmp_path / "hil.yaml"
    path.write_text(text)
    return path


def test_hil_on_two_rigs_passes_writes_result_json_and_exits_0(rig_entry, quick_scenario, tmp_path):
    inventory = write_inventory(tmp_path / "rigs.yaml", rig_entry("orin-a", tags=["orin"]),
                                rig_entry("orin-b", tags=["orin"]))
    done = fleetlab("hil", str(quick_scenario), "--rigs", str(inventory), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "orin-a" in done.stdout and "overhead:ok" in done.stdout and "PASS" in done.stdout
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["source"] == "hil" and sorted(rig["wave"] for rig in result["rigs"]) == [0, 1]


@pytest.mark.parametrize("command", ["hil", "calibrate", "fidelity"])
def test_a_misspelt_rig_name_is_named_as_missing_not_as_lacking_tags(command, rig_entry, quick_scenario, tmp_path):
    """--rig orin-z once said 'no rig named 'orin-z' carries the tags ['orin']', as if the rig existed."""
    inventory = write_inventory(tmp_path / "rigs.yaml", rig_entry("orin-a", tags=["orin"]),
                                rig_entry("xavier-a", tags=["xavier"]))
    done = fleetlab(command, str(quick_scenario), "--rigs", str(inventory), "--rig", "orin-z")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--rig orin-z: the inventory has no such rig (it has orin-a, xavier-a)" in done.stderr
    wrong_tags = fleetlab(command, str(quick_scenario), "--rigs", str(inventory), "--rig", "xavier-a")
    assert wrong_tags.returncode == 2 and "no rig named 'xavier-a' carries the tags ['orin']" in wrong_tags.stderr


def test_hil_with_the_defective_candidate_is_a_no_go_naming_the_angle(rig_entry, quick_scenario, tmp_path):
    quick_scenario.write_text(quick_scenario.read_text().replace("candidate_model: builtin:candidate",
                                                                 "candidate_model: builtin:candidate-defective"))
    inventory = write_inventory(tmp_path / "rigs.yaml", rig_entry("orin-a", tags=["orin"]),
                                rig_entry("orin-b", tags=["orin"]))
    done = fleetlab("hil", str(quick_scenario), "--rigs", str(inventory))
    assert done.returncode == 1
    assert "overhead:FAIL sideline:ok goal:ok" in done.stdout
    assert "not released: rollout halted" in done.stdout
    assert "parity fails on overhead (passes on sideline, goal)" in done.stderr


def test_a_bad_inventory_exits_2_with_positioned_problems(tmp_path):
    broken = tmp_path / "rigs.yaml"
    broken.write_text("rigs:\n  - name: x\n    host: h\n    user: u\n    key_file: k\n    hardware: nano\n"
                      "    service: {restart: r, helth: h}\n")
    done = fleetlab("hil", str(SCENARIO), "--rigs", str(broken))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{broken}:7:27: rigs.0.service.helth: unknown key 'helth'; did you mean 'health'?" in done.stderr


def test_trust_shows_the_fingerprint_refuses_a_wrong_one_and_records_a_checked_one(rig_entry, sshd, tmp_path):
    entry = rig_entry("orin-a")
    del entry["host_key"]
    inventory = write_inventory(tmp_path / "rigs.yaml", entry)
    inventory.write_text("# our rack\n" + inventory.read_text())
    port, offered = str(sshd.port), fingerprint(sshd.host_key)
    shown = fleetlab("rigs", "trust", "127.0.0.1", "--port", port, "--rigs", str(inventory))
    assert shown.returncode == 1 and offered in shown.stdout and "host_key" not in inventory.read_text()
    wrong = fleetlab("rigs", "trust", "127.0.0.1", "--port", port, "--rigs", str(inventory),
                     "--fingerprint", "SHA256:not-it")
    assert wrong.returncode == 1 and "not recorded" in wrong.stderr and "host_key" not in inventory.read_text()
    right = fleetlab("rigs", "trust", "127.0.0.1", "--port", port, "--rigs", str(inventory), "--fingerprint", offered)
    assert right.returncode == 0, right.stderr
    assert load_inventory(inventory).rigs[0].host_key == sshd.host_key
    assert inventory.read_text().startswith("# our rack\n")


@pytest.mark.parametrize("text, said", [
    (None, "cannot read the file"), ("- orin-a\n", "1:1: (top): the file must be a mapping"),
    ("rigs:\n  - name: a\n    host: 127.0.0.1\n    port: abc\n", "4:5: rigs.0.port: expected a whole number"),
    ("rigs: [\n", "2:1: (top): YAML:")])
def test_trust_checks_the_rigs_file_before_it_edits_it(sshd, tmp_path, text, said):
    """Once a traceback each (FileNotFoundError, AttributeError, ValueError, ParserError), after the key was fetched."""
    inventory = tmp_path / "rigs.yaml"
    if text is not None:
        inventory.write_text(text)
    done = fleetlab("rigs", "trust", "127.0.0.1", "--port", str(sshd.port), "--rigs", str(inventory),
                    "--fingerprint", fingerprint(sshd.host_key))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert said in done.stderr and str(inventory) in done.stderr
    assert (inventory.read_text() if text is not None else None) == text


def test_trust_edits_the_file_a_link_names_and_a_failed_write_leaves_it_as_it_was(rig_entry, sshd, tmp_path):
    entry = rig_entry("orin-a")
    del entry["host_key"]
    real = write_inventory(tmp_path / "lab-rigs.yaml", entry)
    before = real.read_text()
    link = tmp_path / "rigs.yaml"
    link.symlink_to(real.name)
    blocked = tmp_path / "lab-rigs.yaml.partial"
    blocked.mkdir()                 # the whole-file write cannot start
    args = ["rigs", "trust", "127.0.0.1", "--port", str(sshd.port), "--rigs", str(link), "--fingerprint",
            fingerprint(sshd.host_key)]
    failed = fleetlab(*args)
    assert failed.returncode == 2 and "could not record the key (the file is as it was)" in failed.stderr
    assert "Traceback" not in failed.stderr and real.read_text() == before and blocked.is_dir()
    blocked.rmdir()
    done = fleetlab(*args)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and load_inventory(real).rigs[0].host_key == sshd.host_key
    assert not blocked.exists()


def test_the_example_lab_inventory_is_valid():
    inventory = load_inventory(ROOT / "rigs" / "lab.example.yaml")
    assert [rig.name for rig in inventory.select(["orin"])] == ["orin-nx-01", "orin-nx-02"]
    assert inventory.rigs[2].jump.host == "bastion.lab.example"


def test_inventory_problems_are_all_reported_with_their_place(tmp_path):
    broken = tmp_path / "rigs.yaml"
    broken.write_text("rigs:\n  - name: 'bad name'\n    host: h\n    user: u\n    key_file: k\n    hardware: n\n"
                      "    host_key: 'ssh-ed25519 !!'\n    service: {restart: r, health: h, health_timeout: 5}\n")
    with pytest.raises(ScenarioError) as error:
        load_inventory(broken)
    paths = [problem.path for problem in error.value.problems]
    assert paths == ["rigs.0.name", "rigs.0.host_key", "rigs.0.service.health_timeout"]
    assert all(problem.line > 0 for problem in error.value.problems)


def test_rig_timings_that_cannot_work_are_refused_where_written(tmp_path):
    """A lease under a second became 0 s (it expired as it was taken, and its renewals ran without pause); a health
    timeout shorter than its passes a second apart failed every healthy service, so every rollout rolled back."""
    broken = tmp_path / "rigs.yaml"
    broken.write_text("rigs:\n  - name: a\n    host: h\n    user: u\n    key_file: k\n    hardware: nano\n"
                      "    lease_ttl: 0.5s\n"
                      "    service: {restart: r, health: h, health_timeout: 1s, health_passes: 3}\n")
    with pytest.raises(ScenarioError) as error:
        load_inventory(broken)
    found = {problem.path: (problem.line, problem.message) for problem in error.value.problems}
    assert found["rigs.0.lease_ttl"][0] == 7 and "at least 5s" in found["rigs.0.lease_ttl"][1]
    assert found["rigs.0.service"][0] == 8 and "give at least 2s" in found["rigs.0.service"][1]
    ok = broken.read_text().replace("0.5s", "5s").replace("health_timeout: 1s", "health_timeout: 2s")
    broken.write_text(ok)
    assert load_inventory(broken).rigs[0].lease_ttl == 5.0


def test_an_empty_command_host_or_user_is_refused_where_written(tmp_path):
    """`health: ""` ran nothing on the rig and exited 0: every activation passed its health check, whatever the
    service did; an empty restart never restarted it."""
    broken = tmp_path / "rigs.yaml"
    broken.write_text("rigs:\n  - name: a\n    host: ' '\n    user: u\n    key_file: k\n    hardware: nano\n"
                      "    service: {restart: '', health: ''}\n    tools: {trtexec: ''}\n")
    with pytest.raises(ScenarioError) as error:
        load_inventory(broken)
    found = {problem.path: (problem.line, problem.message) for problem in error.value.problems}
    assert sorted(found) == ["rigs.0.host", "rigs.0.service.health", "rigs.0.service.restart", "rigs.0.tools.trtexec"]
    assert found["rigs.0.service.health"][0] == 7
    assert "an empty command runs nothing and succeeds every time" in found["rigs.0.service.health"][1]
    assert "must not be empty" in found["rigs.0.host"][1]


@pytest.mark.parametrize("line, key, says", [
    ("host: 10.20.0.11:2222", "rigs.0.host", "'10.20.0.11:2222': write `host: 10.20.0.11` and the port as `port: 2222"),
    ("host: fleetlab@10.20.0.11", "rigs.0.host", "write `host: 10.20.0.11` and the user as `user: fleetlab`"),
    ("host: orin nx", "rigs.0.host", "a host name or address has no spaces"),
    ("store: ~/models", "rigs.0.store", "expected an absolute path on the rig, such as /opt/fleetlab/models"),
    ("store: models", "rigs.0.store", "expected an absolute path on the rig"),
    ("key_env: $RIG_KEY", "rigs.0.key_env", "expected the name of an environment variable, such as FLEETLAB_RIG_KEY"),
    ("name: orin nx 01", "rigs.0.name", "a rig's name is letters, digits, '.', '_' and '-'"),
])
def test_what_would_fail_only_at_the_first_connection_is_refused_where_written(tmp_path, line, key, says):
    """Each was taken, and failed later: a host with its port or user as a name that does not resolve, `~/models`
    as a folder named ~ (every command quotes the store), `$RIG_KEY` as a variable that is never set."""
    rig = {"name": "a", "host": "h", "user": "u", "key_file": "k", "hardware": "nano", "store": "/opt/models"}
    field, value = line.split(": ", 1)
    rig[field] = value
    if field == "key_env":
        del rig["key_file"]
    (tmp_path / "rigs.yaml").write_text("rigs:\n  - " + "\n    ".join(f"{name}: {text}" for name, text in rig.items())
                                        + "\n    service: {restart: r, health: h}\n")
    with pytest.raises(ScenarioError) as error:
        load_inventory(tmp_path / "rigs.yaml")
    [problem] = error.value.problems
    assert problem.path == key and says in problem.message and problem.line == 2 + list(rig).index(field)


def test_models_writes_the_family(tmp_path):
    done = fleetlab("models", "--out", str(tmp_path / "models"))
    assert done.returncode == 0
    names = sorted(path.name for path in (tmp_path / "models").glob("*.onnx"))
    assert names == ["broken.onnx", "candidate-defective.onnx", "candidate-wrong-head.onnx", "candidate.onnx",
                     "current.onnx"]
    assert sorted(path.name for path in (tmp_path / "models" / "frames").iterdir()) == \
        ["goal.npy", "overhead.npy", "sideline.npy"]


def test_a_virtual_rig_profile_is_a_name_not_a_path():
    from hil.virtual import VirtualRigError, profile

    assert profile("nano")["memory"]
    with pytest.raises(VirtualRigError, match="unknown profile '../profiles/nano'; known: agx-orin, nano"):
        profile("../profiles/nano")


def test_rigs_up_refuses_a_count_no_machine_could_hold():
    done = fleetlab("rigs", "up", "400")
    assert done.returncode == 2 and "less than or equal to 64" in done.stderr
