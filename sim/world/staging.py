"""Staging ahead (`delivery.stage_ahead`, hawkBit's download-only rollout before the real one): from the start every
camera fetches, verifies and installs the candidate into its inactive slot, and waits; the plan's releases then only
switch, each in the camera's next install window. What staging costs the plan is egress up front: a halt saves none
of it.

A staged camera is not yet released: the plan hears nothing of it (its outcome is not reported, World.move), so a
camera whose staging failed reports its failure when the plan releases it, and the in-progress timeout starts with
the release, not with the staging. With polling agents a release waits for the camera's check-in, and a halt
withdraws it meanwhile (the camera stays staged). A part of the lifecycle (sim/world/device.py), as
sim/world/fetching.py and sim/world/server_side.py are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.model.lifecycle import IN_FLIGHT
from sim.model.lifecycle import DeviceState as S
from sim.world.lifecycle_parts import LifecycleParts

if TYPE_CHECKING:
    from sim.world.device import Device


class Staging(LifecycleParts):
    def stage_everyone(self) -> None:
        """At the start: every camera begins fetching the candidate (an agent that polls, at its first check-in)."""
        for device_id in range(self.world.layout.size):
            device = self._join(device_id, shadow=False, cool_below=None)
            self._staged.add(device_id)
            self._on_order(device, self._start)

    def _order_release(self, device: Device, shadow: bool, cool_below: float | None) -> None:
        """The plan releases a staged camera: its agent learns of it at its next check-in, unless a halt withdraws the
        release first (server_side.withdraw_unstarted)."""
        self._staged_unreleased.add(device.id)
        self._on_order(device, lambda known: self._release_staged(known, shadow, cool_below))

    def _release_staged(self, device: Device, shadow: bool, cool_below: float | None) -> None:
        """The agent picks the release up: the camera switches at its next window (a shadow runs the candidate beside
        the current model); one whose staging failed reports the failure to the plan now."""
        if device.id not in self._staged_unreleased:
            return          # withdrawn by a halt before the agent checked in: it stays staged
        self._staged_unreleased.remove(device.id)
        world = self.world
        self._staged.discard(device.id)
        device.shadow, device.cool_below = shadow, cool_below
        state = world.state(device.id)
        if state not in IN_FLIGHT:
            world.report(device.id, state)
            return
        self._start_timeout(device)
        if state == S.AWAITING_WINDOW:
            device.generation += 1      # voids a reboot's pending look for a window: it looks now
            self._await_window(device)
