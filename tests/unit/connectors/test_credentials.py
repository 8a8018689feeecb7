"""Credentials come from Secrets Manager (moto), are cached, and never leak into errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from opayo_fba.amazon.credentials import SellerCredentialsStore
from opayo_fba.errors import ConfigurationError
from opayo_fba.opayo.credentials import VendorCredentialsStore
from opayo_fba.store.secrets import SecretJsonReader

SELLER_SECRET = {
    "lwa_client_id": "amzn1.application-oa2-client.test",
    "lwa_client_secret": "lwa-secret-value",
    "refresh_token": "Atzr|refresh-token-value",
    "seller_id": "A1SELLER",
    "marketplace_id": "A1F83G8C2ARO7P",
}
VENDOR_SECRET = {
    "vendor_name": "sandboxvendor",
    "integration_key": "key-value",
    "integration_password": "password-value",
    "reporting_user": "reporter",
    "reporting_password": "reporting-password-value",
}


class CountingClient:
    """Counts GetSecretValue calls made through the real (moto) client."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.reads = 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self._client.get_secret_value(**kwargs)


@pytest.fixture
def secretsmanager() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(
            Name="opayo-fba/amazon/uk-main", SecretString=json.dumps(SELLER_SECRET)
        )
        client.create_secret(Name="opayo-fba/opayo/shop", SecretString=json.dumps(VENDOR_SECRET))
        yield client


def test_seller_credentials_are_read_and_cached(secretsmanager: Any) -> None:
    counting = CountingClient(secretsmanager)
    store = SellerCredentialsStore(SecretJsonReader(boto3_client=counting))
    first = store.get("uk-main")
    second = store.get("uk-main")
    assert first == second
    assert counting.reads == 1
    assert first.seller_id == "A1SELLER"
    assert first.sp_api_credentials() == {
        "lwa_app_id": "amzn1.application-oa2-client.test",
        "lwa_client_secret": "lwa-secret-value",
        "refresh_token": "Atzr|refresh-token-value",
    }
    assert "refresh-token-value" not in repr(first)


def test_vendor_credentials_are_read(secretsmanager: Any) -> None:
    store = VendorCredentialsStore(SecretJsonReader(boto3_client=secretsmanager))
    credentials = store.get("shop")
    assert credentials.vendor_name == "sandboxvendor"
    assert credentials.integration_password.get_secret_value() == "password-value"
    assert "password-value" not in repr(credentials)


def test_a_missing_secret_is_a_configuration_error_naming_it(secretsmanager: Any) -> None:
    store = SellerCredentialsStore(SecretJsonReader(boto3_client=secretsmanager))
    with pytest.raises(ConfigurationError, match="opayo-fba/amazon/de-main"):
        store.get("de-main")


def test_an_incomplete_secret_names_the_missing_field_not_the_values(secretsmanager: Any) -> None:
    partial = {k: v for k, v in SELLER_SECRET.items() if k != "refresh_token"}
    secretsmanager.create_secret(Name="opayo-fba/amazon/partial", SecretString=json.dumps(partial))
    store = SellerCredentialsStore(SecretJsonReader(boto3_client=secretsmanager))
    with pytest.raises(ConfigurationError, match="refresh_token") as caught:
        store.get("partial")
    assert "lwa-secret-value" not in str(caught.value)


def test_a_secret_that_is_not_json_is_a_configuration_error(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="opayo-fba/opayo/plain", SecretString="not json at all")
    store = VendorCredentialsStore(SecretJsonReader(boto3_client=secretsmanager))
    with pytest.raises(ConfigurationError, match="not a JSON object"):
        store.get("plain")
