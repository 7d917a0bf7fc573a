"""One rig for the length of a plan: its connection, its lease, what it has measured and its lifecycle state.

The rig controller calls the phases the plan asks for — `install` (preflight … latency, and shadow), `activate`,
`roll_back` — and `close` at the end, which proves the rollback on a rig still running the candidate and releases the
lease. The rig moves through the lifecycle table the simulator uses (sim/model/lifecycle.py):

    IDLE → DOWNLOADING (preflight, baseline, [hold_download], transfer) → VERIFYING
         → INSTALLING ([hold_install], build, parity, latency, shadow) → AWAITING_WINDOW ([defer: a game])
         → ACTIVATING → HEALTH_CHECK → COMMITTED → ROLLING_BACK → ROLLED_BACK
    a failing step before activation, or a game past the defer limit: FAILED (the previous engine never stopped
    serving); under delivery.failure_retries a game past the limit or a download corrupt every time starts a new
    attempt instead (a `retry` step, hil/failure_retries.py), from the failed step or, fetching again, the download
    a failed activation is undone at once: ROLLED_BACK; a rollback that fails: BRICKED, and the rig is quarantined
    under delivery.failure_handling: do_nothing a failed activation is left in place: HEALTH_CHECK → FAILED, the
    candidate stays in the active slot to the plan's end (out of reach of the plan's rollback, as in the simulator)

A harness error, a lost lease or a stop request ends the rig's part of the plan; close() still puts a rig that runs
the candidate back on its previous engine (under the lease, before releasing it) unless the lease was lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hil.artifacts import Artifacts
from hil.errors import HilError, InfrastructureError, LeaseHeld, LeaseLost
from hil.failure_retries import FailureRetries
from hil.faults import FaultPlan
from hil.findings import Findings
from hil.inventory import Rig
from hil.lease import Lease, Renewal, default_owner
from hil.memory_kills import MemoryKills
from hil.recorder import StepRecorder
from hil.rig_delivery import RigDelivery
from hil.rig_steps import RigSteps
from hil.session_end import release_lease, rig_result
from hil.shell import Shell
from hil.step_table import after, steps_of
from hil.stop import Stopped, StopSignal
from sim.model.hil_results import RigResult, StepOutcome
from sim.model.hil_spec import HilSpec
from sim.model.lifecycle import LEFT_ON_CANDIDATE, check_transition
from sim.model.lifecycle import DeviceState as S

log = logging.getLogger(__name__)


class RigSession:
    def __init__(self, rig: Rig, angle: str | None, connect: Callable[[], Shell], spec: HilSpec,
                 artifacts: Artifacts, run_id: str, faults: FaultPlan, stop: StopSignal,
                 delivery: RigDelivery) -> None:
        self.rig, self.angle, self.connect, self.spec, self.art = rig, angle, connect, spec, artifacts
        self.run_id, self.faults, self.stop = run_id, faults, stop
        self.delivery = delivery                         # what the scenario's delivery makes the rig do
        self.frames = artifacts.frames_for(angle)
        self.record = StepRecorder(rig.name)
        self.memory_kills = MemoryKills(lambda: self.shell, rig)
        self.record.after_failure = self.memory_kills.after_failure
        self.new_attempts = FailureRetries(delivery.failure_retries, delivery.fetch_again, self.record)
        self.found = Findings()
        self.state = S.IDLE
        self.release: tuple[int, str] | None = None      # which of the plan's releases told this rig, and its label
        self.outcome: StepOutcome = "skipped"            # passed / failed / error / skipped, for the report
        self.reason = ""
        self.quarantined = False
        self.ended = ""                                  # why this rig takes no more actions ('' while it can)
        self.lock = threading.Lock()                     # one action at a time on a rig
        self._shell: Shell | None = None
        self.lease: Lease | None = None
        self.renewal: Renewal | None = None
        self.lease_lost = ""
        self.shadowing = False                           # the candidate runs beside the current engine, not serving
        self.pending_cool: float | None = None           # an activation waiting for the rig to cool below this
        self.lease_wait = 0.0                            # seconds to wait for a rig another run holds

    # --- the phases a plan asks for ------------------------------------------------------------------------

    @property
    def opened(self) -> bool:
        return self._shell is not None

    @property
    def shell(self) -> Shell:
        if self._shell is None:
            raise HilError(f"{self.rig.name}: not connected")
        return self._shell

    def install(self, shadow: bool) -> None:
        """Preflight to latency (and shadow): the candidate ready in the inactive slot, or FAILED with the reason."""
        self._guarded(lambda: self._install(shadow))

    def activate(self, cool_below: float | None) -> None:
        self._guarded(lambda: self._activate(cool_below))

    def roll_back(self, reason: str) -> None:
        self._guarded(lambda: self._roll_back(reason))

    def measure_current(self) -> None:
        """A control rig: the current engine measured once, nothing changed on the rig."""
        if not self.found.baseline:
            self._guarded(lambda: self.steps.measure_current())

    def sample_telemetry(self) -> None:
        """One tegrastats reading; skipped when the rig is busy with a step (that step samples its own)."""
        if self.ended or self._shell is None or not self.lock.acquire(blocking=False):
            return
        try:
            self.steps.sample_temperature()
        except HilError as error:
            log.warning("%s: no telemetry sample: %s", self.rig.name, error)
        finally:
            self.lock.release()

    def _guarded(self, phase: Callable[[], None]) -> None:
        """Run a phase; a harness error, a lost lease or a stop ends this rig's part of the plan, safely."""
        if self.ended:
            return
        with self.lock:
            try:
                if self._shell is None:
                    self._open()
                phase()
            except Stopped:
                self.ended = f"interrupted: {self.stop.reason}"
                if self.state in (S.DOWNLOADING, S.VERIFYING, S.INSTALLING, S.AWAITING_WINDOW) and \
                        not self.found.switched:
                    self.state = S.IDLE            # cancelled before the candidate served, as in the simulator
            except LeaseLost as error:
                self.ended = self.lease_lost = str(error)
                self._error(str(error))
            except LeaseHeld as error:
                self.ended = str(error)
                self._error(str(error))
            except HilError as error:
                self.ended = str(error)
                self._error(str(error))
            except Exception as error:     # a bug here must not take the other rigs' results with it
                log.exception("%s: internal error", self.rig.name)
                self.ended = f"internal error in fleetlab: {type(error).__name__}: {error}"
                self._error(self.ended)

    def _error(self, reason: str) -> None:
        self.outcome, self.reason = "error", reason
        if self.state not in (S.COMMITTED, S.ROLLED_BACK, S.BRICKED, S.FAILED, S.IDLE):
            self.state = S.FAILED        # the harness could not finish the install: the candidate is not serving

    def _open(self) -> None:
        self._shell = self.connect()
        self.steps = RigSteps(self)
        ttl = int(self.rig.lease_ttl)
        lease = Lease(self.shell, self.rig.name, self.rig.store, default_owner(self.run_id), ttl)
        with self.record.step("reserve", owner=lease.owner, ttl=ttl) as step:
            waited = lease.acquire_waiting(self.lease_wait, self.stop.sleep)
            if lease.took_over:
                step.detail = f"took over the expired lease of {lease.took_over}"
            if waited:
                step.numbers["waited_s"] = round(waited, 1)
        self.lease = lease
        self.renewal = Renewal(lease, lambda: Lease(self.connect(), self.rig.name, self.rig.store, lease.owner, ttl),
                               on_lost=self._on_lease_lost)
        if self.outcome == "skipped":
            self.outcome = "passed"

    def _on_lease_lost(self, holder: str) -> None:
        self.lease_lost = f"lost the lease of {self.rig.name} to {holder}: stopped; the rig was left as it was"

    def checkpoint(self) -> None:
        """Between steps: stop when asked to, or when the lease is no longer ours."""
        self._check_lease()
        self.stop.check()

    def _check_lease(self) -> None:
        if self.lease_lost:
            raise LeaseLost(self.lease_lost)

    def move(self, state: S) -> None:
        check_transition(self.state, state)
        self.state = state

    def _install(self, shadow: bool) -> None:
        if self.state == S.AWAITING_WINDOW and shadow and self.found.shadow is None:
            self._shadow_staged()
            return
        if self.state != S.IDLE:
            return                         # told again (a promotion), or staged ahead: the install is done
        self.move(S.DOWNLOADING)
        if self._install_steps(self._install_list(shadow)):
            self.shadowing = shadow
            self.move(S.AWAITING_WINDOW)

    def _install_list(self, shadow: bool) -> list[str]:
        return [step.name for step in steps_of("install") if self._wanted(step.name, shadow)]

    def _install_steps(self, wanted: list[str], at: int = 0) -> bool:
        """Run the install steps from `wanted[at]`; a failure a new attempt may mend starts one
        (hil/failure_retries.py), else the update is FAILED. True when every step passed."""
        while at < len(wanted):
            name = wanted[at]
            self.checkpoint()
            self.faults.fire(f"before:{name}", self.shell)
            passed, detail = self._attempt(name, getattr(self.steps, name))
            if not passed:
                again = self.new_attempts.start_again(name, detail, wanted)
                if again is None:
                    self._fail_before_switch(name, self.new_attempts.spent(detail))
                    return False
                if self.state == S.INSTALLING and again != name:
                    self.move(S.DOWNLOADING)            # the retry fetches the candidate again
                at = wanted.index(again)
                continue
            if name == "transfer":
                self.move(S.VERIFYING)
                self.move(S.INSTALLING)
            at += 1
        return True

    def _shadow_staged(self) -> None:
        """A rig staged ahead (installed with no shadow) released as a shadow: the shadow step runs now."""
        self.checkpoint()
        self.faults.fire("before:shadow", self.shell)
        passed, detail = self._attempt("shadow", self.steps.shadow)
        if not passed:
            self.outcome, self.reason = "failed", detail
            self.move(S.FAILED)
            return
        self.shadowing = True

    def _activate(self, cool_below: float | None) -> None:
        if self.state != S.AWAITING_WINDOW:
            return
        self.checkpoint()                  # never activate after a stop was requested
        self.pending_cool = cool_below
        if cool_below is not None and not self.steps.cooled(cool_below):
            return                         # still too hot: the controller tries again after the next soak
        self.pending_cool, self.shadowing = None, False
        if self._wanted("defer") and not self._defer():
            return
        self.faults.fire("before:activate", self.shell)
        self.move(S.ACTIVATING)
        passed, detail = self._attempt("activate", self.steps.activate)
        if passed:
            self.move(S.COMMITTED)
            return
        self.outcome, self.reason = "failed", detail
        if self.delivery.leave_failing and self.found.switched:
            self._leave_failing()
            return
        self.record.skip("rollback", "not run: activate failed (restored at once instead)")
        self.move(S.ROLLING_BACK)
        self._restore("restore", still_serving=not self.found.switched)   # a hand-over that did not happen

    def _defer(self) -> bool:
        """The switch waits while a game is on (hil/defer.py); a game past the limit fails the update unless a retry
        starts a new attempt, which waits again (or, fetching again, installs again first). True: go ahead."""
        while True:
            self.faults.fire("before:defer", self.shell)
            passed, detail = self._attempt("defer", self.steps.defer)
            if passed:
                return True
            wanted = self._install_list(shadow=False)
            again = self.new_attempts.start_again("defer", detail, wanted)
            if again is None:           # a game held the switch past the limit: the candidate never served
                self._fail_before_switch("defer", self.new_attempts.spent(detail))
                return False
            if again != "defer":
                self.move(S.DOWNLOADING)
                if not self._install_steps(wanted, wanted.index(again)):
                    return False
                self.move(S.AWAITING_WINDOW)
            self.checkpoint()

    def _fail_before_switch(self, step: str, detail: str) -> None:
        """A step before the switch failed: the update is FAILED, the current model serving (started again after
        the kill step)."""
        self._skip_after(step)
        self.outcome, self.reason = "failed", detail
        self.move(S.FAILED)
        self._resume()

    def _leave_failing(self) -> None:
        """Greengrass' DO_NOTHING: the update is FAILED with the candidate left in the active slot, as the simulator
        leaves a camera; the plan's rollback does not reach it, and close() restores it (with the proof) at the end
        so the rack is left as found."""
        self.reason += f"; {LEFT_ON_CANDIDATE}"
        self.move(S.FAILED)

    def _roll_back(self, reason: str) -> None:
        if self.state in (S.COMMITTED, S.HEALTH_CHECK, S.ACTIVATING):
            self.move(S.ROLLING_BACK)
            self.faults.fire("before:rollback", self.shell)
            passed, detail = self._attempt("rollback", lambda: self.steps.switch_back("rollback", reason), undo=True)
            if passed:
                self.move(S.ROLLED_BACK)
            else:
                self._quarantine(detail)
        elif self.state == S.AWAITING_WINDOW:          # installed (in shadow), never activated: cancelled
            passed, detail = self._attempt("rollback", lambda: self.steps.confirm_previous(reason), undo=True)
            self.move(S.IDLE)
            if not passed:
                self._quarantine(detail)
            else:
                self._resume()

    def _resume(self) -> None:
        """After the kill step, an install that failed or was called off starts the current model again; a rig
        whose model cannot come back is quarantined."""
        if self.found.killed_at is None or self.found.switched:
            return
        passed, detail = self._attempt("resume", self.steps.resume, undo=True)
        if not passed:
            self._quarantine(detail)

    def _restore(self, name: str, still_serving: bool = False) -> None:
        passed, detail = self._attempt(name, lambda: self.steps.switch_back(name, self.reason or name, still_serving),
                                        undo=True)
        if passed:
            self.move(S.ROLLED_BACK)
        else:
            self._quarantine(detail)

    def _quarantine(self, detail: str) -> None:
        self.state = S.BRICKED if self.state in (S.ROLLING_BACK, S.COMMITTED, S.ACTIVATING) else self.state
        self.quarantined, self.outcome = True, "failed"
        self.reason = f"QUARANTINED: rollback failed; do not use this rig until a person restores it. {detail}"
        self.ended = self.reason

    def _attempt(self, name: str, action: Callable[[], tuple[bool, str]], undo: bool = False) -> tuple[bool, str]:
        """Run a step; when the rig drops away (a power cut, a link down) wait for it to come back and run the step
        again — each try is recorded. Steps are safe to repeat (transfers resume, slots are replaced whole,
        switches are renames). An `undo` (a rollback, a restore) is what a stop request asks for, so a stop does
        not end it between tries: only a lost lease does."""
        for attempt in range(self.steps.retries + 1):
            try:
                passed, detail = action()
                return passed, detail if passed else detail + self.memory_kills.said()
            except InfrastructureError as error:
                if attempt == self.steps.retries:
                    raise
                log.warning("%s: %s interrupted (%s); waiting for the rig", self.rig.name, name, error)
                self.steps.wait_for_rig()
                if undo:                   # the lease may have gone while the rig was away: then hands off
                    self._check_lease()
                else:
                    self.checkpoint()
        raise AssertionError("unreachable")

    def _wanted(self, name: str, shadow: bool = False) -> bool:
        """The optional steps run when asked for: shadow by the plan or the hil: part, calibrate by the hil: part, the
        waits for a game where the rig can say one is on (hil/defer.py). A shadow runs beside the current model by
        design, as in the simulator: no kill step before it."""
        games = self.rig.service.busy is not None
        asked = {"shadow": shadow or self.spec.shadow, "kill": self.delivery.kill_first and not shadow,
                 "calibrate": self.spec.calibrate is not None, "defer": games,
                 "hold_download": games and self.delivery.freeze, "hold_install": games and self.delivery.freeze}
        return asked.get(name, True)

    def _skip_after(self, failed: str) -> None:
        for name in after(failed):
            if self._wanted(name):
                self.record.skip(name, f"not run: {failed} failed")

    # --- the end ---------------------------------------------------------------------------------------------

    def close(self, reason: str, stopped: bool = False) -> RigResult:
        """Prove the rollback on a rig that still runs the candidate (or restore it after an error or a stop),
        release the lease, hang up. Returns the rig's result."""
        with self.lock:
            if self._shell is not None:
                try:
                    self._put_back(reason, stopped)
                finally:
                    release_lease(self)
        return rig_result(self)

    def _put_back(self, reason: str, stopped: bool) -> None:
        if self.lease_lost or not self.found.switched:
            if self.state == S.AWAITING_WINDOW and not self.ended:
                self.record.skip("rollback", "not run: the candidate was never activated")
            if not self.lease_lost and self.found.killed_at is not None:
                self._resume_at_close()      # killed before an activation that never came: the model runs again
            return
        name = "restore" if self.ended or stopped else "rollback"
        try:
            if name == "rollback":
                self.faults.fire("before:rollback", self.shell)
            passed, detail = self._attempt(name, lambda: self.steps.switch_back(name, reason), undo=True)
        except HilError as error:
            passed, detail = False, str(error)
        if not passed:
            self._quarantine(detail)

    def _resume_at_close(self) -> None:
        """Stopped or failed by the harness between the kill and the activation: the current model runs again."""
        try:
            self._resume()
        except HilError as error:
            self._quarantine(str(error))
