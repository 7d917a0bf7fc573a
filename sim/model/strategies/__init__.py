"""Built-in strategies; importing this package registers them all."""

from sim.model.strategies import (  # noqa: F401  (imported for registration)
    all_at_once,
    budgeted,
    canary,
    exponential,
    groups,
    phases,
    shadow,
    thermal_aware,
    waves,
)
