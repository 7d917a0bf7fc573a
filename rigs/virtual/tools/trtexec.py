#!/usr/bin/env python3
"""A trtexec-compatible command for virtual rigs, backed by onnxruntime (a rig tool: it runs on the rig, imports
nothing from fleetlab).

Accepts the subset of flags the fleetlab HIL runner uses:
    --onnx=M.onnx --saveEngine=E [--fp16 | --int8]          build: the "engine" is an ORT-optimized ONNX model;
                                                             --fp16 rounds weights and every activation to fp16
                                                             (overflow beyond 65504 becomes inf, as on a GPU)
    --loadEngine=E [--shapes=frames:4x3x32x32] [--loadInputs=frames:F.bin] [--exportOutput=O.json]
    [--warmUp=MS] [--iterations=N] [--duration=S] [--exportTimes=T.json] [--percentile=90,95,99]
and prints the TensorRT 8.6 log shape (&&&& markers, "=== Performance summary ===" with percentile lines).
Exit status 0 on success, 1 on failure, as trtexec.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time

from boardmemory import take_the_board_if_told  # beside this script

VERSION_TAG = "8601"     # prints as TensorRT v8601 = 8.6.1
FP16_MAX = 65504.0


def log(level: str, message: str) -> None:
    stamp = time.strftime("%m/%d/%Y-%H:%M:%S")
    print(f"[{stamp}] [{level}] {message}", flush=True)


def parse_flags(argv: list[str]) -> dict[str, str]:
    flags = {}
    for arg in argv:
        if not arg.startswith("--"):
            raise SystemExit(f"unexpected argument {arg!r}")
        key, _, value = arg[2:].partition("=")
        flags[key] = value
    return flags


def session(path: str, optimized: str | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("FLEETLAB_RIG_THREADS", "1"))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if optimized:
        options.optimized_model_filepath = optimized
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def emulate_fp16(model):
    """Round weights to fp16 and pass every float activation through Cast(fp16) -> Cast(fp32)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    for index, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT:
            rounded = numpy_helper.to_array(init).astype(np.float16).astype(np.float32)
            graph.initializer[index].CopyFrom(numpy_helper.from_array(rounded, init.name))
    outputs = {output.name for output in graph.output}   # graph outputs stay fp32, as TensorRT's bindings do
    rewired, nodes = {}, []
    for node in graph.node:
        node.input[:] = [rewired.get(name, name) for name in node.input]
        nodes.append(node)
        for name in node.output:
            if name in outputs:
                continue
            half, back = f"{name}__fp16", f"{name}__fp16_round"
            nodes.append(helper.make_node("Cast", [name], [half], to=TensorProto.FLOAT16))
            nodes.append(helper.make_node("Cast", [half], [back], to=TensorProto.FLOAT))
            rewired[name] = back
    del graph.node[:]
    graph.node.extend(nodes)
    return model


def build(flags: dict[str, str]) -> int:
    import onnx

    source, engine = flags["onnx"], flags.get("saveEngine")
    log("I", "Start parsing network model.")
    take_the_board_if_told()                 # the oom_at_load fault: a model too big for the board
    try:
        model = onnx.load(source)
        onnx.checker.check_model(model)
    except Exception as error:   # noqa: BLE001 — any unreadable model is a parse failure, as in TensorRT
        log("E", f"[TRT] ModelImporter.cpp:773: While parsing: {type(error).__name__}: {str(error)[:200]}")
        log("E", "Failed to parse onnx file")
        log("E", "Parsing model failed")
        log("E", "Failed to create engine from model or file.")
        log("E", "Engine set up failed")
        return 1
    log("I", "Finished parsing network model. Parse time: 0.01")
    if "int8" in flags:
        log("E", "Int8 building needs a calibration cache (--calib); this emulator has none")
        log("E", "Engine could not be created from network")
        return 1
    if "fp16" in flags:
        model = emulate_fp16(model)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp:
        staged = os.path.join(temp, "model.onnx")
        onnx.save(model, staged)
        partial = engine + ".building"
        session(staged, optimized=partial)
        os.replace(partial, engine)
    log("I", f"Engine built in {time.perf_counter() - started:.4f} sec.")
    log("I", f"Created engine with size: {os.path.getsize(engine) / 2**20:.4f} MiB")
    return 0


def input_array(flags: dict[str, str], sess):
    import numpy as np

    meta = sess.get_inputs()[0]
    shape = [1 if not isinstance(dim, int) else dim for dim in meta.shape]
    if "shapes" in flags:
        name, _, dims = flags["shapes"].partition(":")
        shape = [int(dim) for dim in dims.split("x")]
    if "loadInputs" in flags:
        name, _, path = flags["loadInputs"].partition(":")
        return np.fromfile(path, dtype=np.float32).reshape(shape)
    return np.random.default_rng(0).random(shape, dtype=np.float32)


def summary_line(name: str, values: list[float], percentiles: list[float]) -> str:
    ordered = sorted(values)

    def at(q: float) -> float:
        position = q / 100 * (len(ordered) - 1)
        below = math.floor(position)
        above = min(below + 1, len(ordered) - 1)
        return ordered[below] + (ordered[above] - ordered[below]) * (position - below)

    parts = [f"min = {ordered[0]:.6g} ms", f"max = {ordered[-1]:.6g} ms",
             f"mean = {sum(ordered) / len(ordered):.6g} ms", f"median = {at(50):.6g} ms"]
    parts += [f"percentile({q:g}%) = {at(q):.6g} ms" for q in percentiles]
    return f"{name}: " + ", ".join(parts)


def infer(flags: dict[str, str]) -> int:
    path = flags["loadEngine"]
    if not os.path.exists(path):
        log("E", f"Error opening engine file: {path}")
        log("E", "Failed to create engine from model or file.")
        return 1
    take_the_board_if_told()
    sess = session(path)
    data = input_array(flags, sess)
    feed = {sess.get_inputs()[0].name: data}
    outputs = sess.run(None, feed)
    if "exportOutput" in flags:
        with open(flags["exportOutput"], "w") as sink:
            json.dump([{"name": meta.name, "dimensions": "x".join(str(d) for d in value.shape),
                        "values": [float(v) for v in value.ravel()]}
                       for meta, value in zip(sess.get_outputs(), outputs)], sink)
    warm_until = time.perf_counter() + float(flags.get("warmUp", "200")) / 1000
    while time.perf_counter() < warm_until:
        sess.run(None, feed)
    iterations = int(flags.get("iterations", "10"))
    duration = float(flags.get("duration", "3"))
    timings, origin = [], time.perf_counter()
    while len(timings) < iterations or time.perf_counter() - origin < duration:
        start = time.perf_counter()
        sess.run(None, feed)
        end = time.perf_counter()
        timings.append(((start - origin) * 1000, (end - origin) * 1000))
    if "exportTimes" in flags:
        with open(flags["exportTimes"], "w") as sink:
            json.dump([{"startEnqMs": s, "endEnqMs": s, "startComputeMs": s, "endComputeMs": e, "startOutMs": e,
                        "endOutMs": e, "inMs": 0.0, "computeMs": e - s, "outMs": 0.0, "latencyMs": e - s,
                        "endToEndMs": e - s} for s, e in timings], sink)
    latencies = [end - start for start, end in timings]
    wall = (timings[-1][1] - timings[0][0]) / 1000 or 1e-9
    percentiles = [float(q) for q in flags.get("percentile", "90,95,99").split(",") if q]
    log("I", "=== Performance summary ===")
    log("I", f"Throughput: {len(timings) / wall:.6g} qps")
    log("I", summary_line("Latency", latencies, percentiles))
    log("I", summary_line("Enqueue Time", latencies, percentiles))
    log("I", summary_line("GPU Compute Time", latencies, percentiles))
    log("I", f"Total Host Walltime: {wall:.6g} s")
    mean = sum(latencies) / len(latencies)
    cv = (sum((x - mean) ** 2 for x in latencies) / len(latencies)) ** 0.5 / mean * 100 if mean else 0.0
    if cv > 1.0:
        log("W", f"* GPU compute time is unstable, with coefficient of variance = {cv:.4g}%.")
    return 0


def main(argv: list[str]) -> int:
    print(f"&&&& RUNNING TensorRT.trtexec [TensorRT v{VERSION_TAG}] # trtexec {' '.join(argv)}", flush=True)
    flags = parse_flags(argv)
    try:
        if "onnx" in flags:
            status = build(flags)
        elif "loadEngine" in flags:
            status = infer(flags)
        else:
            log("E", "Model missing or format not recognized")
            status = 1
    except Exception as error:   # noqa: BLE001 — report like trtexec, never a Python traceback
        log("E", f"{type(error).__name__}: {error}")
        status = 1
    marker = "PASSED" if status == 0 else "FAILED"
    print(f"&&&& {marker} TensorRT.trtexec [TensorRT v{VERSION_TAG}] # trtexec {' '.join(argv)}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
