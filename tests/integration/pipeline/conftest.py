"""moto tables and bucket (connector state shared with the rate-limit buckets, as deployed),
the Amazon connector aimed at the SP-API sandbox and the Reporting client aimed at Opayo's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from opayo_fba.amazon.connector import SpApiConnector
from opayo_fba.amazon.retry import RetryPolicy
from opayo_fba.jobs.archive import ReportArchive
from opayo_fba.opayo.credentials import VendorCredentials
from opayo_fba.opayo.reporting import ReportingClient
from opayo_fba.store.report_requests import ReportLedger
from opayo_fba.store.watermarks import WatermarkStore
from tests.fixtures.amazon_sandbox import AmazonSandboxHandle
from tests.fixtures.opayo_sandbox import OpayoSandboxHandle
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


FAST = RetryPolicy(attempts=3, total_seconds=10, base_wait=0.01, max_wait=0.05)


def opayo_credentials(sandbox: OpayoSandboxHandle) -> VendorCredentials:
    options = sandbox.options
    return VendorCredentials.model_validate(
        {
            "vendor_name": options.vendor,
            "integration_key": options.integration_key,
            "integration_password": options.integration_password,
            "reporting_user": options.reporting_user,
            "reporting_password": options.reporting_password,
        }
    )


@pytest.fixture
def reporting(opayo_sandbox: OpayoSandboxHandle) -> Iterator[ReportingClient]:
    with httpx.Client(timeout=5.0) as http:
        yield ReportingClient(
            opayo_credentials(opayo_sandbox),
            url=f"{opayo_sandbox.url}/access/access.htm",
            http_client=http,
            retry=FAST,
        )


@pytest.fixture
def amazon(amazon_sandbox: AmazonSandboxHandle, aws: Aws) -> Iterator[SpApiConnector]:
    connector = sandbox_connector(amazon_sandbox.url, amazon_sandbox.sandbox.options, aws.dynamodb)
    yield connector
    connector.close()
