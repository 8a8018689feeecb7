"""SecurityKeys are sealed with KMS, bound to their order."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from opayo_fba.store.sealed import KmsSealer


def test_sealed_values_open_only_for_their_order() -> None:
    with mock_aws():
        kms = boto3.client("kms", "eu-west-2")
        key = kms.create_key(Description="security keys")["KeyMetadata"]["Arn"]
        sealer = KmsSealer(key, kms)
        sealed = sealer.seal("ABCDEFGHIJ", "W-1001")
        assert "ABCDEFGHIJ" not in sealed
        assert sealer.unseal(sealed, "W-1001") == "ABCDEFGHIJ"
        with pytest.raises(ClientError, match="InvalidCiphertext"):
            sealer.unseal(sealed, "W-1002")  # copied onto another order: does not open


def test_a_sealer_needs_a_key() -> None:
    with pytest.raises(ValueError, match="KMS key"):
        KmsSealer("", object())
