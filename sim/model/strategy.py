"""Strategies: generators that yield rollout actions and receive what the controller can see.

A strategy never touches devices. It yields an Action, and the controller (simulated or HIL) answers with an
Observation: fleet health as reported so far, late and only from devices that could report. The same strategy
code therefore drives a simulated fleet of a million cameras and a rack of four rigs.

New strategies register by name with their parameter model:

    @register("waves", WavesParams, "cumulative waves with a bake time and an abort rule")
    def waves(params: WavesParams, fleet: FleetView) -> Rollout: ...
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from pydantic import BaseModel, ConfigDict

from sim.model import streams
from sim.model.lifecycle import DeviceState


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model; subclasses add `kind: Literal[NAME]` and their knobs."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)   # every number finite

    if TYPE_CHECKING:
        kind: str = ""       # every subclass declares it as the Literal of its registered name


# --- actions a strategy yields -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Update:
    """Tell these devices to fetch and install the candidate.

    `shadow`: install it and run it beside the current model without acting on its output (no activation until a
    later Update without shadow promotes it). `cool_below`: activate only when the device is predicted to stay below
    this temperature (°C) after the switch, besides the install window and no game.
    """

    devices: tuple[int, ...]
    label: str = ""
    shadow: bool = False
    cool_below: float | None = None


@dataclass(frozen=True)
class Sample:
    """Ask online devices for their telemetry: canary devices running the candidate against control devices."""

    canary: tuple[int, ...]
    control: tuple[int, ...]


@dataclass(frozen=True)
class Soak:
    """Wait this many seconds, then observe again."""

    duration: float


@dataclass(frozen=True)
class Halt:
    """Stop the rollout: no device not yet told will be told. Devices in flight carry on."""

    reason: str


@dataclass(frozen=True)
class Rollback:
    """Return these devices (None: every device told so far) to the current model."""

    devices: tuple[int, ...] | None
    reason: str


Action = Union[Update, Soak, Halt, Rollback, Sample]

METRICS = ("fps", "latency_ms", "temperature", "detection_rate", "agreement")


@dataclass(frozen=True)
class Samples:
    """Telemetry values of one metric: canary devices (candidate) and control devices (current model)."""

    canary: tuple[float, ...]
    control: tuple[float, ...]


# --- what a strategy sees ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Observation:
    """Fleet health as the controller knows it at `time`: reports arrive late, offline devices later still."""

    time: float
    released: int                      # devices told to update so far (the controller knows this exactly)
    committed: int = 0                 # reported as running the candidate for good
    failed: int = 0                    # reported FAILED (download, storage, attempts)
    rolled_back: int = 0               # reported rolled back by their own health check or by us
    bricked: int = 0
    in_progress: int = 0               # released, last report not an outcome
    awaiting_check_in: int = 0         # of those, not yet picked up by the camera's agent (a halt withdraws them)
    failures_by_reason: Mapping[str, int] = field(default_factory=dict)
    outcomes: Mapping[int, DeviceState] = field(default_factory=dict)   # device -> last reported state
    samples: Mapping[str, Samples] = field(default_factory=dict)  # answer to a Sample action, by metric

    @property
    def totals(self) -> "Tally":
        """Reported outcomes over every released device."""
        return Tally(self.committed, self.failed, self.rolled_back, self.bricked)

    def count(self, devices: Iterable[int]) -> "Tally":
        """Reported outcomes among these devices (a group, a wave, a cohort)."""
        tally: dict[DeviceState, int] = {}
        for device in devices:
            state = self.outcomes.get(device)
            if state is not None:
                tally[state] = tally.get(state, 0) + 1
        return Tally(tally.get(DeviceState.COMMITTED, 0), tally.get(DeviceState.FAILED, 0),
                     tally.get(DeviceState.ROLLED_BACK, 0), tally.get(DeviceState.BRICKED, 0))

    @property
    def executed(self) -> int:
        """Devices whose outcome is known: the denominator of every failure-rate rule."""
        return self.committed + self.failed + self.rolled_back + self.bricked

    @property
    def failure_rate(self) -> float:
        bad = self.failed + self.rolled_back + self.bricked
        return bad / self.executed if self.executed else 0.0


@dataclass(frozen=True)
class Tally:
    committed: int = 0
    failed: int = 0
    rolled_back: int = 0
    bricked: int = 0

    @property
    def executed(self) -> int:
        return self.committed + self.failed + self.rolled_back + self.bricked

    @property
    def bad(self) -> int:
        return self.failed + self.rolled_back + self.bricked


@dataclass(frozen=True)
class FleetView:
    """What a strategy knows of the fleet before it starts: device ids, their cohorts and a seeded random source.

    `cohorts[i]` is `(hardware, site_kind, camera_angle)` of device i. `random` is owned by the strategy run:
    the same seed gives the same choices.
    """

    size: int
    cohorts: tuple[tuple[str, str, str], ...]
    random: random.Random
    sites: Sequence[int] = ()          # site of each device, by device id (read-only)
    artifact_bytes: float = 0.0          # what one device's download costs, for budgets
    egress_price_per_byte: float = 0.0
    start_time: float = 0.0              # the time of day (UTC, seconds) the plan starts at: its clock's 0
    # one device's download where devices differ (a delta, or the full image where its base does not match); asked
    # per device, as a budget releases it: a million look-ups up front would cost every plan a second
    device_bytes: Callable[[int], float] | None = None

    def download_bytes(self, device: int) -> float:
        return self.artifact_bytes if self.device_bytes is None else self.device_bytes(device)

    def shuffled(self) -> list[int]:
        order = list(range(self.size))
        self.random.shuffle(order)
        return order


def plan_random(seed: int) -> random.Random:
    """The random source a strategy run owns, derived from the scenario seed alone: the simulator and the rig
    controller hand a strategy the same one, so the same plan picks the same devices in both worlds."""
    return random.Random(int(streams.uniform(seed, streams.STRATEGY, 0) * 2**53))


Rollout = Generator[Action, Observation, None]
StrategyFn = Callable[[Any, FleetView], Rollout]


@dataclass(frozen=True)
class StrategyEntry:
    name: str
    params: type[StrategyParams]
    run: StrategyFn
    summary: str


REGISTRY: dict[str, StrategyEntry] = {}


def register(name: str, params: type[StrategyParams], summary: str) -> Callable[[StrategyFn], StrategyFn]:
    """Class the decorated generator function as strategy `name`, with `params` as its YAML parameters."""

    def decorate(run: StrategyFn) -> StrategyFn:
        if name in REGISTRY:
            raise ValueError(f"strategy {name!r} registered twice")
        REGISTRY[name] = StrategyEntry(name, params, run, summary)
        return run

    return decorate


def start(params: StrategyParams, fleet: FleetView) -> Rollout:
    """Create the rollout generator for these parameters."""
    return REGISTRY[params.kind].run(params, fleet)


class PlanDriver:
    """Runs a strategy generator for a controller: both the simulated one and the rig one drive plans through this,
    so neither can answer the plan differently from the other.

    `advance(seen)` performs actions until the strategy asks to wait and returns that Soak (None once the plan has
    ended). The controller performs Update/Halt/Rollback with `perform`, answers a Sample with `sample`, and builds
    the Observation sent back after each action with `observe` (given the Sample's answer, if any).
    """

    def __init__(self, rollout: Rollout, perform: Callable[["Update | Halt | Rollback"], None],
                 observe: Callable[[Mapping[str, Samples] | None], Observation],
                 sample: Callable[[Sample], Mapping[str, Samples]]) -> None:
        self.rollout, self.perform, self.observe, self.sample = rollout, perform, observe, sample
        self.started = False
        self.finished = False

    def advance(self, seen: Observation | None = None) -> Soak | None:
        while True:
            try:
                if self.started:
                    assert seen is not None, "a started plan is always answered with an observation"
                    action = self.rollout.send(seen)
                else:
                    action = next(self.rollout)
            except StopIteration:
                self.finished = True
                return None
            self.started = True
            if isinstance(action, Soak):
                return action
            if isinstance(action, Sample):
                seen = self.observe(self.sample(action))
                continue
            self.perform(action)
            seen = self.observe(None)
