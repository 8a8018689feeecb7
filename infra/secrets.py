"""Secrets Manager secrets: one per Amazon seller account and one per Opayo vendor.

The stack creates each secret empty of real values (Secrets Manager generates a random
placeholder); the operator writes the credentials with `aws secretsmanager put-secret-value`
after the first deploy (docs/deploy.md). Functions receive the secrets' ARNs only, never a
value. All secrets are encrypted with a customer managed key that rotates yearly.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constants import SERVICE_NAME


class Secrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "SecretsKey",
            description="opayo-fba seller and vendor credentials",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.seller_secrets: dict[str, secretsmanager.Secret] = {
            seller.id: _build_secret(
                self,
                f"Seller-{seller.id}",
                f"{SERVICE_NAME}/{config.name}/amazon/{seller.id}",
                "LWA refresh token, client id and client secret of the selling-partner account",
                self.key,
            )
            for seller in config.seller_accounts
        }
        self.vendor_secrets: dict[str, secretsmanager.Secret] = {
            vendor.name: _build_secret(
                self,
                f"Vendor-{vendor.name}",
                f"{SERVICE_NAME}/{config.name}/opayo/{vendor.name}",
                "Opayo Pi integration key and password, and the Reporting API user",
                self.key,
            )
            for vendor in config.opayo_vendors
        }


def _build_secret(
    scope: Construct, construct_id: str, name: str, description: str, key: kms.IKey
) -> secretsmanager.Secret:
    return secretsmanager.Secret(
        scope,
        construct_id,
        secret_name=name,
        description=description,
        encryption_key=key,
        removal_policy=RemovalPolicy.RETAIN,
    )
