"""What a HIL run measured on each rig: steps, parity, latency, telemetry, facts. Pure data; JSON round-trips.

Wall-clock facts (durations, temperatures) make HIL results differ from run to run; simulated results do not.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sim.model.lifecycle import DeviceState
from sim.model.record import Record, StateName
from sim.model.units import format_size

StepOutcome = Literal["passed", "failed", "error", "skipped", "interrupted"]


class StepResult(Record):
    name: str
    args: dict[str, str] = Field(default_factory=dict)
    started: float = Field(description="seconds since the rig's validation began")
    seconds: float
    outcome: StepOutcome
    detail: str = ""
    numbers: dict[str, float] = Field(default_factory=dict)


class ParityResult(Record):
    frames: str                          # frame family: the camera angle
    passed: bool
    max_abs_diff: float | None           # None: the engine gave inf or NaN where the reference did not
    mismatched: int
    elements: int
    detail: str


class LatencySummary(Record):
    """Milliseconds, warm-up discarded."""
    source: Literal["exportTimes", "summary"]
    iterations: int
    mean: float
    p50: float
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    min: float | None = None
    max: float | None = None
    cv: float | None = Field(default=None, description="robust coefficient of variation (1.4826·MAD/median)")
    stable: bool = True
    histogram_edges: list[float] = Field(default_factory=list)
    histogram_counts: list[int] = Field(default_factory=list)


class TelemetrySummary(Record):
    samples: int
    max_temperature: float | None = None
    mean_power_mw: float | None = None
    max_power_mw: float | None = None
    mean_cpu_load: float | None = None
    mean_gpu_load: float | None = None
    max_memory: float | None = Field(default=None, exclude_if=lambda value: value is None,
                                     description="bytes of RAM in use at most (tegrastats RAM used), whatever runs")
    total_memory: float | None = Field(default=None, exclude_if=lambda value: value is None,
                                       description="bytes of RAM the board has (tegrastats RAM total)")

    @property
    def memory_in_use(self) -> str:
        """'1.20 GB of 3.86 GB' (the most RAM in use, of the board's), or '' when tegrastats gave none."""
        if self.max_memory is None:
            return ""
        return format_size(self.max_memory) + (f" of {format_size(self.total_memory)}" if self.total_memory else "")


class ShadowSummary(Record):
    agreement: float                     # share of frames where both engines pick the same class
    frames: int
    candidate_p50: float | None = None   # ms, both engines running at once
    current_p50: float | None = None
    temperature_rise: float | None = None


class RigResult(Record):
    rig: str
    hardware: str
    angle: str | None = Field(default=None, description="the camera angle the rig stands for (its frames)")
    wave: int = Field(description="which of the plan's releases told this rig (0 = the first); -1: never told")
    release: str = Field(default="", description="that release's label in the plan, e.g. 'canary (3 devices, 3 "
                         "strata)'")
    state: StateName = Field(default=DeviceState.IDLE, description="the rig's lifecycle state when the plan ended "
                             "(before the end-of-plan rollback proof)")
    verdict: StepOutcome
    reason: str = ""
    quarantined: bool = False
    active_at_end: str = ""              # the model version serving when the rig was released
    facts: dict[str, str] = Field(default_factory=dict)
    steps: list[StepResult] = Field(default_factory=list)
    parity: list[ParityResult] = Field(default_factory=list)
    latency: LatencySummary | None = None
    telemetry: TelemetrySummary | None = None
    idle_temperature: float | None = None
    shadow: ShadowSummary | None = None
    bytes_sent: int = 0
    faults: list[str] = Field(default_factory=list, description="faults injected, as 'NAME at POINT'")

    @property
    def no_model_seconds(self) -> float | None:
        """How long the rig ran no model because of the update (delivery.update_strategy: kill_then_download: from
        its kill step to the next service up healthy, hil/rig_steps.py); None when it never stopped its model."""
        spells = [step.numbers["no_model_s"] for step in self.steps if "no_model_s" in step.numbers]
        return sum(spells) if spells else None

    @property
    def retries(self) -> int:
        """New attempts after a failure (delivery.failure_retries: `retry` steps, hil/failure_retries.py)."""
        return sum(step.name == "retry" for step in self.steps)

    @property
    def memory_kills(self) -> int:
        """Processes the rig's kernel killed for memory while its steps failed (hil/memory_kills.py)."""
        return int(sum(step.numbers.get("oom_kills", 0) for step in self.steps))


def hil_metrics(rigs: list[RigResult]) -> dict[str, float | None]:
    """The numbers `expect:` bounds can name for a HIL run: the worst rig counts."""
    measured = [rig for rig in rigs if rig.verdict != "skipped"]
    p50s = [rig.latency.p50 / 1000 for rig in measured if rig.latency]
    p99s = [rig.latency.p99 / 1000 for rig in measured if rig.latency and rig.latency.p99 is not None]
    temperatures = [rig.telemetry.max_temperature for rig in measured
                    if rig.telemetry and rig.telemetry.max_temperature is not None]
    memory = [rig.telemetry.max_memory for rig in measured if rig.telemetry and rig.telemetry.max_memory is not None]
    return {
        "rigs_failed": float(sum(rig.verdict in ("failed", "error") for rig in rigs)),
        "parity_failures": float(sum(not check.passed for rig in measured for check in rig.parity)),
        "latency_p50": max(p50s, default=None),
        "latency_p99": max(p99s, default=None),
        "max_temperature": max(temperatures, default=None),
        "quarantined": float(sum(rig.quarantined for rig in rigs)),
        "rig_memory": max(memory, default=None),
        "rig_no_model": max((spell for rig in measured if (spell := rig.no_model_seconds) is not None), default=None),
    }
