"""Expectations (`expect:` in a scenario) and their verdict.

    expect:
      t95: "< 72h"          # durations with units
      bricked: 0            # a bare number means "== that number"
      cost: "<= $500"
      wasted_share: "< 10%"

A bound that does not hold is data (a failed Check), never an exception.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from sim.model import units

Kind = Literal["duration", "count", "share", "bytes", "rate", "money", "hours", "flag", "celsius"]

METRICS: dict[str, tuple[Kind, str]] = {
    "t50": ("duration", "time until 50% of the fleet runs the candidate"),
    "t90": ("duration", "time until 90% of the fleet runs the candidate"),
    "t95": ("duration", "time until 95% of the fleet runs the candidate"),
    "t99": ("duration", "time until 99% of the fleet runs the candidate"),
    "coverage": ("share", "share of the fleet running the candidate at the end"),
    "committed": ("count", "devices committed at the end"),
    "failed": ("count", "devices that failed (download, storage, attempts)"),
    "rolled_back": ("count", "devices rolled back"),
    "bricked": ("count", "devices bricked"),
    "failed_share": ("share", "failed devices as a share of the fleet"),
    "bytes_total": ("bytes", "bytes moved from the origin"),
    "bytes_wasted": ("bytes", "bytes moved and thrown away"),
    "wasted_share": ("share", "wasted bytes as a share of bytes moved"),
    "egress_peak": ("rate", "highest origin egress over a 5-minute bin"),
    "egress_p95": ("rate", "95th percentile of origin egress over 5-minute bins"),
    "cost": ("money", "egress cost"),
    "exposure_device_hours": ("hours", "device-hours spent on a candidate that is defective for that device"),
    "downloads_during_games": ("count", "devices that downloaded while a game was on at their site"),
    "installs_during_games": ("count", "devices that installed or activated while a game was on"),
    "retried_failures": ("count", "times a failed update was started again (delivery.failure_retries)"),
    "throttled_device_hours": ("hours", "device-hours above the throttle temperature"),
    "service_lost_device_hours": ("hours", "device-hours cameras ran no model because of the update"),
    "service_lost_in_games_device_hours": ("hours", "device-hours cameras ran no model during a game at their site"),
    "halted": ("flag", "1 when the strategy halted the rollout"),
    "blast_radius": ("count", "devices that ever activated the candidate"),
    "released_before_halt": ("count", "devices told to update before the halt"),
    "evidence_at_release": ("share", "the least share, over the plan's releases after its first, of the cameras "
                            "told before whose outcome the plan knew when it released"),
    # measured on rigs (fleetlab hil): the worst rig counts
    "latency_p50": ("duration", "median inference latency on the slowest rig"),
    "latency_p99": ("duration", "99th percentile inference latency on the slowest rig"),
    "parity_failures": ("count", "frame families whose engine outputs left the reference's tolerance"),
    "rigs_failed": ("count", "rigs whose validation failed"),
    "max_temperature": ("celsius", "hottest temperature any rig reported while measuring latency (and under "
                        "hand_over while both models' services ran)"),
    "quarantined": ("count", "rigs quarantined because their rollback failed"),
    "rig_memory": ("bytes", "most RAM any rig had in use while measuring latency, and under hand_over while both "
                   "models' services ran (tegrastats RAM used: the candidate beside the system and whatever else the "
                   "rig runs)"),
    "rig_no_model": ("duration", "longest a rig ran no model because of the update (kill_then_download: from its "
                     "kill step to the next service up healthy)"),
}

# the times to a share of the fleet, which a run measures on its own clock up to its end (the oracle's too)
COVERAGE_TIMES = ("t50", "t90", "t95", "t99")

# the measures a plan wants high (the sweep's pick ranks them highest first); the others it wants low
HIGHER_IS_BETTER = frozenset({"coverage", "committed", "evidence_at_release"})

# sim measures that count devices: none can exceed the fleet (the HIL counts are of rigs and frame families)
FLEET_COUNTS = frozenset({"committed", "failed", "rolled_back", "bricked", "downloads_during_games",
                          "installs_during_games", "blast_radius", "released_before_halt"})


def possible_range(metric: str, devices: int | None = None) -> tuple[float, float]:
    """The values `metric` can take in a run of a fleet of at most `devices` (None: not known). A confidence
    interval of its mean is cut to this range: the mean of values inside [a, b] lies inside it, so a Student-t
    interval reaching past it (a coverage of 138% from three seeds of which two halted) says nothing beyond it."""
    kind = METRICS[metric][0] if metric in METRICS else None
    if kind in ("share", "flag"):
        return 0.0, 1.0
    if kind == "celsius" or kind is None:
        return -math.inf, math.inf
    if metric in FLEET_COUNTS and devices is not None:
        return 0.0, float(devices)
    return 0.0, math.inf


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}

_PARSERS: dict[Kind, Callable[[object], float]] = {
    "duration": units.parse_duration, "bytes": units.parse_size, "rate": units.parse_rate,
    "money": units.parse_money, "share": units.parse_fraction,
}


_UNIT_EXAMPLES: dict[Kind, str] = {"duration": "< 72h", "bytes": "< 500GB", "rate": "< 8Gbit/s"}
# a bound on each kind of measure as a scenario writes it (the scenario reference and the schema show them)
_BOUND_EXAMPLES: dict[Kind, str] = {**_UNIT_EXAMPLES, "count": "== 0", "share": "< 10%", "money": "<= $500",
                                    "hours": "< 100", "flag": "== 0", "celsius": "< 85C"}


# where the kind's example would read oddly: a floor for a measure a plan wants high, a rig's scale for a rig's
_EXAMPLES_BY_METRIC = {"coverage": ">= 95%", "committed": ">= 9500", "evidence_at_release": ">= 10%",
                       "failed": "< 50", "blast_radius": "< 150", "released_before_halt": "< 500",
                       "retried_failures": "< 100", "latency_p50": "< 10ms", "latency_p99": "< 25ms",
                       "rig_no_model": "< 30s", "rig_memory": "< 3GB"}


def bound_example(metric: str) -> str:
    """A bound on `metric` as a scenario writes it (the scenario reference and the schema show one per measure)."""
    return _EXAMPLES_BY_METRIC.get(metric) or _BOUND_EXAMPLES[METRICS[metric][0]]


@dataclass(frozen=True)
class Bound:
    metric: str
    op: str
    value: float
    text: str

    def holds(self, measured: float | None) -> bool:
        if measured is None:  # never reached: only an upper bound on a time can be "broken" by that
            return False
        return _OPERATORS[self.op](measured, self.value)


def _parse_number(kind: Kind, text: str) -> float:
    if kind in _PARSERS:
        return _PARSERS[kind](text)
    if kind == "celsius":
        text = text.removesuffix("C").removesuffix("°").strip()
    if kind == "flag" and text.lower() in ("true", "false"):      # halted: "== true", as YAML writes a flag
        return 1.0 if text.lower() == "true" else 0.0
    try:
        return float(text)
    except ValueError:
        raise units.UnitError(f"expected a number, got {text!r}") from None


def parse_bound(metric: str, raw: object) -> Bound:
    """`'< 72h'` for metric t95 -> Bound('t95', '<', 259200.0). Raises ValueError with a clear message."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    kind = METRICS[metric][0]
    if isinstance(raw, bool):
        raw = int(raw)
    if isinstance(raw, (int, float)):
        if kind in _UNIT_EXAMPLES and raw != 0:   # as a string ('< 3600') it is refused; a bare 3600 read as seconds
            raise ValueError(f"{metric} is a {kind}: a bare {raw} has no unit; write the bound with one, e.g. "
                             f"{_UNIT_EXAMPLES[kind]!r}")
        return Bound(metric, "==", float(raw), f"== {raw}")
    match = re.fullmatch(r"\s*(<=|>=|==|!=|<|>)?\s*(.+?)\s*", str(raw))
    if not match:
        raise ValueError(f"expected a bound such as '< 72h', got {raw!r}")
    op = match.group(1) or "=="
    try:
        value = _parse_number(kind, match.group(2))
    except units.UnitError as error:
        raise ValueError(f"{metric} is a {kind}: {error}") from None
    return Bound(metric, op, value, str(raw).strip())


# What a measured value of each kind can be: (lowest, highest, a whole number, in words). Celsius has no useful floor.
_DOMAINS: dict[Kind, tuple[float, float, bool, str]] = {
    "duration": (0.0, math.inf, False, "never below 0"), "bytes": (0.0, math.inf, False, "never below 0"),
    "rate": (0.0, math.inf, False, "never below 0"), "money": (0.0, math.inf, False, "never below 0"),
    "hours": (0.0, math.inf, False, "never below 0"), "count": (0.0, math.inf, True, "a whole number, never below 0"),
    "share": (0.0, 1.0, False, "a share between 0% and 100%"), "flag": (0.0, 1.0, True, "0 or 1"),
}


def _possible(kind: Kind, value: float) -> bool:
    low, high, whole, _ = _DOMAINS[kind]
    return low <= value <= high and (not whole or value.is_integer())


def _meets(kind: Kind, op: str, value: float) -> tuple[bool, bool]:
    """(some possible measurement meets `op value`, every possible measurement does)."""
    low, high, _, _ = _DOMAINS[kind]
    if op == "==":
        return _possible(kind, value), False
    if op == "!=":
        return True, not _possible(kind, value)
    compare = _OPERATORS[op]
    if op in ("<", "<="):         # the lowest possible measurement is the likeliest to meet it, the highest the least
        return compare(low, value), compare(high, value)
    return compare(high, value), compare(low, value)


def unmeetable(bound: Bound) -> str | None:
    """Why no run can meet the bound (every run a no-go by construction), or None."""
    kind = METRICS[bound.metric][0]
    if kind in _DOMAINS and not _meets(kind, bound.op, bound.value)[0]:
        return f"no run can meet {bound.text!r} ({bound.metric} is {_DOMAINS[kind][3]}): every run would break it"
    return None


def unbreakable(bound: Bound) -> str | None:
    """Why every run meets the bound (it can never break: a check that cannot fail), or None. A time is left out:
    one never reached breaks any bound on it."""
    kind = METRICS[bound.metric][0]
    if kind in _DOMAINS and kind != "duration" and _meets(kind, bound.op, bound.value)[1]:
        return f"every run meets {bound.text!r} ({bound.metric} is {_DOMAINS[kind][3]}): it can never break"
    return None


_CONTINUOUS: frozenset[Kind] = frozenset({"duration", "bytes", "rate", "money", "hours", "celsius"})


def exact_on_a_continuum(bound: Bound) -> str | None:
    """`t95: "3d"` reads as `== 3d`: a measured time, size, rate, cost or temperature is almost never exactly a given
    value, so the bound breaks on every run, when '<' was meant. None for any other bound (`bricked: 0`, `cost: 0`)."""
    if bound.op != "==" or METRICS[bound.metric][0] not in _CONTINUOUS or bound.value == 0:
        return None
    shown = bound.text.removeprefix("==").strip()
    return (f"{bound.text!r} asks for {bound.metric} of exactly {shown}, which a measurement almost never is: "
            f"almost every run breaks it (write '< {shown}' or '<= {shown}')")


def kind_of(metric: str) -> Kind:
    """The metric's unit kind; a name METRICS does not know is a count."""
    return METRICS[metric][0] if metric in METRICS else "count"


SMALLEST_SHOWN = {"money": 0.005, "share": 0.00005}     # below these, format_metric's cents and 0.01% show zero


def format_difference(metric: str, value: float) -> str:
    """A difference between two values of the metric, signed: "+3h 10m", "−$4.35". A difference the metric's usual
    precision would show as zero keeps two significant digits ("+$0.0042"): "+$0.00 a seed [+$0.00, +$0.01]" read
    as no difference where the interval said there was one."""
    sign, size = ("−" if value < 0 else "+"), abs(value)
    kind = kind_of(metric)
    if 0 < size < SMALLEST_SHOWN.get(kind, 0):
        shown = size * 100 if kind == "share" else size
        digits = 1 - math.floor(math.log10(shown))      # two significant digits, never an exponent
        return f"{sign}${shown:.{digits}f}" if kind == "money" else f"{sign}{shown:.{digits}f}%"
    return sign + format_metric(metric, size)


def format_metric(metric: str, value: float | None) -> str:
    """A measured number in the metric's own unit, for verdict tables."""
    if value is None:
        return "never reached"
    kind = kind_of(metric)
    if kind == "duration":
        return f"{value * 1000:.3g} ms" if 0 < value < 1 else units.format_duration(value)
    if kind == "bytes":
        return units.format_size(value)
    if kind == "rate":
        return units.format_rate(value)
    if kind == "money":
        return f"${value:,.2f}"
    if kind == "share":
        return f"{value:.2%}"
    if kind == "hours":
        return f"{value:,.1f} h"
    if kind == "celsius":
        return f"{value:.1f} °C"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


@dataclass(frozen=True)
class Check:
    metric: str
    bound: str
    measured: float | None
    passed: bool
    reason: str


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def evaluate(expect: Mapping[str, object], metrics: Mapping[str, float | None]) -> Verdict:
    """Check every bound against measured metrics; the scenario loader has already validated the bounds.
    Bounds on metrics this run does not measure at all (rig latency in a simulation) are left out."""
    checks = []
    for metric, raw in expect.items():
        if metric not in metrics:
            continue
        bound = parse_bound(metric, raw)
        measured = metrics.get(metric)
        passed = bound.holds(measured)
        shown = format_metric(metric, measured)
        reason = f"{metric} = {shown}, bound {bound.text}: " + ("holds" if passed else "broken")
        checks.append(Check(metric, bound.text, measured, passed, reason))
    return Verdict(tuple(checks))
