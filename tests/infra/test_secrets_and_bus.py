"""Secrets per seller account and vendor (CMK that rotates, no value anywhere); the ERP bus."""

from __future__ import annotations

import json
from typing import Any

from infra.config import EnvironmentConfig
from tests.infra.conftest import PROJECT_ROOT, logical_id_by_path, of_type


def test_one_secret_per_seller_account_and_vendor(
    resources: dict[str, Any], config: EnvironmentConfig
) -> None:
    names = {
        s["Properties"]["Name"] for s in of_type(resources, "AWS::SecretsManager::Secret").values()
    }
    assert names == {
        *(f"opayo-fba/{config.name}/amazon/{s.id}" for s in config.seller_accounts),
        *(f"opayo-fba/{config.name}/opayo/{v.name}" for v in config.opayo_vendors),
    }


def test_secrets_use_the_rotating_secrets_key_and_hold_no_value(resources: dict[str, Any]) -> None:
    key_id = logical_id_by_path(resources, "/Secrets/SecretsKey/Resource")
    assert resources[key_id]["Properties"]["EnableKeyRotation"] is True
    for secret in of_type(resources, "AWS::SecretsManager::Secret").values():
        props = secret["Properties"]
        assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert "SecretString" not in props


def test_no_secret_value_in_context_or_function_environment(resources: dict[str, Any]) -> None:
    context = json.dumps(json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]).lower()
    for word in ("password", "refresh_token", "refreshtoken", "clientsecret", "integrationkey"):
        assert word not in context
    secrets = set(of_type(resources, "AWS::SecretsManager::Secret"))
    for logical_id, function in of_type(resources, "AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        for name, value in variables.items():
            text = json.dumps(value)
            # Secrets appear only as their ARN (a Ref), never through a dynamic reference.
            assert "resolve:secretsmanager" not in text, (logical_id, name)
            if any(secret in text for secret in secrets):
                assert name.endswith("_SECRET_ARNS"), (logical_id, name)


def test_functions_get_secret_arns_as_a_json_map(resources: dict[str, Any]) -> None:
    function = resources[logical_id_by_path(resources, "/Saga/SagaCapturePaymentFunction/Resource")]
    variables = function["Properties"]["Environment"]["Variables"]
    assert "VENDOR_SECRET_ARNS" in variables
    assert "SELLER_SECRET_ARNS" not in variables  # a payment step never sees Amazon secrets


def test_canonical_events_bus_is_encrypted(
    resources: dict[str, Any], config: EnvironmentConfig
) -> None:
    (bus,) = of_type(resources, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == f"opayo-fba-{config.name}-canonical"
    assert "KmsKeyIdentifier" in bus["Properties"]
