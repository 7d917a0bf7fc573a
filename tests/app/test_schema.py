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
