"""A plan's Sample answered from rigs: the canary rigs' metrics against the control rigs', measured on the hardware.

Per rig, as the simulator's telemetry offers them (sim.model.strategy.METRICS):
- latency_ms, fps: every timed inference of the engine the rig serves (fps = 1000 / latency);
- temperature: the rig's latest tegrastats readings (soaks keep sampling);
- detection_rate: per frame of the rig's camera angle, 1 when the engine finds what the model finds in fp32 (finite
  outputs, the same top class as the local onnxruntime reference), else 0 — a detection proxy that an fp16 overflow
  or a broken engine drives to zero;
- agreement: the share of the rig's frames on which the candidate in shadow picks the current engine's class, one
  value per rig as the simulator gives one per camera (shadowing rigs only).

Canary rigs count while they run the candidate (or shadow it); control rigs while they serve the current model. A
control rig not yet touched is measured once (its lease taken, nothing on it changed).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hil.session import RigSession
from hil.shadow import agreement
from sim.model.lifecycle import DeviceState as S
from sim.model.strategy import METRICS, Samples

Each = Callable[[list[RigSession], Callable[[RigSession], None]], None]
RECENT_READINGS = 10
ON_CANDIDATE = (S.HEALTH_CHECK, S.COMMITTED)
ON_CURRENT = (S.IDLE, S.DOWNLOADING, S.VERIFYING, S.INSTALLING, S.AWAITING_WINDOW, S.ROLLED_BACK)


def detections(outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> list[float]:
    values: list[float] = []
    for angle, found in outputs.items():
        expected = reference.get(angle)
        if expected is None or found.shape != expected.shape:
            values += [0.0] * found.shape[0]
            continue
        finite = np.isfinite(found).all(axis=1)
        same = np.argmax(np.nan_to_num(found, nan=-np.inf), axis=1) == np.argmax(expected, axis=1)
        values += [float(flag) for flag in finite & same]
    return values


def _temperatures(rig: RigSession) -> list[float]:
    readings = [sample.max_temperature for sample in rig.found.telemetry if sample.max_temperature is not None]
    return readings[-RECENT_READINGS:]


def canary_metrics(rig: RigSession) -> dict[str, list[float]]:
    found = rig.found
    shadowing = rig.shadowing and rig.state == S.AWAITING_WINDOW
    return {"latency_ms": list(found.latencies), "fps": [1000.0 / ms for ms in found.latencies if ms > 0],
            "temperature": _temperatures(rig),
            "detection_rate": detections(found.candidate_outputs, rig.art.candidate_reference),
            "agreement": [agreement(found.baseline, found.candidate_outputs)[0]] if shadowing else []}


def control_metrics(rig: RigSession) -> dict[str, list[float]]:
    found = rig.found
    latencies = found.current_latencies
    return {"latency_ms": list(latencies), "fps": [1000.0 / ms for ms in latencies if ms > 0],
            "temperature": _temperatures(rig),
            "detection_rate": detections(found.baseline, rig.art.current_reference), "agreement": []}


def sample_rigs(canary: list[RigSession], control: list[RigSession], each: Each) -> dict[str, Samples]:
    on_candidate = [rig for rig in canary if rig.state in ON_CANDIDATE or
                    (rig.shadowing and rig.state == S.AWAITING_WINDOW)]
    on_current = [rig for rig in control if rig.state in ON_CURRENT and not rig.ended]
    each([rig for rig in on_current if not rig.found.current_latencies], lambda rig: rig.measure_current())
    rows = [canary_metrics(rig) for rig in on_candidate]
    controls = [control_metrics(rig) for rig in on_current if rig.found.baseline]
    return {metric: Samples(tuple(value for row in rows for value in row[metric]),
                            tuple(value for row in controls for value in row[metric])) for metric in METRICS}
