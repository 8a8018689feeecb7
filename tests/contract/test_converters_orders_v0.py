"""Every static sandbox example of Orders v0 converts to a canonical Order without losing the
fields the model cares about."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from opayo_fba.amazon.spapi_models import load_model
from opayo_fba.convert.harmonise import order_status
from opayo_fba.convert.orders_v0 import order_from_orders_v0
from opayo_fba.model import Address, Money, Order, OrderStatus
from opayo_fba.model.status import OrdersV0Status


def static_payloads(path: str) -> list[dict[str, Any]]:
    """The `payload` of every static sandbox example of GET `path` (HTTP 200)."""
    spec = load_model("ordersV0")["paths"][path]["get"]["responses"]["200"]
    examples = spec["x-amzn-api-sandbox"]["static"]
    return [example["response"]["payload"] for example in examples]


ORDERS = [
    order
    for payload in static_payloads("/orders/v0/orders")
    for order in payload["Orders"]
] + static_payloads("/orders/v0/orders/{orderId}")  # fmt: skip
ITEMS = {
    p["AmazonOrderId"]: p["OrderItems"]
    for p in static_payloads("/orders/v0/orders/{orderId}/orderItems")
}
ADDRESSES = {p["AmazonOrderId"]: p for p in static_payloads("/orders/v0/orders/{orderId}/address")}
BUYERS = {p["AmazonOrderId"]: p for p in static_payloads("/orders/v0/orders/{orderId}/buyerInfo")}


def test_the_examples_are_there() -> None:
    assert len(ORDERS) >= 5
    assert ITEMS
    assert ADDRESSES
    assert BUYERS


def money(value: dict[str, str]) -> Money:
    exact = Decimal(value["Amount"])
    return Money.from_decimal(exact, value["CurrencyCode"])


def assert_same_address(address: Address | None, amazon: dict[str, Any]) -> None:
    assert address is not None
    assert address.country_code == amazon["CountryCode"]
    for canonical, source in (
        ("name", "Name"),
        ("company", "CompanyName"),
        ("line1", "AddressLine1"),
        ("line2", "AddressLine2"),
        ("line3", "AddressLine3"),
        ("city", "City"),
        ("state_or_region", "StateOrRegion"),
        ("postal_code", "PostalCode"),
        ("phone", "Phone"),
    ):
        assert getattr(address, canonical) == amazon.get(source), canonical


@pytest.mark.parametrize(
    "amazon", ORDERS, ids=[f"{o['AmazonOrderId']}-{o['OrderStatus']}" for o in ORDERS]
)
def test_every_order_example_converts_without_loss(amazon: dict[str, Any]) -> None:
    order_id = amazon["AmazonOrderId"]
    order = order_from_orders_v0(
        amazon,
        ITEMS.get(order_id, ()),
        shipping_address=ADDRESSES.get(order_id),
        buyer_info=BUYERS.get(order_id),
    )
    assert Order.model_validate_json(order.model_dump_json()) == order
    assert order.order_id == order_id
    assert order.channel == "amazon"
    assert order.source_status == amazon["OrderStatus"]
    assert order.status is order_status(fulfillment=OrdersV0Status(amazon["OrderStatus"]))
    assert isinstance(order.status, OrderStatus)
    assert order.placed_at == datetime.fromisoformat(amazon["PurchaseDate"])
    assert order.updated_at == datetime.fromisoformat(amazon["LastUpdateDate"])
    assert order.marketplace_id == amazon.get("MarketplaceId")
    assert order.fulfillment_channel == amazon.get("FulfillmentChannel")
    if "OrderTotal" in amazon:
        assert order.totals is not None
        assert order.totals.grand_total == money(amazon["OrderTotal"])
        assert order.currency == amazon["OrderTotal"]["CurrencyCode"]
    else:
        assert order.totals is None
    if "ShippingAddress" in amazon or order_id in ADDRESSES:
        source = (
            ADDRESSES[order_id]["ShippingAddress"]
            if order_id in ADDRESSES
            else amazon["ShippingAddress"]
        )
        assert_same_address(order.shipping_address, source)
    if order_id in BUYERS:
        assert order.customer is not None
        assert order.customer.email == BUYERS[order_id]["BuyerEmail"]
        assert order.customer.full_name == BUYERS[order_id]["BuyerName"]
    items = ITEMS.get(order_id, [])
    assert len(order.lines) == len(items)
    for line, item in zip(order.lines, items, strict=True):
        assert line.line_id == item["OrderItemId"]
        assert line.seller_sku == item["SellerSKU"]
        assert line.asin == item["ASIN"]
        assert line.title == item["Title"]
        assert line.quantity == item["QuantityOrdered"]
        assert line.total == money(item["ItemPrice"])
        assert line.tax == money(item["ItemTax"])


def test_the_item_example_belongs_to_an_order_example() -> None:
    """Otherwise the loss check above would never see a line."""
    order_ids = {order["AmazonOrderId"] for order in ORDERS}
    assert set(ITEMS) <= order_ids
    assert set(ADDRESSES) <= order_ids
