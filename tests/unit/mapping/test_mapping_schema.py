"""The exported JSON Schema is up to date and really validates template files."""

from __future__ import annotations

import json

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from opayo_fba.cli.main import app
from opayo_fba.mapping.loader import starter_names, starter_text
from opayo_fba.mapping.template import template_json_schema, template_json_schema_text
from tests.conftest import PROJECT_ROOT

SCHEMA_FILE = PROJECT_ROOT / "schemas" / "mapping-template.schema.json"


def test_committed_schema_matches_the_pydantic_model() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == template_json_schema_text(), (
        "schemas/mapping-template.schema.json is stale; regenerate it with "
        "`opayo-fba mapping schema -o schemas/mapping-template.schema.json`"
    )


def test_schema_command_prints_the_same_schema() -> None:
    result = CliRunner().invoke(app, ["mapping", "schema"])
    assert result.exit_code == 0
    assert result.stdout == template_json_schema_text()


def test_the_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(template_json_schema())


@pytest.mark.parametrize("name", starter_names())
def test_starters_validate_against_the_exported_schema(name: str) -> None:
    validator = Draft202012Validator(template_json_schema())
    assert list(validator.iter_errors(yaml.safe_load(starter_text(name)))) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x", "rules": [{"name": "a", "target": "line.x", "source": "a", "extra": 1}]},
        {
            "name": "x",
            "rules": [
                {"name": "a", "target": "line.x", "source": "a", "transforms": [{"op": "shout"}]}
            ],
        },
        {"name": "x", "rules": []},
        {"name": "Bad Name", "rules": [{"name": "a", "target": "line.x", "source": "a"}]},
    ],
)
def test_the_schema_catches_mistakes_in_the_editor(bad: dict[str, object]) -> None:
    validator = Draft202012Validator(template_json_schema())
    assert list(validator.iter_errors(json.loads(json.dumps(bad))))
