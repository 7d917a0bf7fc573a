"""Parity: does an engine's output match the reference within tolerance? Pure numpy, no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ParityCheck:
    frames: str               # the frame family (camera angle) compared
    passed: bool
    max_abs_diff: float       # inf when the engine produced inf or NaN where the reference did not
    mismatched: int           # elements outside tolerance
    elements: int
    detail: str


def outputs_from_export(text: str) -> np.ndarray:
    """trtexec `--exportOutput` JSON ([{name, dimensions: '4x5', values: [...]}, ...]) -> the first output."""
    first = json.loads(text)[0]
    shape = [int(dim) for dim in str(first["dimensions"]).split("x")]
    return np.asarray(first["values"], dtype=np.float64).reshape(shape)


def compare(frames: str, engine: np.ndarray, reference: np.ndarray, atol: float, rtol: float) -> ParityCheck:
    if engine.shape != reference.shape:
        return ParityCheck(frames, False, float("inf"), int(reference.size), int(reference.size),
                           f"output shape {engine.shape} differs from the reference's {reference.shape}")
    close = np.isclose(engine, reference, atol=atol, rtol=rtol, equal_nan=False)
    with np.errstate(invalid="ignore"):
        diff = np.abs(engine - reference)
    worst = float(np.nanmax(np.where(np.isfinite(diff), diff, np.inf))) if diff.size else 0.0
    mismatched = int((~close).sum())
    passed = mismatched == 0
    non_finite = int((~np.isfinite(engine)).sum())
    detail = (f"{frames}: max |diff| {worst:.3g} within atol {atol:g} + rtol {rtol:g}" if passed else
              f"{frames}: {mismatched} of {engine.size} outputs outside atol {atol:g} + rtol {rtol:g}, "
              f"max |diff| {worst:.3g}" + (f", {non_finite} not finite (fp16 overflow?)" if non_finite else ""))
    return ParityCheck(frames, passed, worst, mismatched, int(engine.size), detail)
