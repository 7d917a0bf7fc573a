"""A rig's steps, in one table: the session runs them in this order, fault points are named after them
(`before:STEP`), and the tests read the order from here rather than writing it again.

    reserve → preflight → baseline → [kill] → [hold_download] → transfer → [hold_install] → build → parity
            → latency → [shadow] → [calibrate]                                                      install
            → [defer] → activate                                                           an Update without shadow
            → rollback                                                                     a Rollback, or the proof
            → release                                                                      at the end of the plan
    [kill] under kill_then_download: a failed or called-off install then runs `resume` (the current model again)
    [defer] when the rig's inventory gives a `service.busy` command; [hold_…] then too, under freeze_during_games
    A new attempt after a failure (delivery.failure_retries, hil/failure_retries.py) is recorded as a `retry` step
    between the failed step and its next run: not a step of this table (no fault point is named after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Phase = Literal["install", "activate", "rollback"]


@dataclass(frozen=True)
class StepSpec:
    name: str
    phase: Phase
    summary: str
    optional: bool = False       # runs only when asked for (kill, shadow, calibrate, defer, hold_…)


STEPS: tuple[StepSpec, ...] = (
    StepSpec("preflight", "install", "L4T release, board, power mode, TensorRT, free space, idle temperature"),
    StepSpec("baseline", "install", "the current model installed if missing; its engine's outputs recorded"),
    StepSpec("kill", "install", "the camera service stopped before the transfer (delivery.update_strategy: "
             "kill_then_download): no model runs until the activation", optional=True),
    StepSpec("hold_download", "install", "under delivery.freeze_during_games, the camera's busy check: a game holds "
             "the transfer until it ends (hil/defer.py)", optional=True),
    StepSpec("transfer", "install", "the candidate into the inactive slot: resumable, sha256 checked on the rig"),
    StepSpec("hold_install", "install", "under delivery.freeze_during_games, the camera's busy check: a game holds "
             "the engine build, up to delivery.defer_limit (hil/defer.py)", optional=True),
    StepSpec("build", "install", "trtexec builds the engine on the rig"),
    StepSpec("parity", "install", "the engine's outputs against the fp32 reference, per camera angle"),
    StepSpec("latency", "install", "timed inferences with tegrastats alongside: p50/p99, stability, temperature"),
    StepSpec("shadow", "install", "both engines at once on the same frames: agreement, latency, heat", optional=True),
    StepSpec("calibrate", "install", "current engine's latency and power, a second build, a thermal load step "
             "(fleetlab calibrate)", optional=True),
    StepSpec("defer", "activate", "the camera's busy check: a game puts the switch off, up to delivery.defer_limit "
             "(hil/defer.py)", optional=True),
    StepSpec("activate", "activate", "atomic switch, service restart, health check"),
    StepSpec("rollback", "rollback", "switch back, health, the previous engine reproduces its recorded outputs"),
)
STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)
# points inside a step where a fault can be injected, besides before:STEP and transfer@P%
INNER_POINTS: tuple[str, ...] = ("mid:install", "mid:build", "after:switch", "mid:rollback", "mid:restore")


def steps_of(phase: Phase) -> tuple[StepSpec, ...]:
    return tuple(step for step in STEPS if step.phase == phase)


def after(name: str) -> tuple[str, ...]:
    """The steps that come after `name` (what a failure there leaves not run)."""
    return STEP_NAMES[STEP_NAMES.index(name) + 1:]
