"""docs/scenario-reference.md: every key a scenario file can hold, what to write, its default and its meaning,
written from the JSON Schema (`make schema` writes both, and a test keeps the committed page equal to this)."""

from __future__ import annotations

from typing import Any

from fleetlab.scenario_schema import scenario_schema
from sim.model.gates import METRICS, bound_example
from sim.model.lint import RIG_METRICS

TOP = "Scenario"
INTRO = """# Scenario reference

Every key a scenario file can hold: what to write, its default and what it means. This page is written from the
models by `make schema` (with schemas/scenario.schema.json, the same facts for an editor); the README's "The scenario
format, by example" shows them in use, `fleetlab strategies` lists the plans' parameters, and `fleetlab validate`
checks a file against all of it.

Values with units name them: durations `90s`, `12h`, `1d12h` (ms, s, m, h, d, w); sizes `500MB`, `1.5GiB`; rates
`8Mbit/s`, `50MB/s`; shares `5%` or a number from 0 to 1; money `$0.09`; times of day `02:00` (local to the site,
or UTC where the key says so). A bare number where a unit is due is refused, except 0. "none" is YAML's `null`,
or the key left out where that is its default.
"""


def reference_markdown() -> str:
    schema = scenario_schema()
    definitions = schema["$defs"]
    order = _sections_in_reading_order(schema, definitions)
    used_at = _where_used(schema, definitions)
    parts = [INTRO]
    for name in order:
        definition = schema if name == TOP else definitions[name]
        title = "The file (top level)" if name == TOP else name
        parts.append(f"\n## {title}\n")
        if name != TOP:
            where = ", ".join(f"`{path}`" for path in used_at.get(name, []))
            parts.append(f"Written at {where}." if where else "")
            if "description" in definition:
                parts.append(f" {_cell(definition['description'])}")
            parts.append("\n")
        required = set(definition.get("required", []))
        parts.append("\n| key | what to write | default | meaning |\n|---|---|---|---|\n")
        for key, prop in definition.get("properties", {}).items():
            if key == "kind" and "const" in prop:
                shown_default = f"`{prop['const']}`"
                meaning = "the plan's kind: this section's keys belong to it"
            else:
                shown_default = "required" if key in required else _default(prop, definitions)
                meaning = _cell(prop.get("description", _described_ref(prop, definitions)))
            parts.append(f"| `{key}` | {_what(prop)} | {shown_default} | {meaning} |\n")
    return "".join(parts) + _measures()


def _measures() -> str:
    """The keys of `expect:` and `findings:`: each measure, a bound on it as written, and where it is measured."""
    rows = "".join(f"| `{metric}` | `{bound_example(metric)}` | {'the rigs' if metric in RIG_METRICS else 'the run'} "
                   f"| {_cell(meaning)} |\n" for metric, (_, meaning) in METRICS.items())
    return ("\n## Measures\n"
            "The keys of `expect:` (a bound on each: `<`, `<=`, `>`, `>=`, `==` or `!=` and a value in the measure's "
            "unit, or a bare number for counts and 0) and of `findings:`. A simulated run judges the measures of the "
            "run; `fleetlab hil` judges the rigs' on the worst rig.\n\n"
            "| measure | a bound, as written | measured on | meaning |\n|---|---|---|---|\n" + rows)


def _sections_in_reading_order(schema: dict, definitions: dict) -> list[str]:
    """The top level first, then each model in the order a reader meets it, breadth first."""
    order, waiting = [TOP], [schema]
    while waiting:
        definition = waiting.pop(0)
        for prop in definition.get("properties", {}).values():
            for name in _refs(prop):
                if name not in order:
                    order.append(name)
                    waiting.append(definitions[name])
    return order


def _where_used(schema: dict, definitions: dict) -> dict[str, list[str]]:
    """Each model's paths in a file (`fleet.site_kinds.NAME.uplink`), as a reader would write them."""
    paths: dict[str, list[str]] = {}
    waiting: list[tuple[str, dict]] = [("", schema)]
    while waiting:
        prefix, definition = waiting.pop(0)
        for key, prop in definition.get("properties", {}).items():
            for name, suffix in _refs_with_paths(prop):
                path = f"{prefix}{key}{suffix}"
                if path.count(".") > 6 or name not in definitions:
                    continue
                known = paths.setdefault(name, [])
                if path not in known and len(known) < 8:
                    known.append(path)
                    waiting.append((path + ".", definitions[name]))
    return paths


def _refs(prop: Any) -> list[str]:
    return [name for name, _ in _refs_with_paths(prop)]


def _refs_with_paths(prop: Any, suffix: str = "") -> list[tuple[str, str]]:
    """The models a property holds, each with what follows the key in a path: `.NAME` in a mapping, `[]` in a
    list."""
    if not isinstance(prop, dict):
        return []
    found = []
    if "$ref" in prop:
        found.append((prop["$ref"].rsplit("/", 1)[-1], suffix))
    for option in prop.get("anyOf", []) + prop.get("oneOf", []) + prop.get("allOf", []):
        found += _refs_with_paths(option, suffix)
    if isinstance(prop.get("items"), dict):
        found += _refs_with_paths(prop["items"], suffix + "[]")
    if isinstance(prop.get("additionalProperties"), dict):
        found += _refs_with_paths(prop["additionalProperties"], suffix + ".NAME")
    return found


def _what(prop: dict) -> str:
    """What to write, in words: `12h` (a duration), a number > 0, one of `fair`, `proportional`, a mapping…"""
    if "$ref" in prop:
        return _section_link(prop["$ref"])
    if len(prop.get("allOf", [])) == 1:             # a $ref with a description beside it (draft 7's way)
        return _what(prop["allOf"][0])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{value}`" for value in prop["enum"])
    options = prop.get("anyOf") or prop.get("oneOf")
    if options:
        shown = [_what(option) for option in options if option.get("type") != "null"]
        nullable = any(option.get("type") == "null" for option in options)
        if "discriminator" in prop:
            shown = ["a plan (`kind:` " + ", ".join(f"`{kind}`" for kind in prop["discriminator"]["mapping"]) + ")"]
        text = " or ".join(dict.fromkeys(shown))
        return text + (" or none" if nullable else "")
    kind = prop.get("type")
    if kind == "string":
        if "examples" in prop:
            return _unit_words(prop)
        return "text" + (f" matching `{prop['pattern']}`" if "pattern" in prop else "")
    if kind in ("number", "integer"):
        return ("a whole number" if kind == "integer" else "a number") + _bounds(prop)
    if kind == "boolean":
        return "`true` or `false`"
    if kind == "array":
        items = prop.get("items", {})
        if "$ref" in items:
            name = items["$ref"].rsplit("/", 1)[-1]
            return f"a list of mappings: [{name}](#{name.lower()})"
        return "a list, each " + _what(items) if items else "a list"
    if kind == "object":
        if set(prop.get("properties", {})) == set(METRICS):      # expect:, findings: (sim.model.scenario)
            value = {key: item for key, item in next(iter(prop["properties"].values())).items()
                     if key != "description"}
            return "a mapping of measures ([Measures](#measures)) to " + _what(value)
        values = prop.get("additionalProperties")
        if isinstance(values, dict):
            return "a mapping of names to " + _what(values)
        return "a mapping"
    return "a value"


# a unit field's schema gives its examples (sim/model/unit_fields.py); a field's own description replaces the unit's
UNIT_BY_EXAMPLE = {"90s": "a duration", "500MB": "a size", "8Mbit/s": "a rate", "5%": "a share",
                   "$0.09": "an amount of money", "02:00": "a time of day"}


def _unit_words(prop: dict) -> str:
    examples = [example for example in prop["examples"] if isinstance(example, str)]
    words = UNIT_BY_EXAMPLE.get(examples[0], "text") if examples else "text"
    return f"{words} ({', '.join(f'`{example}`' for example in examples)})"


def _bounds(prop: dict) -> str:
    shown = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in prop:
            shown.append(f"{sign} {prop[key]:,}" if isinstance(prop[key], int) else f"{sign} {prop[key]:g}")
    return " " + ", ".join(shown) if shown else ""


def _default(prop: dict, definitions: dict) -> str:
    if "default" not in prop:
        return "none"
    value = prop["default"]
    if value is None:
        return "none"
    if value in ({}, [], ""):
        return "empty"
    if isinstance(value, dict) and value == _defaults_of(prop, definitions):
        return "its keys' defaults"
    return f"`{_flow(value)}`"


def _defaults_of(prop: dict, definitions: dict) -> dict | None:
    """The mapping a model's own key defaults make, where `prop` holds one model."""
    names = _refs(prop)
    if len(names) != 1:
        return None
    properties = definitions[names[0]].get("properties", {})
    return {key: item["default"] for key, item in properties.items() if "default" in item}


def _flow(value: Any) -> str:
    """A default as YAML's flow style writes it: `{failure_type: ALL, threshold: 5%}`, `[25%, 100%]`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow_key(key)}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _flow_key(key: str) -> str:
    return f"'{key}'" if ":" in key else key         # '18:00': a time of day as a key needs its quotes


def _described_ref(prop: dict, definitions: dict) -> str:
    names = _refs(prop)
    return definitions[names[0]].get("description", "") if names else ""


def _section_link(reference: str) -> str:
    name = reference.rsplit("/", 1)[-1]
    return f"a mapping: [{name}](#{name.lower()})"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
