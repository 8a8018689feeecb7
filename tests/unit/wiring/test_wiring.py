"""Settings fail loudly and name the variable; the chart of accounts comes from S3 once."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from opayo_fba.errors import ConfigurationError
from opayo_fba.reconcile.config import load_config
from opayo_fba.wiring import Settings, Wiring

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
