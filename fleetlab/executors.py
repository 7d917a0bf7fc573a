"""Where a sweep's runs execute: `serial`, `local[:N]` (a process pool) or `dask://HOST:PORT` (a Dask cluster).

The only module that imports Dask (`distributed`), and only when a dask:// address is given: it is an optional
extra (`pip install fleetlab[distributed]`).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fleetlab.errors import ExecutorError
from sim.sweep import SerialExecutor

DASK_CONNECT_TIMEOUT = "10s"
NO_WORKERS_GRACE = 60.0     # seconds a cluster may have no worker (one restarting, one on its way) before a sweep stops


@dataclass(frozen=True)
class ExecutorInfo:
    description: str     # for the terminal: "local pool of 2 processes", "dask at tcp://127.0.0.1:8786 (2 workers)"
    workers: int


def _local_workers(spec: str) -> int:
    _, _, count = spec.partition(":")
    if not count:
        return len(os.sched_getaffinity(0))
    if not count.isdigit() or int(count) < 1:
        raise ExecutorError(f"--executor {spec}: expected local or local:N with N ≥ 1")
    return int(count)


PARENT_CHECK_SECONDS = 1.0


def _end_with(parent: int) -> None:
    """Run in each pool worker as it starts: end the worker once the process that opened the pool is gone.

    A fleetlab killed with SIGKILL (a CI job's timeout) cannot stop its pool, and the workers would wait on their
    task queue forever — each holds that queue's write end itself, so no end-of-file ever comes — and keep the
    forkserver and the resource tracker alive with them: four idle processes left per killed run."""

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_SECONDS)
            try:
                os.kill(parent, 0)
            except (ProcessLookupError, PermissionError):   # gone (or its number reused by somebody else's)
                os._exit(1)

    threading.Thread(target=watch, name="fleetlab-pool-parent", daemon=True).start()


def abandon(executor: Executor) -> None:
    """Drop the runs an executor holds, without waiting for them: a stopped suite's simulations in flight. A local
    pool's workers are ended (it cannot be used again); a Dask cluster's tasks were cancelled by the sweep."""
    if isinstance(executor, ProcessPoolExecutor):
        _stop_now(executor)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End the pool's workers where they stand and drop its queued runs. A pool's own shutdown lets every run it
    holds finish first (up to 32 for a sweep's window, each minutes long on a large fleet): a Ctrl-C on a sweep
    of bench-100k waited minutes in silence. A terminated worker breaks the pool, whose shutdown then returns at
    once; the runs were only data for a sweep that is being abandoned."""
    for worker in list((pool._processes or {}).values()):   # private: the pool offers no other way to them
        if worker.is_alive():
            worker.terminate()
    pool.shutdown(wait=True, cancel_futures=True)     # returns once the pool has seen its workers end


@contextmanager
def open_executor(spec: str) -> Iterator[tuple[Executor, ExecutorInfo]]:
    """Start (and afterwards stop) the executor a --executor value names."""
    if spec == "serial":
        yield SerialExecutor(), ExecutorInfo("serial, in this process", 1)
    elif spec == "local" or spec.startswith("local:"):
        workers = _local_workers(spec)
        # forkserver: workers fork from a clean server process, not from this one with its progress-bar thread
        context = multiprocessing.get_context("forkserver")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_end_with,
                                   initargs=(os.getpid(),))
        try:
            yield pool, ExecutorInfo(f"local pool of {workers} processes", workers)
        except BaseException:
            _stop_now(pool)     # Ctrl-C, SIGTERM, an error: no run that is running or queued is waited for
            raise
        pool.shutdown(wait=True)
    elif spec.startswith(("dask://", "tcp://")):
        with _dask_executor(spec) as pair:
            yield pair
    else:
        raise ExecutorError(f"--executor {spec}: expected serial, local, local:N or dask://HOST:PORT")


def _scheduler_address(spec: str) -> str:
    """dask://HOST:PORT (or tcp://) as Dask's tcp:// address; anything else is refused here, before Dask parses it
    (an empty host was a ValueError traceback, after 20 s of Dask trying to close a client that never opened)."""
    rest = spec.split("://", 1)[1]
    try:
        parts = urlsplit("tcp://" + rest)
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.path or parts.query or parts.fragment:
        raise ExecutorError(f"--executor {spec}: expected dask://HOST:PORT, e.g. dask://127.0.0.1:8786")
    return f"tcp://{rest}"


@contextmanager
def _dask_executor(spec: str) -> Iterator[tuple[Executor, ExecutorInfo]]:
    try:
        from distributed import Client
    except ImportError:
        raise ExecutorError("--executor dask://…: Dask is not installed (pip install 'fleetlab[distributed]')") \
            from None
    address = _scheduler_address(spec)
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ExecutorError(f"--executor {spec}: cannot reach the Dask scheduler: {error}") from None
    try:
        workers = _workers(client) or 0
        yield _WatchedDask(client, address), ExecutorInfo(f"dask at {address} ({workers} workers)", workers)
    finally:
        client.close()


def _workers(client: Any) -> int | None:
    """The scheduler's workers; None once the client has lost the scheduler (its identity is then empty)."""
    workers = client.scheduler_info(n_workers=-1).get("workers")
    return None if workers is None else len(workers)


class _WatchedDask(Executor):
    """Dask's executor, and whether its cluster can run anything: a scheduler without workers keeps tasks queued
    forever, so the sweep asks `stalled()` while it waits (sim.sweep)."""

    def __init__(self, client: Any, address: str) -> None:
        # pure=False: the same (scenario, seed) twice is still two tasks; Dask must not deduplicate them
        self.inner, self.client, self.address = client.get_executor(pure=False), client, address
        self.without_workers_since: float | None = None

    def submit(self, fn, /, *args, **kwargs):
        return self.inner.submit(fn, *args, **kwargs)

    def stalled(self) -> str | None:
        """Why nothing can run (no worker for NO_WORKERS_GRACE seconds), or None. The time without workers is kept
        across sweeps: the next scenario of a suite is told at once."""
        workers = _workers(self.client)
        if workers is None:       # the scheduler is gone, and the tasks it held with it
            return f"lost the Dask scheduler at {self.address} (stopped, or unreachable)"
        if workers:
            self.without_workers_since = None
            return None
        now = time.monotonic()
        since = self.without_workers_since = self.without_workers_since or now
        if now - since < NO_WORKERS_GRACE:
            return None
        return (f"the Dask scheduler at {self.address} has had no workers for {NO_WORKERS_GRACE:.0f} s: start "
                f"some (dask worker {self.address}) and run again")
