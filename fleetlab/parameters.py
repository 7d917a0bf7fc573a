"""Strategy parameters as a person reads them: the meaning, and the default written as in a scenario file
(`12h`, `5%`, `500MB`), nested rules shown as the YAML one would write."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.model.unit_fields import unit_writer


def shown_default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    return "default " + _shown(info.get_default(call_default_factory=True, validated_data={}), unit_writer(info))


def _shown(value: Any, unit: Any) -> str:
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, BaseModel):
        return "{" + ", ".join(f"{key}: {_shown(item, unit_writer(type(value).model_fields[key]))}"
                               for key, item in value.model_dump(exclude_defaults=False).items()
                               if key != "kind" and not isinstance(getattr(value, key), BaseModel | dict)) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_shown(item, None)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item, unit) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if unit is not None and isinstance(value, int | float):
        return str(unit(float(value)))
    return str(value)


def parameter_lines(model: type[BaseModel]) -> list[str]:
    return [f"{name}: {info.description or ''} ({shown_default(info)})"
            for name, info in model.model_fields.items() if name != "kind"]


def plan_label(plan: BaseModel) -> str:
    """A plan in one line as its scenario would write it, defaults left out: `waves [1%, 10%, 100%], bake 12h,
    sequential {…}`."""
    fields = type(plan).model_fields
    given = [f"{name} {_shown(getattr(plan, name), unit_writer(info))}"
             for name, info in fields.items() if name != "kind" and name in plan.model_fields_set]
    return ", ".join([str(getattr(plan, "kind", type(plan).__name__)), *given])
