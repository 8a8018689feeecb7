"""Settings fail loudly and name the variable; the chart of accounts comes from S3 once."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from opayo_fba.errors import ConfigurationError
from opayo_fba.reconcile.config import load_config
from opayo_fba.settings import Settings
from opayo_fba.wiring import Wiring

CHART = Path(__file__).resolve().parents[3] / "config" / "chart-of-accounts.yaml"


def test_missing_settings_name_their_environment_variables() -> None:
    with pytest.raises(ConfigurationError, match="ORDERS_TABLE_NAME, EVENT_BUS_NAME"):
        Settings().require("orders_table", "event_bus_name")


def test_secret_arn_maps_must_be_json_objects() -> None:
    with pytest.raises(ValueError, match="JSON object of name -> secret ARN"):
        Settings(SELLER_SECRET_ARNS="not json")
    assert Settings(SELLER_SECRET_ARNS='{"uk-main": "arn:x"}').seller_secret_arns == {
        "uk-main": "arn:x"
    }


def test_unknown_seller_account_names_the_configured_ones() -> None:
    wiring = Wiring(
        Settings(CONNECTOR_STATE_TABLE_NAME="state", SELLER_SECRET_ARNS='{"uk-main": "arn:x"}')
    )
    with pytest.raises(ConfigurationError, match=r"no seller account 'de-main'.*uk-main"):
        wiring.amazon("de-main")


def test_chart_of_accounts_is_read_from_s3_once() -> None:
    with mock_aws():
        s3 = boto3.client("s3", "eu-west-2")
        s3.create_bucket(
            Bucket="merchant-config", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        s3.put_object(Bucket="merchant-config", Key="chart.yaml", Body=CHART.read_bytes())
        wiring = Wiring(Settings(RECONCILE_CONFIG="s3://merchant-config/chart.yaml"))
        first = wiring.chart_of_accounts()
        assert first is not None
        assert load_config(first) == load_config(CHART)
        s3.delete_object(Bucket="merchant-config", Key="chart.yaml")
        assert wiring.chart_of_accounts() == first  # fetched once per execution environment
    assert Wiring(Settings()).chart_of_accounts() is None


def test_the_saga_reaches_each_payment_through_its_own_integration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from opayo_fba.model import Money, PaymentState, PaymentTransaction, TransactionType
    from opayo_fba.opayo.pi import PiClient
    from opayo_fba.opayo.server_payment import ServerPayment
    from opayo_fba.store.orders import OrderRecord
    from opayo_fba.store.sealed import KmsSealer
    from tests.fixtures.saga_world import make_order

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    with mock_aws():
        secret = {
            "vendor_name": "shop",
            "integration_key": "k",
            "integration_password": "p",
            "reporting_user": "u",
            "reporting_password": "r",
        }
        arn = boto3.client("secretsmanager").create_secret(
            Name="opayo-fba/test/opayo/shop", SecretString=json.dumps(secret)
        )["ARN"]
        key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        wiring = Wiring(
            Settings(VENDOR_SECRET_ARNS=json.dumps({"shop": arn}), SECURITY_KEYS_KEY_ARN=key)
        )

        def record(provider: str, sealed: str | None) -> OrderRecord:
            payment = PaymentTransaction(
                provider=provider,  # type: ignore[arg-type]
                vendor_tx_code="SRV-1",
                transaction_id="{8B5E2A41-1C7F-4A3B-9D0E-2F6A7B8C9D0E}",
                transaction_type=TransactionType.DEFERRED,
                status="OK" if provider == "server" else "Ok",
                state=PaymentState.AUTHORISED,
                amount=Money(amount=2500, currency="GBP"),
                tx_auth_no="9155" if provider == "server" else None,
            )
            return OrderRecord(
                order=make_order(),
                vendor="shop",
                seller_account="uk-main",
                payment=payment,
                server_security_key_sealed=sealed,
            )

        assert isinstance(wiring.payments(record("pi", None)), PiClient)
        sealed = KmsSealer(key).seal("ABCDEFGHIJ", "W-1001")
        server = wiring.payments(record("server", sealed))
        assert isinstance(server, ServerPayment)
        opened = server._transaction("8B5E2A41-1C7F-4A3B-9D0E-2F6A7B8C9D0E")
        assert (opened.security_key, opened.tx_auth_no) == ("ABCDEFGHIJ", "9155")
        with pytest.raises(ConfigurationError, match="no SecurityKey"):
            wiring.payments(record("server", None))


def test_a_rotated_secret_rebuilds_the_connectors_built_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A warm environment keeps its connectors while their secret is unchanged, and builds
    new ones from the new value once Secrets Manager holds a rotated version (read again
    after the secrets cache's max age; here 0, so on the next use)."""
    import json

    from opayo_fba.store.secrets import SecretJsonReader

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        seller = {
            "lwa_client_id": "client",
            "lwa_client_secret": "old-secret",
            "refresh_token": "Atzr|old",
            "seller_id": "A1SELLER",
            "marketplace_id": "A1F83G8C2ARO7P",
        }
        vendor = {
            "vendor_name": "shop",
            "integration_key": "k",
            "integration_password": "old-password",
            "reporting_user": "u",
            "reporting_password": "r",
        }
        seller_arn = secrets.create_secret(
            Name="opayo-fba/test/amazon/uk-main", SecretString=json.dumps(seller)
        )["ARN"]
        vendor_arn = secrets.create_secret(
            Name="opayo-fba/test/opayo/shop", SecretString=json.dumps(vendor)
        )["ARN"]
        wiring = Wiring(
            Settings(
                SELLER_SECRET_ARNS=json.dumps({"uk-main": seller_arn}),
                VENDOR_SECRET_ARNS=json.dumps({"shop": vendor_arn}),
                CONNECTOR_STATE_TABLE_NAME="state",
            )
        )
        wiring.__dict__["secrets"] = SecretJsonReader(max_age=0)

        amazon, pi, shared = (
            wiring.amazon("uk-main"),
            wiring.pi("shop"),
            wiring.shared_protocol("shop"),
        )
        assert wiring.amazon("uk-main") is amazon  # unchanged secret: the same connector
        assert wiring.pi("shop") is pi
        assert wiring.shared_protocol("shop") is shared

        # Rotation: a new version becomes AWSCURRENT.
        secrets.put_secret_value(
            SecretId=seller_arn, SecretString=json.dumps({**seller, "refresh_token": "Atzr|new"})
        )
        secrets.put_secret_value(
            SecretId=vendor_arn,
            SecretString=json.dumps({**vendor, "integration_password": "new-password"}),
        )

        rotated = wiring.amazon("uk-main")
        assert rotated is not amazon
        assert rotated._credentials.refresh_token.get_secret_value() == "Atzr|new"
        new_pi = wiring.pi("shop")
        assert new_pi is not pi
        assert new_pi._credentials.integration_password.get_secret_value() == "new-password"
        assert wiring.shared_protocol("shop") is not shared
        assert wiring.amazon("uk-main") is rotated  # and kept again until the next rotation
