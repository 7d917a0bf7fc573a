"""Every strategy parameter, nested ones included, at the edges of what it accepts: the file is refused with a
positioned error, or the plan simulates to the end. Setting each to its bounds once found five ways a valid-looking
plan crashed the run (a canary sized for a 0% failure rate, a sequential test with alpha 0, min_reports 0, …) and
two that never finished (check_every: 1e-9h, 200,000,000 groups)."""

from __future__ import annotations

import copy
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from sim.model.errors import ScenarioError
from sim.model.scenario import Scenario
from sim.model.strategy import REGISTRY
from sim.model.unit_fields import UNITS_REQUIRED
from sim.run import simulate
from tests.conftest import BASE, merge

# What a file could say at the edges: shares, counts, durations, sizes, money, switches, the strata.
EDGES: list[Any] = ["0%", "100%", "0.01%", 0, 1, 2, 10**9, -1, "0s", "1m", "1000d", True, False, "0MB", "1e12MB",
                    "$0", "$1e9", "cohort", "camera_angle"]
# A plan each strategy can start from (the canary judges detections only: the tiny fleet has few samples).
PLANS: dict[str, dict[str, Any]] = {
    "all_at_once": {},
    "waves": {"waves": ["25%", "100%"], "bake": "1h", "sequential": {}, "abort": {"threshold": "30%"}},
    "phases": {"phases": [{"batch": "25%"}, {"start": "1h"}], "abort": {"threshold": "30%"}},
    "exponential": {"base_rate_per_minute": 1, "rate_increase": {"notified": 1}},
    "groups": {"groups": 2, "rollback_policy": {"failed_share": "20%", "failed_count": 1}},
    "canary": {"stratum": "camera_angle", "min_per_stratum": 1, "bake": "2h", "sequential": {},
               "judge": {"min_samples": 2, "metrics": {"detection_rate": {"fails_when": "Low"}}}},
    "shadow": {"sample": "25%", "min_reports": 1, "hold": "2h", "max_duration": "4h"},
    "thermal_aware": {"waves": ["50%", "100%"], "bake": "1h"},
    "budgeted": {"global_per_hour": "200MB"},
}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def parameter_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every field of the parameters and of the models inside them (a list of models is left whole)."""
    for name, info in model.model_fields.items():
        if name == "kind":
            continue
        yield (*prefix, name)
        inner = _model_in(info.annotation)
        if inner is not None and typing.get_origin(info.annotation) is not list:
            yield from parameter_paths(inner, (*prefix, name))


def with_value(plan: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(plan)
    node = changed
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):      # a list of rules (exponential's abort) or an explicit none: left whole
            return changed
    node[path[-1]] = value
    return changed


def test_every_registered_strategy_has_a_plan_to_start_from():
    assert sorted(PLANS) == sorted(REGISTRY)


CASES = [(kind, path) for kind in sorted(PLANS) for path in parameter_paths(REGISTRY[kind].params)]


def outcome(kind: str, changes: list[tuple[tuple[str, ...], Any]]) -> str:
    """'refused', 'ran', or what went wrong: the plan with these parameters changed, on the tiny base fleet."""
    plan = {"kind": kind, **PLANS[kind]}
    for path, value in changes:
        plan = with_value(plan, path, value)
    try:
        scenario = Scenario.model_validate(merge(BASE, {"duration": "1d", "strategy": plan}),
                                           context={UNITS_REQUIRED: True})
    except (ValueError, ScenarioError):      # pydantic's ValidationError is a ValueError: refused, as it may be
        return "refused"
    try:
        result = simulate(scenario)
    except Exception as error:   # noqa: BLE001 — any exception is the finding, named with its parameters
        return f"{type(error).__name__}: {error}"
    return "ran" if sum(result.outcomes.values()) == result.devices else "devices lost"


def test_every_parameter_at_each_edge_is_refused_or_the_plan_runs():
    found = {(kind, ".".join(path), repr(value)): outcome(kind, [(path, value)])
             for kind, path in CASES for value in EDGES}
    assert list(found.values()).count("ran") > 250          # most edges are legal: the plans really ran
    assert {case: what for case, what in found.items() if what not in ("ran", "refused")} == {}


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(PLANS)), data=st.data())
def test_two_parameters_at_their_edges_are_refused_or_the_plan_runs(kind, data):
    paths = [path for case_kind, path in CASES if case_kind == kind]
    if not paths:
        return
    changes = data.draw(st.lists(st.tuples(st.sampled_from(paths), st.sampled_from(EDGES)), min_size=2, max_size=2))
    assert outcome(kind, changes) in ("ran", "refused")


@pytest.mark.parametrize("kind", sorted(PLANS))
def test_the_starting_plans_themselves_run(kind):
    scenario = Scenario.model_validate(merge(BASE, {"duration": "1d", "strategy": {"kind": kind, **PLANS[kind]}}),
                                       context={UNITS_REQUIRED: True})
    assert simulate(scenario).devices == 8
