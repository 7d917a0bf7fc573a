"""The committed JSON Schema is what editors use: it must match the models and accept our own scenarios."""

import json
import re
import typing

import jsonschema
import pytest
from pydantic import BaseModel, TypeAdapter
from ruamel.yaml import YAML

from fleetlab.scenario_schema import schema_text
from sim.model.gates import METRICS, bound_example, parse_bound
from sim.model.scenario import Scenario
from sim.model.unit_fields import UNITS_REQUIRED
from tests.conftest import ROOT

SCHEMA_FILE = ROOT / "schemas" / "scenario.schema.json"


def test_the_committed_schema_matches_the_models():
    assert SCHEMA_FILE.read_text() == schema_text(), "run `make schema` and commit schemas/scenario.schema.json"


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_scenario_validates_against_the_schema(path):
    document = YAML(typ="safe").load(path.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))


def test_the_schema_is_draft_7_and_reads_the_same_under_2020_12():
    """Editors' YAML support validates with draft 7 (VS Code's YAML extension warns that a 2020-12 schema is "not yet
    fully supported"); draft 7 ignores whatever sits beside a `$ref`, so no description or default may."""
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    beside_a_ref = []

    def walk(node, path):
        if isinstance(node, dict):
            if "$ref" in node and len(node) > 1:
                beside_a_ref.append(path)
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}/{index}")

    walk(schema, "")
    assert beside_a_ref == []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        document = YAML(typ="safe").load(path.read_text())
        jsonschema.Draft7Validator(schema).validate(document)
        jsonschema.Draft202012Validator(schema).validate(document)
    document["fleet"]["uplnk"] = 1
    for validator in (jsonschema.Draft7Validator, jsonschema.Draft202012Validator):
        with pytest.raises(jsonschema.ValidationError):
            validator(schema).validate(document)


def test_the_schema_rejects_an_unknown_key():
    document = YAML(typ="safe").load((ROOT / "scenarios" / "tiny.yaml").read_text())
    document["fleet"]["uplnk"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))


@pytest.mark.parametrize("section", ["expect", "findings"])
def test_the_schema_names_the_measures_expect_and_findings_take(section):
    """An editor offered no measure under `expect:` and took `t59` or `bricked_devices` without a mark, which the
    loader then refused (sim.model.gates.parse_bound): now each measure is a key with its meaning, and no other."""
    schema = json.loads(SCHEMA_FILE.read_text())
    measures = schema["properties"][section]["properties"]
    assert sorted(measures) == sorted(METRICS)
    assert measures["t95"]["description"].startswith("time until 95% of the fleet runs the candidate")
    document = YAML(typ="safe").load((ROOT / "scenarios" / "angle-regression-canary.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(document)
    document[section]["t59"] = "< 3d"
    with pytest.raises(jsonschema.ValidationError, match="t59"):
        jsonschema.Draft7Validator(schema).validate(document)


def test_each_measures_example_bound_loads_as_a_bound():
    """The bound the schema and the reference show for each measure is one the loader takes."""
    for metric in METRICS:
        assert parse_bound(metric, bound_example(metric)).metric == metric
    assert bound_example("coverage") == ">= 95%" and bound_example("cost") == "<= $500"


def undescribed(schema: dict) -> list[str]:
    """Every property of every object in the schema with nothing an editor could show for it."""
    found = []
    for owner, definition in [("(top)", schema), *schema.get("$defs", {}).items()]:
        for name, prop in definition.get("properties", {}).items():
            if name == "kind" and "const" in prop:       # a strategy's own name: the key it is written under
                continue
            if "description" not in prop and set(prop) != {"$ref"}:
                found.append(f"{owner}.{name}")
    return found


def test_every_key_an_editor_shows_has_a_description():
    """61 keys had none (fleet.slots, artifact.resumable, hil.faults.at_step, phases.phases…): an editor's hover
    and `fleetlab strategies` showed their name only."""
    assert undescribed(json.loads(SCHEMA_FILE.read_text())) == []


def models_under(model: type[BaseModel]) -> set[type[BaseModel]]:
    """Every model a scenario can hold, found through its fields' types (unions, lists and dicts included)."""
    found: set[type[BaseModel]] = set()
    waiting = [model]
    while waiting:
        current = waiting.pop()
        if current in found:
            continue
        found.add(current)
        for info in current.model_fields.values():
            types = [info.annotation]
            while types:
                kind = types.pop()
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    waiting.append(kind)
                types += typing.get_args(kind)
    return found


def schema_defaults() -> list[tuple[type[BaseModel], str, object]]:
    schema = json.loads(SCHEMA_FILE.read_text())
    found = []
    for model in sorted(models_under(Scenario), key=lambda model: model.__name__):
        definition = schema if model is Scenario else schema["$defs"][model.__name__]
        for name, prop in definition["properties"].items():
            if "default" in prop:
                found.append((model, name, prop["default"]))
    return found


@pytest.mark.parametrize("model, name, default", schema_defaults(),
                         ids=lambda item: item.__name__ if isinstance(item, type) else str(item)[:20])
def test_every_default_the_schema_offers_loads_as_that_default(model, name, default):
    """An editor offers a key's default from the schema: it must be a value the loader takes from a file (with its
    unit: `duration: 14d`, where the schema said 1209600.0, which a file may not write) and means the default."""
    info = model.model_fields[name]
    written = TypeAdapter(typing.Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation)
    loaded = written.validate_python(default, context={UNITS_REQUIRED: True})
    assert loaded == info.get_default(call_default_factory=True, validated_data={})


def test_unit_defaults_are_written_with_their_units():
    offered = {(model.__name__, name): default for model, name, default in schema_defaults()}
    assert offered[("Scenario", "duration")] == "14d"
    assert offered[("Delivery", "lan_rate")] == "400Mbit/s"
    assert offered[("Scenario", "delivery")]["lan_rate"] == "400Mbit/s"      # inside an object's default too
    assert offered[("StorageSpread", "max")] == "1TB"
    assert offered[("Ambient", "peak")] == "15:00"


REFERENCE_FILE = ROOT / "docs" / "scenario-reference.md"


def test_the_committed_scenario_reference_matches_the_models():
    from fleetlab.scenario_reference import reference_markdown

    assert REFERENCE_FILE.read_text() == reference_markdown(), "run `make schema` and commit docs/scenario-reference.md"


def test_the_reference_has_a_row_for_every_key_and_its_links_lead_to_sections():
    schema = json.loads(SCHEMA_FILE.read_text())
    page = REFERENCE_FILE.read_text()
    keys = sum(len(definition.get("properties", {})) for definition in [schema, *schema["$defs"].values()])
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert len(rows) == keys + len(METRICS)          # and the measures `expect:` and `findings:` take, each once
    assert "| `t95` | `< 72h` | the run | time until 95% of the fleet runs the candidate |" in rows
    assert "| `latency_p99` | `< 25ms` | the rigs |" in " ".join(rows)
    headings = {line[3:].strip().lower() for line in page.splitlines() if line.startswith("## ")}
    links = set(re.findall(r"\]\(#([a-z0-9-]+)\)", page))
    assert links and links <= headings, links - headings
    duration = next(row for row in rows if row.startswith("| `duration` | a duration"))
    assert "| `14d` | how long the run simulates" in duration       # the default as a file writes it


def test_fleetlab_schema_markdown_prints_the_reference():
    from typer.testing import CliRunner

    from fleetlab.cli import app

    shown = CliRunner().invoke(app, ["schema", "--markdown"])
    assert shown.exit_code == 0 and shown.output == REFERENCE_FILE.read_text()
