"""--grid texts become validated scenarios; anything wrong is named before a single run starts."""

import pytest

from sim.grid import GridError, expand, parse_grid


def test_values_are_read_as_yaml_and_brackets_keep_their_commas():
    axes = parse_grid(["strategy.waves=[10%, 100%],[5%,50%,100%];strategy.bake=2h,6h", "duration=1"])
    assert [axis.path for axis in axes] == ["strategy.waves", "strategy.bake", "duration"]
    assert axes[0].values == (["10%", "100%"], ["5%", "50%", "100%"])
    assert axes[1].texts == ("2h", "6h") and axes[2].values == (1,)


@pytest.mark.parametrize("text, message", [
    ("strategy.bake", "expected KEY=VALUE"),
    ("=1h", "expected KEY=VALUE"),
    ("strategy.bake=1h;strategy.bake=2h", "given twice"),
    ("strategy.waves=[10%,100%", "unbalanced brackets"),
    ("strategy.bake=1h,,2h", "an empty value"),
    # an axis that would show one run under several labels, read as "this setting changes nothing"
    ("strategy.bake=1h,2h,1h", "the value '1h' is given twice"),
    ("strategy.waves=[10%,100%],[10%, 100%]", "the value '\\[10%, 100%\\]' is given twice"),
    ("seed=1,2", "the same seeds at every point .*--first-seed"),
    ("hil.rigs=1,2", "not read by the simulator"),
    ("name=a,b", "every point would be the same run"),
    # 90,000 scenarios loaded in silence before a run started
    ("strategy.bake=" + ",".join(f"{i}h" for i in range(1, 301)) + ";strategy.check_every="
     + ",".join(f"{i}m" for i in range(1, 301)), r"--grid: 300 × 300 = 90,000 points; at most 1,000"),
])
def test_unreadable_grids_are_refused_with_the_reason(text, message):
    with pytest.raises(GridError, match=message):
        parse_grid([text])


def test_every_combination_is_a_scenario_in_axis_order(sweep_file):
    points = expand(sweep_file, parse_grid(["strategy.bake=2h,6h;strategy.waves=[20%,100%],[10%,50%,100%]"]))
    assert [point.label for point in points] == [
        "strategy.bake=2h strategy.waves=[20%,100%]", "strategy.bake=2h strategy.waves=[10%,50%,100%]",
        "strategy.bake=6h strategy.waves=[20%,100%]", "strategy.bake=6h strategy.waves=[10%,50%,100%]"]
    assert points[2].scenario.strategy.bake == 6 * 3600 and points[2].scenario.strategy.waves == [0.2, 1.0]


def test_a_plan_axis_copies_the_alternative_and_strategy_keys_refine_it(sweep_file):
    grid = parse_grid(["plan=plan,fast;strategy.bake=3h"])
    own, fast = (point.scenario.strategy for point in expand(sweep_file, grid))
    assert own.waves == [0.1, 0.5, 1.0] and own.bake == 3 * 3600
    assert fast.waves == [0.5, 1.0] and fast.bake == 3 * 3600
    [everyone] = expand(sweep_file, parse_grid(["plan=all_at_once"]))
    assert everyone.scenario.strategy.kind == "all_at_once"
    with pytest.raises(GridError, match="strategy: unknown key 'bake'"):    # all_at_once has no bake
        expand(sweep_file, parse_grid(["plan=all_at_once;strategy.bake=3h"]))


def test_an_invalid_value_names_the_grid_point_and_the_key(sweep_file):
    with pytest.raises(GridError, match=r"grid point strategy.bake=soon: strategy.*bake.*soon"):
        expand(sweep_file, parse_grid(["strategy.bake=soon"]))


def test_an_unknown_plan_lists_the_known_ones(sweep_file):
    with pytest.raises(GridError, match="unknown plan; known: plan, fast, all_at_once"):
        expand(sweep_file, parse_grid(["plan=fastest"]))


def test_an_index_past_the_end_of_a_list_is_refused(sweep_file):
    with pytest.raises(GridError, match="not an index of a list of 3 items"):
        expand(sweep_file, parse_grid(["strategy.waves.7=90%"]))


def test_without_a_grid_the_file_itself_is_the_only_point(sweep_file):
    [point] = expand(sweep_file, [])
    assert point.label == "base" and point.scenario.strategy.bake == 8 * 3600


def test_each_point_from_the_file_parsed_once_is_the_scenario_a_load_with_its_overrides_gives(sweep_file):
    """The grid's points come from one parse of the file (sim.load.load_scenario_variants; 1,000 points of the 10k
    fleet took 22 s parsed each time, 1.9 s parsed once): each must still be exactly what loading the file with its
    overrides gives, down to the fingerprint the sweep records."""
    from sim.load import load_scenario

    points = expand(sweep_file, parse_grid(["plan=plan,fast;strategy.bake=2h,6h;artifact.full_size=40MB,50MB"]))
    assert len(points) == 8
    for point in points:
        overrides = {path: value for path, value in point.settings.items() if path != "plan"}
        if point.settings["plan"] == "fast":     # strategy.* axes refine the plan an axis names
            overrides = {"strategy": {"kind": "waves", "waves": ["50%", "100%"], "bake": "1h"}, **overrides}
        loaded = load_scenario(sweep_file, overrides)
        assert loaded == point.scenario and loaded.fingerprint() == point.scenario.fingerprint(), point.label
