"""Opayo Server notification fields -> PaymentTransaction."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from opayo_fba.convert.opayo_server import (
    ServerNotificationError,
    payment_from_server_notification,
    unsigned_contradictions,
)
from opayo_fba.model import Money, PaymentState, PaymentTransaction, TransactionType

AMOUNT = Money(amount=3899, currency="GBP")
REGISTERED = PaymentTransaction(
    provider="server",
    vendor_tx_code="W-1001-1",
    transaction_id="{8B5E2A41-1C7F-4A3B-9D0E-2F6A7B8C9D0E}",
    transaction_type=TransactionType.DEFERRED,
    status="REGISTERED",
    state=PaymentState.PENDING,
    amount=AMOUNT,
)
FIELDS = {
    "VPSProtocol": "4.00",
    "TxType": "DEFERRED",
    "VendorTxCode": "W-1001-1",
    "VPSTxId": "{8B5E2A41-1C7F-4A3B-9D0E-2F6A7B8C9D0E}",
    "Status": "OK",
    "StatusDetail": "0000 : The Authorisation was Successful.",
    "TxAuthNo": "9155",
    "AVSCV2": "ALL MATCH",
    "AddressResult": "MATCHED",
    "PostCodeResult": "MATCHED",
    "CV2Result": "MATCHED",
    "3DSecureStatus": "OK",
    "CardType": "VISA",
    "Last4Digits": "0006",
    "ExpiryDate": "1229",
    "Surcharge": "0.00",
    "Token": "",
    "VPSSignature": "ABCDEF",
}


def test_deferred_ok_is_authorised() -> None:
    payment = payment_from_server_notification(FIELDS, registered=REGISTERED, order_id="W-1001")
    assert payment.provider == "server"
    assert payment.state is PaymentState.AUTHORISED
    assert payment.transaction_id == "{8B5E2A41-1C7F-4A3B-9D0E-2F6A7B8C9D0E}"
    assert payment.auth_code == "9155"
    assert payment.tx_auth_no == "9155"  # what the Shared Protocol posts quote back
    assert payment.surcharge is None
    assert payment.avs_cv2 is not None
    assert payment.avs_cv2.summary == "ALL MATCH"
    assert payment.card is not None
    assert payment.card.last_four_digits == "0006"
    assert "Token" not in payment.model_dump_json()


@pytest.mark.parametrize(
    ("status", "tx_type", "state"),
    [
        ("OK", "PAYMENT", PaymentState.CAPTURED),
        ("NOTAUTHED", "PAYMENT", PaymentState.DECLINED),
        ("ABORT", "DEFERRED", PaymentState.FAILED),
        ("AUTHENTICATED", "AUTHENTICATE", PaymentState.AUTHENTICATED),
        ("REGISTERED", "AUTHENTICATE", PaymentState.PENDING),
        ("OK", "TOKEN", PaymentState.NONE),
    ],
)
def test_statuses_map(status: str, tx_type: str, state: PaymentState) -> None:
    fields = FIELDS | {"Status": status, "TxType": tx_type}
    registered = REGISTERED.model_copy(update={"transaction_type": TransactionType.parse(tx_type)})
    assert payment_from_server_notification(fields, registered=registered).state is state


@pytest.mark.parametrize("forged", ["PAYMENT", "Payment", "TOKEN", "AUTHENTICATE", "GIFT", ""])
def test_type_and_amount_come_from_the_registration_not_the_unsigned_txtype(forged: str) -> None:
    fields = FIELDS | {"TxType": forged}
    payment = payment_from_server_notification(fields, registered=REGISTERED)
    assert payment.transaction_type is TransactionType.DEFERRED
    assert payment.state is PaymentState.AUTHORISED  # a Deferred OK: authorised, not captured
    assert payment.amount == AMOUNT


def test_an_unsigned_txtype_that_contradicts_the_registration_is_reported() -> None:
    assert unsigned_contradictions(FIELDS, REGISTERED) == ()
    assert unsigned_contradictions(FIELDS | {"TxType": "Deferred"}, REGISTERED) == ()
    assert unsigned_contradictions(FIELDS | {"TxType": ""}, REGISTERED) == ()
    [contradiction] = unsigned_contradictions(FIELDS | {"TxType": "PAYMENT"}, REGISTERED)
    assert "says Payment" in contradiction
    assert "registered as Deferred" in contradiction
    # A value outside Opayo's vocabulary is not repeated (it could be anything, a PAN too).
    [unknown] = unsigned_contradictions(FIELDS | {"TxType": "4929000000006"}, REGISTERED)
    assert "4929000000006" not in unknown
    assert "unknown transaction type" in unknown


def test_surcharge_is_read_in_the_amount_currency() -> None:
    payment = payment_from_server_notification(
        FIELDS | {"Surcharge": "1.50"}, registered=REGISTERED
    )
    assert payment.surcharge == Money(amount=150, currency="GBP")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Status": "Ok"}, "Status 'Ok' is not an Opayo Server status"),
        ({"Status": ""}, "Status is missing"),
        ({"VPSTxId": ""}, "VPSTxId is missing"),
        ({"Surcharge": "1.234"}, "Surcharge"),
    ],
)
def test_bad_notifications_name_the_field(change: dict[str, str], message: str) -> None:
    with pytest.raises(ServerNotificationError, match=message):
        payment_from_server_notification(FIELDS | change, registered=REGISTERED)


def test_bad_vendor_tx_code_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        payment_from_server_notification(FIELDS | {"VendorTxCode": "x" * 41}, registered=REGISTERED)
    assert info.value.errors()[0]["loc"] == ("vendor_tx_code",)
