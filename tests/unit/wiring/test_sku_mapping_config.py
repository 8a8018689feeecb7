"""The merchant's SKU mapping comes from configuration (SKU_MAPPINGS), per seller account."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from opayo_fba.convert.sku import SkuMappingError
from opayo_fba.settings import Settings
from opayo_fba.wiring import Wiring

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "sku-mapping.example.csv"


def test_a_configured_csv_maps_seller_skus_to_the_shop_skus() -> None:
    w = Wiring(Settings(SKU_MAPPINGS=json.dumps({"uk-main": str(EXAMPLE)})))
    mapping = w.sku_mapping("uk-main")
    assert mapping is not None
    assert mapping.internal_sku("OPF-MUG-BLUE") == "SHOP-MUG-BLUE"
    assert w.sku_mapping("uk-main") is mapping  # read once
    assert w.sku_mapping("de-main") is None  # no mapping: Amazon's SKUs are the shop's


def test_an_s3_reference_is_read_from_s3() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-2")
        s3.create_bucket(
            Bucket="merchant-config", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        s3.put_object(Bucket="merchant-config", Key="skus.csv", Body=EXAMPLE.read_bytes())
        w = Wiring(Settings(SKU_MAPPINGS='{"uk-main": "s3://merchant-config/skus.csv"}'))
        mapping = w.sku_mapping("uk-main")
    assert mapping is not None
    assert mapping.seller_sku("SHOP-TEE-M") == "OPF-TEE-M"


def test_a_bad_mapping_fails_naming_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "skus.csv"
    bad.write_text("sku,amazon\nA,B\n", encoding="utf-8")
    w = Wiring(Settings(SKU_MAPPINGS=json.dumps({"uk-main": str(bad)})))
    with pytest.raises(SkuMappingError, match="internal_sku"):
        w.sku_mapping("uk-main")


def test_sku_mappings_must_be_a_json_object() -> None:
    with pytest.raises(ValueError, match="SKU mapping"):
        Settings(SKU_MAPPINGS="uk-main=s3://x/y")
