"""The createFulfillmentOrder bodies the converter produces validate against Amazon's
official request schema, and FBA FulfillmentOrder payloads that validate against the official
response schema convert to the canonical FulfillmentOrder."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opayo_fba.amazon.spapi_models import (
    ContractError,
    load_model,
    validate_request_body,
    validate_response,
)
from opayo_fba.convert.fba_outbound import (
    create_fulfillment_order_request,
    fulfillment_order_from_fba,
)
from opayo_fba.convert.orders_v0 import order_from_orders_v0
from opayo_fba.model import FBA_ADDRESS_LIMITS, Address, Money, Order, OrderLine

SPEEDS = ["Standard", "Expedited", "Priority"]
words = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "Zs", "P"]),
    min_size=1,
    max_size=90,
).filter(lambda s: s.strip())


@st.composite
def addresses(draw: st.DrawFn) -> Address:
    country, postcode = draw(
        st.sampled_from(
            [("GB", "SW1A 1AA"), ("US", "98121-2778"), ("DE", "10115"), ("FR", "75001")]
        )
    )
    return Address(
        country_code=country,
        name=draw(words),
        company=draw(st.none() | words),
        line1=draw(words),
        line2=draw(st.none() | words),
        city=draw(words),
        state_or_region=draw(st.none() | words),
        postal_code=postcode,
        phone=draw(st.none() | st.from_regex(r"\+?[0-9 ]{6,30}", fullmatch=True)),
    )


@st.composite
def orders(draw: st.DrawFn) -> Order:
    currency = draw(st.sampled_from(["GBP", "EUR", "USD", "JPY"]))
    line_count = draw(st.integers(min_value=1, max_value=8))
    lines = [
        OrderLine(
            line_id=f"L{index}",
            sku=draw(st.from_regex(r"[A-Z0-9-]{1,50}", fullmatch=True)),
            quantity=draw(st.integers(min_value=1, max_value=30)),
            unit_price=Money(amount=draw(st.integers(0, 10**7)), currency=currency),
        )
        for index in range(line_count)
    ]
    return Order(
        order_id=draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}", fullmatch=True)),
        channel="web",
        placed_at=draw(
            st.datetimes(
                min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
                max_value=datetime(2030, 1, 1),  # noqa: DTZ001
                timezones=st.just(UTC),
            )
        ),
        currency=currency,
        shipping_address=draw(addresses()),
        lines=tuple(lines),
        shipping_speed=draw(st.sampled_from(SPEEDS)),
        comment=draw(st.none() | st.text(max_size=900)),
    )


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(order=orders(), action=st.sampled_from(["Ship", "Hold"]))
def test_generated_bodies_validate_against_the_official_schema(order: Order, action: str) -> None:
    request = create_fulfillment_order_request(
        order,
        action=action,  # type: ignore[arg-type]
        marketplace_id="A1F83G8C2ARO7P",
        notification_emails=["ops@example.com"],
        allow_truncation=True,
    )
    validate_request_body("createFulfillmentOrder", request.body)
    address = request.body["destinationAddress"]
    assert isinstance(address, dict)
    for field, value in address.items():
        assert isinstance(value, str)
        assert len(value) <= FBA_ADDRESS_LIMITS[field], field


def test_the_rendered_address_uses_only_amazon_address_fields() -> None:
    properties = set(
        load_model("fulfillmentOutbound_2020-07-01")["definitions"]["Address"]["properties"]
    )
    assert set(FBA_ADDRESS_LIMITS) <= properties


def test_the_orders_v0_example_becomes_a_valid_fulfillment_order() -> None:
    paths = load_model("ordersV0")["paths"]

    def payload(path: str) -> dict[str, Any]:
        example = paths[path]["get"]["responses"]["200"]["x-amzn-api-sandbox"]["static"][0]
        result: dict[str, Any] = example["response"]["payload"]
        return result

    order = order_from_orders_v0(
        payload("/orders/v0/orders/{orderId}"),
        payload("/orders/v0/orders/{orderId}/orderItems")["OrderItems"],
        shipping_address=payload("/orders/v0/orders/{orderId}/address"),
    )
    request = create_fulfillment_order_request(order, allow_truncation=True)
    validate_request_body("createFulfillmentOrder", request.body)
    assert [a.field for a in request.adjustments] == ["phone"]  # "+1 480-386-0930 ext. 73824"


def test_the_schema_check_bites() -> None:
    """A body the converter would never produce is refused, so the tests above mean something."""
    with pytest.raises(ContractError, match="sellerFulfillmentOrderId"):
        validate_request_body(
            "createFulfillmentOrder",
            {
                "sellerFulfillmentOrderId": "x" * 41,
                "displayableOrderId": "x",
                "displayableOrderDate": "2026-11-28T09:15:00Z",
                "displayableOrderComment": "x",
                "shippingSpeedCategory": "Standard",
                "destinationAddress": {
                    "name": "x", "addressLine1": "x", "postalCode": "x", "countryCode": "GB",
                },
                "items": [],
            },
        )  # fmt: skip


def test_a_valid_get_fulfillment_order_response_converts() -> None:
    payload = {
        "fulfillmentOrder": {
            "sellerFulfillmentOrderId": "W-1001",
            "marketplaceId": "A1F83G8C2ARO7P",
            "displayableOrderId": "W-1001",
            "displayableOrderDate": "2026-11-28T09:15:00Z",
            "displayableOrderComment": "Thank you for your order.",
            "shippingSpeedCategory": "Standard",
            "destinationAddress": {
                "name": "Jane Doe",
                "addressLine1": "88 Acacia Avenue",
                "postalCode": "SW1A 1AA",
                "countryCode": "GB",
            },
            "fulfillmentAction": "Ship",
            "fulfillmentOrderStatus": "CompletePartialled",
            "receivedDate": "2026-11-28T09:16:00Z",
            "statusUpdatedDate": "2026-11-30T08:00:00Z",
        },
        "fulfillmentOrderItems": [
            {
                "sellerSku": "AMZ-A",
                "sellerFulfillmentOrderItemId": "1",
                "quantity": 2,
                "cancelledQuantity": 1,
                "unfulfillableQuantity": 0,
            }
        ],
        "fulfillmentShipments": [
            {
                "amazonShipmentId": "DnPb1ZGvN",
                "fulfillmentCenterId": "LTN1",
                "fulfillmentShipmentStatus": "SHIPPED",
                "shippingDate": "2026-11-29T11:00:00Z",
                "fulfillmentShipmentItem": [
                    {"sellerSku": "AMZ-A", "sellerFulfillmentOrderItemId": "1", "quantity": 1,
                     "packageNumber": 1}
                ],
                "fulfillmentShipmentPackage": [
                    {"packageNumber": 1, "carrierCode": "Royal Mail", "trackingNumber": "RM1GB",
                     "estimatedArrivalDate": "2026-12-01T18:00:00Z"}
                ],
            }
        ],
        "returnItems": [],
        "returnAuthorizations": [],
    }  # fmt: skip
    validate_response("getFulfillmentOrder", 200, {"payload": payload})
    fulfillment = fulfillment_order_from_fba(payload, order_id="W-1001")
    assert fulfillment.seller_fulfillment_order_id == "W-1001"
    assert fulfillment.status == "CompletePartialled"
    assert fulfillment.tracking_numbers() == ["RM1GB"]
    package = fulfillment.shipments[0].packages[0]
    assert package.estimated_arrival_at == datetime(2026, 12, 1, 18, tzinfo=UTC)
