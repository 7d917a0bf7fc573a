"""Pydantic field types for values written with units in YAML (`12h`, `500MB`, `8Mbit/s`, `5%`).

Each parses once, at validation, into a plain float in SI units (seconds, bytes, bytes per second, 0..1),
and documents itself in the JSON Schema as the string form an editor should offer.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Annotated, Any

from annotated_types import Gt
from pydantic import AfterValidator, BeforeValidator, ValidationInfo, WithJsonSchema
from pydantic.fields import FieldInfo

from sim.model import units

UNITS_REQUIRED = "units_required"


class _UnitParser:
    """A unit field's validator. Code may pass plain SI numbers; a file (validated with the context flag
    UNITS_REQUIRED, as sim.load does) must write the unit, so `duration: 5` is an error, not five seconds.
    `written` turns a value back into what a file writes (`unit_writer`: the JSON Schema's defaults, the
    defaults `fleetlab strategies` shows)."""

    def __init__(self, parse: Callable[[object], float], written: Callable[[float], Any]) -> None:
        self.parse = parse
        self.written = written

    def __call__(self, value: Any, info: ValidationInfo) -> float:
        from_file = bool(info.context and info.context.get(UNITS_REQUIRED))
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not from_file:
            return float(value)
        try:
            return self.parse(value)
        except units.UnitError as error:
            raise ValueError(str(error)) from None


def unit_writer(info: FieldInfo) -> Callable[[float], Any] | None:
    """The function that writes a unit field's value as a file does (`12h`, `400Mbit/s`, `5%`), also of the unit
    inside an Optional or a list (`Duration | None`, `list[Fraction]`); None for a field without a unit."""
    for item in info.metadata:
        if (writer := _parsers_writer(item)) is not None:
            return writer
    return _writer_in(info.annotation)


def _parsers_writer(item: object) -> Callable[[float], Any] | None:
    parser = getattr(item, "func", None)            # a BeforeValidator's function
    return parser.written if isinstance(parser, _UnitParser) else None


def _writer_in(annotation: Any) -> Callable[[float], Any] | None:
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        for item in arguments[1:]:
            if (writer := _parsers_writer(item)) is not None:
                return writer
        return _writer_in(arguments[0])
    for argument in arguments:          # Optional, unions, list[...]: the first unit found inside
        if (writer := _writer_in(argument)) is not None:
            return writer
    return None


def _schema(description: str, examples: list[Any], number_ok: bool = False) -> WithJsonSchema:
    string = {"type": "string", "description": description, "examples": examples}
    if number_ok:
        return WithJsonSchema({"anyOf": [string, {"type": "number"}], "description": description})
    return WithJsonSchema(string)


Duration = Annotated[float, BeforeValidator(_UnitParser(units.parse_duration, units.exact_duration)),
                     _schema("a duration with a unit: ms, s, m, h, d, w", ["90s", "12h", "1d12h"])]
Size = Annotated[float, BeforeValidator(_UnitParser(units.parse_size, units.exact_size)),
                 _schema("a size with a unit: B, kB, MB, GB, KiB, MiB, GiB", ["500MB", "1.5GiB"])]
Rate = Annotated[float, BeforeValidator(_UnitParser(units.parse_rate, units.exact_rate)),
                 _schema("a rate: bit/s, kbit/s, Mbit/s, Gbit/s, Mbps or MB/s", ["8Mbit/s", "50MB/s"])]
Fraction = Annotated[float, BeforeValidator(_UnitParser(units.parse_fraction, units.exact_share)),
                     _schema("a share: '5%' or a number from 0 to 1", ["5%", 0.05], number_ok=True)]
Money = Annotated[float, BeforeValidator(_UnitParser(units.parse_money, units.exact_money)),
                  _schema("an amount in dollars", ["$0.09"], number_ok=True)]
Clock = Annotated[float, BeforeValidator(_UnitParser(units.parse_clock, units.format_clock)),
                  _schema("a local time of day, HH:MM", ["02:00", "14:30"])]


def _utc_text(value: Any) -> str:
    try:
        return units.utc_moment(value).isoformat(timespec="seconds")
    except units.UnitError as error:
        raise ValueError(str(error)) from None


# A moment in time, kept as UTC text (`2026-12-03T20:00:00+00:00`): one form whatever offset it was written with, as
# `fleetlab calibrate` writes it, so moments compared or sorted as text (the history's are) stand in the order they
# happened.
Moment = Annotated[str, BeforeValidator(_utc_text),
                   WithJsonSchema({"type": "string", "format": "date-time",
                                   "description": "a time with its UTC offset (RFC 3339)",
                                   "examples": ["2026-12-03T20:00:00Z"]})]

# Where zero (or less) means nothing sensible — a loop that never advances, a division by zero — the type says so.
PositiveDuration = Annotated[Duration, Gt(0)]
PositiveRate = Annotated[Rate, Gt(0)]
PositiveSize = Annotated[Size, Gt(0)]


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
