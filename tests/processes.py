"""Processes a test started, found through /proc: a command's children and grandchildren (a local pool's
forkserver, its workers), and whether one still runs, so a test can check it left none behind."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pool_family(started: subprocess.Popen, workers: int = 2, timeout: float = 120) -> set[int]:
    """The command's children and the pool workers under them, once `workers` of those run (empty on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        family = children(started.pid)
        grandchildren = {worker for child in family for worker in children(child)}
        if len(grandchildren) >= workers:
            return family | grandchildren
        time.sleep(0.2)
    return set()


def left_alive(family: set[int], within: float) -> list[int]:
    """The processes of `family` still running after up to `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(alive(pid) for pid in family):
        time.sleep(0.5)
    return [pid for pid in family if alive(pid)]


def kill_all(family: set[int], started: subprocess.Popen) -> None:
    """By pid, whatever a test saw: the family first, then the command."""
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if started.poll() is None:
        started.kill()
        started.communicate()


def catches(pid: int, signal_number: int, timeout: float = 120) -> bool:
    """Wait until the process has a handler for the signal (its SigCgt mask in /proc): a signal sent before then
    meets the default action, which tests nothing of the command's own handling."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = (Path("/proc") / str(pid) / "status").read_text()
        except OSError:
            return False
        caught = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
        if caught & (1 << (signal_number - 1)):
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def stopped_mid_run(args: list[str], signal_number: int, cwd: Path,
                    timeout: float) -> Iterator[tuple[subprocess.CompletedProcess, set[int]]]:
    """`fleetlab ARGS` (on a local pool of two) sent one signal once its pool's runs are under way: what it printed
    and exited with, and its family of processes to check for leftovers; every one of them killed afterwards."""
    started = subprocess.Popen([sys.executable, "-m", "fleetlab.cli", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=cwd)
    family: set[int] = set()
    try:
        family = pool_family(started)
        assert len(family) >= 4, f"the pool never started: {family}"
        time.sleep(1.0)                         # the runs are submitted and under way
        os.kill(started.pid, signal_number)
        stdout, stderr = started.communicate(timeout=timeout)
        yield subprocess.CompletedProcess(args, started.returncode, stdout, stderr), family
    finally:
        kill_all(family, started)
