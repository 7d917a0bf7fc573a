#!/usr/bin/env python3
"""The camera service of a virtual rig (a rig tool; imports nothing from fleetlab).

    camera_service.py restart --store STORE   load STORE/active/model.engine, run it on a frame, record health
    camera_service.py health  --store STORE   exit 0 only when the running engine is the active one and healthy

"Running" is recorded in STORE/service/status.json (written atomically). The pipeline expects the engine to take
[N, 3, 64, 64] frames and give five class scores; an engine that does not is refused at restart, as a real
pipeline refuses a model whose head it cannot read.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time

EXPECTED_CLASSES = 5


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_status(store: str, status: dict) -> None:
    folder = os.path.join(store, "service")
    os.makedirs(folder, exist_ok=True)
    partial = os.path.join(folder, f"status.json.{os.getpid()}")
    with open(partial, "w") as sink:
        json.dump(status, sink)
    os.replace(partial, os.path.join(folder, "status.json"))


def load_and_check(engine: str) -> str | None:
    """None when the engine serves five finite scores for a frame; else why not."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(engine, options, providers=["CPUExecutionProvider"])
    frame = np.full((1, 3, 64, 64), 0.5, dtype=np.float32)
    scores = session.run(None, {session.get_inputs()[0].name: frame})[0]
    if scores.shape != (1, EXPECTED_CLASSES):
        return f"the pipeline expects {EXPECTED_CLASSES} class scores, the engine gives shape {list(scores.shape)}"
    if not np.isfinite(scores).all():
        return "the engine's scores are not finite"
    return None


def restart(store: str) -> int:
    active = os.path.join(store, "active")
    engine = os.path.join(active, "model.engine")
    status = {"time": time.time(), "slot": os.path.basename(os.path.realpath(active)), "healthy": False}
    if not os.path.exists(engine):
        status["reason"] = f"no engine at {engine}"
    else:
        status["engine_sha256"] = sha256(engine)
        try:
            problem = load_and_check(engine)
        except Exception as error:   # noqa: BLE001 — an engine that does not load is an unhealthy service
            problem = f"engine does not load: {type(error).__name__}: {error}"
        status["healthy"] = problem is None
        status["reason"] = problem or "serving"
    write_status(store, status)
    print(json.dumps(status), flush=True)
    return 0 if status["healthy"] else 1


def health(store: str) -> int:
    try:
        with open(os.path.join(store, "service", "status.json")) as source:
            status = json.load(source)
    except (OSError, ValueError):
        print("unhealthy: the service has not started", flush=True)
        return 1
    engine = os.path.join(store, "active", "model.engine")
    if not status.get("healthy"):
        print(f"unhealthy: {status.get('reason')}", flush=True)
        return 1
    if not os.path.exists(engine) or status.get("engine_sha256") != sha256(engine):
        print("unhealthy: the running engine is not the active one (restart the service)", flush=True)
        return 1
    print(f"healthy: slot {status['slot']}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("restart", "health") or argv[1] != "--store":
        print(__doc__, file=sys.stderr)
        return 2
    return restart(argv[2]) if argv[0] == "restart" else health(argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
