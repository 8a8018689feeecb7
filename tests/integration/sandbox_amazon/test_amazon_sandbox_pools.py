"""UK and EU stock are separate pools (sandbox/amazon/pools.py), over HTTP.

One seller sells in the UK (home), Germany and France. Its UK units fill only UK orders; its EU
units fill German and French orders alike (Pan-European FBA: one pool for the EU stores). The
fixture validates every response and notification against the official models at teardown.
"""

from __future__ import annotations

from typing import Any

import pytest
from sp_api.api import FulfillmentOutbound, Inventories
from sp_api.base import SellingApiException

from sandbox.amazon import AmazonSandboxOptions
from sandbox.amazon.fulfillment import COMPLETE_AFTER
from sandbox.amazon.options import Credentials, SkuStock
from sandbox.amazon.pools import EU_MARKETPLACES, EU_POOL, UK_MARKETPLACE, UK_POOL, pool_of
from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle, mcf_order_body

pytestmark = pytest.mark.integration
UK = UK_MARKETPLACE
DE = "A1PA6795UKMFR9"
FR = "A13V1IB3VIYZZH"
IT = "APJ6JRA9NG5V4"
BERLIN = {
    "name": "Grete Weiss",
    "addressLine1": "Unter den Linden 1",
    "city": "Berlin",
    "postalCode": "10117",
    "countryCode": "DE",
}


def _stock(sku: str, quantity: int, pool: str, asin: str) -> SkuStock:
    return SkuStock(
        sku=sku, quantity=quantity, asin=asin, title=sku, unit_price_minor=1299, pool=pool
    )


@pytest.fixture
def amazon_sandbox_options() -> AmazonSandboxOptions:
    return AmazonSandboxOptions(
        clock_factor=0,
        clock_start=AMAZON_SANDBOX_START,
        credentials=Credentials(marketplace_id=UK, marketplace_ids=(DE, FR)),
        skus=[
            _stock("POOL-MUG", 5, UK_POOL, "B0POOL0001"),
            _stock("POOL-MUG", 2, EU_POOL, "B0POOL0001"),
            _stock("POOL-TEE", 4, UK_POOL, "B0POOL0002"),  # none in the EU
        ],
        seed_amazon_orders=False,
    )


def _levels(sandbox: AmazonSandboxHandle, marketplace: str) -> dict[str, int]:
    payload = (
        sandbox.sp_api_client(Inventories)
        # python-amazon-sp-api fills granularityId with the client's marketplace: name it.
        .get_inventory_summary_marketplace(marketplaceIds=[marketplace], granularityId=marketplace)
        .payload
    )
    assert payload["granularity"]["granularityId"] == marketplace
    return {s["sellerSku"]: s["totalQuantity"] for s in payload["inventorySummaries"]}


def _eu_order(order_id: str, sku: str, quantity: int, marketplace: str = DE) -> dict[str, Any]:
    body = mcf_order_body(order_id, sku=sku, quantity=quantity, destinationAddress=BERLIN)
    body["marketplaceId"] = marketplace
    body["items"][0]["perUnitPrice"] = {"currencyCode": "EUR", "value": "14.99"}
    return body


def test_every_eu_store_is_one_pool_and_the_uk_is_another() -> None:
    assert pool_of(UK) == UK_POOL
    assert {pool_of(m) for m in EU_MARKETPLACES} == {EU_POOL}
    assert pool_of("ATVPDKIKX0DER") == "ATVPDKIKX0DER"  # outside Europe: a pool of its own


def test_each_marketplace_reports_its_own_pool(amazon_sandbox: AmazonSandboxHandle) -> None:
    amazon_sandbox.set_rate_limits({"enabled": False})
    assert _levels(amazon_sandbox, UK) == {"POOL-MUG": 5, "POOL-TEE": 4}
    assert _levels(amazon_sandbox, DE) == {"POOL-MUG": 2}
    assert _levels(amazon_sandbox, FR) == {"POOL-MUG": 2}


def test_an_eu_order_draws_on_eu_stock_only(amazon_sandbox: AmazonSandboxHandle) -> None:
    amazon_sandbox.set_rate_limits({"enabled": False})
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    fba.create_fulfillment_order(**_eu_order("EU-1", "POOL-MUG", 2))
    amazon_sandbox.advance(COMPLETE_AFTER + 1)
    shipped = fba.get_fulfillment_order("EU-1").payload["fulfillmentOrder"]
    assert shipped["fulfillmentOrderStatus"] == "Complete"
    assert shipped["marketplaceId"] == DE
    assert _levels(amazon_sandbox, DE)["POOL-MUG"] == 0
    assert _levels(amazon_sandbox, UK)["POOL-MUG"] == 5  # the UK pool is untouched

    # The EU pool is empty: a French order for the mug cannot be filled, though the UK has 5.
    fba.create_fulfillment_order(**_eu_order("EU-2", "POOL-MUG", 1, marketplace=FR))
    amazon_sandbox.advance(COMPLETE_AFTER + 1)
    refused = fba.get_fulfillment_order("EU-2").payload["fulfillmentOrder"]
    assert refused["fulfillmentOrderStatus"] == "Unfulfillable"
    fba.create_fulfillment_order(**mcf_order_body("UK-1", sku="POOL-MUG", quantity=1))
    amazon_sandbox.advance(COMPLETE_AFTER + 1)
    assert (
        fba.get_fulfillment_order("UK-1").payload["fulfillmentOrder"]["fulfillmentOrderStatus"]
        == "Complete"
    )
    assert _levels(amazon_sandbox, UK)["POOL-MUG"] == 4


def test_a_preview_counts_the_marketplaces_pool(amazon_sandbox: AmazonSandboxHandle) -> None:
    amazon_sandbox.set_rate_limits({"enabled": False})
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    item = {"sellerSku": "POOL-TEE", "sellerFulfillmentOrderItemId": "1", "quantity": 1}

    def preview(marketplace: str, address: dict[str, Any]) -> dict[str, Any]:
        previews = fba.get_fulfillment_preview(
            marketplaceId=marketplace,
            address=address,
            items=[item],
            shippingSpeedCategories=["Standard"],
        ).payload["fulfillmentPreviews"]
        (only,) = previews
        assert only["marketplaceId"] == marketplace
        return dict(only)

    uk_address = mcf_order_body("P")["destinationAddress"]
    assert preview(UK, uk_address)["isFulfillable"] is True
    in_germany = preview(DE, BERLIN)
    assert in_germany["isFulfillable"] is False
    (short,) = in_germany["unfulfillablePreviewItems"]
    assert short["itemUnfulfillableReasons"] == ["InventoryUnavailable"]


def test_a_marketplace_the_seller_does_not_sell_in_is_400(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    with pytest.raises(SellingApiException) as refused:
        fba.create_fulfillment_order(**_eu_order("IT-1", "POOL-MUG", 1, marketplace=IT))
    assert refused.value.code == 400
    assert "marketplaceId" in str(refused.value.error)
    assert amazon_sandbox.sandbox.store.get("fulfillment_order", "IT-1") is None
    with pytest.raises(SellingApiException) as summaries:
        amazon_sandbox.sp_api_client(Inventories).get_inventory_summary_marketplace(
            marketplaceIds=[IT], granularityId=IT
        )
    assert summaries.value.code == 400


def test_an_eu_stock_change_is_announced_for_each_eu_store_and_set_by_pool(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    response = amazon_sandbox.control.post(
        "/_sandbox/inventory", json={"sku": "POOL-MUG", "quantity": 9, "marketplaceId": FR}
    )
    response.raise_for_status()
    levels = {(r["pool"], r["sku"]): r["quantity"] for r in response.json()["inventory"]}
    assert levels[(EU_POOL, "POOL-MUG")] == 9
    assert levels[(UK_POOL, "POOL-MUG")] == 5
    (notification,) = [
        body
        for kind, body in amazon_sandbox.sandbox.notifications.published
        if kind == "FBA_INVENTORY_AVAILABILITY_CHANGES"
    ]
    entries = notification["Payload"]["FulfillmentInventoryByMarketplace"]
    assert [(e["MarketplaceId"], e["FulfillmentInventory"]["Fulfillable"]) for e in entries] == [
        (DE, 9),
        (FR, 9),
    ]
    missing = amazon_sandbox.control.post(
        "/_sandbox/inventory", json={"sku": "POOL-TEE", "quantity": 1, "pool": EU_POOL}
    )
    assert missing.status_code == 404
    assert "EU pool" in missing.json()["error"]
