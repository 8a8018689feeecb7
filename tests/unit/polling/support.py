"""moto tables and bucket as the infra stack defines them, and in-memory ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from opayo_fba.model.events import canonical_detail
from tests.fixtures.tables import ORDERS_TABLE as ORDERS_TABLE
from tests.fixtures.tables import REGION as REGION
from tests.fixtures.tables import create_orders_table as create_orders_table

STATE_TABLE = "connector-state"
REPORTS_BUCKET = "reports"


def create_state_table() -> Any:
    """Inside an active `mock_aws()`: the connector-state table (pk + sk, strings)."""
    return boto3.resource("dynamodb", REGION).create_table(
        TableName=STATE_TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def create_reports_bucket() -> Any:
    """Inside an active `mock_aws()`: a versioned reports bucket; returns the S3 client."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(
        Bucket=REPORTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3.put_bucket_versioning(Bucket=REPORTS_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


@dataclass
class RecordingEvents:
    """An EventPort that keeps what was published."""

    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_next: bool = False

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("event bus unavailable")
        canonical_detail(detail_type, detail)  # as EventBridgePublisher: the schema holds
        self.published.append((detail_type, dict(detail)))

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        return [detail for kind, detail in self.published if kind == detail_type]
