"""The JSON Schema of scenario files, for editors (`fleetlab schema`, schemas/scenario.schema.json).

Its defaults are written as a scenario file writes them (`duration: 14d`, `lan_rate: 400Mbit/s`): pydantic writes a
field's default as the value it holds, seconds and bytes per second, and an editor that offers `duration: 1209600`
from the schema offers a value the loader refuses (a unit field read from a file must name its unit)."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema, to_jsonable_python

from sim.model.scenario import Scenario
from sim.model.unit_fields import unit_writer

Writer = Callable[[float], Any]


# Draft 7, the draft editors' YAML support validates with (VS Code's YAML extension says of a 2020-12 schema "not yet
# fully supported"): nothing here needs a later one. pydantic's `$defs` are reached by JSON pointer, which every
# draft resolves.
DRAFT = "http://json-schema.org/draft-07/schema#"


def scenario_schema() -> dict:
    schema = _refs_alone(Scenario.model_json_schema(schema_generator=DefaultsAsWritten))
    schema["$schema"] = DRAFT
    schema["title"] = "fleetlab scenario"
    return schema


def _refs_alone(node: Any) -> Any:
    """Draft 7 ignores every keyword beside a `$ref` (pydantic puts a field's description and default there): such a
    node becomes `{"allOf": [{"$ref": …}], "description": …}`, which keeps them in every draft."""
    if isinstance(node, list):
        return [_refs_alone(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _refs_alone(value) for key, value in node.items()}
    if "$ref" in node and len(node) > 1:
        node = {"allOf": [{"$ref": node.pop("$ref")}], **node}
    return node


def schema_text() -> str:
    return json.dumps(scenario_schema(), indent=2, sort_keys=True) + "\n"


class DefaultsAsWritten(GenerateJsonSchema):
    """Each model's field defaults rewritten in the file's form, from the field's own unit (its parser's writer)."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        properties = json_schema.get("properties", {})
        for name, info in schema["cls"].model_fields.items():
            shown = properties.get(info.alias or name)
            # a default made by a factory (`then: [25%, 100%]`) is left out by pydantic, and is as much a default
            if isinstance(shown, dict) and not info.is_required():
                default = info.get_default(call_default_factory=True, validated_data={})
                shown["default"] = written_value(default, unit_writer(info))
        return json_schema


def written_value(value: Any, writer: Writer | None) -> Any:
    """`value` as JSON, each unit field's number in its written form (nested models, lists and dicts included)."""
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return {info.alias or name: written_value(getattr(value, name), unit_writer(info))
                for name, info in fields.items()}
    if isinstance(value, (list, tuple)):
        return [written_value(item, writer) for item in value]
    if isinstance(value, dict):
        return {str(key): written_value(item, None) for key, item in value.items()}
    if isinstance(value, Enum):
        return value.value
    if writer is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return writer(float(value))
    return to_jsonable_python(value)
