"""Every key of a scenario outside its plan (the fleet and its site kinds, the artifact, the models, the delivery,
the faults, the pricing) at the edges of what it accepts: the file is refused with a positioned error, or the run
ends with every device accounted for. test_parameter_bounds.py does the same for the plans' parameters. Setting
each key to its edges found a power-cut rate of 1e9 a day that cut each camera every 86 µs: the run never ended."""

from __future__ import annotations

import copy
from typing import Any

from sim.model.errors import ScenarioError
from sim.model.fleet_spec import SiteKind
from sim.model.lint import memory_needed
from sim.model.scenario import Fault, Scenario
from sim.model.unit_fields import UNITS_REQUIRED
from sim.run import simulate
from tests.conftest import BASE, merge
from tests.model.test_parameter_bounds import EDGES, _model_in, parameter_paths

Path = tuple[str | int, ...]

# The base fleet with every optional part switched on, so that each key below is read by the run.
FULL = merge(BASE, {
    "duration": "1d",
    "fleet": {"site_kinds": {"gym": {"count": 4, "cameras_per_site": "1-3", "uplink": {"median": "8Mbit/s"},
                                     "games": {"days": ["mon"], "start": "01:00", "duration": "3h"},
                                     "outages": {"mtbf": "1d", "mttr": "1h"}}},
              "power_loss_per_day": 2, "egress_cap": "20Mbit/s"},
    "artifact": {"delta_size": "20MB", "corruption_rate": "10%"},
    "delivery": {"site_cache": True, "delta": True, "freeze_during_games": True,
                 "retries": {"backoff": "5m", "factor": 2, "max_backoff": "1h"}},
    "faults": [{"kind": "outage", "at": "30m", "duration": "1h", "share": "50%"},
               {"kind": "power_cut", "at": "2h", "share": "50%"}],
    "strategy": {"kind": "waves", "waves": ["25%", "100%"], "bake": "1h"},
})
SECTIONS = ("fleet", "artifact", "current", "candidate", "delivery", "pricing")
MEMORY_LIMIT = 2 * 2**30   # a fleet needing more is refused by the loader on a machine this small (sim.model.lint)


def scenario_paths() -> list[Path]:
    paths: list[Path] = [("duration",), ("seed",), ("start_weekday",)]
    for section in SECTIONS:
        model = _model_in(Scenario.model_fields[section].annotation)
        assert model is not None
        paths += [(section, *path) for path in parameter_paths(model)]
    paths += [("fleet", "site_kinds", "gym", *path) for path in parameter_paths(SiteKind)]
    for index in range(len(FULL["faults"])):
        paths += [("faults", index, *path) for path in parameter_paths(Fault)]
    return paths


def with_value(document: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    node: Any = changed
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
        if not isinstance(node, (dict, list)):      # an explicit none or a scalar above: left whole
            return changed
    node[path[-1]] = value
    return changed


def outcome(path: Path, value: Any) -> str:
    """'refused', 'ran', or what went wrong."""
    try:
        scenario = Scenario.model_validate(with_value(FULL, path, value), context={UNITS_REQUIRED: True})
    except (ValueError, ScenarioError):      # pydantic's ValidationError is a ValueError: refused, as it may be
        return "refused"
    if memory_needed(scenario) > MEMORY_LIMIT:
        return "refused"
    try:
        result = simulate(scenario)
    except Exception as error:   # noqa: BLE001 — any exception is the finding, named with its key and value
        return f"{type(error).__name__}: {error}"
    return "ran" if sum(result.outcomes.values()) == result.devices else "devices lost"


def test_the_full_base_scenario_runs_with_every_part_on():
    result = simulate(Scenario.model_validate(FULL, context={UNITS_REQUIRED: True}))
    assert result.devices > 4 and result.bytes.lan > 0 and result.bytes.delta > 0


def test_every_scenario_key_at_each_edge_is_refused_or_the_run_ends():
    found = {(".".join(map(str, path)), repr(value)): outcome(path, value)
             for path in scenario_paths() for value in EDGES}
    assert list(found.values()).count("ran") > 300          # most edges are legal: the runs really ran
    assert {case: what for case, what in found.items() if what not in ("ran", "refused")} == {}


def test_more_hardware_models_or_angles_than_a_byte_holds_are_refused_where_written():
    """The layout keeps a camera's hardware model and angle in a byte each (a million cameras): the 256th would not
    fit, so a fleet may name at most 255 of each."""
    import pytest
    import yaml

    from sim.load import load_scenario_text

    for key in ("hardware", "camera_angles"):
        names = {f"n{number}": 1 / 256 for number in range(256)}
        text = yaml.safe_dump(merge(BASE, {"fleet": {key: {"orin-nx": None, **names} if key == "hardware"
                                                     else names}}))
        with pytest.raises(ScenarioError) as refused:
            load_scenario_text(text, "many.yaml")
        [problem] = refused.value.problems
        assert problem.path == f"fleet.{key}" and problem.line > 0 and "at most 255" in problem.message, problem
