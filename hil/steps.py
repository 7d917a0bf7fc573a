"""What runs on a rig: engine builds, inference on fixed frames, latency runs, the service. Each function returns
data (passed or not, with the numbers); InfrastructureError propagates for the caller to record and stop."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hil.inventory import Rig
from hil.parity import ParityCheck, compare, outputs_from_export
from hil.parsers import ParseError, parse_trtexec
from hil.parsers.trtexec import export_latencies, latency_stats
from hil.shell import CommandResult, Shell, command
from hil.store import Store
from sim.model.hil_results import LatencySummary

BUILD_TIMEOUT = 3600.0      # real engine builds on a Nano take many minutes
RUN_TIMEOUT = 600.0
HISTOGRAM_BINS = 20
MIDWAY_DELAY = 0.2          # seconds into a build before a mid:build fault fires


@dataclass(frozen=True)
class Check:
    """A rig-side check that passed or not, and what it said."""

    passed: bool
    detail: str


@dataclass(frozen=True)
class Failed:
    """Why a rig gave no outputs (or no latency figures): a finding, not an exception."""

    why: str

    def __str__(self) -> str:
        return self.why


@dataclass(frozen=True)
class Timed:
    """A latency run: the summary and every timed inference (ms), warm-up discarded."""

    summary: LatencySummary
    latencies: list[float]


def build_engine(shell: Shell, rig: Rig, store: Store, slot: str, precision: str,
                 midway: Callable[[], None] | None = None) -> Check:
    """trtexec --onnx … --saveEngine … on the rig; the engine lands in the slot only after PASSED (a build cut
    short leaves at most a partial `.building` file, which the next build overwrites). `midway` runs beside the
    build, once it is under way (a fault point)."""
    onnx, engine = store.path("slots", slot, "model.onnx"), store.path("slots", slot, "model.engine")
    flags = {"fp16": ["--fp16"], "int8": ["--int8"], "fp32": []}[precision]
    beside = threading.Timer(MIDWAY_DELAY, midway) if midway else None
    if beside:
        beside.start()
    try:
        done = shell.run(command(rig.tools.trtexec, f"--onnx={onnx}", f"--saveEngine={engine}.building", *flags),
                         timeout=BUILD_TIMEOUT)
    finally:
        if beside:
            beside.join()
    try:
        report = parse_trtexec(done.stdout + "\n" + done.stderr)
    except ParseError as error:
        return Check(False, f"trtexec printed no TensorRT log ({done.exit_words}): {error}")
    if not report.passed or not done.ok:
        errors = "; ".join(report.errors[-3:]) or done.tail(3)
        killed = f"trtexec {done.exit_words}: " if done.ended_by else ""
        return Check(False, f"engine build failed (TensorRT {report.version or '?'}): {killed}{errors}")
    store.sh("mv", "-f", f"{engine}.building", engine)
    return Check(True, f"built with TensorRT {report.version or '?'} in {done.seconds:.1f} s ({precision})")


def upload_frames(store: Store, frames: dict[str, np.ndarray], folder: Path) -> dict[str, str]:
    """Each angle's frames as raw float32 (trtexec --loadInputs format) on the rig, sha256-checked there and renamed
    into place; returns their remote paths. `folder` is this rig's own staging folder: no other rig writes there."""
    remote = {}
    folder.mkdir(parents=True, exist_ok=True)
    for angle, batch in frames.items():
        local = folder / f"{angle}.bin"
        local.write_bytes(np.ascontiguousarray(batch, dtype="<f4").tobytes())
        remote[angle] = store.put_checked(local, store.path("tmp", f"frames-{angle}.bin"))
    return remote


def infer(shell: Shell, rig: Rig, store: Store, slot: str, angle: str, remote_frames: str,
          shape: tuple[int, ...]) -> np.ndarray | Failed:
    """The slot's engine on one angle's frames: its outputs, or why there are none."""
    engine = store.path("slots", slot, "model.engine")
    output = store.path("tmp", f"out-{slot}-{angle}.json")
    dims = "x".join(str(d) for d in shape)
    done = shell.run(command(rig.tools.trtexec, f"--loadEngine={engine}", f"--shapes=frames:{dims}",
                             f"--loadInputs=frames:{remote_frames}", f"--exportOutput={output}", "--iterations=1",
                             "--warmUp=0", "--duration=0"), timeout=RUN_TIMEOUT)
    if not done.ok:
        return Failed(f"inference failed ({done.exit_words}): {done.tail(2)}")
    exported = shell.run(command("cat", output), timeout=60)
    try:
        return outputs_from_export(exported.stdout)
    except (ValueError, KeyError, IndexError, TypeError, RecursionError) as error:   # what the rig wrote is data
        return Failed(f"unreadable --exportOutput: {type(error).__name__}: {error}"[:500])


def infer_all(shell: Shell, rig: Rig, store: Store, slot: str, frames: dict[str, np.ndarray],
              remote: dict[str, str]) -> dict[str, np.ndarray | Failed]:
    return {angle: infer(shell, rig, store, slot, angle, remote[angle], batch.shape) for angle, batch in frames.items()}


def parity_checks(found: dict[str, np.ndarray | Failed], reference: dict[str, np.ndarray], atol: float,
                  rtol: float) -> list[ParityCheck]:
    """Engine outputs (or why there are none) against the reference, one check per frame family."""
    checks = []
    for angle, outputs in found.items():
        if isinstance(outputs, Failed):
            size = reference[angle].size
            checks.append(ParityCheck(angle, False, math.inf, size, size, f"{angle}: {outputs}"))
        else:
            checks.append(compare(angle, outputs, reference[angle], atol, rtol))
    return checks


def _histogram(latencies: list[float]) -> tuple[list[float], list[int]]:
    counts, edges = np.histogram(latencies, bins=HISTOGRAM_BINS)
    return [round(float(edge), 6) for edge in edges], [int(count) for count in counts]


def latency_run(shell: Shell, rig: Rig, store: Store, slot: str, frame_shape: tuple[int, ...], iterations: int,
                warmup: int, max_cv: float | None) -> Timed | Failed:
    """A timed run of batch-1 inferences; statistics from --exportTimes, else from the printed summary."""
    engine, times = store.path("slots", slot, "model.engine"), store.path("tmp", f"times-{slot}.json")
    dims = "x".join(str(d) for d in (1, *frame_shape))
    shell.run(command("rm", "-f", times), timeout=30)
    done = shell.run(command(rig.tools.trtexec, f"--loadEngine={engine}", f"--shapes=frames:{dims}", "--warmUp=200",
                             f"--iterations={iterations + warmup}", "--duration=0", f"--exportTimes={times}",
                             "--percentile=90,95,99"), timeout=RUN_TIMEOUT)
    try:
        report = parse_trtexec(done.stdout) if done.stdout.strip() else None
    except ParseError as error:
        return Failed(f"latency run printed no TensorRT log ({done.exit_words}): {error}")
    if not done.ok or report is None or not report.passed:
        return Failed(f"latency run failed ({done.exit_words}): {done.tail(2)}")
    exported = shell.run(command("cat", times), timeout=60)
    try:
        latencies = export_latencies(exported.stdout, warmup)
        stats, source = latency_stats(latencies), "exportTimes"
    except ParseError:
        if report.latency is None or report.latency.median is None:
            return Failed("no --exportTimes file and no latency summary in the log")
        stats, latencies, source = report.latency, [], "summary"
    if stats.median is None:
        return Failed("the latency run gave no median")
    mean = stats.mean or 0.0
    cv = robust_cv(latencies)
    edges, counts = _histogram(latencies) if latencies else ([], [])
    return Timed(LatencySummary(source="exportTimes" if source == "exportTimes" else "summary",
                                iterations=len(latencies) or iterations, mean=mean, p50=stats.median,
                                p90=stats.percentiles.get(90.0), p95=stats.percentiles.get(95.0),
                                p99=stats.percentiles.get(99.0), min=stats.min, max=stats.max, cv=cv,
                                stable=cv is None or max_cv is None or cv <= max_cv, histogram_edges=edges,
                                histogram_counts=counts),
                 list(latencies))


def latency_problems(measured: LatencySummary, p50_budget: float | None, p99_budget: float | None,
                     max_cv: float | None) -> list[str]:
    """What a latency run's summary shows against the scenario's budgets and stability bound."""
    problems = []
    if not measured.stable and max_cv is not None:
        problems.append(f"unstable: coefficient of variation {(measured.cv or 0):.1%} above {max_cv:.0%}")
    if p50_budget is not None and measured.p50 > p50_budget * 1000:
        problems.append(f"p50 {measured.p50:.3f} ms over the {p50_budget * 1000:g} ms budget")
    if p99_budget is not None and measured.p99 is not None and measured.p99 > p99_budget * 1000:
        problems.append(f"p99 {measured.p99:.3f} ms over the {p99_budget * 1000:g} ms budget")
    return problems


def robust_cv(latencies: list[float]) -> float | None:
    """1.4826 × median absolute deviation / median: the coefficient of variation for normal data, but a handful
    of slow iterations (another process woke up) do not swamp it — p99 reports those."""
    if len(latencies) < 2:
        return None
    values = np.asarray(latencies)
    median = float(np.median(values))
    return 1.4826 * float(np.median(np.abs(values - median))) / median if median else None


def restart_and_check(shell: Shell, rig: Rig) -> Check:
    """Restart the camera service, then poll its health check until it passes `health_passes` times in a row (a
    second apart) or health_timeout runs out."""
    return check_health(shell, rig, shell.run(rig.service.restart, timeout=max(60.0, rig.service.health_timeout)))


@dataclass(frozen=True)
class HandOver:
    """The inventory's `service.hand_over` and the health check after it: `handed` False when the new service did
    not come up, the old one still serving (the check then says why, from the command's own words)."""

    handed: bool
    check: Check


def hand_over_and_check(shell: Shell, rig: Rig) -> HandOver:
    """Start the service on the newly active slot beside the one serving (the inventory's command waits until it
    serves, then stops the old one), then poll the health check as after a restart."""
    service = rig.service
    handed = shell.run(service.hand_over or "false", timeout=max(60.0, service.health_timeout))
    if not handed.ok:
        return HandOver(False, Check(False, handed.tail(2) or f"exit status {handed.exit_status}"))
    return HandOver(True, check_health(shell, rig, handed))


def check_health(shell: Shell, rig: Rig, started: CommandResult | None = None) -> Check:
    """Poll the service's health check until it passes `health_passes` times in a row (a second apart) or
    health_timeout runs out; `started` is what brought the service up, if anything did (its time counts, its words
    explain a failure)."""
    service = rig.service
    deadline = time.monotonic() + service.health_timeout
    streak, passes = 0, 0
    started = started or CommandResult("", 0, "", "", 0.0)
    while True:
        last = shell.run(service.health, timeout=max(30.0, service.health_timeout))
        streak, passes = (streak + 1, passes + 1) if last.ok else (0, passes)
        if streak >= service.health_passes:
            return Check(True, f"healthy after {started.seconds + last.seconds:.1f} s"
                               + (f" ({streak} checks in a row)" if streak > 1 else ""))
        if time.monotonic() >= deadline:
            why = last.tail(2) or started.tail(2)
            if not started.ok and started.tail(2) not in why:      # why it never came up (killed as it loaded?)
                why += f"; its start said: {started.tail(2)}"
            flapped = f" (it passed {passes} time{'s' if passes > 1 else ''}, then failed)" if passes else ""
            return Check(False, f"health check still failing after {service.health_timeout:.0f} s{flapped}: {why}")
        time.sleep(1.0 if last.ok else min(2.0, max(0.2, service.health_timeout / 10)))
