"""A small, real model family and per-angle test frames, built deterministically (no downloads).

    current                 the detector running on the fleet now
    candidate               the update: same architecture, retrained weights
    candidate-defective     fine in fp32, but one filter fires ×3000 on floodlit pixels; an fp16 engine overflows
                            (65504 is fp16's largest value) on the `overhead` frames only, where the court lights
                            are in view — the classic "works on the workstation, NaN on the Jetson" defect
    candidate-wrong-head    six outputs instead of five: builds and passes parity against itself, but the camera
                            service refuses it at activation (the pipeline expects five classes)
    broken                  not a valid model: the engine build fails

Frames are float32 [N, 3, 64, 64] in [0, 1]: `overhead` (a floodlit court with saturated light spots), `sideline`
and `goal` (never brighter than 0.7). Inputs are named `frames`, outputs `scores`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ANGLES = ("overhead", "sideline", "goal")
FRAME_SHAPE = (3, 64, 64)
FRAMES_PER_ANGLE = 4
CLASSES = 5
OPSET = 17
HOT_GAIN = 3000.0          # 27 taps × 1.0 × 3000 = 81,000 > 65,504 on a floodlit pixel; ≤ 0.7 × 27 × 3000 elsewhere
RETRAIN = 0.15             # how far the candidate's weights moved from the current model's
MODELS = ("current", "candidate", "candidate-defective", "candidate-wrong-head", "broken")


def _weights(seed: int, shape: tuple[int, ...], scale: float, retrain: float = 0.0) -> np.ndarray:
    """The current model's weights (seeded), plus `retrain` × fresh noise: a retrained candidate stays close."""
    base = np.random.default_rng(seed).standard_normal(shape)
    if retrain:
        base = base + retrain * np.random.default_rng(seed + 1000).standard_normal(shape)
    return (base * scale).astype(np.float32)


def _graph(name: str, retrain: float, classes: int = CLASSES, hot_filter: bool = False) -> onnx.ModelProto:
    """conv 3→32 · relu · conv 32→64 stride 2 · relu · global average pool · gemm → scores (about 22M
    multiply-adds a frame: a millisecond or so on one CPU core, so latency is measurable above timer noise)."""
    seed = 11
    inits = [numpy_helper.from_array(_weights(seed, (32, 3, 3, 3), 0.3, retrain), "conv1_w"),
             numpy_helper.from_array(_weights(seed + 1, (32,), 0.05, retrain), "conv1_b"),
             numpy_helper.from_array(_weights(seed + 2, (64, 32, 3, 3), 0.06, retrain), "conv2_w"),
             numpy_helper.from_array(_weights(seed + 3, (64,), 0.05, retrain), "conv2_b")]
    nodes = [helper.make_node("Conv", ["frames", "conv1_w", "conv1_b"], ["conv1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv1"], ["relu1"]),
             helper.make_node("Conv", ["relu1", "conv2_w", "conv2_b"], ["conv2"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["conv2"], ["relu2"]),
             helper.make_node("GlobalAveragePool", ["relu2"], ["pooled"])]
    features = 64
    if hot_filter:   # the defect: a filter with huge weights, scaled back down after it (harmless in fp32 only)
        inits += [numpy_helper.from_array(np.full((1, 3, 3, 3), HOT_GAIN, dtype=np.float32), "hot_w"),
                  numpy_helper.from_array(np.array(1.0 / HOT_GAIN / 27, dtype=np.float32), "hot_scale")]
        nodes += [helper.make_node("Conv", ["frames", "hot_w"], ["hot"], pads=[1, 1, 1, 1]),
                  helper.make_node("Mul", ["hot", "hot_scale"], ["hot_scaled"]),
                  helper.make_node("GlobalAveragePool", ["hot_scaled"], ["hot_pooled"]),
                  helper.make_node("Concat", ["pooled", "hot_pooled"], ["joined"], axis=1)]
        features += 1
    inits += [numpy_helper.from_array(_weights(seed + 4, (features, classes), 0.5, retrain), "head_w"),
              numpy_helper.from_array(_weights(seed + 5, (classes,), 0.1, retrain), "head_b")]
    nodes += [helper.make_node("Flatten", ["joined" if hot_filter else "pooled"], ["flat"], axis=1),
              helper.make_node("Gemm", ["flat", "head_w", "head_b"], ["scores"])]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["batch", *FRAME_SHAPE])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fleetlab",
                              doc_string=f"fleetlab model family: {name}")
    model.ir_version = 8   # readable by every onnxruntime since 1.10
    onnx.checker.check_model(model)
    return model


def padded(model: onnx.ModelProto, size: int) -> onnx.ModelProto:
    """The model grown to about `size` bytes by a constant weight tensor whose sum, times zero, is added to the
    scores: outputs unchanged, but an engine build has that many more bytes to read and fold, as a bigger model's
    would (calibration needs two sizes to tell a build's fixed cost from its per-byte cost)."""
    extra = max(0, size - model.ByteSize()) // 4
    if extra == 0:
        return model
    graph = model.graph
    weights = (np.random.default_rng(7).standard_normal(extra) * 1e-3).astype(np.float32)
    graph.initializer.extend([numpy_helper.from_array(weights, "padding_w"),
                              numpy_helper.from_array(np.array(0.0, dtype=np.float32), "padding_zero")])
    scores = graph.node[-1]
    scores.output[0] = "scores_unpadded"
    graph.node.extend([helper.make_node("ReduceSum", ["padding_w"], ["padding_sum"], keepdims=0),
                       helper.make_node("Mul", ["padding_sum", "padding_zero"], ["padding_nothing"]),
                       helper.make_node("Add", ["scores_unpadded", "padding_nothing"], ["scores"])])
    return model


def build_model(name: str) -> bytes:
    """The serialized ONNX model `name` (one of MODELS, optionally `NAME@SIZE` such as `candidate@50MB`: the same
    model padded to that size); the same bytes on every machine."""
    if "@" in name:
        base, _, size = name.partition("@")
        from sim.model.units import UnitError, parse_size

        try:
            wanted = int(parse_size(size))
        except UnitError as error:
            raise ValueError(f"{name!r}: {error}") from None
        model = onnx.load_from_string(build_model(base))
        return padded(model, wanted).SerializeToString()
    if name == "current":
        return _graph(name, retrain=0.0).SerializeToString()
    if name == "candidate":
        return _graph(name, retrain=RETRAIN).SerializeToString()
    if name == "candidate-defective":
        return _graph(name, retrain=RETRAIN, hot_filter=True).SerializeToString()
    if name == "candidate-wrong-head":
        return _graph(name, retrain=RETRAIN, classes=CLASSES + 1).SerializeToString()
    if name == "broken":
        return b"this is not an ONNX model; an engine build must fail on it\n"
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")


def frames_for(angle: str) -> np.ndarray:
    """FRAMES_PER_ANGLE deterministic frames of one camera angle, float32 [N, 3, 64, 64] in [0, 1]."""
    rng = np.random.default_rng(ANGLES.index(angle) + 100)
    n, (_, h, w) = FRAMES_PER_ANGLE, FRAME_SHAPE
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    if angle == "overhead":     # a lit court floor and players, with the floodlights' saturated spots in view
        base = 0.55 + 0.1 * np.sin(6 * x)[None] + rng.uniform(-0.05, 0.05, (n, h, w))
        for frame in range(n):
            cy, cx = rng.integers(4, h - 12, 2)
            base[frame, cy:cy + 8, cx:cx + 8] = 1.0
    elif angle == "sideline":   # a gradient from the stands down to the field
        base = 0.15 + 0.45 * y[None] + rng.uniform(-0.05, 0.05, (n, h, w))
    else:                       # goal: the net's mesh against a darker background
        mesh = ((np.floor(x * 16) + np.floor(y * 16)) % 2)[None]
        base = 0.2 + 0.4 * mesh + rng.uniform(-0.05, 0.05, (n, h, w))
    channels = np.stack([base * tint for tint in (1.0, 0.95, 0.9)], axis=1)
    limit = 1.0 if angle == "overhead" else 0.7
    return np.clip(channels, 0.0, limit).astype(np.float32)


def write_family(folder: Path) -> dict[str, Path]:
    """Write every model as NAME.onnx and every angle's frames as frames/ANGLE.npy; return the paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in MODELS:
        path = folder / f"{name}.onnx"
        path.write_bytes(build_model(name))
        written[name] = path
    frames = folder / "frames"
    frames.mkdir(exist_ok=True)
    for angle in ANGLES:
        np.save(frames / f"{angle}.npy", frames_for(angle), allow_pickle=False)
        written[f"frames/{angle}"] = frames / f"{angle}.npy"
    return written
