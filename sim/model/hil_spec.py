"""The scenario's `hil:` part: what the rigs run per device (the HIL runner reads it; sim/model/scenario.py holds it).

Kept apart from the fleet and the plan, which the simulator reads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from sim.model.frozen import Frozen
from sim.model.unit_fields import Duration, Fraction, PositiveDuration, Rate, Size


class HilLatencyBudget(Frozen):
    p50: Duration | None = Field(default=None, description="median inference latency a rig may not exceed")
    p99: Duration | None = Field(default=None, description="99th percentile latency a rig may not exceed")


class HilParity(Frozen):
    atol: Annotated[float, Field(ge=0)] = Field(default=1e-3, description="absolute tolerance of an engine output "
                                                "against the ONNX reference")
    rtol: Annotated[float, Field(ge=0)] = Field(default=1e-3, description="relative tolerance, added to atol "
                                                "(numpy.isclose)")


class HilFault(Frozen):
    fault: str = Field(description="what happens: link_drop, sigint, sigterm or sigkill on any rig; virtual rigs "
                       "add power_cut, disk_full, … (hil/faults.py)")
    at_step: str = Field(description="where it fires: before:STEP, after:switch, mid:install (build, rollback, "
                         "restore), or transfer@P% ('transfer@50%')")


MAX_THERMAL_STEP = 86400.0    # a board settles in minutes; a load step of days is a typo that would hold the rig


class HilCalibrate(Frozen):
    """The optional `calibrate` step (fleetlab calibrate turns it on): the extra measurements a calibration needs."""

    thermal_step: PositiveDuration = Field(default=120.0, description="how long the load step runs while "
                                           "tegrastats samples the temperature (a few time constants fit best; "
                                           "at most a day)")

    @field_validator("thermal_step")
    @classmethod
    def _at_most_a_day(cls, value: float) -> float:
        return check_thermal_step(value)


def check_thermal_step(seconds: float) -> float:
    if seconds > MAX_THERMAL_STEP:
        raise ValueError(f"{seconds:g} s is longer than a day: a board settles in minutes (a few time constants fit "
                         f"best), and the load step holds the rig for all of it")
    return seconds


class HilSpec(Frozen):
    """The per-device part that runs on real or virtual rigs (used by the HIL runner)."""

    rig_tags: list[str] = Field(default_factory=list, description="rigs carrying all these tags take part")
    time_scale: Annotated[float, Field(gt=0)] = Field(
        default=1.0, description="real seconds per scenario second: a 12h bake soaks 12h × time_scale on rigs")
    current_model: str | None = Field(
        default=None, description="ONNX file of the model the rigs run now (relative to the scenario file), "
        "or builtin:NAME from fleetlab's model family")
    candidate_model: str | None = Field(default=None, description="ONNX file of the candidate, or builtin:NAME")
    frames: str | None = Field(default=None, description="folder of ANGLE.npy frame batches, or 'builtin'")
    precision: Literal["fp32", "fp16", "int8"] = Field(default="fp16", description="the TensorRT engine's precision")
    latency_budget: HilLatencyBudget = Field(default=HilLatencyBudget(), description="latency bounds per rig")
    parity: HilParity = Field(default=HilParity(), description="how close the engine's outputs must be")
    iterations: Annotated[int, Field(ge=10)] = Field(default=300, description="timed inferences per latency run")
    warmup: Annotated[int, Field(ge=0)] = Field(default=30, description="first timed inferences discarded")
    max_cv: Fraction | None = Field(default=0.25, description="latency runs noisier than this robust coefficient "
                                    "of variation (1.4826·MAD/median) are unstable: the step fails rather than report "
                                    "a number nobody should trust; null measures and reports it without a limit")
    max_temperature: float | None = Field(default=None, description="°C a rig may reach while measuring latency")
    max_memory: Size | None = Field(
        default=None, description="RAM a rig may have in use while measuring latency (tegrastats RAM used: the "
        "candidate beside the system and the camera service), and under delivery.update_strategy: hand_over while "
        "both models' services run at the activation, e.g. 3.5GB on a 4 GB Nano: over it the step fails, before "
        "the fleet meets the out-of-memory killer")
    transfer_rate: Rate | None = Field(default=None, description="cap the transfer so a rig sees the fleet's link")
    shadow: bool = Field(default=False, description="also run both engines side by side on the same frames")
    calibrate: HilCalibrate | None = Field(default=None, description="also measure what `fleetlab calibrate` "
                                           "needs (current-model latency and power, a second build, a thermal step)")
    faults: list[HilFault] = Field(default_factory=list, description="faults to inject on the rigs, for recovery "
                                   "tests")

    @field_validator("current_model", "candidate_model", "frames")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        # '' read as the scenario's own folder, and the run failed on the rigs as 'not a file'
        if value is not None and not value.strip():
            raise ValueError("must not be empty: name a file or builtin, or leave the key out for the default")
        return value
