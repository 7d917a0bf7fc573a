"""The local reference: a model's outputs computed here with onnxruntime in fp32 (the one onnxruntime importer in
fleetlab; rig tools under rigs/virtual/tools are programs of their own)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _session(model: Path, threads: int = 1):
    import onnxruntime as ort  # imported on use: fleetlab's CLI starts without it

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def reference_outputs(model: Path, frames: np.ndarray) -> np.ndarray:
    """The model's first output for a batch of frames, in fp32 on this machine's CPU."""
    session = _session(model)
    return session.run(None, {session.get_inputs()[0].name: frames.astype(np.float32)})[0]


def in_process_latencies(model: Path, frames: np.ndarray, iterations: int, warmup: int = 20) -> list[float]:
    """Milliseconds per inference measured in this process (the yardstick for rig-measured latency)."""
    import time

    session = _session(model)
    feed = {session.get_inputs()[0].name: frames.astype(np.float32)}
    for _ in range(warmup):
        session.run(None, feed)
    found = []
    for _ in range(iterations):
        start = time.perf_counter()
        session.run(None, feed)
        found.append((time.perf_counter() - start) * 1000)
    return found
