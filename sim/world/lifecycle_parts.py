"""What the parts of the device lifecycle share. `Lifecycle` (sim/world/device.py) inherits the download part
(sim/world/fetching.py), the server's part (sim/world/server_side.py) and staging (sim/world/staging.py); the steps
of each call the others' through `self`: one object, so a step costs no extra call on the simulator's hot path, as a
delegate would. This class declares, once, the state the parts read and the steps one part calls in another; at run
time every name is the lifecycle's own (the stubs below are never reached: `Lifecycle` and the parts define them
all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.model.lifecycle import DeviceState
    from sim.model.scenario import Artifact, Delivery
    from sim.world.check_ins import CheckIns
    from sim.world.device import Device, Step
    from sim.world.device_times import DeviceTimes
    from sim.world.links import DownloadLinks
    from sim.world.site_cache import SiteCache
    from sim.world.world import World


class LifecycleParts:
    world: World
    artifact: Artifact
    delivery: Delivery
    times: DeviceTimes
    cache: SiteCache
    links: DownloadLinks | None
    check_ins: CheckIns | None
    in_flight: int
    _hardware: bytes
    _unstarted: set[int]            # released, their agent not checked in yet
    _delta_failed: set[int]         # devices whose delta did not apply: they fetch the full image
    _staged: set[int]               # staged ahead, not released by the plan yet
    _staged_unreleased: set[int]    # staged, released, their agent not checked in since

    # sim/world/device.py
    def _after(self, device: Device, delay: float, step: Step) -> None:
        raise NotImplementedError

    def _finish(self, device: Device, state: DeviceState, reason: str = "") -> None:
        raise NotImplementedError

    def _device(self, device_id: int) -> Device:
        raise NotImplementedError

    def _start(self, device: Device) -> None:
        raise NotImplementedError

    def _join(self, device_id: int, shadow: bool, cool_below: float | None) -> Device:
        raise NotImplementedError

    def _await_window(self, device: Device) -> None:
        raise NotImplementedError

    # sim/world/server_side.py, called by the other parts
    def _on_order(self, device: Device, step: Step) -> None:
        raise NotImplementedError

    def _start_timeout(self, device: Device) -> None:
        raise NotImplementedError

    def _downloaded_device(self, device: Device) -> None:
        raise NotImplementedError

    # sim/world/fetching.py, called by the server's part
    def _drop_download(self, device: Device) -> None:
        raise NotImplementedError

    def _cache_abandoned(self, device: Device) -> None:
        raise NotImplementedError
