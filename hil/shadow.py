"""Shadow mode on a rig: the candidate and the current engine on the same frames — how often they agree, and
what running both costs in latency and heat."""

from __future__ import annotations

import threading

import numpy as np

from hil import steps
from hil.inventory import Rig
from hil.rig_telemetry import summarize, tegrastats_alongside
from hil.shell import Shell
from hil.steps import Timed
from hil.store import Store
from sim.model.hil_results import ShadowSummary
from sim.model.hil_spec import HilSpec


def agreement(current: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> tuple[float, int]:
    """Share of frames where both engines' top class is the same (frames where either failed count as disagreement)."""
    agree = total = 0
    for angle, ours in current.items():
        theirs = candidate.get(angle)
        if theirs is not None and ours.shape[0] == theirs.shape[0]:
            agree += int((np.argmax(ours, axis=1) == np.argmax(theirs, axis=1)).sum())
        total += ours.shape[0]
    return (agree / total if total else 0.0), total


def shadow_run(shell: Shell, rig: Rig, store: Store, spec: HilSpec, frame_shape: tuple[int, ...],
               baseline: dict[str, np.ndarray], candidate_outputs: dict[str, np.ndarray], candidate_slot: str,
               current_slot: str, idle_temperature: float | None) -> ShadowSummary:
    """Both engines' latency runs at once, tegrastats alongside."""
    share, frames = agreement(baseline, candidate_outputs)
    results: dict[str, float | None] = {}

    def measure(label: str, slot: str) -> None:
        timed = steps.latency_run(shell, rig, store, slot, frame_shape, spec.iterations, spec.warmup, max_cv=None)
        results[label] = timed.summary.p50 if isinstance(timed, Timed) else None

    with tegrastats_alongside(shell, rig.tools.tegrastats, store.path("tmp", "tegrastats-shadow.log")) as samples:
        threads = [threading.Thread(target=measure, args=(label, slot)) for label, slot in
                   (("candidate", candidate_slot), ("current", current_slot))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    telemetry = summarize(samples)
    hottest = telemetry.max_temperature
    rise = hottest - idle_temperature if hottest is not None and idle_temperature is not None else None
    return ShadowSummary(agreement=share, frames=frames, candidate_p50=results.get("candidate"),
                         current_p50=results.get("current"), temperature_rise=rise)
