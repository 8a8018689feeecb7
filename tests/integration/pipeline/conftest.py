"""moto tables and bucket (connector state shared with the rate-limit buckets, as deployed)
and the Amazon connector aimed at the SP-API sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from opayo_fba.amazon.connector import SpApiConnector
from opayo_fba.pipeline.archive import ReportArchive
from opayo_fba.store.report_requests import ReportLedger
from opayo_fba.store.watermarks import WatermarkStore
from tests.fixtures.amazon_sandbox import AmazonSandboxHandle
from tests.integration.connectors.amazon_support import (
    BUCKETS_TABLE,
    create_buckets_table,
    sandbox_connector,
)
from tests.unit.polling.support import (
    REGION,
    REPORTS_BUCKET,
    create_orders_table,
    create_reports_bucket,
)


@dataclass
class Aws:
    dynamodb: Any
    """The low-level client the rate limiter uses (serialised for moto)."""
    state_table: Any
    orders_table: Any
    s3: Any

    @property
    def watermarks(self) -> WatermarkStore:
        return WatermarkStore(self.state_table)

    @property
    def ledger(self) -> ReportLedger:
        return ReportLedger(self.state_table)

    @property
    def archive(self) -> ReportArchive:
        return ReportArchive(self.s3, REPORTS_BUCKET)

    def archived(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=REPORTS_BUCKET, Key=key)["Body"].read()
        return body


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        dynamodb = create_buckets_table()
        state = boto3.resource("dynamodb", REGION).Table(BUCKETS_TABLE)
        yield Aws(dynamodb, state, create_orders_table(), create_reports_bucket())


@pytest.fixture
def amazon(amazon_sandbox: AmazonSandboxHandle, aws: Aws) -> Iterator[SpApiConnector]:
    connector = sandbox_connector(amazon_sandbox.url, amazon_sandbox.sandbox.options, aws.dynamodb)
    yield connector
    connector.close()
