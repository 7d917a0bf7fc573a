"""How long each step of the update takes on each hardware model: the fleet-wide numbers, replaced per hardware by
`fleet.hardware_profiles` (what `fleetlab calibrate` measured on a rig of that board). Indexed by the layout's
hardware index, so the lifecycle looks a device's numbers up in a list."""

from __future__ import annotations

from dataclasses import dataclass

from sim.model.fleet_spec import HardwareProfile
from sim.model.scenario import Scenario


@dataclass(frozen=True)
class DeviceTimes:
    transfer_efficiency: list[float]   # payload bytes per byte of link capacity
    transfer_setup: list[float]        # seconds before every download attempt's bytes flow
    verify: list[float]                # seconds to checksum the full artifact
    install: list[float]               # seconds to copy into the slot and build the engine
    activation: list[float]            # seconds from switch to the health check starting
    rollback: list[float]

    @classmethod
    def of(cls, scenario: Scenario) -> "DeviceTimes":
        fleet, artifact = scenario.fleet, scenario.artifact
        size = artifact.full_size
        profiles = [fleet.hardware_profiles.get(name, HardwareProfile()) for name in fleet.hardware]

        def pick(value: float | None, default: float) -> float:
            return default if value is None else value

        def install(profile: HardwareProfile) -> float:
            build = pick(profile.engine_build, artifact.engine_build)
            if profile.engine_build_rate is not None:
                build += size / profile.engine_build_rate
            return size / pick(profile.install_rate, artifact.install_rate) + build

        return cls(
            transfer_efficiency=[pick(p.transfer_efficiency, 1.0) for p in profiles],
            transfer_setup=[pick(p.transfer_setup, 0.0) for p in profiles],
            verify=[pick(p.verify_setup, 0.0) + size / pick(p.verify_rate, artifact.verify_rate) for p in profiles],
            install=[install(p) for p in profiles],
            activation=[pick(p.activation_time, fleet.activation_time) for p in profiles],
            rollback=[pick(p.rollback_time, fleet.rollback_time) for p in profiles])
