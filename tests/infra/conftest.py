"""Fixtures over the session's synthesized template (tests/fixtures/cloud_assembly.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import EnvironmentConfig
from tests.fixtures.cloud_assembly import PROJECT_ROOT, cdk_context

__all__ = ["PROJECT_ROOT", "cdk_context"]


@pytest.fixture(scope="session")
def template_json(template_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(template_path.read_text())
    return loaded


@pytest.fixture(scope="session")
def template(template_json: dict[str, Any]) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(template_json)


@pytest.fixture(scope="session")
def resources(template_json: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template_json["Resources"]
    return found


def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in resources.items() if value["Type"] == resource_type}


def logical_id_by_path(resources: dict[str, Any], path_fragment: str) -> str:
    """The one resource whose construct path (aws:cdk:path metadata) contains the fragment."""
    matches = [
        key
        for key, value in resources.items()
        if path_fragment in value.get("Metadata", {}).get("aws:cdk:path", "")
    ]
    assert len(matches) == 1, f"{path_fragment!r} matched {matches}"
    return matches[0]


def placeholder(value: Any) -> str:
    """A stand-in for a deploy-time value (table name, queue URL, ARN) in a function's env."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(placeholder(part) for part in parts)
    if "Ref" in value:
        return f"ref-{value['Ref']}"
    if "Fn::GetAtt" in value:
        return f"arn:aws:placeholder:eu-west-2:111111111111:{value['Fn::GetAtt'][0]}"
    raise ValueError(f"unexpected intrinsic {value}")


def function_environment(resources: dict[str, Any], module: str) -> dict[str, str]:
    """The environment the template gives the function of `functions/<module>.py`, each
    deploy-time value as a plausible stand-in."""
    (function,) = [
        f
        for f in of_type(resources, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == f"{module}.handler"
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    return {name: placeholder(value) for name, value in variables.items()}


def resolve_intrinsics(value: Any, region: str, account: str) -> Any:
    """Turn the Fn::Join/Ref/GetAtt of a definition string into plausible literal values."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [resolve_intrinsics(item, region, account) for item in value]
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve_intrinsics(part, region, account)) for part in parts)
    if "Ref" in value:
        ref = value["Ref"]
        return {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account}.get(
            ref, ref
        )
    if "Fn::GetAtt" in value:
        logical_id, _attribute = value["Fn::GetAtt"]
        return f"arn:aws:lambda:{region}:{account}:function:{logical_id}"
    raise ValueError(f"unexpected intrinsic {value}")


@pytest.fixture(scope="session")
def saga_definition(resources: dict[str, Any], config: EnvironmentConfig) -> dict[str, Any]:
    (machine,) = of_type(resources, "AWS::StepFunctions::StateMachine").values()
    text = resolve_intrinsics(
        machine["Properties"]["DefinitionString"], config.region, config.account
    )
    definition: dict[str, Any] = json.loads(text)
    return definition
