"""`run_scenario(scenario, inventory)`: the scenario's own plan on the rigs that match its `hil:` part.

The rigs are the fleet: device i is the i-th selected rig, its cohort (hardware, site kind, camera angle) read from
the inventory. The registered strategy runs on them through the rig controller (hil/controller.py), exactly as the
simulator runs it on simulated cameras. Returns RunResult(source="hil") with each rig's steps, facts, parity,
latency and telemetry, and the plan's own timeline.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hil.artifacts import Artifacts, prepare_artifacts
from hil.controller import RigController
from hil.errors import HilError
from hil.faults import FaultPlan, Injector
from hil.inventory import Inventory, Rig
from hil.rig_delivery import RigDelivery, check_rigs, describe
from hil.session import RigSession
from hil.shell import Shell
from hil.stop import StopSignal
from sim.model.hil_results import RigResult
from sim.model.lifecycle import DeviceState as S
from sim.model.results import ByteCounts, Coverage, Egress, Provenance, RunResult, Series, TimelineEvent
from sim.model.scenario import Scenario
from sim.model.strategy import FleetView, plan_random

log = logging.getLogger(__name__)
Connect = Callable[[Rig], Shell]
END_OF_PLAN = "end of the plan: prove the previous engine returns, and leave the rack as found"


def rig_angle(rig: Rig, angles: list[str]) -> str | None:
    """The camera angle a rig stands for: its `angle:`, else a tag that names one of the scenario's angles."""
    if rig.angle:
        return rig.angle
    return next((tag for tag in rig.tags if tag in angles), None)


def rig_site_kind(rig: Rig, kinds: list[str]) -> str:
    return next((tag for tag in rig.tags if tag in kinds), kinds[0])


def rig_fleet(scenario: Scenario, rigs: list[Rig]) -> FleetView:
    """The selected rigs as the fleet a strategy plans over: the same seed-derived random source the simulator
    gives the strategy, cohorts from the inventory."""
    angles, kinds = list(scenario.fleet.camera_angles), list(scenario.fleet.site_kinds)
    cohorts = tuple((rig.hardware, rig_site_kind(rig, kinds), rig_angle(rig, angles) or "default") for rig in rigs)
    artifact, delivery = scenario.artifact, scenario.delivery
    per_device = artifact.delta_size if delivery.delta and artifact.delta_size else artifact.full_size
    return FleetView(len(rigs), cohorts, plan_random(scenario.seed), sites=tuple(range(len(rigs))),
                     artifact_bytes=per_device, egress_price_per_byte=scenario.pricing.egress_per_gb / 1e9,
                     start_time=scenario.start_time)


def select_rigs(scenario: Scenario, inventory: Inventory, rig_name: str | None) -> list[Rig]:
    spec = scenario.hil
    if spec is None:
        raise HilError("the scenario has no hil: section")
    names = [rig.name for rig in inventory.rigs]
    if rig_name is not None and rig_name not in names:     # a typo, not a rig without the tags
        raise HilError(f"--rig {rig_name}: the inventory has no such rig (it has {', '.join(names) or 'none'})")
    rigs = inventory.select(spec.rig_tags, rig_name)
    if not rigs:
        wanted = f"named {rig_name!r} " if rig_name else ""
        raise HilError(f"no rig {wanted}carries the tags {spec.rig_tags} that hil.rig_tags asks for")
    return rigs


def run_scenario(scenario: Scenario, inventory: Inventory, base: Path, connect: Connect,
                 rig_name: str | None = None, injectors: dict[str, Injector] | None = None,
                 on_rig_done: Callable[[RigResult], None] | None = None, stop: StopSignal | None = None,
                 on_trace: Callable[[RigController], None] | None = None, allow_outside: bool = False,
                 lease_wait: float = 0.0) -> RunResult:
    spec = scenario.hil
    rigs = select_rigs(scenario, inventory, rig_name)
    if spec is None:
        raise HilError("the scenario has no hil: section")
    delivery = RigDelivery.of(scenario)
    check_rigs(delivery, rigs)
    faults = FaultPlan(list(spec.faults), {**FaultPlan().injectors, **_virtual_injectors(rigs), **(injectors or {})})
    if problems := faults.problems():
        raise HilError("; ".join(problems))
    stop = stop or StopSignal()
    run_id, started = uuid.uuid4().hex[:12], time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fleetlab-hil-") as temp:
        artifacts = prepare_artifacts(scenario, base, Path(temp), allow_outside)
        angles = list(scenario.fleet.camera_angles)
        if missing := sorted({a for rig in rigs if (a := rig_angle(rig, angles)) and a not in artifacts.frames}):
            raise HilError(f"rigs stand for camera angles {missing} that hil.frames has no frames for "
                           f"(it has {sorted(artifacts.frames)})")

        def session(device: int) -> RigSession:
            rig = rigs[device]
            made = RigSession(rig, rig_angle(rig, angles), lambda: connect(rig), spec, artifacts, run_id,
                              FaultPlan(faults.faults, faults.injectors), stop,   # each rig gets each fault once
                              delivery)
            made.lease_wait = lease_wait
            return made

        controller = RigController(scenario.strategy, rig_fleet(scenario, rigs), session, spec.time_scale,
                                   scenario.duration, stop, stage_ahead=scenario.delivery.stage_ahead)
        try:
            controller.run()
        finally:
            results = _close_all(controller, rigs, on_rig_done)
        if on_trace:
            on_trace(controller)
    return _run_result(scenario, controller, results, artifacts, time.monotonic() - started)


def _close_all(controller: RigController, rigs: list[Rig], on_rig_done) -> list[RigResult]:
    """Every touched rig proves its rollback (or is restored), releases its lease and reports; in parallel."""
    stopped = controller.ended.startswith("interrupted")

    def close(device: int) -> RigResult:
        rig = controller.session(device)
        result = rig.close(f"interrupted: {controller.stop.reason}" if stopped else END_OF_PLAN, stopped)
        if result.verdict == "skipped":
            why = "rollout halted" if controller.halted else "not released by the plan"
            if stopped:
                why = "run interrupted"
            if rig.state == S.AWAITING_WINDOW:
                why += "; staged ahead: the candidate installed in the inactive slot, never activated"
            elif controller.stage_ahead and rig.opened:
                why += "; stopped while staging ahead, before the candidate was installed"
            elif rig.opened:
                why += "; measured as a control rig"
            result = result.model_copy(update={"reason": f"not released: {why}"})
        elif stopped and result.verdict == "passed":
            result = result.model_copy(update={"verdict": "interrupted", "reason": controller.ended})
        if on_rig_done:
            on_rig_done(result)
        return result

    with ThreadPoolExecutor(max_workers=len(rigs), thread_name_prefix="rig-close") as pool:
        return list(pool.map(close, range(len(rigs))))


def _virtual_injectors(rigs: list[Rig]) -> dict[str, Injector]:
    """Virtual rigs (with a container id) offer their Docker-backed faults; Docker is imported only then."""
    containers = {rig.name: rig.container for rig in rigs if rig.container}
    if not containers:
        return {}
    from hil.virtual import VirtualLab

    return VirtualLab().injectors(containers)


def _run_result(scenario: Scenario, controller: RigController, rigs: list[RigResult], artifacts: Artifacts,
                wall: float) -> RunResult:
    from sim.provenance import git_sha, package_versions

    outcomes = Counter(rig.state for rig in rigs)
    reasons = Counter(rig.reason for rig in rigs if rig.reason)
    timeline = controller.timeline + [TimelineEvent(time=round(wall, 3), kind="end", detail=controller.ended)]
    committed = outcomes[S.COMMITTED]
    return RunResult(
        source="hil", strategy=scenario.strategy.kind, devices=len(rigs), sites=0, simulated=controller.clock,
        coverage=Coverage(series=Series(step=1.0, values=[]), final=committed / max(len(rigs), 1)),
        outcomes={state: outcomes[state] for state in S if outcomes[state]},
        reasons=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))), stragglers=[],
        bytes=ByteCounts(total=float(sum(rig.bytes_sent for rig in rigs))),
        egress=Egress(series=Series(step=1.0, values=[])),
        final_versions=_versions(rigs), halted=controller.halted, halt_reason=controller.halt_reason,
        timeline=timeline, state_counts={},
        provenance=Provenance(scenario_name=scenario.name, scenario_hash=scenario.fingerprint(), seed=scenario.seed,
                              fleetlab_version=package_versions()["fleetlab"], git_sha=git_sha(),
                              packages=package_versions(),
                              models={artifacts.current_version: artifacts.current_sha,
                                      artifacts.candidate_version: artifacts.candidate_sha}),
        rigs=rigs, interrupted=controller.ended if controller.ended.startswith("interrupted") else "",
        rig_delivery=describe(scenario))


def _versions(rigs: list[RigResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rig in rigs:
        counts[rig.active_at_end] = counts.get(rig.active_at_end, 0) + 1
    return counts
