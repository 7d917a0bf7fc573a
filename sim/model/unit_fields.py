"""Pydantic field types for values written with units in YAML (`12h`, `500MB`, `8Mbit/s`, `5%`).

Each parses once, at validation, into a plain float in SI units (seconds, bytes, bytes per second, 0..1),
and documents itself in the JSON Schema as the string form an editor should offer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from annotated_types import Gt
from pydantic import AfterValidator, BeforeValidator, ValidationInfo, WithJsonSchema

from sim.model import units

UNITS_REQUIRED = "units_required"


def _parser(parse: Callable[[object], float]) -> Callable[[Any, ValidationInfo], float]:
    """Wrap a unit parser. Code may pass plain SI numbers; a file (validated with the context flag
    UNITS_REQUIRED, as sim.load does) must write the unit, so `duration: 5` is an error, not five seconds."""

    def validate(value: Any, info: ValidationInfo) -> float:
        from_file = bool(info.context and info.context.get(UNITS_REQUIRED))
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not from_file:
            return float(value)
        try:
            return parse(value)
        except units.UnitError as error:
            raise ValueError(str(error)) from None

    return validate


def _schema(description: str, examples: list[Any], number_ok: bool = False) -> WithJsonSchema:
    string = {"type": "string", "description": description, "examples": examples}
    if number_ok:
        return WithJsonSchema({"anyOf": [string, {"type": "number"}], "description": description})
    return WithJsonSchema(string)


Duration = Annotated[float, BeforeValidator(_parser(units.parse_duration)),
                     _schema("a duration with a unit: ms, s, m, h, d, w", ["90s", "12h", "1d12h"])]
Size = Annotated[float, BeforeValidator(_parser(units.parse_size)),
                 _schema("a size with a unit: B, kB, MB, GB, KiB, MiB, GiB", ["500MB", "1.5GiB"])]
Rate = Annotated[float, BeforeValidator(_parser(units.parse_rate)),
                 _schema("a rate: bit/s, kbit/s, Mbit/s, Gbit/s, Mbps or MB/s", ["8Mbit/s", "50MB/s"])]
Fraction = Annotated[float, BeforeValidator(_parser(units.parse_fraction)),
                     _schema("a share: '5%' or a number from 0 to 1", ["5%", 0.05], number_ok=True)]
Money = Annotated[float, BeforeValidator(_parser(units.parse_money)),
                  _schema("an amount in dollars", ["$0.09"], number_ok=True)]
Clock = Annotated[float, BeforeValidator(_parser(units.parse_clock)),
                  _schema("a local time of day, HH:MM", ["02:00", "14:30"])]

# Where zero (or less) means nothing sensible — a loop that never advances, a division by zero — the type says so.
PositiveDuration = Annotated[Duration, Gt(0)]
PositiveRate = Annotated[Rate, Gt(0)]


def at_least(floor: float, message: str) -> AfterValidator:
    """A duration no shorter than `floor` seconds; `message`, starting with the floor ("at least 1s: …"), says why."""
    def check(seconds: float) -> float:
        if seconds < floor:
            raise ValueError(message)
        return seconds

    return AfterValidator(check)


# How often a plan looks or acts (check_every, tick, an analysis interval): real controllers poll every few seconds
# to hours, and a finer step only multiplies the run's events (check_every: 1e-9h, 3.6 µs, never let a 3-day scenario
# finish).
PlanInterval = Annotated[Duration, at_least(1.0, "at least 1s: a plan looks at its fleet at most once a second")]


def _short_of_certainty(share: float) -> float:
    if share >= 1.0:
        raise ValueError("less than 100%: nothing of finite size is certain (it would take log(0) or an infinite "
                         "normal quantile)")
    return share


# A statistical confidence (a canary's detection chance, a judge's interval): a share below 100%.
Confidence = Annotated[Fraction, AfterValidator(_short_of_certainty)]
