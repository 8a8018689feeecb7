"""Opayo Pi transaction JSON -> PaymentTransaction; canonical -> Pi request bodies."""

from __future__ import annotations

from typing import Any

import pytest

from opayo_fba.convert.opayo_pi import (
    PiConversionError,
    payment_from_pi,
    pi_instruction_body,
    pi_refund_request,
    pi_transaction_request,
)
from opayo_fba.model import Money, Order, PaymentState, PiInstruction, Refund

PI_DEFERRED_OK: dict[str, Any] = {
    "statusCode": "0000",
    "statusDetail": "The Authorisation was Successful.",
    "transactionId": "D2A2B6B2-9B7F-4A29-8A2B-6F0F7C9E1A11",
    "transactionType": "Deferred",
    "retrievalReference": 13258421,
    "bankResponseCode": "00",
    "bankAuthorisationCode": "999778",
    "paymentMethod": {"card": {"cardType": "Visa", "lastFourDigits": "0006", "expiryDate": "1229"}},
    "amount": {"totalAmount": 3899, "saleAmount": 3899, "surchargeAmount": 0},
    "currency": "GBP",
    "status": "Ok",
    "avsCvcCheck": {
        "status": "AllMatched",
        "address": "Matched",
        "postalCode": "Matched",
        "securityCode": "Matched",
    },
    "3DSecure": {"status": "Authenticated"},
}


def test_deferred_ok_becomes_an_authorised_payment() -> None:
    payment = payment_from_pi(PI_DEFERRED_OK, vendor_tx_code="W-1001-1", order_id="W-1001")
    assert payment.provider == "pi"
    assert payment.state is PaymentState.AUTHORISED
    assert payment.amount == Money(amount=3899, currency="GBP")
    assert payment.surcharge is None
    assert payment.auth_code == "999778"
    assert payment.retrieval_reference == "13258421"
    assert payment.avs_cv2 is not None
    assert payment.avs_cv2.summary == "AllMatched"
    assert payment.avs_cv2.security_code == "Matched"
    assert payment.three_d_secure_status == "Authenticated"
    assert payment.card is not None
    assert payment.card.last_four_digits == "0006"
    assert payment.status_code == "0000"


def test_released_deferred_is_captured() -> None:
    payment = payment_from_pi(
        PI_DEFERRED_OK, vendor_tx_code="W-1001-1", instruction=PiInstruction.RELEASE
    )
    assert payment.state is PaymentState.CAPTURED


def test_decline_without_amount_uses_the_expected_amount() -> None:
    declined = {
        "statusCode": "2000",
        "statusDetail": "The Authorisation was Declined by the bank.",
        "transactionId": "T-2",
        "transactionType": "Payment",
        "status": "NotAuthed",
    }
    with pytest.raises(PiConversionError, match="amount is missing"):
        payment_from_pi(declined, vendor_tx_code="W-2")
    payment = payment_from_pi(
        declined, vendor_tx_code="W-2", expected_amount=Money(amount=100, currency="EUR")
    )
    assert payment.state is PaymentState.DECLINED
    assert payment.amount.currency == "EUR"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "Fine"}, "status"),
        ({"transactionType": "Gift"}, "transactionType"),
        ({"amount": {"totalAmount": "3899"}}, "totalAmount"),
        ({"amount": {"totalAmount": 38.99}}, "totalAmount"),
        ({"currency": "ZZZ"}, "currency"),
    ],
)
def test_bad_pi_response_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        payment_from_pi({**PI_DEFERRED_OK, **change}, vendor_tx_code="W-1")


def order(**changes: Any) -> Order:
    data: dict[str, Any] = {
        "order_id": "W-1001",
        "channel": "web",
        "placed_at": "2026-11-28T09:15:00Z",
        "currency": "GBP",
        "customer": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "billing_address": {
            "name": "Jane Doe",
            "line1": "88",
            "line2": "Acacia Avenue",
            "city": "London",
            "postal_code": "W1A 1AA",
            "country_code": "GB",
        },
        "shipping_address": {
            "name": "John Q Doe",
            "line1": "1 Main Street",
            "city": "New York",
            "state_or_region": "New York",
            "postal_code": "10001",
            "country_code": "US",
        },
        "lines": [{"sku": "A", "quantity": 2, "unit_price": {"amount": 1950, "currency": "GBP"}}],
    }
    data.update(changes)
    return Order.model_validate(data)


def test_deferred_request_body() -> None:
    request = pi_transaction_request(
        order(), vendor_tx_code="W-1001-1", merchant_session_key="MSK", card_identifier="CID"
    )
    assert request.body == {
        "transactionType": "Deferred",
        "vendorTxCode": "W-1001-1",
        "amount": 3900,
        "currency": "GBP",
        "description": "Order W-1001",
        "paymentMethod": {"card": {"merchantSessionKey": "MSK", "cardIdentifier": "CID"}},
        "entryMethod": "Ecommerce",
        "apply3DSecure": "UseMSPSetting",
        "applyAvsCvcCheck": "UseMSPSetting",
        "customerFirstName": "Jane",
        "customerLastName": "Doe",
        "customerEmail": "jane@example.com",
        "billingAddress": {
            "address1": "88",
            "address2": "Acacia Avenue",
            "city": "London",
            "postalCode": "W1A 1AA",
            "country": "GB",
        },
        "shippingDetails": {
            "recipientFirstName": "John Q",
            "recipientLastName": "Doe",
            "shippingAddress1": "1 Main Street",
            "shippingCity": "New York",
            "shippingPostalCode": "10001",
            "shippingCountry": "US",
            "shippingState": "NY",
        },
    }
    assert isinstance(request.body["amount"], int)


def test_repeat_needs_a_reference_and_no_card() -> None:
    request = pi_transaction_request(
        order(), vendor_tx_code="W-1001-2", transaction_type="Repeat", reference_transaction_id="T1"
    )
    assert request.body["referenceTransactionId"] == "T1"
    assert "paymentMethod" not in request.body
    assert "shippingDetails" not in request.body
    with pytest.raises(PiConversionError, match="reference_transaction_id"):
        pi_transaction_request(order(), vendor_tx_code="W-1", transaction_type="Repeat")


@pytest.mark.parametrize(
    ("kwargs", "changes", "message"),
    [
        ({"vendor_tx_code": "x" * 41}, {}, "vendorTxCode"),
        ({"vendor_tx_code": "has space"}, {}, "vendorTxCode"),
        ({"card_identifier": None}, {}, "card_identifier are required"),
        ({"description": "d" * 101}, {}, "description: 101 characters exceed Opayo's limit of 100"),
        ({}, {"customer": {"first_name": "Bartholomew-Maximilian", "last_name": "Doe"}},
         "customerFirstName: 22 characters"),
        ({}, {"customer": None, "billing_address": {"country_code": "GB", "line1": "1 Road",
              "city": "Leeds", "postal_code": "LS1 1AA"}}, "first_name and customer.last_name"),
        ({}, {"billing_address": None, "shipping_address": None}, "billing_address is required"),
        ({}, {"billing_address": {"name": "Jane Doe", "line1": "1 Road", "city": "C" * 41,
              "postal_code": "LS1 1AA", "country_code": "GB"}}, "billingAddress.city"),
        ({}, {"lines": [], "currency": "GBP"}, "amount must be positive"),
    ],
)  # fmt: skip
def test_requests_opayo_would_reject_are_refused(
    kwargs: dict[str, Any], changes: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {
        "vendor_tx_code": "W-1001-1",
        "merchant_session_key": "MSK",
        "card_identifier": "CID",
        **kwargs,
    }
    with pytest.raises(PiConversionError, match=message):
        pi_transaction_request(order(**changes), **arguments)


def test_truncation_is_reported_when_allowed() -> None:
    request = pi_transaction_request(
        order(customer={"first_name": "Bartholomew-Maximilian", "last_name": "Doe"}),
        vendor_tx_code="W-1001-1",
        merchant_session_key="MSK",
        card_identifier="CID",
        description="d" * 120,
        allow_truncation=True,
    )
    assert request.body["customerFirstName"] == "Bartholomew-Maximili"
    assert len(request.body["description"]) == 100  # type: ignore[arg-type]
    assert {a.field for a in request.adjustments} == {"description", "customerFirstName"}


def test_refund_and_instruction_bodies() -> None:
    refund = Refund(
        order_id="W-1001",
        vendor_tx_code="W-1001-R1",
        reference_transaction_id="T1",
        amount=Money(amount=500, currency="GBP"),
        reason="Damaged in transit",
    )
    assert pi_refund_request(refund).body == {
        "transactionType": "Refund",
        "referenceTransactionId": "T1",
        "vendorTxCode": "W-1001-R1",
        "amount": 500,
        "description": "Damaged in transit",
    }
    assert pi_instruction_body(PiInstruction.RELEASE, Money(amount=100, currency="GBP")) == {
        "instructionType": "release",
        "amount": 100,
    }
    assert pi_instruction_body(PiInstruction.ABORT) == {"instructionType": "abort"}
    with pytest.raises(PiConversionError, match="not to void"):
        pi_instruction_body(PiInstruction.VOID, Money(amount=1, currency="GBP"))
