"""How long cameras run no model because of the update, and how much of that falls in their sites' games.

A camera stops its running model for the switch (activation: slot switch and service restart) and for a rollback;
under `delivery.update_strategy: kill_then_download` from the moment its update starts (after the storage preflight)
until the new model runs, or, when the update fails or is called off first, until the old model has restarted (a
failed attempt that is retried restarts it too, until the agent picks the retry up: sim/world/server_side.py);
under `hand_over` the old model serves until the new one has started, so the switch costs nothing. A bricked camera
runs none to the run's end. The dark of a power cut is the power's, not the update's: a cut that sends an A/B camera
back to its old slot ends the update's spell (it boots the old model), and the reboot is not counted; a cut while a
camera has no model anyway (mid-download under kill_then_download, mid-rollback) leaves its spell running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.world.calendar import SiteCalendar

if TYPE_CHECKING:
    from sim.world.device import Device


class ServiceLoss:
    """The sums, in the order the spells end (the run's event order: the same every run). The cameras without a model
    now are a dict by device id, not a field of each camera: a field cost every camera of a million-camera run 32
    bytes (a larger size class), the dict holds the few switching at a time."""

    def __init__(self, calendar: SiteCalendar, horizon: float):
        self.calendar = calendar
        self.horizon = horizon
        self.seconds = 0.0
        self.in_games = 0.0
        self._since: dict[int, tuple[float, int]] = {}     # device -> (without a model since, its site)

    def without_model(self, device_id: int) -> bool:
        return device_id in self._since

    def stop(self, device: Device, now: float) -> None:
        """The camera stops its model (a no-op when it already has)."""
        if device.id not in self._since:
            self._since[device.id] = (now, device.site)

    def running(self, device: Device, since: float) -> None:
        """The camera runs a model (the new or the old) again from `since`."""
        spell = self._since.pop(device.id, None)
        if spell is not None:
            self.add(spell[1], spell[0], since)

    def close(self, now: float) -> None:
        """At the run's end: the cameras still without a model (bricked, or mid-update) ran none to the end, summed
        in the order their spells began."""
        for start, site in self._since.values():
            self.add(site, start, now)
        self._since.clear()

    def add(self, site: int, start: float, end: float) -> None:
        """A camera at `site` ran no model from `start` to `end` (cut at the run's end)."""
        end = min(end, self.horizon)
        if end > start:
            self.seconds += end - start
            self.in_games += self.calendar.game_seconds(site, start, end)
