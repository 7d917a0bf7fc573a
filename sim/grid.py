"""A sweep's parameter grid: `strategy.waves=[1%,10%,100%],[5%,50%,100%];strategy.bake=6h,12h;plan=plan,naive_waves`.

Axes are separated by `;`, values by `,` outside brackets; each value is read as YAML, so it is written exactly as
in a scenario file (`12h`, `5%`, `[1%, 100%]`, `true`). Every grid point is the scenario file with those keys
replaced, validated like the file itself, before anything runs. The axis `plan` names the scenario's own strategy
(`plan`), an entry under `alternatives:`, or a registered strategy kind with its default parameters.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from sim.load import CopyOf, load_scenario, load_scenario_variants
from sim.model.errors import FleetlabError, ScenarioError
from sim.model.scenario import Scenario
from sim.model.strategy import REGISTRY

PLAN_AXIS = "plan"
# Keys a simulated run never reads: an axis over one would show the same run under different labels, which reads
# as "this setting makes no difference". A sweep runs the same seeds at every point (--seeds, --first-seed).
NOT_SIMULATED = {
    "seed": "a sweep runs the same seeds at every point (--seeds N from --first-seed); the file's seed is not used",
    "name": "only the scenario's label", "description": "only the scenario's label", "tags": "only labels",
    "findings": "read by reports, not by the simulator", "hil": "the rigs' part, not read by the simulator",
}


MAX_POINTS = 1_000   # each point is a whole scenario, loaded and validated before the first run: 300 × 300 values
#                     spent minutes loading 90,000 scenarios before anything was said or run


class GridError(FleetlabError):
    """A --grid text that cannot be read, or a grid point that is not a valid scenario."""


@dataclass(frozen=True)
class Axis:
    path: str
    texts: tuple[str, ...]      # as the user wrote them, for labels
    values: tuple[Any, ...]     # read as YAML


@dataclass(frozen=True)
class GridPoint:
    label: str                  # "strategy.bake=6h plan=naive_waves", or "base" for an empty grid
    settings: dict[str, str]
    scenario: Scenario


def _split_top_level(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise GridError(f"unbalanced brackets in {text!r}")
    return [*parts, "".join(current)]


def _read_value(axis: str, text: str) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise GridError(f"--grid {axis}={text}: not a YAML value: {str(error).splitlines()[0]}") from None


def parse_grid(specs: list[str]) -> list[Axis]:
    """Read one or more --grid texts into axes; an axis named twice is an error."""
    axes: dict[str, Axis] = {}
    for spec in specs:
        for chunk in _split_top_level(spec, ";"):
            if not chunk.strip():
                continue
            path, equals, rest = chunk.partition("=")
            path = path.strip()
            if not equals or not path or not rest.strip():
                raise GridError(f"--grid: expected KEY=VALUE[,VALUE...], got {chunk.strip()!r}")
            if path in axes:
                raise GridError(f"--grid: axis {path!r} is given twice")
            top = path.split(".", 1)[0]
            if top in NOT_SIMULATED:
                raise GridError(f"--grid {path}: {NOT_SIMULATED[top]}, so every point would be the same run")
            texts = tuple(text.strip() for text in _split_top_level(rest, ","))
            if any(not text for text in texts):
                raise GridError(f"--grid {path}: an empty value in {rest.strip()!r}")
            values = tuple(_read_value(path, text) for text in texts)
            for index, value in enumerate(values):
                if value in values[:index]:
                    raise GridError(f"--grid {path}: the value {texts[index]!r} is given twice")
            axes[path] = Axis(path, texts, values)
    found = list(axes.values())
    if math.prod(len(axis.texts) for axis in found) > MAX_POINTS:
        sizes = " × ".join(f"{len(axis.texts):,}" for axis in found)
        raise GridError(f"--grid: {sizes} = {math.prod(len(axis.texts) for axis in found):,} points; at most "
                        f"{MAX_POINTS:,} (sweep a coarser grid, then a finer one around its pick)")
    return found


def _plan_override(base: Scenario, name: str) -> Any:
    if name == "plan":
        return None
    if name in base.alternatives:
        return CopyOf(f"alternatives.{name}")
    if name in REGISTRY:
        return {"kind": name}
    known = ", ".join(["plan", *base.alternatives, *sorted(REGISTRY)])
    raise GridError(f"--grid plan={name}: unknown plan; known: {known}")


def expand(file: Path, axes: list[Axis]) -> list[GridPoint]:
    """Every combination of the axes' values as a validated scenario, in the order the axes were given (the file
    parsed once: sim.load.load_scenario_variants)."""
    base = load_scenario(file)
    if not axes:
        return [GridPoint("base", {}, base)]
    labelled: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    for combination in itertools.product(*(range(len(axis.texts)) for axis in axes)):
        settings = {axis.path: axis.texts[i] for axis, i in zip(axes, combination)}
        overrides: dict[str, Any] = {}
        for axis, i in zip(axes, combination):
            if axis.path == PLAN_AXIS:
                plan = _plan_override(base, str(axis.values[i]))
                if plan is not None:   # the plan replaces the strategy first; strategy.* axes then refine it
                    overrides = {"strategy": plan, **overrides}
            else:
                overrides[axis.path] = axis.values[i]
        labelled.append((" ".join(f"{path}={text}" for path, text in settings.items()), settings, overrides))
    points = []
    scenarios = load_scenario_variants(file, [overrides for *_, overrides in labelled])
    for label, settings, _ in labelled:
        try:
            scenario = next(scenarios)
        except ScenarioError as error:
            details = "; ".join(f"{problem.path}: {problem.message}" for problem in error.problems)
            raise GridError(f"grid point {label}: {details}") from None
        points.append(GridPoint(label, settings, scenario))
    return points
