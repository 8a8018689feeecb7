"""What every capability construct needs: config, the function factory and the shared stores.

`Platform` also wires a function to a store in one call: it grants the least privilege the
function needs and puts only the store's *name or ARN* into the function's environment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constants import (
    ENV_CONNECTOR_STATE_TABLE,
    ENV_EVENT_BUS_NAME,
    ENV_IDEMPOTENCY_TABLE,
    ENV_ORDERS_TABLE,
    ENV_REPORTS_BUCKET,
    ENV_SELLER_SECRET_ARNS,
    ENV_SKU_MAPPINGS,
    ENV_VENDOR_SECRET_ARNS,
    FunctionSpec,
)
from infra.events_bus import EventsBus
from infra.functions import FunctionFactory
from infra.keys import EncryptionKeys
from infra.secrets import Secrets
from infra.storage import Storage


@dataclass(frozen=True)
class Platform:
    config: EnvironmentConfig
    keys: EncryptionKeys
    factory: FunctionFactory
    storage: Storage
    secrets: Secrets
    events: EventsBus

    def function(
        self,
        scope: Construct,
        spec: FunctionSpec,
        *,
        orders: Literal["read", "write"] | None = None,
        idempotency: bool = False,
        connector_state: bool = False,
        seller_secrets: bool = False,
        vendor_secrets: bool = False,
        reports_bucket: bool = False,
        events_bus: bool = False,
        sku_mappings: bool = False,
        extra_environment: dict[str, str] | None = None,
    ) -> lambda_.Function:
        """Build one function with exactly the access it declares.

        `orders` is None (no access), "read" or "write". `sku_mappings`: the seller accounts'
        SKU mapping CSVs (cdk.json `sellerAccounts[].skuMapping`), each object readable.
        """
        stack = Stack.of(scope)
        environment: dict[str, str] = dict(extra_environment or {})
        storage = self.storage
        if orders is not None:
            environment[ENV_ORDERS_TABLE] = storage.orders_table.table_name
        if idempotency:
            environment[ENV_IDEMPOTENCY_TABLE] = storage.idempotency_table.table_name
        if connector_state:
            environment[ENV_CONNECTOR_STATE_TABLE] = storage.connector_state_table.table_name
        if reports_bucket:
            environment[ENV_REPORTS_BUCKET] = storage.reports_bucket.bucket_name
        if events_bus:
            environment[ENV_EVENT_BUS_NAME] = self.events.bus.event_bus_name
        if seller_secrets:
            environment[ENV_SELLER_SECRET_ARNS] = stack.to_json_string(
                {key: secret.secret_arn for key, secret in self.secrets.seller_secrets.items()}
            )
        if vendor_secrets:
            environment[ENV_VENDOR_SECRET_ARNS] = stack.to_json_string(
                {key: secret.secret_arn for key, secret in self.secrets.vendor_secrets.items()}
            )
        mappings = self.sku_mapping_objects() if sku_mappings else {}
        if mappings:
            environment[ENV_SKU_MAPPINGS] = json.dumps(mappings, sort_keys=True)

        function = self.factory.build(scope, spec, environment)

        if orders == "read":
            storage.orders_table.grant_read_data(function)
        elif orders == "write":
            storage.orders_table.grant_read_write_data(function)
        elif orders is not None:
            raise ValueError(f"orders access must be 'read' or 'write', got {orders!r}")
        if idempotency:
            storage.idempotency_table.grant_read_write_data(function)
        if connector_state:
            storage.connector_state_table.grant_read_write_data(function)
        if reports_bucket:
            _grant_report_archive(storage, function)
        if events_bus:
            self.events.bus.grant_put_events_to(function)
        if seller_secrets:
            for secret in self.secrets.seller_secrets.values():
                secret.grant_read(function)
        if vendor_secrets:
            for secret in self.secrets.vendor_secrets.values():
                secret.grant_read(function)
        if mappings:
            # Exactly the mapping objects, nothing else in their buckets.
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[
                        f"arn:{stack.partition}:s3:::{reference.removeprefix('s3://')}"
                        for reference in sorted(set(mappings.values()))
                    ],
                )
            )
        return function

    def sku_mapping_objects(self) -> dict[str, str]:
        """Seller account -> its SKU mapping CSV (`s3://...`), for the accounts that have one."""
        return {
            seller.id: seller.sku_mapping
            for seller in self.config.seller_accounts
            if seller.sku_mapping
        }


def _grant_report_archive(storage: Storage, function: lambda_.Function) -> None:
    """Put and get report documents; no delete, no ACL or policy changes (grant_read_write
    would add Delete*, Abort* and wildcard Get*/List*)."""
    bucket = storage.reports_bucket
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject", "s3:GetObject"],
            resources=[bucket.arn_for_objects("*")],
        )
    )
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
    )
    if bucket.encryption_key is not None:
        bucket.encryption_key.grant_encrypt_decrypt(function)
