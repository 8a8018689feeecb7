"""Opayo Server notification fields -> PaymentTransaction."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from opayo_fba.model import Money, PaymentState
from opayo_fba.transform.opayo_server import (
    ServerNotificationError,
    payment_from_server_notification,
)

AMOUNT = Money(amount=3899, currency="GBP")
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
    payment = payment_from_server_notification(FIELDS, amount=AMOUNT, order_id="W-1001")
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
    assert payment_from_server_notification(fields, amount=AMOUNT).state is state


def test_surcharge_is_read_in_the_amount_currency() -> None:
    payment = payment_from_server_notification(FIELDS | {"Surcharge": "1.50"}, amount=AMOUNT)
    assert payment.surcharge == Money(amount=150, currency="GBP")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Status": "Ok"}, "Status 'Ok' is not an Opayo Server status"),
        ({"Status": ""}, "Status is missing"),
        ({"TxType": "GIFT"}, "TxType"),
        ({"VPSTxId": ""}, "VPSTxId is missing"),
        ({"Surcharge": "1.234"}, "Surcharge"),
    ],
)
def test_bad_notifications_name_the_field(change: dict[str, str], message: str) -> None:
    with pytest.raises(ServerNotificationError, match=message):
        payment_from_server_notification(FIELDS | change, amount=AMOUNT)


def test_bad_vendor_tx_code_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        payment_from_server_notification(FIELDS | {"VendorTxCode": "x" * 41}, amount=AMOUNT)
    assert info.value.errors()[0]["loc"] == ("vendor_tx_code",)
