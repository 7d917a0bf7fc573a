"""calibration.yaml: what `fleetlab calibrate` measured on rigs, per hardware model, in SI units with the unit
written. Versioned (schema_version, fleetlab version, git sha, when) and validated like every input, so a file that
is wrong is refused with file:line:col. docs/calibration.md describes each number and how it is measured.

Which scenario key each number sets: `scenario_values` (the one table, used by the loader and the docs test).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.model.frozen import Frozen
from sim.model.unit_fields import Duration, Moment, PositiveDuration, PositiveRate, Size


class Latency(Frozen):
    p50: PositiveDuration
    p99: PositiveDuration

    @model_validator(mode="after")
    def _ordered(self) -> "Latency":
        if self.p50 > self.p99:     # no tool measures that: a hand edit, and the history would trend it as drift
            raise ValueError("p50 is above p99: the median cannot be slower than the 99th percentile")
        return self


class ModelMeasured(Frozen):
    version: str
    size: Size = Field(description="the ONNX file's size")
    latency: Latency = Field(description="batch-1 inference under load (trtexec --exportTimes)")
    power: Annotated[float, Field(gt=0)] = Field(description="watts on the input rail (VDD_IN) while inferring")
    memory: Size | None = Field(default=None, description="RAM in use while inferring less at rest (tegrastats; the "
                                "camera service serving both times); unset when not measured")


class Transfer(Frozen):
    link_rate: PositiveRate | None = Field(default=None, description="the rig's link as provisioned (inventory "
                                           "link_rate, capped by hil.transfer_rate); unset when neither was given")
    throughput: PositiveRate = Field(description="payload bytes per second while the bytes flowed")
    efficiency: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None, description="throughput / link_rate; unset without a link rate (not measured: a throughput "
        "alone says nothing of what the link could carry)")
    setup: Duration = Field(description="a transfer's fixed cost: connect, size check (resume), sha256 start")


class Split(Frozen):
    """A cost measured on two model sizes, back to back: a fixed part and bytes per second on top."""

    fixed: Duration = Field(description="the cost whatever the model's size")
    rate: PositiveRate | None = Field(default=None, description="model bytes per second on top of the fixed "
                                      "part; unset when the sizes were alike (then all of it is fixed)")


class ThermalMeasured(Frozen):
    idle: float = Field(description="°C at rest")
    loaded: float = Field(description="°C the load step settles at (fitted)")
    idle_power: Annotated[float, Field(gt=0)] = Field(description="W at rest")
    loaded_power: Annotated[float, Field(gt=0)] = Field(description="W under the load step")
    resistance: Annotated[float, Field(gt=0)] = Field(description="°C per W: (loaded − idle) / (loaded − idle power)")
    time_constant: PositiveDuration = Field(description="fitted to the load step's tegrastats samples")
    ambient: float = Field(description="°C: idle − resistance × idle power")
    samples: Annotated[int, Field(ge=0)] = 0


class Profile(Frozen):
    """One hardware model, measured on one or more rigs (numbers are the median over rigs)."""

    rigs: Annotated[list[str], Field(min_length=1)]
    board: str = Field(default="", description="the device-tree model string, e.g. NVIDIA Jetson Orin NX")
    l4t: str = ""
    jetpack: str = ""
    tensorrt: str = ""
    measured: Moment = Field(description="when (RFC 3339, kept in UTC)")
    transfer: Transfer
    verify: Split = Field(description="sha256 of the artifact on the rig")
    install_rate: PositiveRate = Field(description="moving the checked artifact into the inactive slot")
    engine_build: Split
    activation: Duration = Field(description="slot switch, service restart, until the health check passes")
    rollback: Duration = Field(description="switch back, restart, healthy again")
    memory: Size | None = Field(default=None, description="RAM the board leaves for models: its RAM less what was "
                                "in use at rest, plus the current model the camera service held then; unset when "
                                "not measured")
    current: ModelMeasured
    candidate: ModelMeasured
    thermal: ThermalMeasured | None = None


class Calibration(Frozen):
    schema_version: Literal[1] = Field(description="this file's format (1); fleetlab refuses others")
    fleetlab: str
    git_sha: str = ""
    measured: Moment = Field(description="when the calibration ran (RFC 3339, kept in UTC)")
    profiles: Annotated[dict[str, Profile], Field(min_length=1)] = Field(description="by hardware model")


def _seconds(value: float) -> str:
    return f"{value:.9g}s"


def _rate(value: float) -> str:
    return f"{value:.9g}B/s"


def _bytes(value: float) -> str:
    return f"{value:.0f}B"


def scenario_values(hardware: str, profile: Profile) -> Iterator[tuple[str, object, str]]:
    """(scenario key, value as a scenario file writes it, calibration key) for every number the profile gives."""
    where = f"fleet.hardware_profiles.{hardware}"
    source = f"profiles.{hardware}"
    if profile.transfer.efficiency is not None:
        yield f"{where}.transfer_efficiency", profile.transfer.efficiency, f"{source}.transfer.efficiency"
    yield f"{where}.transfer_setup", _seconds(profile.transfer.setup), f"{source}.transfer.setup"
    if profile.verify.rate is not None:
        yield f"{where}.verify_setup", _seconds(profile.verify.fixed), f"{source}.verify.fixed"
        yield f"{where}.verify_rate", _rate(profile.verify.rate), f"{source}.verify.rate"
    else:       # one size only: the candidate's time, as a rate
        yield f"{where}.verify_rate", _rate(profile.candidate.size / max(profile.verify.fixed, 1e-6)), \
            f"{source}.verify.fixed"
    yield f"{where}.install_rate", _rate(profile.install_rate), f"{source}.install_rate"
    yield f"{where}.engine_build", _seconds(profile.engine_build.fixed), f"{source}.engine_build.fixed"
    if profile.engine_build.rate is not None:
        yield f"{where}.engine_build_rate", _rate(profile.engine_build.rate), f"{source}.engine_build.rate"
    yield f"{where}.activation_time", _seconds(profile.activation), f"{source}.activation"
    yield f"{where}.rollback_time", _seconds(profile.rollback), f"{source}.rollback"
    if profile.thermal is not None:
        yield f"{where}.thermal_resistance", profile.thermal.resistance, f"{source}.thermal.resistance"
        yield f"{where}.thermal_time_constant", _seconds(profile.thermal.time_constant), \
            f"{source}.thermal.time_constant"
    if profile.memory is not None:
        yield f"{where}.memory", _bytes(profile.memory), f"{source}.memory"
    for model in ("candidate", "current"):
        measured: ModelMeasured = getattr(profile, model)
        yield f"{model}.hardware.{hardware}.latency", _seconds(measured.latency.p50), f"{source}.{model}.latency.p50"
        yield f"{model}.hardware.{hardware}.power", measured.power, f"{source}.{model}.power"
        if measured.memory is not None:
            yield f"{model}.hardware.{hardware}.memory", _bytes(measured.memory), f"{source}.{model}.memory"


# hardware names fleetlab knows -> what the board's device-tree model says (a calibration from another board is
# worth a warning: its numbers describe different silicon)
BOARD_MARKERS: dict[str, tuple[str, ...]] = {
    "orin-nx": ("Orin NX",),
    "orin-nano": ("Orin Nano",),
    "agx-orin": ("AGX Orin",),
    "xavier-nx": ("Xavier NX",),
    "agx-xavier": ("AGX Xavier",),
    "nano": ("Jetson Nano",),
}


def board_mismatch(hardware: str, board: str) -> bool:
    """True when `hardware` is a name fleetlab knows and `board` is another board's model string."""
    markers = BOARD_MARKERS.get(hardware, ())
    return bool(markers) and bool(board) and not any(marker in board for marker in markers)
