"""Plots a person reads in seconds: every plan's line visible, the x-axis fitted to the activity, the bound and
the 95% line in the legend, dates on trends, a y-axis on histograms."""

import re

from fleetlab.report import plots


def _texts(svg: str) -> str:
    return " ".join(re.findall(r">([^<>]+)<", svg))


def test_coverage_draws_bound_and_95_line_and_ends_after_the_activity():
    step = 3600.0
    flat_after_10h = [min(1.0, i / 10) for i in range(24 * 14)]      # two weeks, done by 10 h
    svg = plots.coverage_curves({"plan": (step, flat_after_10h), "naive": (step, flat_after_10h)}, 8 * 3600,
                                t95_bound=12 * 3600)
    text = _texts(svg)
    assert "T95 bound" in text and "95% of the fleet" in text and "oracle T95" in text
    ticks = [float(tick) for tick in re.findall(r">(\d+(?:\.\d+)?)<", svg)]
    assert max(ticks) <= 110 and "seed one" in text          # not 336 hours of a flat line
    assert 'stroke-dasharray' in svg                          # the second plan is dashed over the first


def test_egress_ends_a_little_after_its_last_byte():
    """The egress plot spanned the run's 14 days with every byte in its first 44 hours."""
    step = 3600.0
    early = [1e8 if i < 10 else 0.0 for i in range(24 * 14)]
    ticks = [float(tick) for tick in re.findall(r">(\d+(?:\.\d+)?)<", plots.egress(step, early))]
    assert max(ticks) <= 12
    straggler = early[:240] + [1e5] + early[241:]          # one late download on day 10 is activity too
    ticks = [float(tick) for tick in re.findall(r">(\d+(?:\.\d+)?)<", plots.egress(step, straggler))]
    assert max(ticks) >= 240


def test_active_until_is_where_the_last_curve_stops_moving():
    assert plots.active_until({"a": (60.0, [0, 0.5, 1, 1, 1]), "b": (60.0, [0, 0, 0, 0.2, 0.2])}) == 180.0


def test_trend_ticks_are_run_dates_and_histograms_have_a_y_axis():
    series = {"plan": [("20261201-020000-aaaaaa", 3600.0), ("20261202-020000-bbbbbb", 7200.0)]}
    assert "12-01 02:00" in _texts(plots.trend(series, "t95"))
    assert "inferences" in _texts(plots.histogram([0, 1, 2], [3, 4], "ms"))
