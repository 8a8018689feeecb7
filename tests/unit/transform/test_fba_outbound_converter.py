"""Canonical order -> createFulfillmentOrder body; deterministic sellerFulfillmentOrderId."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from opayo_fba.convert.fba_outbound import (
    FulfillmentRequestError,
    create_fulfillment_order_request,
    fulfillment_order_from_fba,
    seller_fulfillment_order_id,
)
from opayo_fba.convert.sku import SkuMapping, UnknownSkuError
from opayo_fba.model import Order
from opayo_fba.model.address import AddressLimitError

SKUS = SkuMapping.from_pairs({"WIDGET-RED": "AMZ-WIDGET-RED", "GADGET": "AMZ-GADGET"})


def order(**changes: Any) -> Order:
    data: dict[str, Any] = {
        "order_id": "W-1001",
        "channel": "web",
        "placed_at": "2026-11-28T10:15:00+01:00",
        "currency": "GBP",
        "shipping_address": {
            "name": "Jane Doe",
            "line1": "88 Acacia Avenue",
            "city": "London",
            "postal_code": "sw1a1aa",
            "country_code": "United Kingdom",
            "phone": "020 7946 0000",
        },
        "lines": [
            {
                "line_id": "1",
                "sku": "WIDGET-RED",
                "quantity": 2,
                "unit_price": {"amount": 1250, "currency": "GBP"},
                "attributes": {"gift_message": "Happy birthday!"},
            },
            {"line_id": "2", "sku": "GADGET", "quantity": 1, "unit_price": None},
            {"line_id": "3", "sku": "GADGET", "quantity": 0, "unit_price": None},
        ],
    }
    data.update(changes)
    return Order.model_validate(data)


def test_body_has_everything_amazon_requires() -> None:
    request = create_fulfillment_order_request(order(), skus=SKUS, marketplace_id="A1F83G8C2ARO7P")
    assert request.body == {
        "sellerFulfillmentOrderId": "W-1001",
        "displayableOrderId": "W-1001",
        "displayableOrderDate": "2026-11-28T09:15:00Z",
        "displayableOrderComment": "Thank you for your order.",
        "shippingSpeedCategory": "Standard",
        "destinationAddress": {
            "name": "Jane Doe",
            "addressLine1": "88 Acacia Avenue",
            "city": "London",
            "postalCode": "SW1A 1AA",
            "countryCode": "GB",
            "phone": "020 7946 0000",
        },
        "fulfillmentAction": "Hold",
        "fulfillmentPolicy": "FillOrKill",
        "items": [
            {
                "sellerSku": "AMZ-WIDGET-RED",
                "sellerFulfillmentOrderItemId": "1",
                "quantity": 2,
                "perUnitDeclaredValue": {"currencyCode": "GBP", "value": "12.50"},
                "giftMessage": "Happy birthday!",
            },
            {"sellerSku": "AMZ-GADGET", "sellerFulfillmentOrderItemId": "2", "quantity": 1},
        ],
        "marketplaceId": "A1F83G8C2ARO7P",
    }
    assert request.adjustments == ()


def test_unknown_sku_is_named() -> None:
    with pytest.raises(UnknownSkuError, match="'GADGET'"):
        create_fulfillment_order_request(
            order(), skus=SkuMapping.from_pairs({"WIDGET-RED": "AMZ-WIDGET-RED"})
        )


def test_without_mapping_the_line_seller_sku_or_sku_is_used() -> None:
    body = create_fulfillment_order_request(order()).body
    assert [item["sellerSku"] for item in body["items"]] == ["WIDGET-RED", "GADGET"]  # type: ignore[index, union-attr]


def test_a_comment_longer_than_fba_takes_is_refused_by_the_model() -> None:
    with pytest.raises(ValidationError, match="at most 750 characters"):
        order(comment="x" * 751)
    assert order(comment="x" * 750).comment == "x" * 750


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"shipping_address": None}, "shipping_address is required"),
        ({"lines": []}, "no line with a quantity"),
        ({"shipping_speed": "ScheduledDelivery"}, "cannot be created on Hold"),
        (
            {"lines": [{"sku": "A", "quantity": 251, "unit_price": None}]},
            "251 units exceed",
        ),
        (
            {
                "lines": [
                    {"line_id": "9", "sku": "A", "quantity": 1, "unit_price": None},
                    {"line_id": "9", "sku": "B", "quantity": 1, "unit_price": None},
                ]
            },
            "line_id '9' appears twice",
        ),
    ],
)
def test_orders_amazon_cannot_take_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(FulfillmentRequestError, match=message):
        create_fulfillment_order_request(order(**changes))


def test_address_overflow_is_an_error_unless_truncation_is_allowed() -> None:
    long_phone = order(
        shipping_address={
            "name": "Jane Doe",
            "line1": "88 Acacia Avenue",
            "city": "London",
            "postal_code": "SW1A 1AA",
            "country_code": "GB",
            "phone": "+44 20 7946 0000 extension 1234",
        }
    )
    with pytest.raises(AddressLimitError, match="phone"):
        create_fulfillment_order_request(long_phone)
    request = create_fulfillment_order_request(long_phone, allow_truncation=True)
    assert request.body["destinationAddress"]["phone"] == "+44 20 7946 0000 ext"  # type: ignore[index, call-overload]
    assert [a.field for a in request.adjustments] == ["phone"]


@pytest.mark.parametrize(
    ("order_id", "expected"),
    [
        ("W-1001", "W-1001"),
        ("902-1845936-5435065", "902-1845936-5435065"),
        ("a_b-C", "a_b-C"),
        ("x" * 40, "x" * 40),
    ],
)
def test_safe_ids_are_used_as_they_are(order_id: str, expected: str) -> None:
    assert seller_fulfillment_order_id(order_id) == expected


def test_other_ids_get_a_readable_prefix_and_a_digest() -> None:
    long_id = "shop.example.com/orders/2026/11/28/000123456789"
    derived = seller_fulfillment_order_id(long_id)
    assert derived == "shop-example-com-orders-2026-M4LDL377BE"  # prefix, "-", 10-char digest
    assert derived == seller_fulfillment_order_id(long_id)
    assert seller_fulfillment_order_id("#1001") != seller_fulfillment_order_id("/1001")
    with pytest.raises(FulfillmentRequestError):
        seller_fulfillment_order_id(" ")


@given(st.text(min_size=1, max_size=200).filter(lambda s: s.strip()))
def test_seller_fulfillment_order_id_is_always_valid_and_deterministic(order_id: str) -> None:
    derived = seller_fulfillment_order_id(order_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", derived)
    assert seller_fulfillment_order_id(order_id) == derived


@given(st.lists(st.text(min_size=1, max_size=80), min_size=2, max_size=20, unique=True))
def test_different_ids_give_different_seller_ids(order_ids: list[str]) -> None:
    usable = [order_id for order_id in order_ids if order_id.strip()]
    derived = {seller_fulfillment_order_id(order_id) for order_id in usable}
    assert len(derived) == len(usable)


def test_fulfillment_order_from_fba_payload() -> None:
    payload = {
        "fulfillmentOrder": {
            "sellerFulfillmentOrderId": "W-1001",
            "marketplaceId": "A1F83G8C2ARO7P",
            "displayableOrderId": "W-1001",
            "displayableOrderDate": "2026-11-28T09:15:00Z",
            "displayableOrderComment": "Thanks",
            "shippingSpeedCategory": "Standard",
            "destinationAddress": {},
            "fulfillmentAction": "Ship",
            "fulfillmentOrderStatus": "Complete",
            "receivedDate": "2026-11-28T09:16:00Z",
            "statusUpdatedDate": "2026-11-29T12:00:00Z",
        },
        "fulfillmentOrderItems": [],
        "fulfillmentShipments": [
            {
                "amazonShipmentId": "DnPb1ZGvN",
                "fulfillmentCenterId": "LTN1",
                "fulfillmentShipmentStatus": "SHIPPED",
                "shippingDate": "2026-11-29T11:00:00Z",
                "fulfillmentShipmentItem": [
                    {"sellerSku": "AMZ-GADGET", "sellerFulfillmentOrderItemId": "2", "quantity": 1}
                ],
                "fulfillmentShipmentPackage": [
                    {"packageNumber": 1, "carrierCode": "Royal Mail", "trackingNumber": "RM1GB"}
                ],
            }
        ],
    }
    fulfillment = fulfillment_order_from_fba(payload, order_id="W-1001")
    assert fulfillment.status == "Complete"
    assert fulfillment.action == "Ship"
    assert fulfillment.tracking_numbers() == ["RM1GB"]
    assert fulfillment.shipments[0].items[0].seller_sku == "AMZ-GADGET"
