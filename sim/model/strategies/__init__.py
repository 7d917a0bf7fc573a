"""Built-in strategies; importing this package registers them all."""

from sim.model.strategies import all_at_once, waves  # noqa: F401  (imported for registration)
