"""Power cuts during the update: each camera in the rollout meets cuts of its own random stream
(`fleet.power_loss_per_day`, sim/world/power.py), and a scripted cut (`faults:`) through `Lifecycle.interrupt`. A
cut voids the step in flight; after the dark and the reboot the camera resumes where its state says. A/B slots keep
the old model bootable; an in-place write or rollback cut mid-way bricks the camera.

A part of the lifecycle (sim/world/device.py), as sim/world/fetching.py, sim/world/server_side.py and
sim/world/staging.py are: the steps call each other through `self` (sim/world/lifecycle_parts.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.model.lifecycle import IN_FLIGHT
from sim.model.lifecycle import DeviceState as S
from sim.world.lifecycle_parts import LifecycleParts
from sim.world.power import POWER_CUT, next_cut

if TYPE_CHECKING:
    from sim.world.device import Device


class PowerCuts(LifecycleParts):
    def _plan_power_cut(self, device: Device, start: float = 0.0) -> None:
        """Schedule the device's next power cut of its own stream (the first from time 0 when it joins)."""
        if self.cut_rate <= 0:
            return
        world = self.world
        moment, device.cut_counter = next_cut(world.seed, device.id, device.cut_counter, self.cut_rate, start,
                                              max(start, world.now))
        if moment < world.scenario.duration:
            world.after(moment - world.now, self._natural_cut, (device, moment))

    def _natural_cut(self, device: Device, moment: float) -> None:
        state = self.world.state(device.id)
        if state in IN_FLIGHT or state == S.ROLLING_BACK:
            self._power_cut(device, state)
            self._plan_power_cut(device, moment)

    def _power_cut(self, device: Device, state: S, dark_for: float = 0.0) -> None:
        """The device loses power (for `dark_for`, then it reboots). A/B slots keep the old model bootable; in-place
        writes do not survive."""
        device.generation += 1
        reboot = dark_for + self.fleet.reboot_time
        ab = self.fleet.slots == "ab"
        if state == S.DOWNLOADING:
            if device.download is not None and device.download.active:
                device.download.done = self.world.network.stop(device.download)
            # Dark, it waits for nothing: out of its site's queue for the cached copy (else the copy started when the
            # cache filled during the dark, and the reboot started a second one), it asks again when it is back.
            self.cache.forget(device.site, device.id)
            self._after(device, reboot, self._resume_download)
        elif state == S.VERIFYING:
            self._after(device, reboot + self.times.verify[self._hardware[device.id]], self._verified)
        elif state == S.INSTALLING:
            if ab:
                self._after(device, reboot, self._begin_install)
            else:
                self._finish(device, S.BRICKED, "power cut during in-place install")
        elif state == S.AWAITING_WINDOW:
            self._after(device, reboot, self._await_window)
        elif state in (S.ACTIVATING, S.HEALTH_CHECK):
            self._power_cut_before_commit(device, state, ab, reboot)
        elif state == S.ROLLING_BACK:
            if ab:
                self._after(device, reboot, self._rolled_back)
            else:
                self._finish(device, S.BRICKED, "power cut during in-place rollback")

    def _power_cut_before_commit(self, device: Device, state: S, ab: bool, reboot: float) -> None:
        if ab:   # the bootloader falls back to the old slot; the new one is still installed, try again later
            self.service_loss.running(device, self.world.now)     # the old model boots: the dark from here is the cut's
            self._end_exposure(device)
            self.world.recorder.candidate_end[device.id] = self.world.now
            self.world.move(device.id, S.AWAITING_WINDOW, POWER_CUT)
            self._after(device, reboot, self._await_window)
        elif state == S.ACTIVATING:  # in place: the new model is the only one; it boots and carries on
            self._after(device, reboot + self._activation_delay(device), self._check_health)
        else:
            self._after(device, reboot + self.fleet.health_check, self._judge)
