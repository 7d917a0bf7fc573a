"""The scenario: one file that describes a fleet, an artifact, a candidate model, a rollout plan and what must hold.

Every model is frozen and rejects unknown keys; defaults live on the types. Values with units are parsed once
(sim/model/unit_fields.py). The loader (sim/load.py) turns validation errors into `file:line:col: path: message`.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from sim.model import (
    strategies,  # noqa: F401  (registers the built-in strategies before the union is built)
    streams,
)
from sim.model.cohort import Cohort
from sim.model.frozen import Frozen
from sim.model.hil_spec import HilSpec
from sim.model.strategy import REGISTRY, StrategyParams
from sim.model.unit_fields import Clock, Duration, Fraction, Money, PositiveDuration, PositiveRate, Rate, Size
from sim.model.units import parse_utc_offset

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


SHARE_SLACK = 0.001      # shares written rounded (33.3% three times, 0.333333 three times) are what was meant


def _shares_sum_to_one(shares: dict[str, float]) -> dict[str, float]:
    """Shares adding up to 100% within SHARE_SLACK, scaled to add up to exactly 1 (the draws walk their running
    sum up to 1); further off is a mistake, said with enough digits to see it."""
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_SLACK + 1e-12:
        raise ValueError(f"shares must add up to 100% (give or take {SHARE_SLACK:.1%} of rounding), these add up "
                         f"to {total * 100:.6g}%")
    if abs(total - 1.0) > 1e-9:
        return {key: share / total for key, share in shares.items()}
    return shares


def _parse_camera_count(value: object) -> tuple[int, int]:
    """`4` or `'2-6'` (uniform between the two) -> (min, max)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(part, int) for part in value) \
            and 1 <= value[0] <= value[1]:
        return (value[0], value[1])   # the validated form, when a scenario is rebuilt from its own dump
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", value):
        low, high = (int(part) for part in value.split("-"))
        if 1 <= low <= high:
            return (low, high)
    raise ValueError(f"expected a camera count such as 4 or a range such as '2-6', got {value!r}")


CameraCount = Annotated[tuple[int, int], BeforeValidator(_parse_camera_count), WithJsonSchema({
    "anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": r"^\s*\d+\s*-\s*\d+\s*$"}],
    "description": "cameras per site: a number, or a range such as '2-6' drawn uniformly"})]


# --- the fleet ------------------------------------------------------------------------------------------------

class BandwidthSpread(Frozen):
    """Per-site uplink bandwidth: log-normal around a median, clipped."""

    median: PositiveRate
    sigma: Annotated[float, Field(ge=0, le=3)] = Field(
        default=0.6, description="spread between sites: σ of the log-normal (0: every site at the median)")
    min: Rate = 32_000 / 8
    max: Rate = 1e9 / 8


class StorageSpread(Frozen):
    """Free storage per device: log-normal around a median, clipped."""

    median: Size
    sigma: Annotated[float, Field(ge=0, le=3)] = Field(
        default=0.4, description="spread between devices: σ of the log-normal (0: every device at the median)")
    min: Size = 0.0
    max: Size = 1e12


class Outages(Frozen):
    """A site uplink alternates up and down periods, exponential with these means."""

    mtbf: Duration = Field(description="mean time between failures (mean up period)")
    mttr: Duration = Field(description="mean time to repair (mean down period)")

    @field_validator("mtbf", "mttr")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be longer than zero")
        return value


class Ambient(Frozen):
    """Air temperature around the camera: a daily sinusoid peaking at `peak` local time."""

    mean: float = Field(default=24.0, description="°C")
    daily_swing: Annotated[float, Field(ge=0)] = Field(default=4.0, description="°C from mean to peak")
    peak: Clock = 15 * 3600.0
    spread: Annotated[float, Field(ge=0)] = Field(default=2.0, description="°C standard deviation between sites")


class Games(Frozen):
    """Games at a site: on these weekdays, with this probability, from `start` for `duration` (local time)."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        description="weekdays with a game (local time), e.g. [sat, sun]")
    start: Clock
    duration: Duration
    probability: Fraction = 1.0


class SiteKind(Frozen):
    count: Annotated[int, Field(ge=1)] = Field(description="sites of this kind")
    cameras_per_site: CameraCount
    uplink: BandwidthSpread
    daily_pattern: dict[str, Annotated[float, Field(ge=0, le=10)]] = Field(
        default_factory=lambda: {"00:00": 1.0},
        description="uplink multiplier from each local time of day until the next, e.g. {'00:00': 1, '18:00': 0.4}")
    outages: Outages | None = Field(default=None, description="the uplink going down and up again (none: never)")
    ambient: Ambient = Field(default=Ambient(), description="air temperature around the cameras")
    games: Games | None = Field(default=None, description="games during which nothing may be disturbed (none: no "
                                "games)")

    @field_validator("daily_pattern")
    @classmethod
    def _clock_keys(cls, pattern: dict[str, float]) -> dict[str, float]:
        for key in pattern:
            if not re.fullmatch(r"\d{2}:\d{2}", key) or int(key[:2]) > 23 or int(key[3:]) > 59:
                raise ValueError(f"daily_pattern keys are times of day such as '18:00', got {key!r}")
        if not pattern:
            raise ValueError("daily_pattern needs at least one entry")
        return dict(sorted(pattern.items()))


class InstallWindow(Frozen):
    """A daily local-time window in which devices may activate a new model."""

    start: Clock
    duration: Duration

    @field_validator("duration")
    @classmethod
    def _within_a_day(cls, value: float) -> float:
        if not 0 < value <= 86400:
            raise ValueError("an install window lasts more than zero and at most 24h")
        return value


class Thermal(Frozen):
    """First-order (RC) thermal model of a camera enclosure: T → ambient + resistance × power, with this time
    constant."""

    resistance: Annotated[float, Field(gt=0)] = Field(default=3.0, description="°C per watt above ambient")
    time_constant: PositiveDuration = 600.0
    throttle_at: float = Field(default=85.0, description="°C at which clocks throttle")
    throttled_fps_factor: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.6, description="frame rate of a throttled board as a share of its unthrottled rate")
    health_limit: float = Field(default=95.0, description="°C above which the health check fails")


class HardwareProfile(Frozen):
    """One hardware model's own device numbers, where they differ from the fleet-wide ones (usually written by
    `fleetlab calibrate` and taken in through `calibration:`; docs/calibration.md). Unset: the fleet's value."""

    transfer_efficiency: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None, description="payload throughput over the link's rate (protocol and encryption overhead)")
    transfer_setup: Duration | None = Field(
        default=None, description="fixed time each download attempt (a resumed one too) spends before the bytes "
        "flow and after they land: connection, resume handshake, size check")
    verify_setup: Duration | None = Field(default=None, description="fixed part of the checksum (starting it)")
    verify_rate: PositiveRate | None = Field(default=None, description="checksum of the artifact on the device")
    install_rate: PositiveRate | None = Field(default=None, description="copy into the inactive slot")
    engine_build: Duration | None = Field(default=None, description="fixed part of the engine build")
    engine_build_rate: PositiveRate | None = Field(
        default=None, description="model bytes built per second on top of the fixed part (unset: the build takes "
        "the fixed part whatever the size)")
    activation_time: Duration | None = Field(default=None, description="slot switch and restart until healthy")
    rollback_time: Duration | None = Field(default=None, description="switch back to the old slot until healthy")
    thermal_resistance: Annotated[float, Field(gt=0)] | None = Field(default=None, description="°C per watt")
    thermal_time_constant: PositiveDuration | None = Field(
        default=None, description="how fast the enclosure follows a change of power (RC time constant)")


class Fleet(Frozen):
    site_kinds: Annotated[dict[str, SiteKind], Field(min_length=1)] = Field(
        description="kinds of site by name (gym, stadium, …): how many, their cameras, uplinks, weather and games")
    hardware: dict[str, Fraction] = Field(description="share of cameras per hardware model")
    camera_angles: dict[str, Fraction] = Field(
        default_factory=lambda: {"default": 1.0}, description="share of cameras per camera angle (overhead, "
        "sideline, …): a defect or a canary stratum can select them")
    timezones: dict[str, Fraction] = Field(
        default_factory=lambda: {"UTC+0": 1.0}, description="share of sites per UTC offset ('UTC-05:00'): install "
        "windows, daily patterns and games are in a site's local time")
    install_windows: Annotated[list[InstallWindow], Field(min_length=1)] = Field(
        default_factory=lambda: [InstallWindow(start=2 * 3600.0, duration=4 * 3600.0)],
        description="daily local-time windows in which a device may switch to the new model")
    storage_free: StorageSpread
    power_loss_per_day: Annotated[float, Field(ge=0)] = Field(default=0.0, description="power cuts per device per day")
    reboot_time: Duration = 120.0
    activation_time: Duration = Field(default=60.0, description="slot switch and service restart")
    health_check: Duration = Field(default=600.0, description="how long the new model must run well to commit")
    rollback_time: Duration = 120.0
    slots: Literal["ab", "in_place"] = Field(
        default="ab", description="ab: install into the inactive slot, a power cut costs a reboot; in_place: "
        "overwrite the running model, a power cut mid-write bricks the device")
    egress_cap: Annotated[Rate, Field(gt=0)] | None = Field(
        default=None, description="global origin/CDN egress shared by every download")
    egress_sharing: Literal["fair", "proportional"] = Field(
        default="fair", description="how the egress cap is shared between sites: fair (max-min: a site below the "
        "level keeps its whole uplink, the others share what is left) or proportional (every site scaled alike)")
    report_delay: Duration = Field(default=300.0, description="delay before the controller sees a device's report")
    fps_needed: Annotated[float, Field(gt=0)] = Field(
        default=15.0, description="frames per second a camera must keep; below it the health check fails")
    thermal: Thermal = Field(default=Thermal(), description="the enclosures' thermal model")
    hardware_profiles: dict[str, HardwareProfile] = Field(
        default_factory=dict, exclude_if=lambda profiles: not profiles,
        description="per hardware model: device numbers that differ from the fleet-wide ones (calibrated on rigs)")
    shadow_cost: Fraction = Field(default=0.3, description="share of compute a shadow model takes: lost frames, "
                                  "and this share of the candidate's power on top of the current model's")

    _shares = field_validator("hardware", "camera_angles", "timezones")(
        classmethod(lambda cls, shares: _shares_sum_to_one(shares)))

    @model_validator(mode="after")
    def _profiles_name_hardware(self) -> "Fleet":
        unknown = sorted(set(self.hardware_profiles) - set(self.hardware))
        if unknown:
            raise ValueError(f"hardware_profiles names {', '.join(unknown)}, which fleet.hardware does not list "
                             f"(it lists {', '.join(self.hardware)})")
        return self

    @field_validator("timezones")
    @classmethod
    def _offsets(cls, zones: dict[str, float]) -> dict[str, float]:
        for key in zones:
            parse_utc_offset(key)
        return zones

    def utc_offsets(self) -> list[tuple[float, float]]:
        """(offset seconds, share) per timezone, in the file's order."""
        return [(parse_utc_offset(key), share) for key, share in self.timezones.items()]

    def site_kind_devices(self) -> dict[str, float]:
        """Expected cameras per site kind (sites × the middle of the cameras-per-site range)."""
        return {name: kind.count * sum(kind.cameras_per_site) / 2 for name, kind in self.site_kinds.items()}

    def axis_shares(self) -> dict[str, dict[str, float]]:
        """Expected share of the fleet for each value of each cohort axis (hardware, site_kind, camera_angle)."""
        devices = self.site_kind_devices()
        total = sum(devices.values())
        return {"hardware": dict(self.hardware), "site_kind": {name: n / total for name, n in devices.items()},
                "camera_angle": dict(self.camera_angles)}

    @property
    def size(self) -> int:
        """Expected fleet size (the exact size depends on the per-site camera draws)."""
        return sum(kind.count * (kind.cameras_per_site[0] + kind.cameras_per_site[1]) // 2
                   for kind in self.site_kinds.values())


# --- what is shipped ------------------------------------------------------------------------------------------

class Artifact(Frozen):
    full_size: Size
    delta_size: Size | None = Field(default=None, description="size of the binary delta from the current model "
                                    "(sent with delivery.delta)")
    resumable: bool = Field(default=True, description="an interrupted download resumes from its last checkpoint "
                            "(false: starts over)")
    checkpoint: Size = Field(default=1e6, description="progress survives an interruption up to the last checkpoint")
    corruption_rate: Fraction = 0.0
    installed_size: Size | None = Field(default=None, description="space the installed slot needs (default: full size)")
    install_rate: PositiveRate = 20e6
    verify_rate: PositiveRate = 100e6
    engine_build: Duration = Field(default=300.0, description="TensorRT engine build on the device after install")
    max_download_attempts: Annotated[int, Field(ge=1)] = Field(
        default=5, description="corrupt downloads fetched again before the device fails")

    @model_validator(mode="after")
    def _checkpoint_positive(self) -> "Artifact":
        if self.checkpoint <= 0 or self.full_size <= 0:
            raise ValueError("full_size and checkpoint must be larger than zero")
        return self


class HardwarePerformance(Frozen):
    latency: PositiveDuration = Field(description="inference latency per frame (more than zero: frames per second "
                                      "are its inverse)")
    power: Annotated[float, Field(gt=0)] = Field(description="watts drawn by the board running this model")


class Defect(Frozen):
    cohort: Cohort = Field(default=Cohort(), description="the devices it hits (every field given must match)")
    failure_rate: Fraction = Field(default=0.0, description="share of these devices whose health check fails")
    accuracy_drop: Fraction = Field(default=0.0, description="silent quality loss: counted as exposure, not caught")


class ModelSpec(Frozen):
    version: str = Field(description="the version devices report, e.g. '2.1'")
    hardware: dict[str, HardwarePerformance] = Field(description="latency and power per hardware model")
    defects: list[Defect] = Field(default_factory=list, description="what is wrong with this model, and on which "
                                  "devices")


class Fault(Frozen):
    """A scripted event: sites losing their uplink for a while, or a power cut across devices (dark for `duration`,
    then they reboot). Every field changes the run (tests/world/test_fault_fields.py)."""

    kind: Literal["outage", "power_cut"] = Field(description="outage: sites lose their uplink; power_cut: devices "
                                                 "go dark")
    at: Duration = Field(description="when, from the start of the scenario")
    duration: Duration = Field(default=0.0, description="outage: how long the sites' uplinks stay down; power_cut: "
                               "how long the devices stay dark before they reboot (0: only the reboot)")
    share: Fraction = Field(default=1.0, description="share of the matching sites (outage) or devices (power_cut)")
    cohort: Cohort = Field(default=Cohort(), description="which: outage by site_kind; power_cut by any cohort field")


class Retries(Frozen):
    """Wait before fetching again after a corrupt download: backoff, multiplied by factor each time, capped."""

    backoff: Duration = 300.0
    factor: Annotated[float, Field(ge=1)] = Field(default=2.0, description="the wait grows by this after each try")
    max_backoff: Duration = 6 * 3600.0


class Delivery(Frozen):
    """How the artifact reaches devices, whatever the strategy."""

    delta: bool = Field(default=False, description="send artifact.delta_size; devices on another base get the full")
    base_mismatch: Fraction = Field(default=0.05, description="share of devices whose base version has no delta")
    site_cache: bool = Field(default=False, description="one camera per site fetches; the others copy over the LAN")
    lan_rate: PositiveRate = 50e6
    retries: Retries | None = Field(default=None, description="backoff before fetching again after a corrupt "
                                    "download (none: at once)")
    freeze_during_games: bool = Field(default=False, description="no download or install at a site during its games")


class Pricing(Frozen):
    egress_per_gb: Money = Field(default=0.09, description="origin/CDN egress price per GB (10^9 bytes)")


class CalibrationUse(Frozen):
    """`calibration: PATH` (or this mapping): take the device numbers a rig measured (fleetlab calibrate) for the
    hardware models the file and the fleet share. A number given both here and in the file is an error unless the
    scenario lists its key under `override`. `applied` and `warnings` are written by the loader, not by hand."""

    file: str = Field(description="calibration.yaml, relative to the scenario file")
    override: list[str] = Field(default_factory=list, description="scenario keys (e.g. "
                                "candidate.hardware.orin-nx.latency) whose value in the scenario wins over the file")
    applied: dict[str, str] = Field(default_factory=dict, description="(by the loader) each key the file set, "
                                    "and which rig measured it when")
    warnings: list[str] = Field(default_factory=list, description="(by the loader) numbers to be wary of")


def _calibration_shorthand(value: object) -> object:
    return {"file": value} if isinstance(value, str) else value


# --- the scenario -----------------------------------------------------------------------------------------------

def _strategy_union() -> object:
    variants = tuple(entry.params for entry in REGISTRY.values())
    return Annotated[Union[variants], Field(discriminator="kind")]


if TYPE_CHECKING:      # to a type checker: some strategy's parameters; at run time: the union of every registered one
    StrategySpec = StrategyParams
else:
    StrategySpec = _strategy_union()


class Scenario(Frozen):
    name: str = Field(description="the scenario's name in reports and the history: one file per name")
    description: str = Field(default="", description="what question the scenario asks, for the report")
    tags: list[str] = Field(default_factory=list, description="labels; `fleetlab run` leaves out `benchmark` "
                            "scenarios unless their file is named")
    seed: Annotated[int, Field(ge=0, le=streams.MAX_SEED)] = Field(
        default=1, description="where every random stream of the run starts: 0 to 2^56 - 1; the same seed gives the "
        "same run")
    duration: PositiveDuration = 14 * 86400.0
    start_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        default="mon", description="the weekday the run starts on, at 00:00 UTC (games fall on weekdays)")
    stop_when_settled: bool = Field(
        default=False, description="end the run once the plan is done and no device is in flight; by default the "
        "run covers the whole duration, so exposure and throttling are measured over the same horizon for every plan")
    fleet: Fleet
    artifact: Artifact
    current: ModelSpec | None = Field(default=None, description="the model running now (default: like the candidate)")
    candidate: ModelSpec
    strategy: StrategySpec = Field(description="the rollout plan: `kind` and its parameters (fleetlab strategies)")
    faults: list[Fault] = Field(default_factory=list, description="scripted outages and power cuts")
    delivery: Delivery = Field(default=Delivery(), description="how the artifact reaches devices")
    alternatives: dict[str, StrategySpec] = Field(
        default_factory=dict, description="other plans to compare against `strategy`, by name (fleetlab compare)")
    expect: dict[str, Union[str, int, float]] = Field(
        default_factory=dict, description="bounds per metric ('< 72h', '<= $500', 0): the verdict is judged on them")
    findings: dict[str, str] = Field(
        default_factory=dict, exclude_if=lambda found: not found,
        description="expectations that are this scenario's intended finding (it demonstrates a bad plan or a "
                    "failure the gates must catch), each with what it shows: the report says so beside the row")
    pricing: Pricing = Field(default=Pricing(), description="what egress costs")
    calibration: Annotated[CalibrationUse, BeforeValidator(_calibration_shorthand)] | None = Field(
        default=None, exclude_if=lambda use: use is None,
        description="device numbers measured on rigs (fleetlab calibrate): PATH, or {file, override}")
    hil: HilSpec | None = Field(default=None, description="what the rigs run per device (fleetlab hil)")

    def fingerprint(self) -> str:
        """sha256 of the validated scenario: two files that mean the same thing share it."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    @property
    def current_model(self) -> ModelSpec:
        return self.current or ModelSpec(version="current", hardware=self.candidate.hardware)
