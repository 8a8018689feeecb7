"""Canonical model pieces, rendered for Amazon, match the official definitions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opayo_fba.amazon.spapi_models import validate_definition
from opayo_fba.convert.orders_v0 import order_from_orders_v0
from opayo_fba.model import CURRENCY_EXPONENTS, Address, Money, render_fba_address
from opayo_fba.model.status import FbaShipmentStatus

FBA = "fulfillmentOutbound_2020-07-01"


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
)
def test_money_renders_as_fba_money_and_reads_back_from_orders_v0_money(
    amount: int, currency: str
) -> None:
    money = Money(amount=amount, currency=currency)
    fba_money = {"currencyCode": money.currency, "value": money.format()}
    validate_definition(FBA, "Money", fba_money)
    orders_money = {"CurrencyCode": money.currency, "Amount": money.format()}
    validate_definition("ordersV0", "Money", orders_money)
    header = {
        "AmazonOrderId": "026-0000000-0000000",
        "PurchaseDate": "2026-11-28T09:15:00Z",
        "LastUpdateDate": "2026-11-28T09:15:00Z",
        "OrderStatus": "Unshipped",
        "OrderTotal": orders_money,
    }
    order = order_from_orders_v0(header)
    assert order.totals is not None
    assert order.totals.grand_total == money


def test_rendered_address_is_an_fba_address() -> None:
    address = Address(
        country_code="GBR",
        name="Jane Doe",
        company="Acme Ltd",
        line1="88 Acacia Avenue",
        line2="Flat 2",
        line3="Little Hamlet",
        city="London",
        district_or_county="Greater London",
        postal_code="sw1a1aa",
        phone="020 7946 0000",
    )
    rendered = render_fba_address(address)
    validate_definition(FBA, "Address", rendered.fields)
    assert rendered.fields["addressLine3"] == "Flat 2, Little Hamlet"


def test_shipment_statuses_are_the_official_ones() -> None:
    from opayo_fba.amazon.spapi_models import load_model

    shipment = load_model(FBA)["definitions"]["FulfillmentShipment"]["properties"]
    assert {s.value for s in FbaShipmentStatus} == set(
        shipment["fulfillmentShipmentStatus"]["enum"]
    )
