"""The committed JSON Schema is what editors use: it must match the models and accept our own scenarios."""

import json

import jsonschema
import pytest
from ruamel.yaml import YAML

from fleetlab.cli import schema_text
from tests.conftest import ROOT

SCHEMA_FILE = ROOT / "schemas" / "scenario.schema.json"


def test_the_committed_schema_matches_the_models():
    assert SCHEMA_FILE.read_text() == schema_text(), "run `make schema` and commit schemas/scenario.schema.json"


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_scenario_validates_against_the_schema(path):
    document = YAML(typ="safe").load(path.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))


def test_the_schema_rejects_an_unknown_key():
    document = YAML(typ="safe").load((ROOT / "scenarios" / "tiny.yaml").read_text())
    document["fleet"]["uplnk"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))


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
