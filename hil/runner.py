"""`run_scenario(scenario, inventory)`: the scenario's `hil:` part on every matching rig, one worker per rig, in the
strategy's waves. A wave with a failing rig halts the rollout: later waves are not released, as on the fleet.
Returns RunResult(source="hil") with each rig's steps, facts, parity, latency and telemetry.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hil import modelzoo
from hil.errors import HilError
from hil.faults import FaultPlan, Injector
from hil.inventory import Inventory, Rig
from hil.reference import reference_outputs
from hil.shell import Shell
from hil.store import sha256_of
from hil.validation import Artifacts, RigValidation
from sim.model.hil_results import RigResult
from sim.model.results import ByteCounts, Coverage, Egress, Provenance, RunResult, Series, TimelineEvent
from sim.model.scenario import Scenario

log = logging.getLogger(__name__)
Connect = Callable[[Rig], Shell]


def _model_file(reference: str | None, base: Path, folder: Path, role: str) -> Path:
    if reference is None:
        raise HilError(f"hil.{role}_model: the scenario names no {role} model")
    if reference.startswith("builtin:"):
        name = reference.removeprefix("builtin:")
        target = folder / f"{name}.onnx"
        try:
            target.write_bytes(modelzoo.build_model(name))
        except ValueError as error:
            raise HilError(f"hil.{role}_model: {error}") from None
        return target
    path = (base / reference).resolve()
    if not path.is_file():
        raise HilError(f"hil.{role}_model: {path} does not exist (models are built with `fleetlab models`)")
    return path


def _frames(reference: str | None, base: Path) -> dict[str, np.ndarray]:
    if reference in (None, "builtin"):
        return {angle: modelzoo.frames_for(angle) for angle in modelzoo.ANGLES}
    folder = (base / reference).resolve()
    found = {path.stem: np.load(path, allow_pickle=False) for path in sorted(folder.glob("*.npy"))}
    if not found:
        raise HilError(f"hil.frames: no ANGLE.npy files in {folder}")
    return found


def prepare_artifacts(scenario: Scenario, base: Path, folder: Path) -> Artifacts:
    """Model files, frames, and the candidate's reference outputs computed here with onnxruntime."""
    spec = scenario.hil
    current = _model_file(spec.current_model, base, folder, "current")
    candidate = _model_file(spec.candidate_model, base, folder, "candidate")
    frames = _frames(spec.frames, base)
    try:
        reference = {angle: reference_outputs(candidate, batch) for angle, batch in frames.items()}
    except Exception as error:   # noqa: BLE001 — onnxruntime raises its own types; the rig's build will say more
        log.warning("no local reference for %s: %s", candidate.name, error)
        reference = {angle: np.full((batch.shape[0], 1), np.nan) for angle, batch in frames.items()}
    return Artifacts(current=current, current_sha=sha256_of(current), current_version=scenario.current_model.version,
                     candidate=candidate, candidate_sha=sha256_of(candidate),
                     candidate_version=scenario.candidate.version, frames=frames, candidate_reference=reference,
                     workdir=folder)


def plan_waves(scenario: Scenario, rigs: list[Rig]) -> list[list[Rig]]:
    """The strategy's cumulative wave shares mapped onto the rigs: at least one rig a wave, no empty waves."""
    shares = list(getattr(scenario.strategy, "waves", None) or [1.0])
    waves, taken = [], 0
    for share in shares:
        upto = min(len(rigs), max(taken + 1, math.ceil(share * len(rigs))))
        if upto > taken:
            waves.append(rigs[taken:upto])
            taken = upto
    if taken < len(rigs):
        waves.append(rigs[taken:])
    return waves


def run_scenario(scenario: Scenario, inventory: Inventory, base: Path, connect: Connect,
                 rig_name: str | None = None, injectors: dict[str, Injector] | None = None,
                 on_rig_done: Callable[[RigResult], None] | None = None) -> RunResult:
    spec = scenario.hil
    rigs = inventory.select(spec.rig_tags, rig_name)
    if not rigs:
        wanted = f"named {rig_name!r} " if rig_name else ""
        raise HilError(f"no rig {wanted}carries the tags {spec.rig_tags} that hil.rig_tags asks for")
    faults = FaultPlan(list(spec.faults), {**FaultPlan().injectors, **_virtual_injectors(rigs), **(injectors or {})})
    if problems := faults.problems():
        raise HilError("; ".join(problems))
    run_id, started = uuid.uuid4().hex[:12], time.monotonic()
    results: list[RigResult] = []
    timeline: list[TimelineEvent] = []
    with tempfile.TemporaryDirectory(prefix="fleetlab-hil-") as temp:
        artifacts = prepare_artifacts(scenario, base, Path(temp))
        waves = plan_waves(scenario, rigs)
        for number, wave in enumerate(waves):
            timeline.append(TimelineEvent(time=time.monotonic() - started, kind="update",
                                          detail=f"wave {number + 1}: {', '.join(rig.name for rig in wave)}",
                                          devices=len(wave)))
            results += _run_wave(wave, number, connect, spec, artifacts, run_id, faults, on_rig_done)
            if any(result.verdict != "passed" for result in results):
                halted_after = number + 1
                timeline.append(TimelineEvent(time=time.monotonic() - started, kind="halt",
                                              detail=f"a rig failed in wave {halted_after}"))
                for later, rest in enumerate(waves[number + 1:], start=number + 1):
                    results += [RigResult(rig=rig.name, hardware=rig.hardware, wave=later, verdict="skipped",
                                          reason=f"not released: rollout halted after wave {halted_after}",
                                          active_at_end=artifacts.current_version) for rig in rest]
                break
            soak = getattr(scenario.strategy, "bake", 0.0) * spec.time_scale
            if number + 1 < len(waves) and soak > 0:
                timeline.append(TimelineEvent(time=time.monotonic() - started, kind="soak", detail=f"{soak:.0f}s"))
                time.sleep(soak)
    return _run_result(scenario, results, timeline, time.monotonic() - started)


def _virtual_injectors(rigs: list[Rig]) -> dict[str, Injector]:
    """Virtual rigs (with a container id) offer their Docker-backed faults; Docker is imported only then."""
    containers = {rig.name: rig.container for rig in rigs if rig.container}
    if not containers:
        return {}
    from hil.virtual import VirtualLab

    return VirtualLab().injectors(containers)


def _run_wave(wave: list[Rig], number: int, connect: Connect, spec, artifacts: Artifacts, run_id: str,
              faults: FaultPlan, on_rig_done) -> list[RigResult]:
    def validate(rig: Rig) -> RigResult:
        plan = FaultPlan(faults.faults, faults.injectors)      # each rig gets each fault once
        result = RigValidation(rig, lambda: connect(rig), spec, artifacts, run_id, number, plan).run()
        if on_rig_done:
            on_rig_done(result)
        return result

    with ThreadPoolExecutor(max_workers=len(wave), thread_name_prefix="rig") as pool:
        return list(pool.map(validate, wave))


def _run_result(scenario: Scenario, rigs: list[RigResult], timeline: list[TimelineEvent], wall: float) -> RunResult:
    from sim.provenance import git_sha, package_versions

    passed = sum(rig.verdict == "passed" for rig in rigs)
    outcomes: dict[str, int] = {}
    for rig in rigs:
        outcomes[rig.verdict.upper()] = outcomes.get(rig.verdict.upper(), 0) + 1
    reasons = {rig.reason: 1 for rig in rigs if rig.reason}
    timeline.append(TimelineEvent(time=wall, kind="end"))
    halted = any(event.kind == "halt" for event in timeline)
    return RunResult(
        source="hil", strategy=scenario.strategy.kind, devices=len(rigs), sites=0, simulated=wall,
        coverage=Coverage(series=Series(step=1.0, values=[]), final=passed / max(len(rigs), 1)),
        outcomes=outcomes, reasons=reasons, stragglers=[],
        bytes=ByteCounts(total=float(sum(rig.bytes_sent for rig in rigs))),
        egress=Egress(series=Series(step=1.0, values=[])),
        final_versions=_versions(rigs), halted=halted,
        halt_reason="a rig failed its validation" if halted else "", timeline=timeline, state_counts={},
        provenance=Provenance(scenario_name=scenario.name, scenario_hash=scenario.fingerprint(), seed=scenario.seed,
                              fleetlab_version=package_versions()["fleetlab"], git_sha=git_sha(),
                              packages=package_versions()),
        rigs=rigs)


def _versions(rigs: list[RigResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rig in rigs:
        counts[rig.active_at_end] = counts.get(rig.active_at_end, 0) + 1
    return counts
