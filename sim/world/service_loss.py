"""How long cameras run no model because of the update, and how much of that falls in their sites' games.

A camera stops its running model for the switch (activation: slot switch and service restart) and for a rollback;
under `delivery.update_strategy: kill_then_download` from the moment its update starts (after the storage preflight)
until the new model runs, or, when the update fails or is called off first, until the old model has restarted;
under `hand_over` the old model serves until the new one has started, so the switch costs nothing. A bricked camera
runs none to the run's end. The dark of a power cut is the power's, not the update's: a cut that sends an A/B camera
back to its old slot ends the update's spell (it boots the old model), and the reboot is not counted; a cut while a
camera has no model anyway (mid-download under kill_then_download, mid-rollback) leaves its spell running.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sim.world.calendar import SiteCalendar

if TYPE_CHECKING:
    from sim.world.device import Device


class ServiceLoss:
    """The sums, in the order the spells end (the run's event order: the same every run)."""

    def __init__(self, calendar: SiteCalendar, horizon: float):
        self.calendar = calendar
        self.horizon = horizon
        self.seconds = 0.0
        self.in_games = 0.0

    def stop(self, device: Device, now: float) -> None:
        """The camera stops its model (a no-op when it already has)."""
        if device.dark_since < 0:
            device.dark_since = now

    def running(self, device: Device, since: float) -> None:
        """The camera runs a model (the new or the old) again from `since`."""
        if device.dark_since >= 0:
            self.add(device.site, device.dark_since, since)
            device.dark_since = -1.0

    def close(self, devices: Iterable[Device], now: float) -> None:
        """At the run's end: the cameras still without a model (bricked, or mid-update) ran none to the end."""
        for device in devices:
            self.running(device, now)

    def add(self, site: int, start: float, end: float) -> None:
        """A camera at `site` ran no model from `start` to `end` (cut at the run's end)."""
        end = min(end, self.horizon)
        if end > start:
            self.seconds += end - start
            self.in_games += self.calendar.game_seconds(site, start, end)
