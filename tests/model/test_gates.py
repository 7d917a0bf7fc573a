import pytest

from sim.model.gates import evaluate, exact_on_a_continuum, format_difference, parse_bound


def test_a_duration_bound_reads_its_unit():
    bound = parse_bound("t95", "< 72h")
    assert (bound.op, bound.value) == ("<", 72 * 3600)


def test_a_bare_number_means_equal():
    assert parse_bound("bricked", 0).holds(0.0)
    assert not parse_bound("bricked", 0).holds(1.0)


def test_money_and_share_bounds():
    assert parse_bound("cost", "<= $500").holds(499.0)
    assert not parse_bound("wasted_share", "< 10%").holds(0.2)


def test_bounds_as_people_write_them_in_yaml():
    """`coverage: "> 0.95"`, `t95: "< 3 days"` and `halted: "== true"` were refused."""
    assert parse_bound("coverage", "> 0.95").value == 0.95
    assert parse_bound("t95", "< 3 days").value == 3 * 86400
    assert parse_bound("halted", "== true").holds(1.0) and parse_bound("halted", "== False").holds(0.0)
    with pytest.raises(ValueError, match="95%"):
        parse_bound("coverage", "> 95")


def test_a_time_never_reached_breaks_its_bound():
    verdict = evaluate({"t95": "< 3d"}, {"t95": None})
    assert not verdict.passed
    assert "never reached" in verdict.checks[0].reason


def test_bad_bounds_say_what_was_expected():
    with pytest.raises(ValueError, match="t95 is a duration"):
        parse_bound("t95", "< 72 parsecs")
    with pytest.raises(ValueError, match="unknown metric"):
        parse_bound("t59", "< 3d")


def test_verdict_lists_every_check_with_numbers():
    verdict = evaluate({"t95": "< 3d", "bricked": 0}, {"t95": 2 * 86400.0, "bricked": 2.0})
    assert [check.passed for check in verdict.checks] == [True, False]
    assert "bricked = 2" in verdict.checks[1].reason


@pytest.mark.parametrize("metric, raw", [("t95", 3600), ("egress_peak", 100), ("bytes_total", 5e9)])
def test_a_bare_number_for_a_metric_with_a_unit_is_refused_as_its_string_is(metric, raw):
    """`t95: 3600` read as '== 3600 seconds', where `t95: "< 3600"` was refused for its missing unit."""
    with pytest.raises(ValueError, match=f"{metric} is a .*: a bare .* has no unit"):
        parse_bound(metric, raw)
    with pytest.raises(ValueError):
        parse_bound(metric, f"< {raw}")


def test_an_exact_time_size_or_cost_is_flagged_and_an_exact_count_is_not():
    """`t95: "3d"` is '== 3d': it broke on every run, where '< 3d' was meant."""
    assert "'< 3d' or '<= 3d'" in exact_on_a_continuum(parse_bound("t95", "3d"))
    assert exact_on_a_continuum(parse_bound("cost", "== $5")) is not None
    for metric, raw in (("t95", "< 3d"), ("bricked", 0), ("cost", 0), ("coverage", "== 100%"), ("halted", 0)):
        assert exact_on_a_continuum(parse_bound(metric, raw)) is None, (metric, raw)


@pytest.mark.parametrize("metric, value, shown", [
    ("cost", 4.35, "+$4.35"),
    ("cost", -0.0042, "−$0.0042"),       # "−$0.00" read as no difference at all
    ("cost", 0.00001, "+$0.000010"),
    ("cost", 0.005, "+$0.01"),
    ("cost", 0.0, "+$0.00"),
    ("failed_share", 0.000012, "+0.0012%"),
    ("failed_share", 0.0123, "+1.23%"),
    ("t95", -3600.0, "−1h 0m"),
])
def test_a_difference_too_small_for_the_usual_precision_keeps_two_significant_digits(metric, value, shown):
    assert format_difference(metric, value) == shown
