"""The scenario: one file that describes a fleet, an artifact, a candidate model, a rollout plan and what must hold.

Every model is frozen and rejects unknown keys; defaults live on the types. Values with units are parsed once
(sim/model/unit_fields.py). The loader (sim/load.py) turns validation errors into `file:line:col: path: message`.
The `fleet:` part is in sim/model/fleet_spec.py, the `hil:` part in sim/model/hil_spec.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal, Union, cast

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator
from pydantic.config import JsonDict

from sim.model import (
    strategies,  # noqa: F401  (registers the built-in strategies before the union is built)
    streams,
)
from sim.model.cohort import Cohort
from sim.model.fleet_spec import Fleet
from sim.model.frozen import Frozen
from sim.model.gates import METRICS, bound_example
from sim.model.hil_spec import HilSpec
from sim.model.strategy import REGISTRY, StrategyParams
from sim.model.unit_fields import (
    Clock,
    Duration,
    Fraction,
    Money,
    PositiveDuration,
    PositiveRate,
    PositiveSize,
    Size,
    at_least,
)

MOST_RETRIES = 10       # retries of one camera's update at most (AWS IoT Jobs' numberOfRetries)

# --- what is shipped ------------------------------------------------------------------------------------------

class Artifact(Frozen):
    full_size: PositiveSize = Field(description="the whole model artifact as downloaded")
    delta_size: Size | None = Field(default=None, description="size of the binary delta from the current model "
                                    "(sent with delivery.delta)")
    resumable: bool = Field(default=True, description="an interrupted download resumes from its last checkpoint "
                            "(false: starts over)")
    checkpoint: PositiveSize = Field(default=1e6, description="progress survives an interruption up to the last "
                                     "checkpoint")
    corruption_rate: Fraction = Field(default=0.0, description="share of downloads that arrive corrupt: the checksum "
                                      "fails and the device fetches again (artifact.max_download_attempts)")
    installed_size: Size | None = Field(default=None, description="space the installed slot needs (default: full size)")
    install_rate: PositiveRate = Field(default=20e6, description="copying the checked artifact into the inactive slot")
    verify_rate: PositiveRate = Field(default=100e6, description="checksum of the downloaded artifact on the device")
    engine_build: Duration = Field(default=300.0, description="TensorRT engine build on the device after install")
    max_download_attempts: Annotated[int, Field(ge=1)] = Field(
        default=5, description="download attempts before the device fails: a corrupt download or an expired link "
        "(delivery.link_expiry) ends one. On rigs, the copies of the candidate a transfer sends before a corrupt one "
        "fails it")

    @property
    def storage_needed(self) -> float:
        """Free storage a camera needs to take the update: the download and the new slot. Checked before any byte
        is fetched, as a rig's preflight checks its store for its own model (hil/preflight.py)."""
        return self.full_size + (self.installed_size or self.full_size)


class HardwarePerformance(Frozen):
    latency: PositiveDuration = Field(description="inference latency per frame (more than zero: frames per second "
                                      "are its inverse)")
    power: Annotated[float, Field(gt=0)] = Field(description="watts drawn by the board running this model")
    memory: Size | None = Field(
        default=None, description="memory the model's inference service holds on this board while it runs (engine, "
        "buffers, pipeline), e.g. 1.4GB: checked against fleet.hardware_profiles.<hardware>.memory (sim/model/"
        "memory.py); unset: not checked")


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
    """Wait before fetching again after a corrupt download or an expired link: backoff, multiplied by factor each
    time, capped."""

    backoff: Duration = Field(default=300.0, description="the first wait")
    factor: Annotated[float, Field(ge=1)] = Field(default=2.0, description="the wait grows by this after each try")
    max_backoff: Duration = Field(default=6 * 3600.0, description="the wait grows to this at most")


UpdateStrategy = Literal["download_then_kill", "kill_then_download", "hand_over"]


def _simulated_update_strategy(value: object) -> object:
    if value == "delete_then_download":
        raise ValueError("delete_then_download is not simulated: it deletes the old model before the download, so a "
                         "rollback fetches the old model again over the uplink, which fleetlab's rollback does not "
                         "model; kill_then_download has the same time without a model, and keeps the old one")
    return value


class Delivery(Frozen):
    """How the artifact reaches devices, whatever the strategy."""

    delta: bool = Field(default=False, description="send artifact.delta_size; devices on another base get the full")
    base_mismatch: Fraction = Field(default=0.05, description="share of devices whose base version has no delta")
    delta_apply_failure: Fraction = Field(
        default=0.0, description="share of devices whose delta, once fetched, does not apply (the base changed on "
        "the device, unknown to the origin): they fetch the full image after it, as balena and Azure Device Update "
        "fall back")
    site_cache: bool = Field(default=False, description="one camera per site fetches; the others copy over the LAN")
    lan_rate: PositiveRate = Field(default=50e6, description="a site's LAN, from the camera that fetched to the "
                                   "others (delivery.site_cache)")
    retries: Retries | None = Field(default=None, description="backoff before fetching again after a corrupt "
                                    "download or an expired link (none: at once); on rigs, × hil.time_scale before "
                                    "a corrupt copy is sent again")
    freeze_during_games: bool = Field(default=False, description="no download or install at a site during its "
                                      "games: the uplink carries nothing, a copy from the site cache and an install "
                                      "wait for the game's end. On rigs with service.busy: the transfer waits (and "
                                      "pauses for a game that starts mid-way), and the engine build as the switch "
                                      "does")
    defer_limit: PositiveDuration | None = Field(
        default=None, description="how long a camera puts off its switch (and, under freeze_during_games, its "
        "install) while a game is on before it gives up (Mender's state-script 'retry later': "
        "StateScriptRetryTimeoutSeconds, 30 minutes by default): one still held then fails its update, the current "
        "model kept; none: it waits for the game's end, however long. On rigs, × hil.time_scale, while the inventory's "
        "service.busy answers 21")
    link_expiry: PositiveDuration | None = Field(
        default=None, description="an origin download link stops working this long after it was issued (Mender: "
        "24h): a download still going then ends that attempt, and the device fetches again on a new link (from its "
        "last checkpoint when resumable) until artifact.max_download_attempts; none: links never expire")
    in_progress_timeout: Annotated[Duration, at_least(60.0, "at least 1m (AWS IoT Jobs' shortest in-progress "
                                                      "timeout)")] | None = Field(
        default=None, description="the server ends an update that has not reached an outcome this long after the "
        "camera started it (AWS IoT Jobs' inProgressTimeoutInMinutes: 1 minute to 7 days): a camera downloading, "
        "verifying or waiting for its install window stops and fails 'timed out' (one installing, when its install "
        "ends; one activating or in its health check runs to its outcome); none: no timeout")
    timeout_retries: Annotated[int, Field(ge=0, le=MOST_RETRIES)] = Field(
        default=0, description="times a timed-out camera starts again (AWS jobExecutionsRetryConfig for TIMED_OUT, "
        "at most 10): the new attempt carries on from what the camera has (the bytes its resume rule kept, an "
        "artifact already verified or installed) with a new timeout")
    failure_retries: Annotated[int, Field(ge=0, le=MOST_RETRIES)] = Field(
        default=0, description="times a camera whose update failed starts it again (AWS jobExecutionsRetryConfig for "
        "FAILED, at most 10; Mender's deployment retries): one that a game held past delivery.defer_limit, or whose "
        "download was corrupt or its link expired artifact.max_download_attempts times, picks the new attempt up at "
        "its agent's next check-in (at once without fleet.poll_interval) and carries on from what it has (the bytes "
        "its resume rule kept, an artifact verified or installed; see retry_fetches_again), its download attempts "
        "counted afresh and a new in-progress timeout; a camera short of storage, or left on a failing candidate, "
        "fails as without retries (a new attempt would find it the same). An abort rule counts a camera once its "
        "retries are spent. On rigs the same failures start again at once (hil/failure_retries.py)")
    retry_fetches_again: bool = Field(
        default=False, description="a retry after a failure (failure_retries) drops what the camera has and fetches "
        "the artifact again from its first byte, as a Mender agent does (it streams the artifact into the inactive "
        "partition anew for each deployment it is given); false: it carries on from what it has, as a Greengrass "
        "device keeps the component artifacts it fetched). Without failure_retries it does nothing (fleetlab lint "
        "says so; a sweep over failure_retries may pass 0)")

    update_strategy: Annotated[UpdateStrategy, BeforeValidator(_simulated_update_strategy)] = Field(
        default="download_then_kill", description="when a camera stops its running model (balena's update "
        "strategies): download_then_kill keeps it running until the switch (it runs no model for the activation "
        "and any rollback); kill_then_download stops it when the update starts, so the camera runs no model "
        "through its download, verify, install and wait for a window; hand_over starts the new model beside the "
        "old, which serves until the new one has started (no gap at the switch, both in memory meanwhile)")

    failure_handling: Literal["rollback", "do_nothing"] = Field(
        default="rollback", description="what a camera does when the candidate fails its health check (Greengrass' "
        "failureHandlingPolicy): rollback switches back to the old model; do_nothing leaves the candidate in place and "
        "reports the update FAILED, so the camera runs the failing candidate (none at all when its inference service "
        "crashed) until someone deploys again: past the run's end, and out of reach of the plan's rollback")

    stage_ahead: bool = Field(
        default=False, description="from the start every camera fetches, verifies and installs the candidate into its "
        "inactive slot and waits (hawkBit's download-only rollout before the real one); the plan's releases then only "
        "switch, each in the camera's next install window. The egress is spent up front: a halt saves none of it. "
        "Needs fleet.slots: ab")

    @field_validator("stage_ahead")
    @classmethod
    def _staging_keeps_the_model(cls, stage_ahead: bool, info: ValidationInfo) -> bool:
        if stage_ahead and info.data.get("update_strategy") == "kill_then_download":
            raise ValueError("staging ahead downloads while the current model runs; kill_then_download stops it for "
                             "the download: choose one")
        return stage_ahead

    @field_validator("timeout_retries")
    @classmethod
    def _retries_need_a_timeout(cls, retries: int, info: ValidationInfo) -> int:
        if retries and info.data.get("in_progress_timeout") is None:
            raise ValueError("needs delivery.in_progress_timeout: without a timeout nothing times out")
        return retries


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

def _keyed_by_measure(with_bound: bool) -> Callable[[JsonDict], None]:
    """`expect:` and `findings:` are keyed by measure: the schema names each one with its meaning (and for `expect:`
    a bound as written), so an editor completes them, explains them on hover and underlines a misspelt one, as the
    loader refuses it (sim.model.gates.parse_bound)."""
    def measures_as_keys(schema: JsonDict) -> None:
        values = cast(JsonDict, schema.pop("additionalProperties"))
        schema["properties"] = {metric: {**values, "description": meaning + (
                                    f" (a bound: '{bound_example(metric)}')" if with_bound else "")}
                                for metric, (_, meaning) in METRICS.items()}
        schema["additionalProperties"] = False
    return measures_as_keys


def _strategy_union() -> object:
    variants = tuple(entry.params for entry in REGISTRY.values())
    return Annotated[Union[variants], Field(discriminator="kind")]


if TYPE_CHECKING:      # to a type checker: some strategy's parameters; at run time: the union of every registered one
    StrategySpec = StrategyParams
else:
    StrategySpec = _strategy_union()


def _one_line_name(name: str) -> str:
    # the history keys trends by name, and the console, the report's headings and junit.xml show it on one line
    if not name.strip():
        raise ValueError("a scenario needs a name")
    if "\n" in name or "\r" in name:
        raise ValueError("a name is one line")
    return name


class Scenario(Frozen):
    name: Annotated[str, AfterValidator(_one_line_name)] = Field(
        description="the scenario's name in reports and the history: one file per name")
    description: str = Field(default="", description="what question the scenario asks, for the report")
    tags: list[str] = Field(default_factory=list, description="labels; `fleetlab run` leaves out `benchmark` "
                            "scenarios unless their file is named")
    seed: Annotated[int, Field(ge=0, le=streams.MAX_SEED)] = Field(
        default=1, description="where every random stream of the run starts: 0 to 2^56 - 1; the same seed gives the "
        "same run")
    duration: PositiveDuration = Field(default=14 * 86400.0, description="how long the run simulates from its start "
                                       "(stop_when_settled may end it sooner)")
    start_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        default="mon", description="the weekday the run starts on, at start_time UTC (games fall on weekdays)")
    start_time: Clock = Field(
        default=0.0, exclude_if=lambda seconds: seconds == 0.0,
        description="the time of day (UTC, HH:MM) the run and its plan start at, on start_weekday: install "
        "windows, games, daily patterns and an exponential plan's UTC windows fall at that hour of the run (a past "
        "rollout's start, for fleetlab backtest)")
    stop_when_settled: bool = Field(
        default=False, description="end the run once the plan is done and no device is in flight; by default the "
        "run covers the whole duration, so exposure and throttling are measured over the same horizon for every plan")
    fleet: Fleet = Field(description="the cameras and their sites: how many, their hardware, uplinks, storage, "
                         "install windows and thermal model")
    artifact: Artifact = Field(description="what is shipped: its size, delta, how it is checked and installed")
    current: ModelSpec | None = Field(default=None, description="the model running now (default: like the candidate)")
    candidate: ModelSpec = Field(description="the model being rolled out: its version, speed and power per hardware "
                                 "model, and what is wrong with it")
    strategy: StrategySpec = Field(description="the rollout plan: `kind` and its parameters (fleetlab strategies)")
    faults: list[Fault] = Field(default_factory=list, description="scripted outages and power cuts")
    delivery: Delivery = Field(default=Delivery(), description="how the artifact reaches devices")
    alternatives: dict[str, StrategySpec] = Field(
        default_factory=dict, description="other plans to compare against `strategy`, by name (fleetlab compare)")
    expect: dict[str, Union[str, int, float]] = Field(
        default_factory=dict, json_schema_extra=_keyed_by_measure(with_bound=True),
        description="a bound per measure ('< 72h', '<= $500', 0): the verdict is judged on them")
    findings: dict[str, str] = Field(
        default_factory=dict, exclude_if=lambda found: not found,
        json_schema_extra=_keyed_by_measure(with_bound=False),
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

    def clock_offsets(self) -> list[tuple[float, float]]:
        """(seconds added to simulated time to get the local time, share) per timezone, in the file's order: the
        zone's UTC offset and the time of day the run starts at."""
        return [(offset + self.start_time, share) for offset, share in self.fleet.utc_offsets()]

    @property
    def download_size(self) -> float:
        """What a camera on the delta's base fetches: the delta under delta delivery, else the full image."""
        delta = self.artifact.delta_size
        return delta if self.delivery.delta and delta else self.artifact.full_size

    @property
    def current_model(self) -> ModelSpec:
        return self.current or ModelSpec(version="current", hardware=self.candidate.hardware)
