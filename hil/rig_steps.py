"""The steps of hil/step_table.py as they run on one rig, each recorded with its arguments, duration, outcome,
detail and numbers. Each returns (passed, detail); a failing test is data, an InfrastructureError propagates for the
session to wait for the rig and run the step again."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from hil import calibration_probe, steps
from hil.defer import game_step
from hil.errors import ConnectionLost, InfrastructureError
from hil.hand_over import hand_over
from hil.parity import compare
from hil.preflight import preflight as read_facts
from hil.recorder import StepHandle
from hil.rig_telemetry import at_rest, one_sample, summarize, tegrastats_alongside, telemetry_problems
from hil.shadow import shadow_run
from hil.shell import Shell, command
from hil.steps import Failed, Timed
from hil.store import Store
from hil.transfer_step import transfer_step
from sim.model.hil_results import ParityResult, TelemetrySummary
from sim.model.lifecycle import DeviceState as S

if TYPE_CHECKING:
    from hil.session import RigSession

BOOT_TIMEOUT = 90.0          # how long a rig may take to come back after a power cut
COOL_TIMEOUT = 600.0         # how long an activation waits for a hot rig to cool below the plan's limit
COOL_POLL = 5.0


class RigSteps:
    retries = 2              # a step the rig dropped out of is tried this many more times

    def __init__(self, session: "RigSession") -> None:
        self.s = session
        self.store = Store(session.shell, session.rig.store)
        self.staging = session.art.workdir / session.rig.name      # this rig's own local files

    @property
    def shell(self) -> Shell:
        return self.s.shell

    def frame_shape(self) -> tuple[int, ...]:
        return next(iter(self.s.frames.values())).shape[1:]

    # --- install ----------------------------------------------------------------------------------------------

    def preflight(self) -> tuple[bool, str]:
        with self.s.record.step("preflight") as step:
            self.store.prepare()
            facts, idle, problems = read_facts(self.shell, self.s.rig, needs=3 * self.s.art.candidate.stat().st_size)
            self.s.memory_kills.start()
            self.s.found.facts = facts
            self.s.found.idle_temperature = idle.max_temperature if idle else None
            step.numbers.update(at_rest(idle))
            if problems:
                step.fail("; ".join(problems))
            return step.passed, step.detail

    def _provision_current(self) -> tuple[bool, str]:
        """A rig without the current model gets it first (fresh or re-imaged rigs)."""
        art, slot = self.s.art, self.store.inactive_slot()
        moved = self.store.transfer(art.current, art.current_sha, self.s.spec.transfer_rate)
        if not moved.ok:
            return False, f"could not provision the current model: {moved.detail}"
        self.store.install(art.current_sha, slot, art.current_version)
        built = steps.build_engine(self.shell, self.s.rig, self.store, slot, self.s.spec.precision)
        if not built.passed:
            return False, f"the current model does not build on this rig: {built.detail}"
        self.store.switch(slot)
        healthy = steps.restart_and_check(self.shell, self.s.rig)
        return healthy.passed, healthy.detail

    def _current_in_spare_slot(self) -> str | None:
        """The inactive slot, when it holds the current model whole (its sha256) with a built engine: where a run
        that was killed after its switch left the current engine."""
        art, spare = self.s.art, self.store.inactive_slot()
        if self.store.version(spare) != art.current_version:
            return None
        model, engine = self.store.path("slots", spare, "model.onnx"), self.store.path("slots", spare, "model.engine")
        if not self.shell.run(command("test", "-f", model, "-a", "-f", engine), timeout=30).ok:
            return None
        return spare if self.store.sha256(model) == art.current_sha else None

    def _put_current_first(self, serving: str | None) -> tuple[bool, str, str]:
        """The rig does not serve the current model: switch back to the slot that still holds it (a rig left on a
        candidate by a killed run: no transfer, no build), else provision it. (passed, detail, which was done)."""
        spare = self._current_in_spare_slot() if serving is not None else None
        if spare is None:
            passed, detail = self._provision_current()
            if passed:
                detail = f"served {serving or 'nothing'}, not the current {self.s.art.current_version}: provisioned it"
            return passed, detail, "provisioned"
        self.store.switch(spare)
        healthy = steps.restart_and_check(self.shell, self.s.rig)
        if not healthy.passed:
            return False, f"switched back to the current model in slot {spare}: {healthy.detail}", "restored"
        return True, (f"served {serving}, not the current {self.s.art.current_version} (left by a run that did not "
                      f"finish?): switched back to slot {spare}, which holds it"), "restored"

    def baseline(self) -> tuple[bool, str]:
        art, found = self.s.art, self.s.found
        with self.s.record.step("baseline", version=art.current_version) as step:
            active = self.store.active_slot()
            serving = self.store.version(active) if active else None
            put_back = ""
            if serving != art.current_version:
                passed, put_back, done = self._put_current_first(serving)
                step.numbers[done] = 1.0
                if not passed:
                    step.fail(put_back)
                    return False, put_back
                put_back += "; "
            found.previous_slot = self.store.active_slot()
            found.remote_frames = steps.upload_frames(self.store, self.s.frames, self.staging)
            outputs = steps.infer_all(self.shell, self.s.rig, self.store, found.previous(), self.s.frames,
                                      found.remote_frames)
            broken = [f"{angle}: {value}" for angle, value in outputs.items() if isinstance(value, Failed)]
            if broken:
                step.fail("the current engine does not run: " + "; ".join(broken))
            else:
                found.baseline = {angle: value for angle, value in outputs.items() if isinstance(value, np.ndarray)}
                step.detail = f"{put_back}current engine in slot {found.previous()}: outputs recorded"
            return step.passed, step.detail

    def kill(self) -> tuple[bool, str]:
        """kill_then_download (balena's update strategy): the camera service stops before the transfer, so the
        build runs with the memory the model held; the model runs again when a later step starts a service."""
        with self.s.record.step("kill") as step:
            self.s.found.killed_at = time.monotonic()      # set first: a stop that half-failed is restarted too
            stopped = self.shell.run(self.s.rig.service.stop or "false", timeout=60.0)
            if not stopped.ok:
                step.fail(f"the camera service did not stop: {stopped.tail(2)}")
            else:
                step.detail = "camera service stopped: no model runs until the candidate's activation"
            return step.passed, step.detail

    def resume(self) -> tuple[bool, str]:
        """After a kill, an install that failed or was called off: the current model's service starts again."""
        with self.s.record.step("resume", slot=self.s.found.previous_slot or "") as step:
            self._come_up(step, "the current model did not come back healthy")
            return step.passed, step.detail

    def _come_up(self, step: StepHandle, failing: str) -> None:
        """Restart the camera service and wait for its health: the step fails saying `failing`, or a spell without
        a model since the kill step ends here and is recorded."""
        healthy = steps.restart_and_check(self.shell, self.s.rig)
        step.detail = healthy.detail
        if not healthy.passed:
            step.fail(f"{failing}: {healthy.detail}")
        else:
            self._model_runs(step)

    def _model_runs(self, step: StepHandle) -> None:
        if self.s.found.killed_at is not None:
            step.numbers["no_model_s"] = round(time.monotonic() - self.s.found.killed_at, 3)
            self.s.found.killed_at = None

    def transfer(self) -> tuple[bool, str]:
        return transfer_step(self)

    def build(self) -> tuple[bool, str]:
        slot = self.s.found.candidate()
        with self.s.record.step("build", slot=slot, precision=self.s.spec.precision) as step:
            built = steps.build_engine(self.shell, self.s.rig, self.store, slot, self.s.spec.precision,
                                       midway=lambda: self.s.faults.fire("mid:build", self.shell))
            step.numbers["model_bytes"] = float(self.s.art.candidate.stat().st_size)
            step.detail = built.detail
            if not built.passed:
                step.fail(built.detail)
            return step.passed, step.detail

    def parity(self) -> tuple[bool, str]:
        parity, found = self.s.spec.parity, self.s.found
        with self.s.record.step("parity", atol=parity.atol, rtol=parity.rtol, frames=",".join(self.s.frames)) as step:
            outputs = steps.infer_all(self.shell, self.s.rig, self.store, found.candidate(), self.s.frames,
                                      found.remote_frames)
            found.candidate_outputs = {angle: value for angle, value in outputs.items()
                                       if isinstance(value, np.ndarray)}
            checks = steps.parity_checks(outputs, self.s.art.candidate_reference, parity.atol, parity.rtol)
            found.parity = [ParityResult(frames=c.frames, passed=c.passed, mismatched=c.mismatched,
                                         max_abs_diff=c.max_abs_diff if np.isfinite(c.max_abs_diff) else None,
                                         elements=c.elements, detail=c.detail) for c in checks]
            failed = [check.frames for check in checks if not check.passed]
            step.detail = "; ".join(check.detail for check in checks)
            if failed:
                step.fail(f"parity fails on {', '.join(failed)} (passes on "
                          f"{', '.join(c.frames for c in checks if c.passed) or 'none'}): {step.detail}")
            return step.passed, step.detail

    def latency(self) -> tuple[bool, str]:
        spec, found = self.s.spec, self.s.found
        with self.s.record.step("latency", iterations=spec.iterations, warmup=spec.warmup) as step:
            with tegrastats_alongside(self.shell, self.s.rig.tools.tegrastats, self.store.path("tmp", "tegrastats.log"),
                                      keep_in=found.telemetry) as found.latency_telemetry:
                measured = steps.latency_run(self.shell, self.s.rig, self.store, found.candidate(), self.frame_shape(),
                                             spec.iterations, spec.warmup, spec.max_cv)
            telemetry = summarize(found.latency_telemetry)
            ram = f", RAM {telemetry.memory_in_use}" if telemetry.memory_in_use else ""
            if isinstance(measured, Failed):
                step.fail(measured.why)
                return False, measured.why
            found.latency, found.latencies = measured.summary, measured.latencies
            summary = measured.summary
            step.numbers.update(p50_ms=summary.p50, p99_ms=summary.p99 or 0.0, cv=summary.cv or 0.0)
            problems = (steps.latency_problems(summary, spec.latency_budget.p50, spec.latency_budget.p99, spec.max_cv)
                        + telemetry_problems(telemetry, spec.max_temperature, spec.max_memory))
            step.detail = (f"p50 {summary.p50:.3f} ms, p99 {(summary.p99 or 0):.3f} ms, cv {(summary.cv or 0):.1%}, "
                           f"max {telemetry.max_temperature or 0:.1f} °C{ram} over {telemetry.samples} samples")
            if problems:
                step.fail("; ".join(problems) + f" ({step.detail})")
            return step.passed, step.detail

    def shadow(self) -> tuple[bool, str]:
        found = self.s.found
        with self.s.record.step("shadow", candidate=found.candidate(), current=found.previous()) as step:
            summary = shadow_run(self.shell, self.s.rig, self.store, self.s.spec, self.frame_shape(), found.baseline,
                                 found.candidate_outputs, found.candidate(), found.previous(),
                                 found.idle_temperature)
            found.shadow = summary
            step.detail = f"agreement {summary.agreement:.1%} on {summary.frames} frames"
            step.numbers["agreement"] = summary.agreement
            return True, step.detail

    def calibrate(self) -> tuple[bool, str]:
        with self.s.record.step("calibrate", thermal_step=self.s.spec.calibrate.thermal_step
                                if self.s.spec.calibrate else 0) as step:
            calibration_probe.probe(self, step)
            return True, step.detail      # a measurement, never a verdict on the candidate

    # --- a game on the rig holds these (hil/defer.py) ----------------------------------------------------------

    def defer(self) -> tuple[bool, str]:
        return game_step(self, "defer", "switch", limited=True)

    def hold_download(self) -> tuple[bool, str]:
        return game_step(self, "hold_download", "download", limited=False)

    def hold_install(self) -> tuple[bool, str]:
        return game_step(self, "hold_install", "install", limited=True)

    # --- activate and roll back ---------------------------------------------------------------------------

    def activate(self) -> tuple[bool, str]:
        found = self.s.found
        with self.s.record.step("activate", slot=found.candidate()) as step:
            self.store.switch(found.candidate())
            found.switched = True
            self.s.faults.fire("after:switch", self.shell)
            if self.s.state == S.ACTIVATING:
                self.s.move(S.HEALTH_CHECK)
            if self.s.delivery.hand_over:
                hand_over(self, step)
            else:
                self._come_up(step, "the candidate did not come up healthy")
            return step.passed, step.detail

    def switch_back(self, name: str, reason: str, still_serving: bool = False) -> tuple[bool, str]:
        """Switch to the previous slot, restart, health, and check the previous engine gives its recorded outputs.
        `still_serving`: a hand-over that did not happen left the previous engine's service up: it is checked, and
        restarted only if it fails its check."""
        found = self.s.found
        with self.s.record.step(name, slot=found.previous(), reason=reason) as step:
            began = time.monotonic()
            self.store.switch(found.previous())
            found.switched = False
            self.s.faults.fire(f"mid:{name}", self.shell)
            healthy = steps.check_health(self.shell, self.s.rig) if still_serving else None
            if healthy is None or not healthy.passed:
                healthy = steps.restart_and_check(self.shell, self.s.rig)
            step.numbers["healthy_seconds"] = round(time.monotonic() - began, 4)   # before the proof's inferences
            if not healthy.passed:
                step.fail(f"the previous engine did not come back healthy: {healthy.detail}")
                return False, step.detail
            self._model_runs(step)
            return self._reproduced(step, f"slot {found.previous()} serving again, recorded outputs reproduced")

    def confirm_previous(self, reason: str) -> tuple[bool, str]:
        """A rig that never activated the candidate: check that the previous engine still serves as recorded."""
        found = self.s.found
        with self.s.record.step("rollback", slot=found.previous(), reason=reason) as step:
            return self._reproduced(step, f"never activated; slot {found.previous()} still serving, recorded "
                                          f"outputs reproduced")

    def _reproduced(self, step: StepHandle, when_so: str) -> tuple[bool, str]:
        """The proof of a rollback: the previous engine gives the outputs recorded before the update."""
        drift = self._drifted()
        if drift:
            step.fail(f"the previous engine no longer gives its recorded outputs on {', '.join(drift)}")
        else:
            step.detail = when_so
        return step.passed, step.detail

    def _drifted(self) -> list[str]:
        found = self.s.found
        outputs = steps.infer_all(self.shell, self.s.rig, self.store, found.previous(), self.s.frames,
                                  found.remote_frames)
        return [angle for angle, out in outputs.items()
                if isinstance(out, Failed) or not compare(angle, out, found.baseline[angle], 1e-6, 1e-6).passed]

    def cooled(self, limit: float) -> bool:
        """Wait (bounded) for the rig to cool below `limit` °C; True when it did."""
        deadline = time.monotonic() + COOL_TIMEOUT
        with self.s.record.step("cool", below=limit, timeout=COOL_TIMEOUT) as step:
            while True:
                temperature = self.sample_temperature()
                if temperature is not None and temperature < limit:
                    step.detail = f"{temperature:.1f} °C, below {limit:.1f} °C"
                    return True
                if time.monotonic() > deadline or self.s.stop.sleep(COOL_POLL):
                    step.fail(f"still {temperature if temperature is not None else '?'} °C, not below {limit:.1f} °C "
                              f"after {COOL_TIMEOUT:.0f} s: activation waits")
                    return False

    def wait_for_rig(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        with self.s.record.step("reconnect", timeout=BOOT_TIMEOUT) as step:
            while True:
                self.shell.close()
                try:
                    self.shell.run("true", timeout=10)
                    step.detail = f"the rig answered again after {time.monotonic() - deadline + BOOT_TIMEOUT:.1f} s"
                    return
                except InfrastructureError as error:
                    if time.monotonic() > deadline or self.s.stop.sleep_unless_hurried(1.0):
                        raise ConnectionLost(f"{self.s.rig.name}: did not come back within {BOOT_TIMEOUT:.0f} s: "
                                             f"{error}") from None

    # --- telemetry and measurements for the plan's Sample ----------------------------------------------------

    def sample_temperature(self) -> float | None:
        sample = one_sample(self.shell, self.s.rig.tools.tegrastats)
        if sample is None:
            return None
        self.s.found.telemetry.append(sample)
        return sample.max_temperature

    def telemetry_summary(self) -> TelemetrySummary | None:
        found = self.s.found
        ran = found.latency_telemetry + found.hand_over_telemetry     # while the candidate ran, beside the old too
        return summarize(ran) if ran else None

    def measure_current(self) -> None:
        """A control rig: the current engine's latency and outputs, measured without changing any slot."""
        found, art = self.s.found, self.s.art
        with self.s.record.step("measure", engine="current") as step:
            self.store.prepare()
            active = self.store.active_slot()
            if active is None or self.store.version(active) != art.current_version:
                step.fail(f"serves {self.store.version(active) if active else 'nothing'}, not the current "
                          f"{art.current_version}: no control measurements from this rig")
                return
            found.previous_slot = active
            found.remote_frames = steps.upload_frames(self.store, self.s.frames, self.staging)
            outputs = steps.infer_all(self.shell, self.s.rig, self.store, active, self.s.frames, found.remote_frames)
            found.baseline = {angle: value for angle, value in outputs.items() if isinstance(value, np.ndarray)}
            timed = steps.latency_run(self.shell, self.s.rig, self.store, active, self.frame_shape(),
                                      self.s.spec.iterations, self.s.spec.warmup, max_cv=None)
            if isinstance(timed, Timed):
                found.current_latencies = timed.latencies
            self.sample_temperature()
            step.detail = f"slot {active}: {len(found.current_latencies)} timed inferences, outputs recorded"
