"""Fit a first-order thermal response to a load step's temperature samples:

    T(t) = T∞ + (T₀ − T∞)·exp(−t/τ)

For a fixed τ the model is linear in (T∞, T₀ − T∞), so each τ on a log grid gets its least-squares fit in closed form;
the best τ is then refined by golden-section search. No SciPy needed, and no starting guess that can diverge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class StepResponse:
    settled: float          # T∞, °C
    start: float            # T₀, °C
    time_constant: float    # τ, seconds
    rms_error: float        # °C


def _fit_for(tau: float, times: np.ndarray, temperatures: np.ndarray) -> tuple[float, float, float]:
    decay = np.exp(-times / tau)
    design = np.column_stack([np.ones_like(decay), decay])
    (settled, gap), *_ = np.linalg.lstsq(design, temperatures, rcond=None)
    residual = temperatures - design @ np.array([settled, gap])
    return float(settled), float(settled + gap), float(np.sqrt(np.mean(residual ** 2)))


def fit_step_response(times: list[float], temperatures: list[float], shortest: float = 1.0,
                      longest: float = 7200.0) -> StepResponse | None:
    """The best fit, or None with fewer than 4 samples or no rise or fall to fit."""
    t, y = np.asarray(times, dtype=float), np.asarray(temperatures, dtype=float)
    if len(t) < 4 or float(np.ptp(y)) <= 0:
        return None
    t = t - t[0]
    grid = np.geomspace(shortest, longest, 200)
    errors = [_fit_for(tau, t, y)[2] for tau in grid]
    best = int(np.argmin(errors))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    for _ in range(60):                      # golden-section on the bracket around the grid's best
        a, b = high - GOLDEN * (high - low), low + GOLDEN * (high - low)
        if _fit_for(a, t, y)[2] < _fit_for(b, t, y)[2]:
            high = b
        else:
            low = a
    tau = (low + high) / 2
    settled, start, rms = _fit_for(tau, t, y)
    return StepResponse(settled=settled, start=start, time_constant=tau, rms_error=rms)
