"""Strategies stepped by hand: send Observations, read the actions they yield."""

import random

from sim.model.strategies.all_at_once import AllAtOnceParams
from sim.model.strategies.waves import WavesParams
from sim.model.strategy import FleetView, Halt, Observation, Rollback, Soak, Update, start


def fleet(size: int) -> FleetView:
    return FleetView(size, tuple(("orin", "gym", "overhead") for _ in range(size)), random.Random(0))


def test_all_at_once_tells_everyone_in_one_action():
    rollout = start(AllAtOnceParams(), fleet(5))
    action = next(rollout)
    assert isinstance(action, Update) and sorted(action.devices) == [0, 1, 2, 3, 4]


def test_waves_release_cumulative_slices_and_bake_between_them():
    params = WavesParams(waves=[0.1, 0.5, 1.0], bake=3600.0, check_every=1800.0)
    rollout = start(params, fleet(100))
    first = next(rollout)
    assert isinstance(first, Update) and len(first.devices) == 10
    quiet = Observation(time=0, released=10)
    assert rollout.send(quiet) == Soak(1800.0)
    assert rollout.send(quiet) == Soak(1800.0)
    second = rollout.send(quiet)
    assert isinstance(second, Update) and len(second.devices) == 40
    assert not set(first.devices) & set(second.devices)


def test_waves_halt_when_the_reported_failure_rate_reaches_the_threshold():
    params = WavesParams(waves=[0.2, 1.0], bake=7200.0, check_every=600.0,
                         abort={"failure_rate": 0.25, "min_executed": 4})
    rollout = start(params, fleet(20))
    next(rollout)
    assert isinstance(rollout.send(Observation(time=0, released=4)), Soak)
    # three failures out of three known outcomes is not yet enough evidence (min_executed 4)
    assert isinstance(rollout.send(Observation(time=600, released=4, failed=3)), Soak)
    action = rollout.send(Observation(time=1200, released=4, failed=1, committed=3))
    assert isinstance(action, Halt) and "25.0%" in action.reason


def test_waves_can_roll_back_what_they_released_when_they_abort():
    params = WavesParams(waves=[0.5, 1.0], bake=600.0, check_every=600.0,
                         abort={"failure_rate": 0.1, "min_executed": 1}, rollback_on_abort=True)
    rollout = start(params, fleet(10))
    next(rollout)
    action = rollout.send(Observation(time=0, released=5))
    assert isinstance(action, Soak)
    action = rollout.send(Observation(time=600, released=5, rolled_back=1))
    assert isinstance(action, Rollback) and action.devices is None
    assert isinstance(rollout.send(Observation(time=600, released=5, rolled_back=1)), Halt)
