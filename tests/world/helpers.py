"""Run a scenario and keep every lifecycle transition, for stories that ask 'what happened to device 3?'."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.model.lifecycle import DeviceState
from sim.model.results import RunResult
from sim.model.scenario import Scenario
from sim.run import simulate


@dataclass
class Move:
    time: float
    device: int
    source: DeviceState
    target: DeviceState
    reason: str


@dataclass
class Story:
    result: RunResult
    moves: list[Move] = field(default_factory=list)

    def times(self, device: int, target: DeviceState) -> list[float]:
        return [move.time for move in self.moves if move.device == device and move.target == target]

    def first(self, device: int, target: DeviceState) -> float:
        return self.times(device, target)[0]

    def devices_reaching(self, target: DeviceState) -> set[int]:
        return {move.device for move in self.moves if move.target == target}


def run_story(scenario: Scenario, seed: int | None = None) -> Story:
    moves: list[Move] = []
    result = simulate(scenario, seed, on_transition=lambda *args: moves.append(Move(*args)))
    return Story(result, moves)
