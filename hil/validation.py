"""One rig, start to end: reserve → preflight → baseline → transfer → build → parity → latency → [shadow] →
activate → rollback → release. A failing step stops the sequence and leaves the previous engine active; a failed
activation is rolled back at once; a rig whose rollback failed is quarantined and says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hil import steps
from hil.errors import ConnectionLost, HilError, InfrastructureError, LeaseHeld
from hil.faults import FaultPlan
from hil.inventory import Rig
from hil.lease import Lease, Renewal, default_owner
from hil.parity import compare
from hil.preflight import preflight
from hil.recorder import Recorder
from hil.shell import Shell
from hil.store import Store
from hil.telemetry import Sampler, summarize
from sim.model.hil_results import ParityResult, RigResult
from sim.model.scenario import HilSpec

log = logging.getLogger(__name__)
STEP_RETRIES = 2           # a step the rig dropped out of is tried this many more times
BOOT_TIMEOUT = 90.0        # how long a rig may take to come back after a power cut


@dataclass(frozen=True)
class Artifacts:
    current: Path
    current_sha: str
    current_version: str
    candidate: Path
    candidate_sha: str
    candidate_version: str
    frames: dict[str, np.ndarray]
    candidate_reference: dict[str, np.ndarray]
    workdir: Path


@dataclass
class _State:
    facts: dict[str, str] = field(default_factory=dict)
    previous_slot: str | None = None
    candidate_slot: str | None = None
    switched: bool = False
    baseline: dict[str, np.ndarray] = field(default_factory=dict)
    remote_frames: dict[str, str] = field(default_factory=dict)
    candidate_outputs: dict = field(default_factory=dict)


class RigValidation:
    def __init__(self, rig: Rig, connect: Callable[[], Shell], spec: HilSpec, artifacts: Artifacts, run_id: str,
                 wave: int, faults: FaultPlan) -> None:
        self.rig, self.connect, self.spec, self.art = rig, connect, spec, artifacts
        self.run_id, self.wave, self.faults = run_id, wave, faults
        self.record = Recorder(rig.name)
        self.state = _State()
        self.found: dict = {}

    # --- the sequence ---------------------------------------------------------------------------------------

    def run(self) -> RigResult:
        shell = self.connect()
        self.store = Store(shell, self.rig.store)
        self.shell = shell
        verdict, reason, quarantined = "passed", "", False
        try:
            lease = Lease(shell, self.rig.name, self.rig.store, default_owner(self.run_id))
            with self.record.step("reserve", owner=lease.owner, ttl=lease.ttl) as step:
                lease.acquire()
                if lease.took_over:
                    step.detail = f"took over the expired lease of {lease.took_over}"
            renewal = Renewal(lease, lambda: Lease(self.connect(), self.rig.name, self.rig.store, lease.owner))
            try:
                verdict, reason, quarantined = self._sequence()
            finally:
                renewal.stop()
                with self.record.step("release", owner=lease.owner):
                    lease.release()
        except LeaseHeld as error:
            verdict, reason = "error", str(error)
        except HilError as error:
            verdict, reason = "error", str(error)
            quarantined = self._restore_after_error()
        except Exception as error:     # a bug here must not take the other rigs' results with it
            log.exception("%s: internal error", self.rig.name)
            verdict, reason = "error", f"internal error in fleetlab: {type(error).__name__}: {error}"
            quarantined = self._restore_after_error()
        finally:
            shell.close()
        return self._result(verdict, reason, quarantined)

    def _sequence(self) -> tuple[str, str, bool]:
        for name, action in (("preflight", self._preflight), ("baseline", self._baseline),
                             ("transfer", self._transfer), ("build", self._build), ("parity", self._parity),
                             ("latency", self._latency), ("shadow", self._shadow), ("activate", self._activate),
                             ("rollback", self._rollback)):
            if name == "shadow" and not self.spec.shadow:
                continue
            self.faults.fire(f"before:{name}", self.shell)
            passed, detail = self._attempt(name, action)
            if not passed:
                self._skip_rest(name)
                if name == "activate":          # the health check failed: put the previous engine back now
                    restored, why = self._switch_back("restore")
                    return "failed", detail, not restored
                return "failed", detail, name == "rollback"
        return "passed", "", False

    def _attempt(self, name: str, action) -> tuple[bool, str]:
        """Run a step; when the rig drops away (a power cut, a link down) wait for it to come back and run the step
        again — each try is recorded. Steps are written to be safe to repeat (transfers resume, slots are
        replaced whole, switches are renames)."""
        for attempt in range(STEP_RETRIES + 1):
            try:
                return action()
            except InfrastructureError as error:
                if attempt == STEP_RETRIES:
                    raise
                log.warning("%s: %s interrupted (%s); waiting for the rig", self.rig.name, name, error)
                self._wait_for_rig()
        raise AssertionError("unreachable")

    def _wait_for_rig(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        with self.record.step("reconnect", timeout=BOOT_TIMEOUT) as step:
            while True:
                self.shell.close()
                try:
                    self.shell.run("true", timeout=10)
                    step.detail = f"the rig answered again after {time.monotonic() - deadline + BOOT_TIMEOUT:.1f} s"
                    return
                except InfrastructureError as error:
                    if time.monotonic() > deadline:
                        raise ConnectionLost(f"{self.rig.name}: did not come back within {BOOT_TIMEOUT:.0f} s: "
                                             f"{error}") from None
                    time.sleep(1.0)

    def _skip_rest(self, failed: str) -> None:
        order = ["preflight", "baseline", "transfer", "build", "parity", "latency", "shadow", "activate", "rollback"]
        for name in order[order.index(failed) + 1:]:
            if name != "shadow" or self.spec.shadow:
                self.record.skip(name, f"not run: {failed} failed")

    # --- steps ----------------------------------------------------------------------------------------------

    def _preflight(self) -> tuple[bool, str]:
        with self.record.step("preflight") as step:
            self.store.prepare()
            facts, idle, problems = preflight(self.shell, self.rig, needs=3 * self.art.candidate.stat().st_size)
            self.state.facts, self.found["idle_temperature"] = facts, idle
            if idle is not None:
                step.numbers["idle_temperature"] = idle
            if problems:
                step.fail("; ".join(problems))
            return step.passed, step.detail

    def _provision_current(self) -> tuple[bool, str]:
        """A rig without the current model gets it first (fresh or re-imaged rigs)."""
        slot = self.store.inactive_slot()
        moved = self.store.transfer(self.art.current, self.art.current_sha, self.spec.transfer_rate)
        if not moved.ok:
            return False, f"could not provision the current model: {moved.detail}"
        self.store.install(self.art.current_sha, slot, self.art.current_version)
        built = steps.build_engine(self.shell, self.rig, self.store, slot, self.spec.precision)
        if not built.passed:
            return False, f"the current model does not build on this rig: {built.detail}"
        self.store.switch(slot)
        healthy = steps.restart_and_check(self.shell, self.rig)
        return healthy.passed, healthy.detail

    def _baseline(self) -> tuple[bool, str]:
        with self.record.step("baseline", version=self.art.current_version) as step:
            active = self.store.active_slot()
            if active is None or self.store.version(active) != self.art.current_version:
                passed, detail = self._provision_current()
                step.numbers["provisioned"] = 1.0
                if not passed:
                    step.fail(detail)
                    return False, detail
            self.state.previous_slot = self.store.active_slot()
            self.state.remote_frames = steps.upload_frames(self.shell, self.store, self.art.frames, self.art.workdir)
            found = steps.infer_all(self.shell, self.rig, self.store, self.state.previous_slot, self.art.frames,
                                    self.state.remote_frames)
            broken = [f"{angle}: {value}" for angle, value in found.items() if isinstance(value, str)]
            if broken:
                step.fail("the current engine does not run: " + "; ".join(broken))
            else:
                self.state.baseline = found
                step.detail = f"current engine in slot {self.state.previous_slot}: outputs recorded"
            return step.passed, step.detail

    def _transfer(self) -> tuple[bool, str]:
        slot = self.store.inactive_slot()
        size = self.art.candidate.stat().st_size
        with self.record.step("transfer", slot=slot, bytes=size, sha256=self.art.candidate_sha[:16],
                              rate=self.spec.transfer_rate or "unlimited") as step:
            on_progress = self.faults.transfer_watch(size, self.shell)
            moved = self.store.transfer(self.art.candidate, self.art.candidate_sha, self.spec.transfer_rate,
                                        on_progress)
            self.found["bytes_sent"] = self.found.get("bytes_sent", 0) + moved.bytes_sent
            step.numbers.update(bytes_sent=float(moved.bytes_sent), attempts=float(len(moved.resumed_from)),
                                resumed_from=float(max(moved.resumed_from, default=0)))
            if not moved.ok:
                step.fail(moved.detail)
                return False, step.detail
            self.store.install(self.art.candidate_sha, slot, self.art.candidate_version,
                               midway=lambda shell: self.faults.fire("mid:install", shell))
            self.state.candidate_slot = slot
            resumed = [offset for offset in moved.resumed_from if offset]
            step.detail = moved.detail + (f"; resumed at {resumed}" if resumed else "")
            return True, step.detail

    def _build(self) -> tuple[bool, str]:
        with self.record.step("build", slot=self.state.candidate_slot, precision=self.spec.precision) as step:
            built = steps.build_engine(self.shell, self.rig, self.store, self.state.candidate_slot,
                                       self.spec.precision)
            step.detail = built.detail
            if not built.passed:
                step.fail(built.detail)
            return step.passed, step.detail

    def _parity(self) -> tuple[bool, str]:
        parity = self.spec.parity
        with self.record.step("parity", atol=parity.atol, rtol=parity.rtol,
                              frames=",".join(self.art.frames)) as step:
            found = steps.infer_all(self.shell, self.rig, self.store, self.state.candidate_slot, self.art.frames,
                                    self.state.remote_frames)
            self.state.candidate_outputs = found
            checks = steps.parity_checks(found, self.art.candidate_reference, parity.atol, parity.rtol)
            self.found["parity"] = [ParityResult(frames=c.frames, passed=c.passed,
                                                 max_abs_diff=c.max_abs_diff if np.isfinite(c.max_abs_diff) else None,
                                                 mismatched=c.mismatched, elements=c.elements, detail=c.detail)
                                    for c in checks]
            failed = [check.frames for check in checks if not check.passed]
            step.detail = "; ".join(check.detail for check in checks)
            if failed:
                step.fail(f"parity fails on {', '.join(failed)} (passes on "
                          f"{', '.join(c.frames for c in checks if c.passed) or 'none'}): {step.detail}")
            return step.passed, step.detail

    def _latency(self) -> tuple[bool, str]:
        spec, budget = self.spec, self.spec.latency_budget
        with self.record.step("latency", iterations=spec.iterations, warmup=spec.warmup) as step:
            sampler = Sampler(self.shell, self.rig.tools.tegrastats, self.store.path("tmp", "tegrastats.log"))
            sampler.start()
            try:
                measured = steps.latency_run(self.shell, self.rig, self.store, self.state.candidate_slot,
                                             self.art.frames[next(iter(self.art.frames))].shape[1:],
                                             spec.iterations, spec.warmup, spec.max_cv)
            finally:
                telemetry = summarize(sampler.stop())
            self.found["telemetry"] = telemetry
            if isinstance(measured, str):
                step.fail(measured)
                return False, measured
            self.found["latency"] = measured
            step.numbers.update(p50_ms=measured.p50, p99_ms=measured.p99 or 0.0, cv=measured.cv or 0.0)
            problems = _latency_problems(measured, budget.p50, budget.p99, spec.max_cv)
            if spec.max_temperature is not None and (telemetry.max_temperature or 0) > spec.max_temperature:
                problems.append(f"reached {telemetry.max_temperature:.1f} °C, limit {spec.max_temperature:.1f} °C")
            step.detail = (f"p50 {measured.p50:.3f} ms, p99 {(measured.p99 or 0):.3f} ms, cv {(measured.cv or 0):.1%}, "
                           f"max {telemetry.max_temperature or 0:.1f} °C over {telemetry.samples} samples")
            if problems:
                step.fail("; ".join(problems) + f" ({step.detail})")
            return step.passed, step.detail

    def _shadow(self) -> tuple[bool, str]:
        from hil.shadow import shadow_run

        with self.record.step("shadow", candidate=self.state.candidate_slot, current=self.state.previous_slot) as step:
            summary = shadow_run(self, self.state.baseline, self.state.candidate_outputs)
            self.found["shadow"] = summary
            step.detail = f"agreement {summary.agreement:.1%} on {summary.frames} frames"
            step.numbers["agreement"] = summary.agreement
            return True, step.detail

    def _activate(self) -> tuple[bool, str]:
        with self.record.step("activate", slot=self.state.candidate_slot) as step:
            self.store.switch(self.state.candidate_slot)
            self.state.switched = True
            self.faults.fire("after:switch", self.shell)
            healthy = steps.restart_and_check(self.shell, self.rig)
            step.detail = healthy.detail
            if not healthy.passed:
                step.fail(f"the candidate did not come up healthy: {healthy.detail}")
            return step.passed, step.detail

    def _rollback(self) -> tuple[bool, str]:
        restored, detail = self._switch_back("rollback")
        return restored, detail

    def _switch_back(self, name: str) -> tuple[bool, str]:
        """Switch to the previous slot, restart, health, and check the previous engine gives its recorded outputs."""
        with self.record.step(name, slot=self.state.previous_slot) as step:
            self.store.switch(self.state.previous_slot)
            self.state.switched = False
            self.faults.fire(f"mid:{name}", self.shell)
            healthy = steps.restart_and_check(self.shell, self.rig)
            if not healthy.passed:
                step.fail(f"the previous engine did not come back healthy: {healthy.detail}")
                return False, step.detail
            found = steps.infer_all(self.shell, self.rig, self.store, self.state.previous_slot, self.art.frames,
                                    self.state.remote_frames)
            drift = [angle for angle, out in found.items()
                     if isinstance(out, str) or not compare(angle, out, self.state.baseline[angle], 1e-6, 1e-6).passed]
            if drift:
                step.fail(f"the previous engine no longer gives its recorded outputs on {', '.join(drift)}")
            else:
                step.detail = f"slot {self.state.previous_slot} serving again, recorded outputs reproduced"
            return step.passed, step.detail

    def _restore_after_error(self) -> bool:
        """After a harness error mid-activation, try once to put the previous engine back; quarantine if not."""
        if not self.state.switched or self.state.previous_slot is None:
            return False
        try:
            shell = self.connect()
            self.shell, self.store = shell, Store(shell, self.rig.store)
            restored, _ = self._switch_back("restore")
            shell.close()
            return not restored
        except HilError as error:
            log.error("%s: could not restore the previous engine: %s", self.rig.name, error)
            return True

    def _result(self, verdict: str, reason: str, quarantined: bool) -> RigResult:
        if quarantined:
            reason = f"QUARANTINED: rollback failed; do not use this rig until a person restores it. {reason}"
        active = self.art.candidate_version if self.state.switched else self.art.current_version
        return RigResult(rig=self.rig.name, hardware=self.rig.hardware, wave=self.wave, verdict=verdict,
                         reason=reason, quarantined=quarantined, active_at_end=active, facts=self.state.facts,
                         steps=self.record.steps, parity=self.found.get("parity", []),
                         latency=self.found.get("latency"), telemetry=self.found.get("telemetry"),
                         idle_temperature=self.found.get("idle_temperature"), shadow=self.found.get("shadow"),
                         bytes_sent=self.found.get("bytes_sent", 0),
                         faults=[key.replace("@", " at ", 1) for key in self.faults.fired])


def _latency_problems(measured, p50_budget: float | None, p99_budget: float | None, max_cv: float) -> list[str]:
    problems = []
    if not measured.stable:
        problems.append(f"unstable: coefficient of variation {measured.cv:.1%} above {max_cv:.0%}")
    if p50_budget is not None and measured.p50 > p50_budget * 1000:
        problems.append(f"p50 {measured.p50:.3f} ms over the {p50_budget * 1000:g} ms budget")
    if p99_budget is not None and measured.p99 is not None and measured.p99 > p99_budget * 1000:
        problems.append(f"p99 {measured.p99:.3f} ms over the {p99_budget * 1000:g} ms budget")
    return problems
