"""What the parts of the device lifecycle share. `Lifecycle` (sim/world/device.py) inherits the download part
(sim/world/fetching.py), the server's part (sim/world/server_side.py), staging (sim/world/staging.py) and power cuts
(sim/world/power_cuts.py); the steps of each call the others' through `self`: one object, so a step costs no extra
call on the simulator's hot path, as a delegate would. This class declares, once, the state the parts read and the
steps one part calls in another; at run time every name is the lifecycle's own (the stubs below are never reached:
`Lifecycle` and the parts define them all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.model.device_times import DeviceTimes
    from sim.model.fleet_spec import Fleet
    from sim.model.lifecycle import DeviceState
    from sim.model.scenario import Artifact, Delivery
    from sim.world.check_ins import CheckIns
    from sim.world.device import Device, Step
    from sim.world.links import DownloadLinks
    from sim.world.service_loss import ServiceLoss
    from sim.world.site_cache import SiteCache
    from sim.world.world import World


class LifecycleParts:
    world: World
    fleet: Fleet
    artifact: Artifact
    delivery: Delivery
    times: DeviceTimes
    cache: SiteCache
    links: DownloadLinks | None
    check_ins: CheckIns | None
    in_flight: int
    cut_rate: float                 # power cuts per device per second
    service_loss: ServiceLoss
    _hardware: bytes
    _unstarted: set[int]            # released, their agent not checked in yet
    _delta_failed: set[int]         # devices whose delta did not apply: they fetch the full image
    _staged: set[int]               # staged ahead, not released by the plan yet
    _staged_unreleased: set[int]    # staged, released, their agent not checked in since
    _failure_retries: dict[int, int]    # device -> new executions after a failure so far (delivery.failure_retries)
    _attempts_before: dict[int, int]    # device -> its download attempts before its latest such execution
    _retries_queued: dict[int, tuple[int, str]]     # device -> (generation, reason) of a retry not picked up yet
    _useful_counted: dict[int, float]   # device -> bytes of its verified copy counted useful (retry_fetches_again)

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

    # sim/world/device.py, called by the power-cut part (sim/world/power_cuts.py)
    def _verified(self, device: Device) -> None:
        raise NotImplementedError

    def _begin_install(self, device: Device) -> None:
        raise NotImplementedError

    def _activation_delay(self, device: Device) -> float:
        raise NotImplementedError

    def _check_health(self, device: Device) -> None:
        raise NotImplementedError

    def _judge(self, device: Device) -> None:
        raise NotImplementedError

    def _rolled_back(self, device: Device) -> None:
        raise NotImplementedError

    def _end_exposure(self, device: Device) -> None:
        raise NotImplementedError

    # sim/world/fetching.py, called by the power-cut part
    def _resume_download(self, device: Device) -> None:
        raise NotImplementedError

    # sim/world/server_side.py, called by the other parts
    def _fail_or_retry(self, device: Device, reason: str, resume: Step) -> None:
        raise NotImplementedError

    def _retry_left(self, device: Device) -> bool:
        raise NotImplementedError

    def _on_order(self, device: Device, step: Step) -> None:
        raise NotImplementedError

    def _start_timeout(self, device: Device) -> None:
        raise NotImplementedError

    def _downloaded_device(self, device: Device) -> None:
        raise NotImplementedError

    # sim/world/fetching.py, called by the other parts
    def _attempts(self, device: Device) -> int:
        raise NotImplementedError

    def _begin_download(self, device: Device) -> None:
        raise NotImplementedError

    def _renew_link(self, device: Device) -> None:
        raise NotImplementedError

    def _drop_download(self, device: Device) -> None:
        raise NotImplementedError

    def _cache_abandoned(self, device: Device) -> None:
        raise NotImplementedError

    def _give_up_download(self, device: Device) -> None:
        raise NotImplementedError
