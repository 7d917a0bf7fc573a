"""The SSH seam against a real sshd: pinned host keys, quoting, big outputs, timeouts, jump hosts, no secrets."""

import json
import logging
import time
import tracemalloc
from pathlib import Path

import pytest

from hil.errors import CommandTimeout, HostKeyChanged, HostKeyUnknown
from hil.runner import run_scenario
from hil.shell import command
from hil.ssh import SshShell, fetch_host_key, fingerprint
from tests.hil.conftest import hil_scenario
from tests.hil.local_rigs import inventory_of
from tests.hil.sshd import keygen


def shell_for(entry: dict) -> SshShell:
    return SshShell(inventory_of(entry).rigs[0])


def test_the_pinned_key_is_the_one_the_server_offers(sshd):
    assert fetch_host_key("127.0.0.1", sshd.port) == sshd.host_key
    assert fingerprint(sshd.host_key).startswith("SHA256:")


def test_a_rig_without_a_pinned_key_is_refused_before_any_credential(rig_entry):
    entry = rig_entry("rig-a")
    del entry["host_key"]
    with pytest.raises(HostKeyUnknown, match="no pinned host key .* `fleetlab rigs trust 127.0.0.1"):
        shell_for(entry).run("true", timeout=10)


def test_a_changed_host_key_is_refused(rig_entry, sshd, tmp_path):
    other = keygen(tmp_path / "impostor")
    with pytest.raises(HostKeyChanged) as refused:
        shell_for(rig_entry("rig-a", host_key=other)).run("true", timeout=10)
    message = str(refused.value)
    assert f"offered host key {fingerprint(sshd.host_key)}" in message
    assert f"but {fingerprint(other)} is pinned" in message


def test_a_refused_rig_is_an_error_result_and_nothing_ran(rig_entry):
    entry = rig_entry("rig-a")
    del entry["host_key"]
    [found] = run_scenario(hil_scenario(), inventory_of(entry), Path("."), SshShell).rigs
    assert found.verdict == "error" and "no pinned host key" in found.reason
    assert not (Path(entry["store"]) / "slots").exists()


def test_arguments_with_spaces_quotes_and_semicolons_are_data(rig_entry, tmp_path):
    shell = shell_for(rig_entry("rig-a"))
    canary = tmp_path / "pwned"
    nasty = f"a b; touch {canary}; 'q' \"d\" $(touch {canary}) `touch {canary}`"
    done = shell.run(command("printf", "%s", nasty), timeout=10)
    assert done.ok and done.stdout == nasty and not canary.exists()
    shell.close()


def test_a_store_whose_path_has_spaces_quotes_and_semicolons_runs_the_full_sequence(rig_entry, tmp_path):
    entry = rig_entry("rig-a")
    odd = tmp_path / "rig-a" / "model store; 'q' \"x\" $(id)"
    entry["store"] = str(odd)
    entry["service"]["restart"] = entry["service"]["restart"].rsplit(" --store ", 1)[0] + " --store " + \
        command("", str(odd)).strip()
    entry["service"]["health"] = entry["service"]["health"].rsplit(" --store ", 1)[0] + " --store " + \
        command("", str(odd)).strip()
    [found] = run_scenario(hil_scenario(), inventory_of(entry), Path("."), SshShell).rigs
    assert found.verdict == "passed", found.reason
    assert (odd / "slots" / "a" / "model.engine").exists()


def test_large_stdout_and_stderr_together_do_not_deadlock(rig_entry):
    shell = shell_for(rig_entry("rig-a"))
    script = ("import sys\nfor i in range(40000):\n"
              "    sys.stdout.write('o' * 99 + '\\n'); sys.stderr.write('e' * 99 + '\\n')")
    done = shell.run(command("python3", "-c", script), timeout=60)
    assert done.ok and len(done.stdout) == len(done.stderr) == 40000 * 100
    shell.close()


def test_a_command_past_its_timeout_raises_and_the_next_command_still_works(rig_entry):
    shell = shell_for(rig_entry("rig-a"))
    with pytest.raises(CommandTimeout):
        shell.run("sleep 30", timeout=1)
    assert shell.run("echo still here", timeout=10).stdout == "still here\n"
    shell.close()


def test_a_command_a_signal_ended_says_which_signal(rig_entry):
    """What the kernel's OOM killer leaves of a build over SSH: exit 137, read as the SIGKILL it is."""
    shell = shell_for(rig_entry("rig-a"))
    killed, failed = shell.run("sh -c 'kill -KILL $$'", timeout=10), shell.run("exit 3", timeout=10)
    shell.close()
    assert killed.exit_words == "killed by SIGKILL (exit 137)" and failed.exit_words == "exit 3"


def test_commands_go_out_without_waiting_on_nagle(rig_entry, sshd):
    """paramiko's socket kept Nagle's algorithm on: every command waited ~40 ms for a delayed ACK (a 6 ms sha256sum
    took 50 ms), inflating short steps and the calibrated fixed costs. Direct and jump-host links both turn it off."""
    import socket

    def nodelay(client) -> int:
        return client.get_transport().sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    shell = shell_for(rig_entry("rig-a"))
    assert shell.run("true", timeout=10).exit_status == 0 and nodelay(shell._client) != 0
    shell.close()
    jumped = shell_for(rig_entry("rig-a", jump={"host": "127.0.0.1", "port": sshd.port, "user": sshd.user,
                                                "host_key": sshd.host_key}))
    assert jumped.run("true", timeout=10).exit_status == 0 and nodelay(jumped._jump) != 0
    jumped.close()


def test_a_rig_behind_a_jump_host(rig_entry, sshd):
    entry = rig_entry("rig-a", jump={"host": "127.0.0.1", "port": sshd.port, "user": sshd.user,
                                     "host_key": sshd.host_key})
    shell = shell_for(entry)
    assert shell.run("echo via jump", timeout=10).stdout == "via jump\n"
    assert shell._jump is not None
    shell.close()


def test_no_key_material_reaches_logs_or_results(rig_entry, sshd, caplog):
    caplog.set_level(logging.DEBUG)
    entry = rig_entry("rig-a")
    result = run_scenario(hil_scenario(), inventory_of(entry), Path("."), SshShell)
    private = sshd.user_key.read_text()
    secret_lines = [line for line in private.splitlines() if line and not line.startswith("-----")]
    public_body = sshd.user_key.with_suffix(".pub").read_text().split()[1]
    written = result.model_dump_json() + "\n".join(record.getMessage() for record in caplog.records)
    assert result.rigs[0].verdict == "passed"
    assert not any(line in written for line in secret_lines)
    assert public_body not in written
    assert json.loads(result.model_dump_json())["rigs"][0]["rig"] == "rig-a"


def test_a_key_env_that_is_not_set_is_a_clear_error_result(rig_entry, monkeypatch):
    entry = rig_entry("rig-a")
    del entry["key_file"]
    entry["key_env"] = "FLEETLAB_TEST_KEY_THAT_IS_NOT_SET"
    monkeypatch.delenv("FLEETLAB_TEST_KEY_THAT_IS_NOT_SET", raising=False)
    [found] = run_scenario(hil_scenario(), inventory_of(entry), Path("."), SshShell).rigs
    assert found.verdict == "error" and "FLEETLAB_TEST_KEY_THAT_IS_NOT_SET is not set" in found.reason


def test_a_key_given_as_text_in_the_environment_works(rig_entry, sshd, monkeypatch):
    entry = rig_entry("rig-a")
    del entry["key_file"]
    entry["key_env"] = "FLEETLAB_TEST_RIG_KEY"
    monkeypatch.setenv("FLEETLAB_TEST_RIG_KEY", sshd.user_key.read_text())
    shell = shell_for(entry)
    assert shell.run("echo keyed", timeout=10).stdout == "keyed\n"
    shell.close()


def _processes_running(marker: str) -> list[int]:
    """Pids on this machine (the test rig's host) whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker in cmdline and state != "Z" and "pytest" not in cmdline:
                found.append(int(entry.name))
    return found


def test_a_command_that_hangs_is_killed_with_everything_it_started(rig_entry):
    shell = shell_for(rig_entry("rig-a"))
    with pytest.raises(CommandTimeout):
        shell.run("sleep 3131 & sleep 3132 | cat; wait", timeout=1)
    deadline = time.monotonic() + 10
    while _processes_running("sleep 313") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_running("sleep 313") == []
    assert shell.run("echo still here", timeout=10).stdout == "still here\n"
    shell.close()


def test_fifty_megabytes_of_output_stay_under_a_fixed_memory_ceiling(rig_entry):
    shell = shell_for(rig_entry("rig-a"))
    script = "import sys\nfor i in range(500):\n    sys.stdout.write('x' * 99_999 + '\\n')"
    tracemalloc.start()
    try:
        done = shell.run(command("python3", "-c", script), timeout=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done.ok and peak < 24 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert "bytes of output dropped" in done.stdout and len(done.stdout) < 6 * 2**20
    assert done.stdout.endswith("x" * 99_999 + "\n")     # the tail is kept: what a failure message shows
    shell.close()
