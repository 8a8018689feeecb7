"""Orders v0 JSON -> canonical Order: money, unit prices, statuses, addresses, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from opayo_fba.convert.orders_v0 import OrdersV0ConversionError, order_from_orders_v0
from opayo_fba.convert.sku import SkuMapping, UnknownSkuError
from opayo_fba.model import Money, OrderStatus

HEADER: dict[str, Any] = {
    "AmazonOrderId": "026-1234567-1234567",
    "PurchaseDate": "2026-11-28T09:15:00Z",
    "LastUpdateDate": "2026-11-28T10:00:00Z",
    "OrderStatus": "Unshipped",
    "FulfillmentChannel": "AFN",
    "OrderTotal": {"CurrencyCode": "GBP", "Amount": "30.00"},
    "MarketplaceId": "A1F83G8C2ARO7P",
    "ShipmentServiceLevelCategory": "NextDay",
    "ShippingAddress": {"City": "LONDON", "PostalCode": "sw1a1aa", "CountryCode": "GB"},
}
ITEM: dict[str, Any] = {
    "ASIN": "B00551Q3CS",
    "OrderItemId": "111",
    "SellerSKU": "AMZ-A",
    "QuantityOrdered": 3,
    "ItemPrice": {"CurrencyCode": "GBP", "Amount": "25.00"},
    "ItemTax": {"CurrencyCode": "GBP", "Amount": "4.17"},
    "ShippingPrice": {"CurrencyCode": "GBP", "Amount": "5.00"},
    "PromotionDiscount": {"CurrencyCode": "GBP", "Amount": "0.00"},
}


def test_line_price_that_does_not_divide_keeps_the_stated_total() -> None:
    order = order_from_orders_v0(HEADER, [ITEM])
    (line,) = order.lines
    assert line.unit_price == Money(amount=833, currency="GBP")
    assert line.line_total == Money(amount=2500, currency="GBP")
    assert line.total == Money(amount=2500, currency="GBP")
    assert line.tax == Money(amount=417, currency="GBP")
    assert line.discount is None
    assert order.totals is not None
    assert order.totals.grand_total == Money(amount=3000, currency="GBP")
    assert order.totals.shipping == Money(amount=500, currency="GBP")
    assert order.shipping_speed == "Priority"
    assert order.status is OrderStatus.FULFILMENT_PENDING
    assert order.shipping_address is not None
    assert order.shipping_address.postal_code == "SW1A 1AA"
    assert order.shipping_address.line1 is None  # Amazon withholds it without an RDT


def test_seller_skus_map_back_to_internal_skus() -> None:
    order = order_from_orders_v0(HEADER, [ITEM], skus=SkuMapping.from_pairs({"A": "AMZ-A"}))
    assert order.lines[0].sku == "A"
    assert order.lines[0].seller_sku == "AMZ-A"
    with pytest.raises(UnknownSkuError, match="'AMZ-A'"):
        order_from_orders_v0(HEADER, [ITEM], skus=SkuMapping.from_pairs({"B": "AMZ-B"}))


def test_pending_order_without_prices() -> None:
    header = {k: v for k, v in HEADER.items() if k != "OrderTotal"} | {"OrderStatus": "Pending"}
    item = {k: v for k, v in ITEM.items() if k not in {"ItemPrice", "ItemTax", "ShippingPrice"}}
    item.pop("PromotionDiscount")
    order = order_from_orders_v0(header, [item])
    assert order.status is OrderStatus.PAYMENT_PENDING
    assert order.currency is None
    assert order.lines[0].unit_price is None


@pytest.mark.parametrize(
    ("header_change", "item_change", "message"),
    [
        ({"AmazonOrderId": None}, {}, "AmazonOrderId is missing"),
        ({"OrderStatus": "Lost"}, {}, "OrderStatus 'Lost'"),
        ({"OrderTotal": {"CurrencyCode": "GBP", "Amount": "abc"}}, {}, "OrderTotal"),
        ({"OrderTotal": {"CurrencyCode": "GBX", "Amount": "1.00"}}, {}, "OrderTotal"),
        ({}, {"QuantityOrdered": -1}, r"OrderItems\[0\].QuantityOrdered"),
        ({}, {"SellerSKU": None}, r"OrderItems\[0\].SellerSKU"),
        (
            {},
            {"ItemPrice": {"CurrencyCode": "GBP", "Amount": "1.005"}},
            r"OrderItems\[0\].ItemPrice",
        ),
    ],
)
def test_bad_documents_name_the_field(
    header_change: dict[str, Any], item_change: dict[str, Any], message: str
) -> None:
    with pytest.raises(OrdersV0ConversionError, match=message):
        order_from_orders_v0(HEADER | header_change, [ITEM | item_change])


def test_related_payload_for_another_order_is_refused() -> None:
    with pytest.raises(OrdersV0ConversionError, match="does not match"):
        order_from_orders_v0(HEADER, buyer_info={"AmazonOrderId": "other", "BuyerName": "X"})
