"""RunResult: what one run (simulated or on rigs) measured. JSON round-trips exactly.

A result holds no wall-clock times, so the same scenario and seed give byte-identical JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sim.model.hil_results import RigResult, hil_metrics
from sim.model.lifecycle import DeviceState as S
from sim.model.record import Record, StateName


class Provenance(Record):
    scenario_name: str
    scenario_hash: str
    seed: int
    fleetlab_version: str
    git_sha: str
    packages: dict[str, str]
    models: dict[str, str] = Field(default_factory=dict, exclude_if=lambda models: not models,
                                   description="model version -> sha256 of the file the rigs ran (HIL)")


class Series(Record):
    """Values every `step` seconds from time 0, value i standing for time i·step, up to the run's end.

    Sampled series (coverage, state counts): the last value is the state the run ended in; when the run ends
    between two steps (it settled early, or its duration is not a whole number of steps) that value, the state at
    `simulated`, takes the next step's place. Binned series (egress): value i is the mean
    over [i·step, (i+1)·step), the last bin cut at the end but still divided by a whole step, so Σ values · step is
    every byte moved.
    """

    step: float
    values: list[float]


EventKind = Literal["update", "soak", "halt", "rollback", "fault", "strategy_done", "end"]


class TimelineEvent(Record):
    time: float
    kind: EventKind
    detail: str = ""
    devices: int = 0
    # on a release after the plan's first: how many cameras it had told before, and of how many of those it knew the
    # outcome then (what the go decision stood on)
    told_before: int | None = Field(default=None, exclude_if=lambda count: count is None)
    outcomes_known: int | None = Field(default=None, exclude_if=lambda count: count is None)

    @property
    def evidence(self) -> float | None:
        """The share of the cameras told before whose outcome the plan knew when it made this release."""
        return None if not self.told_before or self.outcomes_known is None else self.outcomes_known / self.told_before


class DeviceOutcome(Record):
    device: int
    cohort: tuple[str, str, str]
    site: int
    state: StateName
    reason: str


class ByteCounts(Record):
    total: float = 0.0
    useful: float = 0.0              # bytes of the download that each device finally installed
    wasted: float = 0.0              # lost to restarts, checkpoints, corrupt copies and cancelled downloads
    full: float = 0.0                # moved while fetching the full artifact
    delta: float = 0.0               # moved while fetching a delta
    unfinished: float = 0.0          # moved by downloads still going when the run ended
    lan: float = 0.0                 # copied from a site cache over the LAN (not origin egress)


class Egress(Record):
    peak: float = 0.0                # bytes/s, highest bin
    p95: float = 0.0                 # bytes/s, 95th percentile of bins with traffic
    cost: float = 0.0                # dollars
    series: Series


class Coverage(Record):
    """Share of the fleet running the candidate (committed), over time."""

    series: Series
    t50: float | None = None
    t90: float | None = None
    t95: float | None = None
    t99: float | None = None
    final: float = 0.0


class BlastRadius(Record):
    """How far a bad candidate got before the rollout stopped."""

    released_before_halt: int = 0    # devices told to update before the halt (all of them when nothing halted)
    in_flight_at_halt: int = 0       # of those, still on their way when the halt came: they carry on
    ran_candidate: int = 0           # devices that ever activated the candidate
    first_failure: float | None = None
    failure_to_halt: float | None = None   # seconds from the first failure on a device to the halt


# The reasons sim/run.py gives a device that had not committed at the end and had not failed either: never told,
# still downloading, waiting for a window or a promotion, mid-step. Every other reason is why a device failed, was
# rolled back or bricked. fleetlab/causes.py tells the two apart: a device still on its way is not a failure.
PENDING_REASONS = ("not released", "still ", "waiting for ")


def still_pending(reason: str) -> bool:
    """Whether `reasons` or a straggler's reason says the device was still on its way (not failed)."""
    return reason.startswith(PENDING_REASONS)


def least_informed_release(timeline: list[TimelineEvent]) -> TimelineEvent | None:
    """The release after a plan's first at which it knew the outcomes of the least share of the cameras told before
    (the earliest of equals); None for a plan that released once."""
    releases = [event for event in timeline if event.kind == "update" and event.evidence is not None]
    return min(releases, key=lambda event: event.evidence or 0.0) if releases else None


def evidence_at_release(timeline: list[TimelineEvent]) -> float | None:
    """That release's share (see least_informed_release)."""
    least = least_informed_release(timeline)
    return least.evidence if least is not None else None


class RunResult(Record):
    source: Literal["sim", "hil"]
    strategy: str
    devices: int
    sites: int
    simulated: float = Field(description="seconds of simulated time covered")
    coverage: Coverage
    outcomes: dict[StateName, int] = Field(description="final lifecycle state -> devices")
    reasons: dict[str, int] = Field(description="why devices did not commit -> devices")
    stragglers: list[DeviceOutcome] = Field(description="a sample of devices that did not commit, with reasons")
    bytes: ByteCounts
    egress: Egress
    exposure_device_hours: float = 0.0
    downloads_during_games: int = 0
    installs_during_games: int = 0
    throttled_device_hours: float = 0.0
    service_lost_device_hours: float = Field(
        default=0.0, description="device-hours cameras ran no model because of the update: switches, rollbacks, "
        "bricked cameras to the end, and under kill_then_download the whole update (sim/world/service_loss.py)")
    service_lost_in_games_device_hours: float = Field(
        default=0.0, description="of those, the device-hours during a game at the camera's site")
    retried_failures: int = Field(
        default=0, exclude_if=lambda count: not count, description="times a failed update was started again "
        "(delivery.failure_retries); each such camera's outcome is that of its last attempt")
    final_versions: dict[str, int]
    halted: bool = False
    halt_reason: str = ""
    halt_time: float | None = None
    blast: BlastRadius = BlastRadius()
    timeline: list[TimelineEvent]
    state_counts: dict[str, Series]
    events_processed: int = 0
    provenance: Provenance
    rigs: list[RigResult] = Field(default_factory=list, description="per-rig results of a HIL run")
    interrupted: str = Field(default="", exclude_if=lambda why: not why,
                             description="why the run was stopped before its end (a signal); '' when it was not")
    rig_delivery: list[str] = Field(default_factory=list, exclude_if=lambda found: not found,
                                    description="what the scenario's delivery made the rigs do, where it is not "
                                    "the default (a HIL run)")

    def metrics(self) -> dict[str, float | None]:
        """The flat numbers `expect:` bounds refer to (see sim.model.gates.METRICS)."""
        n = max(self.devices, 1)
        return {
            "t50": self.coverage.t50, "t90": self.coverage.t90,
            "t95": self.coverage.t95, "t99": self.coverage.t99,
            "coverage": self.coverage.final,
            "committed": float(self.outcomes.get(S.COMMITTED, 0)),
            "failed": float(self.outcomes.get(S.FAILED, 0)),
            "rolled_back": float(self.outcomes.get(S.ROLLED_BACK, 0)),
            "bricked": float(self.outcomes.get(S.BRICKED, 0)),
            "failed_share": self.outcomes.get(S.FAILED, 0) / n,
            "bytes_total": self.bytes.total, "bytes_wasted": self.bytes.wasted,
            "wasted_share": self.bytes.wasted / self.bytes.total if self.bytes.total else 0.0,
            "egress_peak": self.egress.peak, "egress_p95": self.egress.p95, "cost": self.egress.cost,
            "exposure_device_hours": self.exposure_device_hours,
            "downloads_during_games": float(self.downloads_during_games),
            "installs_during_games": float(self.installs_during_games),
            "retried_failures": float(self.retried_failures),
            "throttled_device_hours": self.throttled_device_hours,
            "service_lost_device_hours": self.service_lost_device_hours,
            "service_lost_in_games_device_hours": self.service_lost_in_games_device_hours,
            "halted": 1.0 if self.halted else 0.0,
            "blast_radius": float(self.blast.ran_candidate),
            "released_before_halt": float(self.blast.released_before_halt),
            "evidence_at_release": evidence_at_release(self.timeline),
            **(hil_metrics(self.rigs) if self.source == "hil" else {}),
        }
