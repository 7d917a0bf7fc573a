"""The calendar queue runs events in exactly SimPy's order: the same log for random schedules with ties (events and
plain callbacks mixed), the same result JSON for shipped scenarios, and SimPy's processes and `run(until=...)` work
on it unchanged."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import simpy

import sim.world.world as world_module
from sim.load import load_scenario
from sim.run import simulate
from sim.world.calendar_queue import CalendarEnvironment

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def random_schedule(env: simpy.Environment, seed: int, events: int = 20_000) -> list[tuple[float, int]]:
    """Callbacks scheduling more callbacks at random delays: zero, tied on a grid, tiny, bucket-sized, days."""
    rng = random.Random(seed)
    log: list[tuple[float, int]] = []
    made = [0]

    def delay() -> float:
        kind = rng.randrange(6)
        if kind == 0:
            return 0.0
        if kind == 1:
            return float(rng.randrange(10)) * 30.0     # exact ties, and times on bucket boundaries
        if kind == 2:
            return rng.random() * 1e-9                 # a hair after now
        if kind == 3:
            return rng.random() * 120.0
        if kind == 4:
            return 60.0 - 1e-12                        # a hair below the next bucket
        return rng.expovariate(1 / 86400.0)

    def fire(label: int) -> None:
        log.append((env.now, label))
        for _ in range(rng.choice((0, 1, 1, 2))):
            if made[0] >= events:
                return
            made[0] += 1
            if rng.random() < 0.5:
                env.schedule(Call(env, fire, made[0]), delay=delay())
            else:
                call_later(env, delay(), fire, made[0])

    for label in range(200):
        made[0] += 1
        env.schedule(Call(env, fire, label), delay=delay())
    env.run()
    return log


def call_later(env: simpy.Environment, delay: float, function, label: int) -> None:
    """The calendar's plain callback; on SimPy's own queue, a Timeout with that callback."""
    if isinstance(env, CalendarEnvironment):
        env.call_later(delay, function, (label,))
    else:
        env.timeout(delay).callbacks.append(lambda _event: function(label))


class Call(simpy.Event):
    def __init__(self, env: simpy.Environment, function, label: int):
        super().__init__(env)
        self._ok, self._value = True, None
        self.callbacks.append(lambda _event: function(label))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_schedules_run_in_simpys_order(seed):
    on_simpy = random_schedule(simpy.Environment(), seed)
    on_calendar = random_schedule(CalendarEnvironment(), seed)
    assert len(on_simpy) > 5_000
    assert on_calendar == on_simpy


def test_processes_timeouts_and_until_work_unchanged():
    def run(env: simpy.Environment) -> list[tuple[float, str]]:
        seen: list[tuple[float, str]] = []

        def worker(name: str, pause: float):
            for step in range(5):
                yield env.timeout(pause)
                seen.append((env.now, f"{name}{step}"))

        env.process(worker("a", 45.0))
        env.process(worker("b", 3600.0 * 30))
        stop = env.event()
        env.process(worker("c", 45.0))
        env.run(until=200.0)
        seen.append((env.now, f"peek {env.peek()}"))
        env.schedule(stop, delay=86400.0 * 3)
        stop._ok, stop._value = True, "stopped"
        seen.append((env.now, str(env.run(until=stop))))
        return seen

    assert run(CalendarEnvironment()) == run(simpy.Environment())


def test_an_empty_calendar_raises_like_simpy():
    env = CalendarEnvironment()
    assert env.peek() == float("inf")
    with pytest.raises(simpy.core.EmptySchedule):
        env.step()


class SimpysQueue(simpy.Environment):
    """SimPy's own environment, with the calendar's `call_later` as a Timeout and a callback."""

    def call_later(self, delay: float, function, args: tuple = ()) -> None:
        self.timeout(delay).callbacks.append(lambda _event: function(*args))


@pytest.mark.parametrize("name", ["power-cuts-ab", "regional-outage", "delta-and-site-cache", "game-day-freeze"])
def test_shipped_scenarios_give_the_same_result_as_on_simpys_queue(name, monkeypatch):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    on_calendar = simulate(scenario).model_dump_json()
    monkeypatch.setattr(world_module, "CalendarEnvironment", SimpysQueue)
    on_simpy = simulate(scenario).model_dump_json()
    assert on_calendar == on_simpy
