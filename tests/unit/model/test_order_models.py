"""Order, PaymentTransaction, Refund and FulfillmentOrder: validation names the field, JSON
round-trips, one currency per order, UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from opayo_fba.model import (
    Address,
    FulfillmentOrder,
    Money,
    Order,
    OrderLine,
    PaymentState,
    PaymentTransaction,
    Refund,
)


def gbp(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "GBP"}


def order_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_id": "W-1001",
        "channel": "web",
        "placed_at": "2026-11-28T10:15:00+01:00",
        "currency": "GBP",
        "customer": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "shipping_address": {
            "name": "Jane Doe",
            "line1": "88 Acacia Avenue",
            "city": "London",
            "postal_code": "SW1A 1AA",
            "country_code": "GB",
        },
        "lines": [
            {"sku": "WIDGET-RED", "quantity": 2, "unit_price": gbp(1250), "tax": gbp(500)},
            {"sku": "GADGET", "quantity": 1, "unit_price": gbp(999), "discount": gbp(100)},
        ],
        "custom_fields": {"erp_customer": "C-42", "gift": True},
    }
    data.update(changes)
    return data


def error_locations(error: ValidationError) -> list[tuple[int | str, ...]]:
    return [tuple(e["loc"]) for e in error.errors()]


def test_order_validates_and_round_trips_through_json() -> None:
    order = Order.model_validate(order_data())
    assert order.placed_at == datetime(2026, 11, 28, 9, 15, tzinfo=UTC)
    assert order.placed_at.tzinfo is UTC
    assert order.goods_total() == Money(amount=3499, currency="GBP")
    assert order.amount_due() == Money(amount=3899, currency="GBP")
    assert Order.model_validate_json(order.model_dump_json()) == order


def test_stated_totals_win_over_computed() -> None:
    order = Order.model_validate(order_data(totals={"grand_total": gbp(4000)}))
    assert order.amount_due() == Money(amount=4000, currency="GBP")


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"order_id": ""}, ("order_id",)),
        ({"order_id": "has space"}, ("order_id",)),
        ({"channel": "carrier-pigeon"}, ("channel",)),
        ({"placed_at": "2026-11-28T10:15:00"}, ("placed_at",)),
        ({"currency": "XXX"}, ("currency",)),
        ({"customer": {"email": "not-an-email"}}, ("customer", "email")),
        ({"shipping_address": {"country_code": "Nowhere"}}, ("shipping_address", "country_code")),
        (
            {"shipping_address": {"country_code": "GB", "postal_code": "123"}},
            ("shipping_address", "postal_code"),
        ),
        (
            {"lines": [{"sku": "A", "quantity": -1, "unit_price": gbp(1)}]},
            ("lines", 0, "quantity"),
        ),
        (
            {"lines": [{"sku": "A", "quantity": 1.5, "unit_price": gbp(1)}]},
            ("lines", 0, "quantity"),
        ),
        (
            {
                "lines": [
                    {"sku": "A", "quantity": 1, "unit_price": {"amount": 1.5, "currency": "GBP"}}
                ]
            },
            ("lines", 0, "unit_price", "amount"),
        ),
        (
            {"lines": [{"sku": "A", "quantity": 1, "unit_price": gbp(1), "asin": "short"}]},
            ("lines", 0, "asin"),
        ),
        ({"surprise": 1}, ("surprise",)),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, Any], location: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        Order.model_validate(order_data(**changes))
    assert location in error_locations(info.value)


def test_an_order_has_one_currency() -> None:
    eur_line = {"sku": "A", "quantity": 1, "unit_price": {"amount": 1, "currency": "EUR"}}
    with pytest.raises(ValidationError, match="an order has one currency"):
        Order.model_validate(order_data(lines=[eur_line]))
    with pytest.raises(ValidationError, match="a line has one currency"):
        OrderLine.model_validate(
            {
                "sku": "A",
                "quantity": 1,
                "unit_price": gbp(1),
                "tax": {"amount": 1, "currency": "EUR"},
            }
        )
    with pytest.raises(ValidationError, match="currency is required"):
        Order.model_validate(order_data(currency=None))


def test_line_total_and_unpriced_lines() -> None:
    line = OrderLine(
        sku="A",
        quantity=3,
        unit_price=Money(amount=333, currency="GBP"),
        line_total=Money(amount=1000, currency="GBP"),
    )
    assert line.total == Money(amount=1000, currency="GBP")
    unpriced = OrderLine(sku="A", quantity=1, unit_price=None)
    assert unpriced.total is None
    order = Order.model_validate(order_data(lines=[unpriced.model_dump()], currency=None))
    with pytest.raises(ValueError, match="unpriced"):
        order.goods_total()


def test_models_are_frozen() -> None:
    order = Order.model_validate(order_data())
    with pytest.raises(ValidationError):
        order.order_id = "other"  # type: ignore[misc]


def pi_payment(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "provider": "pi",
        "vendor_tx_code": "W-1001-1",
        "transaction_id": "0E2A9C7D-5B7A-4F48-8E2E-7D1F2C3B4A5F",
        "transaction_type": "Deferred",
        "status": "Ok",
        "state": "authorised",
        "amount": gbp(3899),
        "card": {"card_type": "Visa", "last_four_digits": "0006", "expiry_date": "1229"},
        "avs_cv2": {"summary": "AllMatched", "address": "Matched"},
        "created_at": "2026-11-28T09:15:00Z",
    }
    data.update(changes)
    return data


def test_payment_transaction_round_trips() -> None:
    payment = PaymentTransaction.model_validate(pi_payment())
    assert payment.state is PaymentState.AUTHORISED
    assert PaymentTransaction.model_validate_json(payment.model_dump_json()) == payment


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "OK"}, "is not an Opayo pi status"),
        ({"provider": "server", "status": "Ok"}, "is not an Opayo server status"),
        ({"vendor_tx_code": "x" * 41}, "at most 40"),
        ({"vendor_tx_code": "bad code!"}, "pattern"),
        ({"card": {"last_four_digits": "4929000000006"}}, "pattern"),
        ({"provider": "server", "status": "OK", "instruction": "release"}, "Pi transactions only"),
    ],
)
def test_payment_transaction_refuses_bad_input(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PaymentTransaction.model_validate(pi_payment(**changes))


def test_refund_needs_a_positive_amount() -> None:
    data = {
        "order_id": "W-1001",
        "vendor_tx_code": "W-1001-R1",
        "reference_transaction_id": "T-1",
        "amount": gbp(100),
    }
    assert Refund.model_validate(data).status == "pending"
    with pytest.raises(ValidationError, match="amount must be positive"):
        Refund.model_validate({**data, "amount": gbp(0)})


def test_fulfillment_order_tracking_numbers() -> None:
    fulfillment = FulfillmentOrder.model_validate(
        {
            "seller_fulfillment_order_id": "W-1001",
            "order_id": "W-1001",
            "status": "Complete",
            "shipping_speed": "Standard",
            "destination": Address(country_code="GB").model_dump(),
            "shipments": [
                {
                    "amazon_shipment_id": "D1",
                    "fulfillment_center_id": "LTN1",
                    "status": "SHIPPED",
                    "packages": [
                        {"package_number": 1, "carrier_code": "RM", "tracking_number": "AB1GB"},
                        {"package_number": 2, "carrier_code": "RM"},
                    ],
                }
            ],
        }
    )
    assert fulfillment.tracking_numbers() == ["AB1GB"]
    with pytest.raises(ValidationError) as info:
        FulfillmentOrder.model_validate(
            {"seller_fulfillment_order_id": "x" * 41, "status": "Done", "shipping_speed": "Fast"}
        )
    assert {loc[0] for loc in error_locations(info.value)} == {
        "seller_fulfillment_order_id",
        "status",
        "shipping_speed",
    }
