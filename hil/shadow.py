"""Shadow mode on a rig: the candidate and the current engine on the same frames — how often they agree, and
what running both costs in latency and heat."""

from __future__ import annotations

import threading

import numpy as np

from hil import steps
from hil.telemetry import Sampler, summarize
from sim.model.hil_results import ShadowSummary


def agreement(current: dict, candidate: dict) -> tuple[float, int]:
    """Share of frames where both engines' top class is the same (frames where either failed count as disagreement)."""
    agree = total = 0
    for angle, ours in current.items():
        theirs = candidate.get(angle)
        if isinstance(ours, np.ndarray) and isinstance(theirs, np.ndarray) and ours.shape[0] == theirs.shape[0]:
            agree += int((np.argmax(ours, axis=1) == np.argmax(theirs, axis=1)).sum())
        total += ours.shape[0] if isinstance(ours, np.ndarray) else 0
    return (agree / total if total else 0.0), total


def shadow_run(validation, baseline: dict, candidate_outputs: dict) -> ShadowSummary:
    """Both engines' latency runs at once, tegrastats alongside."""
    share, frames = agreement(baseline, candidate_outputs)
    rig, spec, store = validation.rig, validation.spec, validation.store
    shape = next(iter(validation.art.frames.values())).shape[1:]
    sampler = Sampler(validation.shell, rig.tools.tegrastats, store.path("tmp", "tegrastats-shadow.log"))
    results: dict[str, object] = {}

    def measure(label: str, slot: str) -> None:
        results[label] = steps.latency_run(validation.shell, rig, store, slot, shape, spec.iterations, spec.warmup,
                                           max_cv=10.0)

    sampler.start()
    try:
        threads = [threading.Thread(target=measure, args=(label, slot)) for label, slot in
                   (("candidate", validation.state.candidate_slot), ("current", validation.state.previous_slot))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        telemetry = summarize(sampler.stop())
    idle = validation.found.get("idle_temperature")
    rise = telemetry.max_temperature - idle if telemetry.max_temperature is not None and idle is not None else None

    def p50(label: str) -> float | None:
        value = results.get(label)
        return None if isinstance(value, str) or value is None else value.p50

    return ShadowSummary(agreement=share, frames=frames, candidate_p50=p50("candidate"), current_p50=p50("current"),
                         temperature_rise=rise)
