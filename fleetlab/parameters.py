"""Strategy parameters as a person reads them: the meaning, and the default written as in a scenario file
(`12h`, `5%`, `500MB`), nested rules shown as the YAML one would write."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.model import units

_UNIT_WORDS = (("a duration", units.format_duration), ("a size", units.format_size), ("a rate", units.format_rate))


def _unit_of(info: FieldInfo) -> Any:
    """The formatter of a unit field (Duration, Size, Rate, Fraction, or a list of them), found from the schema it
    declares."""
    metadata = list(info.metadata)
    if typing.get_origin(info.annotation) is list:
        inner = typing.get_args(info.annotation)[0]
        if typing.get_origin(inner) is typing.Annotated:
            metadata += list(typing.get_args(inner)[1:])
    for item in metadata:
        schema = getattr(item, "json_schema", None)
        text = str(schema.get("description", "")) if isinstance(schema, dict) else ""
        if text.startswith("a share"):
            return lambda value: f"{value:.0%}" if value * 100 == round(value * 100) else f"{value:.2%}"
        for word, shown in _UNIT_WORDS:
            if text.startswith(word):
                return shown
    return None


def shown_default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    return "default " + _shown(info.get_default(call_default_factory=True, validated_data={}), _unit_of(info))


def _shown(value: Any, unit: Any) -> str:
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, BaseModel):
        return "{" + ", ".join(f"{key}: {_shown(item, _unit_of(type(value).model_fields[key]))}"
                               for key, item in value.model_dump(exclude_defaults=False).items()
                               if key != "kind" and not isinstance(getattr(value, key), BaseModel | dict)) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_shown(item, None)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item, unit) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if unit is not None and isinstance(value, int | float):
        return unit(float(value))
    return str(value)


def parameter_lines(model: type[BaseModel]) -> list[str]:
    return [f"{name}: {info.description or ''} ({shown_default(info)})"
            for name, info in model.model_fields.items() if name != "kind"]


def plan_label(plan: BaseModel) -> str:
    """A plan in one line as its scenario would write it, defaults left out: `waves [1%, 10%, 100%], bake 12h,
    sequential {…}`."""
    fields = type(plan).model_fields
    given = [f"{name} {_shown(getattr(plan, name), _unit_of(info))}"
             for name, info in fields.items() if name != "kind" and name in plan.model_fields_set]
    return ", ".join([str(getattr(plan, "kind", type(plan).__name__)), *given])
