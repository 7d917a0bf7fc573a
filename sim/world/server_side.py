"""What the update server decides about a camera's update, apart from the plan itself: an order (a release, a
promotion, a rollback) reaches a polling agent at its next check-in (sim/world/check_ins.py); a halt withdraws the
releases no agent has picked up; an update that has not reached an outcome within `delivery.in_progress_timeout` is
timed out (AWS IoT Jobs' in-progress timeout), and started again up to `delivery.timeout_retries` times; a failed
one is started again up to `delivery.failure_retries` times (AWS's retries for FAILED, Mender's deployment retries).

A part of the lifecycle (sim/world/device.py), which `Lifecycle` inherits as it does sim/world/fetching.py: the steps
call each other through `self` (sim/world/lifecycle_parts.py declares what they share).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.model.lifecycle import DeviceState as S
from sim.model.lifecycle import retries_spent
from sim.model.units import format_duration
from sim.world.lifecycle_parts import LifecycleParts

if TYPE_CHECKING:
    from sim.world.device import Device, Step

TIMED_OUT = "timed out"     # how a timed-out camera's failure reason starts


class ServerSide(LifecycleParts):
    # --- orders from the controller, at the agent's check-in ----------------------------------------------------

    def _on_order(self, device: Device, step: Step) -> None:
        """Carry out the controller's order at once, or at the device's next check-in when agents poll
        (sim/world/check_ins.py). Not tied to the device's generation: a power cut meanwhile does not lose it."""
        if self.check_ins is None:
            step(device)
        else:
            wait = self.check_ins.scheduled(device.id, self.world.now) - self.world.now
            self.world.after(wait, self._check_in, (device, step))

    def _check_in(self, device: Device, step: Step) -> None:
        assert self.check_ins is not None
        world = self.world
        wait = self.check_ins.wait(device.id, world.now)
        if wait is None:
            step(device)
        elif world.now + wait < world.scenario.duration:     # its site is dark: it asks again once back
            world.after(wait, self._check_in, (device, step))

    def _picked_up(self, device: Device) -> None:
        if device.id in self._unstarted:      # else withdrawn before its agent checked in
            self._unstarted.remove(device.id)
            self._start(device)

    def withdraw_unstarted(self, reason: str) -> int:
        """The rollout halted: the server withdraws the releases no agent has picked up (AWS IoT Jobs cancels the
        queued executions; in-progress ones carry on). Returns how many."""
        withdrawn = sorted(self._unstarted)
        for device_id in withdrawn:
            self._withdraw(self._device(device_id), reason)
        staged = len(self._staged_unreleased)       # they stay staged, in the inactive slot (sim/world/staging.py)
        self._staged_unreleased.clear()
        return len(withdrawn) + staged + self._withdraw_retries()

    def awaiting_check_in(self, device_id: int) -> bool:
        return device_id in self._unstarted

    @property
    def unstarted(self) -> int:
        """Released devices whose agent has not picked the release up yet (staged ones included)."""
        return len(self._unstarted) + len(self._staged_unreleased)

    def _withdraw(self, device: Device, reason: str) -> None:
        self._unstarted.discard(device.id)
        self.world.recorder.reasons[device.id] = reason
        self.in_flight -= 1
        self.world.on_settled(device.id)

    # --- in-progress timeouts -----------------------------------------------------------------------------------

    def _start_timeout(self, device: Device) -> None:
        """A new execution of the update: the server times it out unless it reaches an outcome in time."""
        timeout = self.delivery.in_progress_timeout
        if timeout is not None:
            device.executions += 1
            self.world.after(timeout, self._timeout_due, (device, device.executions))

    def _timeout_due(self, device: Device, execution: int) -> None:
        if execution != device.executions or device.shadow:
            return      # a later execution's timer, or a shadow install (it waits for promotion by design)
        state = self.world.state(device.id)
        if state == S.INSTALLING:
            device.timed_out = True         # stops when the install ends: an in-place write must not be cut
        elif state in (S.DOWNLOADING, S.VERIFYING, S.AWAITING_WINDOW):
            self._time_out(device, state)
        # activating or in its health check: it runs to its outcome; ended or cancelled: nothing to time out

    def _time_out(self, device: Device, state: S) -> None:
        """The execution timed out: another one carries on from what the camera has, or it fails."""
        timed_out = device.executions - self._failure_retries.get(device.id, 0)    # not the retries after failures
        if timed_out <= self.delivery.timeout_retries:
            self._start_timeout(device)
            download = device.download
            if state == S.DOWNLOADING and download is not None and download.active:
                # the agent stops and starts again: the download keeps what its resume rule allows
                network = self.world.network
                download.done = network.stop(download)
                network.start(download)
            return
        device.generation += 1              # voids the step in flight
        if state == S.DOWNLOADING:
            self._give_up_download(device)
        elif state == S.VERIFYING:
            self._cache_abandoned(device)   # a seeder: the next waiting camera of its site fetches instead
        timeout = self.delivery.in_progress_timeout
        assert timeout is not None
        times = f", {timed_out} times" if timed_out > 1 else ""
        self._finish(device, S.FAILED, f"{TIMED_OUT} after {format_duration(timeout)} (delivery.in_progress_timeout"
                                       f"){times}")

    # --- retries of a failed update -------------------------------------------------------------------------------

    def _retry_left(self, device: Device) -> bool:
        return self._failure_retries.get(device.id, 0) < self.delivery.failure_retries

    def _fail_or_retry(self, device: Device, reason: str, resume: Step) -> None:
        """The update failed for `reason`: the server starts a new execution (delivery.failure_retries) with a new
        in-progress timeout and the download attempts counted afresh, which the agent picks up at its next
        check-in and carries on from what the camera has with `resume`; with no retry left the update ends FAILED.
        The caller has left the device in the state it resumes from."""
        retried = self._failure_retries.get(device.id, 0)
        if retried >= self.delivery.failure_retries:
            self._finish(device, S.FAILED, reason + retries_spent(retried))
            return
        self._failure_retries[device.id] = retried + 1
        self._attempts_before[device.id] = device.attempts
        self.world.recorder.retried_failures += 1
        device.generation += 1              # voids the step in flight: the new execution takes over
        if self.delivery.retry_fetches_again:
            self._drop_artifact(device, reason)
            resume = self._begin_download
        if device.id in self._staged:
            device.executions += 1          # counted, not timed: a staged camera's timeout runs from its release
        else:
            self._start_timeout(device)
        generation = device.generation
        self._retries_queued[device.id] = (generation, reason)
        restarted = self._restart_until_picked_up(device)

        def new_execution(known: Device) -> None:
            if self._retries_queued.get(known.id, (-1, ""))[0] == generation:
                del self._retries_queued[known.id]
            if known.generation == generation:      # else a power cut, a rollback or a halt took over meanwhile
                if restarted is not None:           # kill_then_download stops it again as the new attempt starts
                    self.service_loss.stop(known, max(self.world.now, restarted))
                resume(known)
        self._on_order(device, new_execution)

    def _restart_until_picked_up(self, device: Device) -> float | None:
        """Under kill_then_download a failed update restarts the current model, as `_finish` does, while the retry
        waits for the agent's check-in: when it has restarted (None when the camera runs a model anyway, or the
        retry is picked up at once, before any restart)."""
        if self.check_ins is None or not self.service_loss.without_model(device.id):
            return None
        restarted = self.world.now + self._activation_delay(device)
        self.service_loss.running(device, restarted)
        return restarted

    def _drop_artifact(self, device: Device, reason: str) -> None:
        """A retry that fetches the artifact again (delivery.retry_fetches_again): what the camera has goes, bytes
        kept, a verified copy (no longer counted useful: it is not what the camera installs) or an installed one."""
        world = self.world
        state = world.state(device.id)
        if state == S.DOWNLOADING:
            self._give_up_download(device)
        else:       # verified (seeding no more), installing or installed: the next install is of the copy fetched again
            world.recorder.useful_bytes -= self._useful_counted.pop(device.id, 0.0)
            world.move(device.id, S.DOWNLOADING, f"{reason}: retried (delivery.failure_retries), fetching the "
                                                 "artifact again")

    def _withdraw_retries(self) -> int:
        """The rollout halted: the new executions after failures that no agent has picked up are cancelled with the
        other queued ones (a power cut since has the camera resume by itself: not queued any more; staging ahead is
        a rollout of its own, hawkBit's download-only one, which the plan's halt does not stop). Their cameras'
        updates end FAILED, as the failure left them. Returns how many."""
        withdrawn = 0
        for device_id, (generation, reason) in sorted(self._retries_queued.items()):
            device = self._device(device_id)
            if device.generation != generation or device_id in self._staged:
                continue
            withdrawn += 1
            device.generation += 1
            if self.world.state(device_id) == S.DOWNLOADING:
                self._give_up_download(device)
            retried = self._failure_retries[device_id]
            self._finish(device, S.FAILED, f"{reason} (retry {retried} withdrawn: the rollout halted before the "
                                           "camera checked in)")
            del self._retries_queued[device_id]
        return withdrawn
