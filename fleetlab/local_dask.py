"""A real Dask cluster on loopback — a `dask scheduler` and N `dask worker` processes — for tests and benchmarks.

Each process starts in its own session and is stopped by its process group id (the worker's nanny has a child),
never by name. Everything listens on 127.0.0.1 only, dashboards off.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT = 60.0


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", *args], stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    try:   # the nanny's worker child may outlive its parent for a moment
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_for(condition, what: str, processes: list[subprocess.Popen], folder: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        if any(process.poll() is not None for process in processes):
            logs = "\n".join(log.read_text(errors="replace")[-2000:] for log in folder.glob("*.log"))
            raise RuntimeError(f"a Dask process exited while waiting for {what}:\n{logs}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Dask did not come up: still waiting for {what} after {START_TIMEOUT:.0f} s")
        time.sleep(0.2)


@contextmanager
def local_cluster(workers: int = 2, threads_per_worker: int = 1) -> Iterator[str]:
    """Yield the scheduler address (tcp://127.0.0.1:PORT) once `workers` workers have registered."""
    with tempfile.TemporaryDirectory(prefix="fleetlab-dask-") as temp:
        folder = Path(temp)
        scheduler_file = folder / "scheduler.json"
        processes = [_spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                             "--no-dashboard", "--scheduler-file", str(scheduler_file)], folder / "scheduler.log")]
        try:
            _wait_for(scheduler_file.exists, "the scheduler file", processes, folder)
            for number in range(workers):
                processes.append(_spawn(
                    ["distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
                     "--nthreads", str(threads_per_worker), "--no-dashboard", "--local-directory", str(folder),
                     "--name", f"worker-{number}"], folder / f"worker-{number}.log"))
            address = json.loads(scheduler_file.read_text())["address"]
            registered = lambda: _count_workers(folder) >= workers   # noqa: E731
            _wait_for(registered, f"{workers} workers to register", processes, folder)
            yield address
        finally:
            for process in reversed(processes):
                _stop(process)


def _count_workers(folder: Path) -> int:
    """Registered workers, read from the scheduler's log (no client needed, so this module imports no Dask)."""
    text = (folder / "scheduler.log").read_text(errors="replace")
    return text.count("Register worker") - text.count("Remove worker")
