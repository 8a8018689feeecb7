"""FBA Inventory v1 summaries and the availability notification, over HTTP.

The sandbox fixture validates every response and notification against the official models at
teardown (fbaInventory.json, FBAInventoryAvailabilityChangeNotification.json)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sp_api.api import FulfillmentOutbound, Inventories
from sp_api.base import SellingApiException

from sandbox.amazon import AmazonSandboxOptions
from sandbox.amazon.fulfillment import COMPLETE_AFTER
from sandbox.amazon.inventory import NEXT_TOKEN_SECONDS, PAGE_SIZE
from sandbox.amazon.options import DEFAULT_SKUS, SkuStock
from sandbox.amazon.timefmt import iso
from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle, mcf_order_body

pytestmark = pytest.mark.integration
UK = "A1F83G8C2ARO7P"


def _summaries(client: Inventories, **params: Any) -> dict[str, Any]:
    params.setdefault("marketplaceIds", [UK])
    payload: dict[str, Any] = client.get_inventory_summary_marketplace(**params).payload
    return payload


def _set_stock(sandbox: AmazonSandboxHandle, sku: str, quantity: int) -> None:
    sandbox.control.post(
        "/_sandbox/inventory", json={"sku": sku, "quantity": quantity}
    ).raise_for_status()


def test_all_summaries_with_details(amazon_sandbox: AmazonSandboxHandle) -> None:
    payload = _summaries(amazon_sandbox.sp_api_client(Inventories), details=True)
    assert payload["granularity"] == {"granularityType": "Marketplace", "granularityId": UK}
    by_sku = {s["sellerSku"]: s for s in payload["inventorySummaries"]}
    assert set(by_sku) == {stock.sku for stock in DEFAULT_SKUS}
    mug = by_sku["OPF-MUG-BLUE"]
    assert mug["totalQuantity"] == 100
    assert mug["inventoryDetails"]["fulfillableQuantity"] == 100
    assert mug["lastUpdatedTime"] == iso(AMAZON_SANDBOX_START)


def test_without_details_the_details_are_left_out(amazon_sandbox: AmazonSandboxHandle) -> None:
    payload = _summaries(amazon_sandbox.sp_api_client(Inventories))
    assert all("inventoryDetails" not in s for s in payload["inventorySummaries"])


def test_start_date_time_returns_only_skus_changed_since(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    amazon_sandbox.set_rate_limits({"enabled": False})
    amazon_sandbox.advance(120)
    since = AMAZON_SANDBOX_START + timedelta(seconds=60)
    _set_stock(amazon_sandbox, "OPF-CAP-RED", 7)
    client = amazon_sandbox.sp_api_client(Inventories)
    changed = _summaries(client, startDateTime=iso(since), details=True)["inventorySummaries"]
    assert [(s["sellerSku"], s["totalQuantity"]) for s in changed] == [("OPF-CAP-RED", 7)]
    assert changed[0]["lastUpdatedTime"] == iso(AMAZON_SANDBOX_START + timedelta(seconds=120))
    later = iso(AMAZON_SANDBOX_START + timedelta(seconds=121))
    assert _summaries(client, startDateTime=later)["inventorySummaries"] == []


def test_a_shipment_changes_stock_and_it_shows_as_changed(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    fba.create_fulfillment_order(**mcf_order_body("INV-SHIP-1", quantity=2))
    amazon_sandbox.advance(COMPLETE_AFTER + 1)
    since = iso(AMAZON_SANDBOX_START + timedelta(seconds=1))
    changed = _summaries(amazon_sandbox.sp_api_client(Inventories), startDateTime=since)
    assert [(s["sellerSku"], s["totalQuantity"]) for s in changed["inventorySummaries"]] == [
        ("OPF-MUG-BLUE", 98)
    ]
    published = [
        body
        for kind, body in amazon_sandbox.sandbox.notifications.published
        if kind == "FBA_INVENTORY_AVAILABILITY_CHANGES"
    ]
    assert [n["Payload"]["SKU"] for n in published] == ["OPF-MUG-BLUE"]


def test_each_stock_change_publishes_one_notification(amazon_sandbox: AmazonSandboxHandle) -> None:
    amazon_sandbox.advance(30)
    _set_stock(amazon_sandbox, "OPF-TEE-M", 40)
    _set_stock(amazon_sandbox, "OPF-TEE-M", 40)  # unchanged: no notification
    published = [
        body
        for kind, body in amazon_sandbox.sandbox.notifications.published
        if kind == "FBA_INVENTORY_AVAILABILITY_CHANGES"
    ]
    assert len(published) == 1
    (notification,) = published
    assert notification["EventTime"] == iso(AMAZON_SANDBOX_START + timedelta(seconds=30))
    (market,) = notification["Payload"]["FulfillmentInventoryByMarketplace"]
    assert market["MarketplaceId"] == UK
    assert market["FulfillmentInventory"]["Fulfillable"] == 40
    assert notification["NotificationMetadata"]["NotificationId"]


def _many_skus() -> AmazonSandboxOptions:
    skus = [
        SkuStock(sku=f"OPF-BULK-{n:03d}", quantity=n, asin=f"B0BULK{n:04d}", title=f"Bulk {n}",
                 unit_price_minor=100)
        for n in range(PAGE_SIZE + 7)
    ]  # fmt: skip
    return AmazonSandboxOptions(clock_factor=0, clock_start=AMAZON_SANDBOX_START, skus=skus)


@pytest.mark.parametrize("amazon_sandbox_options", [_many_skus()])
def test_pages_follow_next_token_with_the_same_start_date_time(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    amazon_sandbox.set_rate_limits({"enabled": False})  # a frozen clock never refills
    client = amazon_sandbox.sp_api_client(Inventories)
    since = iso(AMAZON_SANDBOX_START)
    first = client.get_inventory_summary_marketplace(marketplaceIds=[UK], startDateTime=since)
    assert len(first.payload["inventorySummaries"]) == PAGE_SIZE
    assert first.next_token
    second = client.get_inventory_summary_marketplace(
        marketplaceIds=[UK], startDateTime=since, nextToken=first.next_token
    )
    assert len(second.payload["inventorySummaries"]) == 7
    assert second.next_token is None
    with pytest.raises(SellingApiException) as without_start:
        client.get_inventory_summary_marketplace(marketplaceIds=[UK], nextToken=first.next_token)
    assert without_start.value.code == 400
    amazon_sandbox.advance(NEXT_TOKEN_SECONDS + 1, keep_tokens=True)
    with pytest.raises(SellingApiException) as expired:
        client.get_inventory_summary_marketplace(
            marketplaceIds=[UK], startDateTime=since, nextToken=first.next_token
        )
    assert expired.value.code == 400


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"marketplaceIds": ["A1PM49TKAA8A7P"]}, "marketplaceIds"),
        ({"granularityId": "A1PM49TKAA8A7P"}, "granularityId"),
        ({"startDateTime": "yesterday"}, "startDateTime"),
        ({"startDateTime": "2020-01-01T00:00:00Z"}, "startDateTime"),
        ({"nextToken": "not-a-token"}, "nextToken"),
    ],
)
def test_bad_parameters_are_400_naming_them(
    amazon_sandbox: AmazonSandboxHandle, params: dict[str, Any], field: str
) -> None:
    client = amazon_sandbox.sp_api_client(Inventories)
    with pytest.raises(SellingApiException) as refused:
        _summaries(client, **params)
    assert refused.value.code == 400
    assert field in str(refused.value.error)


def test_the_usage_plan_is_two_per_second_burst_two(amazon_sandbox: AmazonSandboxHandle) -> None:
    client = amazon_sandbox.sp_api_client(Inventories)
    answers = []
    for _ in range(3):
        try:
            answers.append(client.get_inventory_summary_marketplace(marketplaceIds=[UK]).rate_limit)
        except SellingApiException as error:
            answers.append(error.code)
    assert answers == ["2", "2", 429]
