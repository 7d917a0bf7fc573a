"""Every step on a rig is recorded — name, arguments, start, duration, outcome, detail, numbers — whatever happens
inside it. A failing test is a `failed` step; an infrastructure error is an `error` step and then propagates."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from hil.errors import HilError
from hil.stop import Stopped
from sim.model.hil_results import StepOutcome, StepResult

log = logging.getLogger(__name__)


@dataclass
class StepHandle:
    outcome: StepOutcome = "passed"
    detail: str = ""
    numbers: dict[str, float] = field(default_factory=dict)

    def fail(self, detail: str) -> None:
        self.outcome, self.detail = "failed", detail

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


class StepRecorder:
    def __init__(self, rig: str) -> None:
        self.rig = rig
        self.origin = time.monotonic()
        self.steps: list[StepResult] = []
        # what to add to a failed step before it is recorded (hil/memory_kills.py: the kernel's OOM kills meanwhile)
        self.after_failure: Callable[[str, StepHandle], None] | None = None

    @contextmanager
    def step(self, name: str, **args: object) -> Iterator[StepHandle]:
        handle, started = StepHandle(), time.monotonic()
        log.info("%s: %s %s", self.rig, name, args or "")
        try:
            yield handle
        except HilError as error:
            handle.outcome, handle.detail = "error", str(error)
            raise
        except Stopped as stop:
            handle.outcome, handle.detail = "interrupted", f"stopped: {stop}"
            raise
        finally:
            if handle.outcome == "failed" and self.after_failure is not None:
                self.after_failure(name, handle)
            self.steps.append(StepResult(name=name, args={key: str(value) for key, value in args.items()},
                                         started=round(started - self.origin, 3),
                                         seconds=round(time.monotonic() - started, 3), outcome=handle.outcome,
                                         detail=handle.detail, numbers=handle.numbers))
            log.info("%s: %s %s %s", self.rig, name, handle.outcome, handle.detail)

    def skip(self, name: str, why: str) -> None:
        self.steps.append(StepResult(name=name, started=round(time.monotonic() - self.origin, 3), seconds=0.0,
                                     outcome="skipped", detail=why))
