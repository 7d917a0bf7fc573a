"""Random streams owned by each entity: uniform(seed, purpose, entity, counter), a counter-based hash.

Why not one numpy Generator per device: creating a million of them costs seconds and hundreds of MB. A hash of
(seed, purpose, entity id, counter) is a stream that costs nothing to create, never depends on the order in which
the simulation asks for numbers, and therefore gives the same device the same outages, power cuts and corrupt
downloads under every strategy (common random numbers). The scalar and the numpy versions give the same values.
"""

from __future__ import annotations

import math

import numpy as np

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_TO_UNIT = 2.0 ** -53
# A seed takes the low 56 bits of the first round's input and the purpose the top 8 (`_base`): a larger or a negative
# seed would share bits with the purpose (or be cut to 64 bits), and two different seeds would give the same run.
MAX_SEED = (1 << 56) - 1
# The most seeds one command runs per plan (`--seeds`): the list of seeds is built before the first run, and a
# million runs of even the smallest scenario are days of CPU (`--seeds 1e23` once hung building the list).
MAX_SEEDS = 1_000_000

# one constant per use, so streams for different purposes never overlap
FLEET = 1
OUTAGE = 2
POWER_CUT = 3
CORRUPT = 4
HEALTH = 5
GAME = 6
FAULT = 7
STRATEGY = 8
TELEMETRY = 9
DELTA_BASE = 10
CHECK_IN = 11
DELTA_APPLY = 12


def _mix(value: int) -> int:
    """splitmix64's finaliser: a bijection on 64-bit integers with good avalanche."""
    value = (value + _GOLDEN) & _MASK
    value = ((value ^ (value >> 30)) * _MUL1) & _MASK
    value = ((value ^ (value >> 27)) * _MUL2) & _MASK
    return value ^ (value >> 31)


_BASES: dict[tuple[int, int], int] = {}     # (seed, purpose) -> its mixed base, the first of the three rounds


def _base(seed: int, purpose: int) -> int:
    base = _BASES[seed, purpose] = _mix((seed & _MASK) ^ (purpose << 56))
    return base


def uniform(seed: int, purpose: int, entity: int, counter: int = 0) -> float:
    """A number in [0, 1) that depends only on its four arguments.

    The simulator draws hundreds of thousands of these per run: the (seed, purpose) round is looked up, and the
    other two rounds of `_mix` are written out here (the same arithmetic, without two calls).
    """
    base = _BASES.get((seed, purpose))
    if base is None:
        base = _base(seed, purpose)
    value = (((base ^ entity) & _MASK) + _GOLDEN) & _MASK
    value = ((value ^ (value >> 30)) * _MUL1) & _MASK
    value = ((value ^ (value >> 27)) * _MUL2) & _MASK
    value = ((value ^ (value >> 31)) ^ counter) & _MASK
    value = (value + _GOLDEN) & _MASK
    value = ((value ^ (value >> 30)) * _MUL1) & _MASK
    value = ((value ^ (value >> 27)) * _MUL2) & _MASK
    return ((value ^ (value >> 31)) >> 11) * _TO_UNIT


def exponential(seed: int, purpose: int, entity: int, counter: int, mean: float) -> float:
    return -math.log1p(-uniform(seed, purpose, entity, counter)) * mean


def _mix_array(values: np.ndarray) -> np.ndarray:
    values = values + np.uint64(_GOLDEN)
    values = (values ^ (values >> np.uint64(30))) * np.uint64(_MUL1)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(_MUL2)
    mixed: np.ndarray = values ^ (values >> np.uint64(31))
    return mixed


def uniform_array(seed: int, purpose: int, entities: np.ndarray, counter: int = 0) -> np.ndarray:
    """`uniform` for many entities at once (uint64 arithmetic wraps, exactly like the masked scalar version)."""
    base = np.uint64(_mix((seed & _MASK) ^ (purpose << 56)))
    with np.errstate(over="ignore"):
        mixed = _mix_array(_mix_array(base ^ entities.astype(np.uint64)) ^ np.uint64(counter))
    return (mixed >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def generator(seed: int, purpose: int) -> np.random.Generator:
    """A numpy Generator for vectorised draws that belong to the fleet as a whole (its layout, its sites)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed & _MASK, purpose])))
