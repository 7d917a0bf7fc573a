"""`delivery.update_strategy: hand_over` on rigs (hil/hand_over.py): the candidate's camera service starts beside
the one serving, which stops only once the new one serves, so a client asking the rig's service all along is never
turned away, where the default restart turns it away for the new engine's load; a candidate whose service does not
come up leaves the old one serving, untouched, and the rig is put back without a restart. Fast rigs: LocalShell and
the rig tools in temporary folders (tests/hil/local_rigs.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from hil.errors import HilError
from hil.hand_over import NOT_HANDED_OVER
from hil.rig_delivery import describe
from hil.runner import run_scenario
from hil.shell import LocalShell
from sim.model.lifecycle import DeviceState as S
from tests.hil.local_rigs import inventory_of, names, run, scenario

pytestmark = pytest.mark.timeout(300)
ALL_AT_ONCE = {"kind": "all_at_once"}


class Asker:
    """A client of the rig's camera service, asking for its health every 50 ms from the activation (before:activate)
    to the plan's end (before:rollback, or the run's end where no rollback comes): how often it was turned away (no
    socket, refused, reset, or not 200), and the service's pid at both ends."""

    def __init__(self, rig: dict) -> None:
        self.folder = Path(rig["store"]) / "service"
        self.asked = self.turned_away = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._ask_until_done, daemon=True)
        self.pids: list[str] = []

    def injectors(self) -> dict:
        return {"asker_on": lambda shell: self._begin(), "asker_off": lambda shell: self._end()}

    @staticmethod
    def faults() -> dict:
        return {"faults": [{"fault": "asker_on", "at_step": "before:activate"},
                           {"fault": "asker_off", "at_step": "before:rollback"}]}

    def _begin(self) -> None:
        self.pids.append((self.folder / "pid").read_text())
        self.thread.start()

    def _end(self) -> None:
        if self.done.is_set():
            return
        self.done.set()
        self.thread.join(timeout=30)
        self.pids.append((self.folder / "pid").read_text())

    def _ask_until_done(self) -> None:
        # by the folder's descriptor: a pytest tmp path can be longer than a Unix socket's 108 bytes
        folder = os.open(self.folder, os.O_RDONLY)
        try:
            while not self.done.wait(0.05):
                self.asked += 1
                self.turned_away += not self._answered(f"/proc/self/fd/{folder}/health.sock")
        finally:
            os.close(folder)

    @staticmethod
    def _answered(path: str) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(5.0)
                client.connect(path)
                client.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := client.recv(65536):
                    data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            return head.split()[1] == b"200" and json.loads(body)["healthy"]
        except (OSError, ValueError, IndexError):
            return False


def run_asked(rig: dict, plan_faults: dict | None = None, injectors: dict | None = None, **delivery):
    """The plan on one rig whose camera service runs from the start, as a camera's does, an Asker at it."""
    subprocess.run(rig["service"]["restart"], shell=True, capture_output=True, timeout=60, check=True)
    asker = Asker(rig)
    hil = {"faults": Asker.faults()["faults"] + (plan_faults or {}).get("faults", [])}
    result, _, _ = run(scenario(ALL_AT_ONCE, hil, **delivery), [rig], injectors={**asker.injectors(),
                                                                                **(injectors or {})})
    asker._end()
    return result, asker


def test_hand_over_never_turns_a_client_away_where_the_restart_does(local_rigs):
    rigs = local_rigs()
    handed, asker = run_asked(rigs[0], update_strategy="hand_over")
    [rig] = handed.rigs
    assert rig.state == S.COMMITTED and rig.verdict == "passed", rig.reason
    assert asker.asked > 10 and asker.turned_away == 0
    assert asker.pids[0] != asker.pids[1]            # a new service serves the candidate: the old one stopped
    activate = next(step for step in rig.steps if step.name == "activate")
    assert activate.outcome == "passed" and activate.numbers["memory_beside_bytes"] > 0
    assert "both models ran with" in activate.detail and "kill" not in names(rig)
    assert rig.no_model_seconds is None
    assert handed.rig_delivery == describe(scenario(ALL_AT_ONCE, update_strategy="hand_over"))
    assert "beside the one serving" in handed.rig_delivery[0]
    # the twin: the default update strategy restarts the one service, and the client meets the gap
    restarted, asker = run_asked(rigs[1])
    assert restarted.rigs[0].state == S.COMMITTED and asker.turned_away > 0
    activated = next(step for step in restarted.rigs[0].steps if step.name == "activate")
    assert "memory_beside_bytes" not in activated.numbers


def test_a_candidate_that_does_not_come_up_beside_leaves_the_old_service_serving_untouched(local_rigs):
    rig = local_rigs()[0]

    def break_the_candidate(shell) -> None:       # after the switch: the candidate's engine no longer loads
        (Path(rig["store"]) / "active" / "model.engine").write_bytes(b"not an engine")

    plan_faults = {"faults": [{"fault": "break", "at_step": "after:switch"}]}
    result, asker = run_asked(rig, plan_faults, {"break": break_the_candidate}, update_strategy="hand_over")
    [done] = result.rigs
    assert done.state == S.ROLLED_BACK and done.verdict == "failed"
    assert done.reason.startswith(NOT_HANDED_OVER) and "engine does not load" in done.reason
    restore = next(step for step in done.steps if step.name == "restore")
    assert restore.outcome == "passed" and "recorded outputs reproduced" in restore.detail
    # the old service was never stopped or restarted: the same process served throughout, and every question got
    # an answer (the asker runs to the end of the plan, after the restore)
    assert asker.pids == [asker.pids[0]] * 2 and asker.asked > 5 and asker.turned_away == 0
    assert done.active_at_end == "1" and not done.quarantined


def test_a_new_service_killed_as_it_starts_ends_the_hand_over_at_once_with_the_old_one_serving(local_rigs):
    """What the kernel's OOM killer does to the newcomer on a board that cannot hold both (the virtual rigs start it
    with the highest oom_score_adj): here a thread of the test kills it, by the pid it recorded."""
    rig = local_rigs()[0]
    newcomer = Path(rig["store"]) / "service" / "pid.next"
    killed: list[int] = []

    def kill_the_newcomer() -> None:
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            try:
                pid = int(newcomer.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except (OSError, ValueError):
                time.sleep(0.01)

    watcher = threading.Thread(target=kill_the_newcomer, daemon=True)
    plan_faults = {"faults": [{"fault": "oom", "at_step": "after:switch"}]}
    result, asker = run_asked(rig, plan_faults, {"oom": lambda shell: watcher.start()}, update_strategy="hand_over")
    watcher.join(timeout=60)
    [done] = result.rigs
    assert killed and done.state == S.ROLLED_BACK
    assert "died before it served" in done.reason and "the old one still serves" in done.reason, done.reason
    assert asker.pids == [asker.pids[0]] * 2 and asker.turned_away == 0
    assert not newcomer.exists() and done.active_at_end == "1"


def test_the_service_tool_says_it_served_after_every_restart_and_hand_over_in_a_row(local_rigs):
    """The tool's own exit status and what it leaves: one service, its pid file naming it, no newcomer's files. (A
    stopped service's pid file left in place once made a restart right after another report failure now and then,
    when its wait read the file before the new daemon wrote its own: a race this test meets only sometimes.)"""
    rig = local_rigs()[0]
    folder = Path(rig["store"]) / "service"
    for command in ("restart", "restart", "hand_over", "restart", "hand_over", "hand_over"):
        done = subprocess.run(rig["service"][command], shell=True, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        served = json.loads(done.stdout.strip().splitlines()[-1])
        assert served["healthy"] and Path(f"/proc/{int((folder / 'pid').read_text())}").exists()
        assert not (folder / "pid.next").exists() and not (folder / "health.next.sock").exists()


def test_hand_over_needs_the_hand_over_command_of_every_rig(local_rigs):
    rigs = local_rigs()
    del rigs[2]["service"]["hand_over"]
    with pytest.raises(HilError, match=r"hand_over .* no service.hand_over for r2: add the command"):
        run_scenario(scenario(ALL_AT_ONCE, update_strategy="hand_over"), inventory_of(*rigs), Path("."),
                     lambda rig: LocalShell())
