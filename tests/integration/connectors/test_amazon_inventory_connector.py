"""The connector's FBA inventory summaries against the sandbox over HTTP: changed since a
time, every page, within the shared 2/s burst-2 budget (rate limits on, a running clock)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from opayo_fba.amazon.connector import SpApiConnector
from opayo_fba.amazon.rate_limit import USAGE_PLANS, UsagePlan
from sandbox.amazon import AmazonSandboxOptions
from sandbox.amazon.inventory import PAGE_SIZE
from sandbox.amazon.options import SkuStock
from tests.fixtures.amazon_sandbox import AmazonSandboxHandle
from tests.integration.connectors.amazon_support import create_buckets_table, sandbox_connector

pytestmark = pytest.mark.integration
START = datetime.now(UTC).replace(microsecond=0)
BULK = PAGE_SIZE + 5


@pytest.fixture
def amazon_sandbox_options() -> AmazonSandboxOptions:
    skus = [
        SkuStock(sku=f"OPF-BULK-{n:03d}", quantity=n, asin=f"B0BULK{n:04d}",
                 title=f"Größe {n}", unit_price_minor=100)
        for n in range(BULK)
    ]  # fmt: skip
    # A real-time clock: the sandbox's buckets refill as ours do.
    return AmazonSandboxOptions(clock_factor=1.0, clock_start=START, skus=skus)


@pytest.fixture
def amazon(amazon_sandbox: AmazonSandboxHandle) -> Iterator[SpApiConnector]:
    with mock_aws():
        connector = sandbox_connector(
            amazon_sandbox.url, amazon_sandbox.sandbox.options, create_buckets_table()
        )
        yield connector
        connector.close()


def _statuses(sandbox: AmazonSandboxHandle) -> list[int]:
    return [
        r.status_code for r in sandbox.sandbox.recorded if r.operation_id == "getInventorySummaries"
    ]


def test_the_usage_plan_is_registered() -> None:
    assert USAGE_PLANS["getInventorySummaries"] == UsagePlan(2.0, 2)


def test_every_page_of_summaries_changed_since_is_read_within_the_rate_limit(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    began = time.monotonic()
    for _ in range(3):
        summaries = amazon.inventory_summaries_changed_since(START - timedelta(minutes=5))
        assert len(summaries) == BULK
        assert len({s["sellerSku"] for s in summaries}) == BULK
        assert all("inventoryDetails" in s for s in summaries)
    # Six calls, none throttled: the limiter paced them (burst 2 less its cushion, 2/s).
    assert _statuses(amazon_sandbox) == [200] * 6
    assert time.monotonic() - began >= 2.0


def test_only_changed_skus_come_back(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    amazon_sandbox.advance(60)
    changed_at = START + timedelta(seconds=60)
    amazon_sandbox.control.post(
        "/_sandbox/inventory", json={"sku": "OPF-BULK-007", "quantity": 70}
    ).raise_for_status()
    summaries: list[dict[str, Any]] = amazon.inventory_summaries_changed_since(
        changed_at - timedelta(seconds=1)
    )
    assert [(s["sellerSku"], s["inventoryDetails"]["fulfillableQuantity"]) for s in summaries] == [
        ("OPF-BULK-007", 70)
    ]
