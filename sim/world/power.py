"""Power cuts on a device: its own Poisson stream of cuts from time 0, and what a cut does in each state.

A/B slots keep the old model bootable, so a cut costs a reboot and a retry; an in-place install or rollback that a
cut interrupts leaves nothing bootable (BRICKED). Mixed into Lifecycle, whose steps it calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.model import streams
from sim.model.lifecycle import IN_FLIGHT
from sim.model.lifecycle import DeviceState as S

if TYPE_CHECKING:
    from sim.world.device import Device

POWER_CUT = "power cut"


class PowerCuts:
    """Needs from its host (Lifecycle): world, fleet, cut_rate, verify_time and the lifecycle steps it resumes."""

    def _plan_power_cut(self, device: Device) -> None:
        """Schedule the device's next power cut, from its own Poisson stream of cuts since time 0."""
        if self.cut_rate <= 0:
            return
        world, moment = self.world, 0.0
        while True:
            device.cut_counter += 1
            moment += streams.exponential(world.seed, streams.POWER_CUT, device.id, device.cut_counter,
                                          1.0 / self.cut_rate)
            if moment > world.now or moment >= world.scenario.duration:
                break
        if moment < world.scenario.duration:
            world.after(moment - world.now, self._natural_cut, (device, device.cut_counter, moment))

    def _natural_cut(self, device: Device, counter: int, moment: float) -> None:
        state = self.world.state(device.id)
        if state in IN_FLIGHT or state == S.ROLLING_BACK:
            self._power_cut(device, state)
            self._plan_next_cut(device, moment)

    def _plan_next_cut(self, device: Device, last: float) -> None:
        world = self.world
        device.cut_counter += 1
        moment = last + streams.exponential(world.seed, streams.POWER_CUT, device.id, device.cut_counter,
                                            1.0 / self.cut_rate)
        if moment < world.scenario.duration:
            world.after(moment - world.now, self._natural_cut, (device, device.cut_counter, moment))

    def _power_cut(self, device: Device, state: S, dark_for: float = 0.0) -> None:
        """The device loses power (for `dark_for`, then it reboots). A/B slots keep the old model bootable; in-place
        writes do not survive."""
        device.generation += 1
        reboot = dark_for + self.fleet.reboot_time
        ab = self.fleet.slots == "ab"
        if state == S.DOWNLOADING:
            if device.download is not None and device.download.active:
                kept = self.world.network.stop(device.download)
                device.download.done = kept
            self._after(device, reboot, self._resume_download)
        elif state == S.VERIFYING:
            self._after(device, reboot + self.verify_time, self._verified)
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
            self._end_exposure(device)
            self.world.recorder.candidate_end[device.id] = self.world.now
            self.world.move(device.id, S.AWAITING_WINDOW, POWER_CUT)
            self._after(device, reboot, self._await_window)
        elif state == S.ACTIVATING:  # in place: the new model is the only one; it boots and carries on
            self._after(device, reboot + self.fleet.activation_time, self._check_health)
        else:
            self._after(device, reboot + self.fleet.health_check, self._judge)

