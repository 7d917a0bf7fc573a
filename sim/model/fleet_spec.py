"""The fleet part of a scenario (`fleet:`): its sites and their uplinks, weather and games, its boards and their
device numbers, install windows, storage and power. sim/model/scenario.py holds the rest of the file.

Every model is frozen and rejects unknown keys; values with units are parsed once (sim/model/unit_fields.py).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from sim.model.frozen import Frozen
from sim.model.unit_fields import Clock, Duration, Fraction, PositiveDuration, PositiveRate, Rate, Size, at_least
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

def _min_not_above_max(low: float, high: float) -> None:
    if low > high:   # numpy's clip then gives every draw the max, and nothing said so
        raise ValueError("min is above max: no value lies between them")


class BandwidthSpread(Frozen):
    """Per-site uplink bandwidth: log-normal around a median, clipped."""

    median: PositiveRate = Field(description="the typical site's uplink: half the sites have less")
    sigma: Annotated[float, Field(ge=0, le=3)] = Field(
        default=0.6, description="spread between sites: σ of the log-normal (0: every site at the median)")
    min: Rate = Field(default=32_000 / 8, description="no site's uplink is slower (the spread is clipped here)")
    max: Rate = Field(default=1e9 / 8, description="no site's uplink is faster")

    @model_validator(mode="after")
    def _clip_range(self) -> "BandwidthSpread":
        _min_not_above_max(self.min, self.max)
        return self


class StorageSpread(Frozen):
    """Free storage per device: log-normal around a median, clipped."""

    median: Size = Field(description="the typical camera's free storage: half have less")
    sigma: Annotated[float, Field(ge=0, le=3)] = Field(
        default=0.4, description="spread between devices: σ of the log-normal (0: every device at the median)")
    min: Size = Field(default=0.0, description="no camera has less free (the spread is clipped here)")
    max: Size = Field(default=1e12, description="no camera has more free")

    @model_validator(mode="after")
    def _clip_range(self) -> "StorageSpread":
        _min_not_above_max(self.min, self.max)
        return self


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
    peak: Clock = Field(default=15 * 3600.0, description="local time of day of the warmest air")
    spread: Annotated[float, Field(ge=0)] = Field(default=2.0, description="°C standard deviation between sites")


def lasting_at_most_a_day(seconds: float, what: str) -> float:
    if not 0 < seconds <= 86400:
        raise ValueError(f"{what} lasts more than zero and at most 24h")
    return seconds


class Games(Frozen):
    """Games at a site: on these weekdays, with this probability, from `start` for `duration` (local time)."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        description="weekdays with a game (local time), e.g. [sat, sun]")
    start: Clock = Field(description="local time of day the game starts")
    duration: Duration = Field(description="how long it lasts (at most 24h; it may run past midnight)")
    probability: Fraction = Field(default=1.0, description="chance a site has its game on each of those days")

    @field_validator("duration")
    @classmethod
    def _within_a_day(cls, value: float) -> float:
        # the calendar looks one day back for a game still on past midnight; nobody plays 49 hours
        return lasting_at_most_a_day(value, "a game")


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

    start: Clock = Field(description="local time of day the window opens")
    duration: Duration = Field(description="how long it stays open (at most 24h; it may run past midnight)")

    @field_validator("duration")
    @classmethod
    def _within_a_day(cls, value: float) -> float:
        return lasting_at_most_a_day(value, "an install window")


class Thermal(Frozen):
    """First-order (RC) thermal model of a camera enclosure: T → ambient + resistance × power, with this time
    constant."""

    resistance: Annotated[float, Field(gt=0)] = Field(default=3.0, description="°C per watt above ambient")
    time_constant: PositiveDuration = Field(
        default=600.0, description="how fast the enclosure follows a change of power: 63% of the way in this time")
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
    memory: Size | None = Field(
        default=None, description="memory the board leaves for the camera's models (its RAM, shared by CPU and GPU "
        "on a Jetson, less the system and the other services), e.g. 3.2GB on a 4 GB Nano: a candidate that needs more "
        "(beside the current model under hand_over) fails its health check out of memory; unset: not checked")


# how many kinds of site, hardware models and camera angles a fleet may name: the layout keeps a device's hardware
# and angle in a byte, a site's kind in two (sim/world/fleet.py); in a signed byte, board 150 of 200 read as board 94
MAX_SITE_KINDS, MAX_HARDWARE, MAX_ANGLES = 32767, 255, 255


class Fleet(Frozen):
    site_kinds: Annotated[dict[str, SiteKind], Field(min_length=1, max_length=MAX_SITE_KINDS)] = Field(
        description="kinds of site by name (gym, stadium, …): how many, their cameras, uplinks, weather and games")
    hardware: Annotated[dict[str, Fraction], Field(max_length=MAX_HARDWARE)] = Field(
        description="share of cameras per hardware model")
    camera_angles: Annotated[dict[str, Fraction], Field(max_length=MAX_ANGLES)] = Field(
        default_factory=lambda: {"default": 1.0}, description="share of cameras per camera angle (overhead, "
        "sideline, …): a defect or a canary stratum can select them")
    timezones: dict[str, Fraction] = Field(
        default_factory=lambda: {"UTC+0": 1.0}, description="share of sites per UTC offset ('UTC-05:00'): install "
        "windows, daily patterns and games are in a site's local time. Offsets are fixed for the run (no "
        "daylight-saving change within it): give the offset in force when the rollout runs")
    install_windows: Annotated[list[InstallWindow], Field(min_length=1)] = Field(
        default_factory=lambda: [InstallWindow(start=2 * 3600.0, duration=4 * 3600.0)],
        description="daily local-time windows in which a device may switch to the new model")
    storage_free: StorageSpread = Field(
        description="free storage per camera: one that cannot hold the download and the new slot (artifact "
        "full_size + installed_size) fails 'insufficient storage' when released, before any byte is fetched, as "
        "the rigs' preflight does")
    # at most one a minute: a rate of 1e9 (a typo) cut each device every 86 µs, and the run never ended
    power_loss_per_day: Annotated[float, Field(ge=0, le=1440)] = Field(
        default=0.0, description="power cuts per device per day (at most 1440: one a minute)")
    reboot_time: Duration = Field(default=120.0,
                                  description="a camera's reboot after a power cut, dark and unreachable")
    activation_time: Duration = Field(default=60.0, description="slot switch and service restart")
    health_check: Duration = Field(default=600.0, description="how long the new model must run well to commit")
    rollback_time: Duration = Field(default=120.0, description="switch back to the old slot until healthy")
    slots: Literal["ab", "in_place"] = Field(
        default="ab", description="ab: install into the inactive slot, a power cut costs a reboot; in_place: "
        "overwrite the running model, a power cut mid-write bricks the device")
    egress_cap: Annotated[Rate, Field(gt=0)] | None = Field(
        default=None, description="global origin/CDN egress shared by every download")
    egress_sharing: Literal["fair", "proportional"] = Field(
        default="fair", description="how the egress cap is shared between sites: fair (max-min: a site below the "
        "level keeps its whole uplink, the others share what is left) or proportional (every site scaled alike)")
    report_delay: Duration = Field(default=300.0, description="delay before the controller sees a device's report")
    poll_interval: Annotated[Duration, at_least(1.0, "at least 1s: an agent asks for orders at most once a second "
                                                "(a finer pace only multiplies the run's events)")] | None = Field(
        default=None, description="how often a camera's update agent asks the server for orders (Mender: 30m): a "
        "camera learns of its release, a promotion or a rollback at its next check-in (each camera at its own phase; "
        "none while its site's uplink is down), and a halt withdraws the releases not yet picked up; none: told at "
        "once, as by a pushed notification (AWS IoT Jobs)")
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


