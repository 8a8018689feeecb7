"""Pi REST over real HTTP: session keys, card identifiers, transactions and their outcomes."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from sandbox.opayo.cards import TEST_CARDS
from tests.fixtures.opayo_sandbox import MASTERCARD, VISA, VISA_DEBIT, OpayoSandboxHandle

pytestmark = pytest.mark.integration


def test_merchant_session_key_needs_basic_auth_and_the_vendor(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    url = f"{opayo_sandbox.pi_url}/merchant-session-keys"
    missing = httpx.post(url, json={"vendorName": "sandbox"})
    assert missing.status_code == 401
    assert missing.json() == {"code": 1001, "description": "Authentication values are missing"}
    wrong = httpx.post(url, json={"vendorName": "sandbox"}, auth=("sandbox-integration-key", "no"))
    assert wrong.status_code == 401
    assert wrong.json()["description"] == "Authentication failed"
    other_vendor = opayo_sandbox.client.post(
        "/api/v1/merchant-session-keys", json={"vendorName": "someone-else"}
    )
    assert other_vendor.status_code == 403
    ok = opayo_sandbox.client.post("/api/v1/merchant-session-keys", json={"vendorName": "sandbox"})
    assert ok.status_code == 201
    body = ok.json()
    assert len(body["merchantSessionKey"]) == 32
    expiry = body["expiry"]
    assert expiry == (opayo_sandbox.now() + timedelta(seconds=400)).isoformat()


@pytest.mark.parametrize(
    ("card", "card_type"), [(card.number, card.pi_type) for card in TEST_CARDS.values()]
)
def test_published_test_cards_get_identifiers(
    opayo_sandbox: OpayoSandboxHandle, card: str, card_type: str
) -> None:
    key = opayo_sandbox.merchant_session_key()
    response = httpx.post(
        f"{opayo_sandbox.pi_url}/card-identifiers",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "cardDetails": {
                "cardholderName": "Sam Jones",
                "cardNumber": card,
                "expiryDate": "1230",
                "securityCode": "123",
            }
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["cardType"] == card_type


@pytest.mark.parametrize(
    ("details", "property_name"),
    [
        (
            {"cardNumber": "4111111111111111"},
            "cardDetails.cardNumber",
        ),  # real-looking, not a test card
        ({"cardNumber": "4929000000007"}, "cardDetails.cardNumber"),  # fails Luhn
        ({"expiryDate": "0125"}, "cardDetails.expiryDate"),  # before the sandbox clock
        ({"expiryDate": "1330"}, "cardDetails.expiryDate"),
        ({"securityCode": "12a"}, "cardDetails.securityCode"),
        ({"cardNumber": None}, "cardDetails.cardNumber"),
    ],
)
def test_bad_card_details_name_the_property(
    opayo_sandbox: OpayoSandboxHandle, details: dict[str, object], property_name: str
) -> None:
    key = opayo_sandbox.merchant_session_key()
    card = {
        "cardholderName": "Sam",
        "cardNumber": VISA,
        "expiryDate": "1230",
        "securityCode": "123",
    }
    card.update(details)  # type: ignore[arg-type]
    response = httpx.post(
        f"{opayo_sandbox.pi_url}/card-identifiers",
        headers={"Authorization": f"Bearer {key}"},
        json={"cardDetails": card},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["property"] == property_name


def test_card_identifier_needs_a_live_session_key(opayo_sandbox: OpayoSandboxHandle) -> None:
    key = opayo_sandbox.merchant_session_key()
    opayo_sandbox.advance(401)
    response = httpx.post(
        f"{opayo_sandbox.pi_url}/card-identifiers",
        headers={"Authorization": f"Bearer {key}"},
        json={"cardDetails": {"cardholderName": "S", "cardNumber": VISA, "expiryDate": "1230"}},
    )
    assert response.status_code == 401
    assert "expired" in response.json()["description"]


def test_no_card_number_is_kept(opayo_sandbox: OpayoSandboxHandle) -> None:
    payment = opayo_sandbox.pay(card=MASTERCARD)
    assert payment["paymentMethod"]["card"] == {
        "cardType": "MasterCard",
        "lastFourDigits": "0001",
        "expiryDate": "1230",
    }
    dumped = json.dumps(
        {
            kind: opayo_sandbox.app.state.opayo.state.store.all(kind)
            for kind in (
                "transaction",
                "card_identifier",
                "merchant_session_key",
                "notification",
                "batch",
            )
        }
    )
    assert MASTERCARD not in dumped
    assert "540400000000" not in dumped  # not even most of it
    assert '"securityCode": "123"' not in dumped


def test_card_identifier_expires_after_400_sandbox_seconds(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    body = opayo_sandbox.transaction_body()
    opayo_sandbox.advance(399)
    fresh = opayo_sandbox.create_transaction(body)
    assert fresh.status_code == 201
    stale_body = opayo_sandbox.transaction_body()
    opayo_sandbox.advance(400)
    stale = opayo_sandbox.create_transaction(stale_body)
    assert stale.status_code == 422
    error = stale.json()["errors"][0]
    # The session key expires at the same moment; either way the card can no longer be used.
    assert error["property"] in (
        "paymentMethod.card.cardIdentifier",
        "paymentMethod.card.merchantSessionKey",
    )
    assert (
        opayo_sandbox.client.get("/_sandbox/transactions").json()["transactions"][0]["vendorTxCode"]
        == body["vendorTxCode"]
    )
    assert len(opayo_sandbox.client.get("/_sandbox/transactions").json()["transactions"]) == 1


def test_card_identifier_is_single_use(opayo_sandbox: OpayoSandboxHandle) -> None:
    body = opayo_sandbox.transaction_body()
    assert opayo_sandbox.create_transaction(body).status_code == 201
    again = opayo_sandbox.create_transaction({**body, "vendorTxCode": "another-code"})
    assert again.status_code == 422
    assert again.json()["errors"][0]["description"] == "The card identifier has already been used"


def test_payment_is_created_and_readable(opayo_sandbox: OpayoSandboxHandle) -> None:
    body = opayo_sandbox.transaction_body("Payment", 1999)
    response = opayo_sandbox.create_transaction(body)
    assert response.status_code == 201
    created = response.json()
    assert created["status"] == "Ok"
    assert created["statusCode"] == "0000"
    assert created["amount"] == {"totalAmount": 1999, "saleAmount": 1999, "surchargeAmount": 0}
    assert created["avsCvcCheck"]["status"] == "AllMatched"
    assert created["bankAuthorisationCode"] == "999777"
    fetched = opayo_sandbox.client.get(f"/api/v1/transactions/{created['transactionId']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    state = opayo_sandbox.sandbox_transaction(body["vendorTxCode"])
    assert state["captureCount"] == 1
    assert state["capturedAmount"] == 1999


def test_get_unknown_transaction_is_404(opayo_sandbox: OpayoSandboxHandle) -> None:
    response = opayo_sandbox.client.get("/api/v1/transactions/0000-NOPE")
    assert response.status_code == 404
    assert response.json()["description"] == "Transaction not found"
    assert httpx.get(f"{opayo_sandbox.pi_url}/transactions/x").status_code == 401


def test_deferred_holds_without_capture(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 5000, vendor_tx_code="deferred-1")
    assert deferred["transactionType"] == "Deferred"
    state = opayo_sandbox.sandbox_transaction("deferred-1")
    assert state["captureCount"] == 0
    assert state["released"] is False


def test_amount_as_string_is_rejected_naming_the_property(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    body = opayo_sandbox.transaction_body(amount=1000)
    body["amount"] = "1000"
    response = opayo_sandbox.create_transaction(body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["property"] for e in errors] == ["amount"]
    assert "integer" in errors[0]["description"]
    assert opayo_sandbox.client.get("/_sandbox/transactions").json()["transactions"] == []


@pytest.mark.parametrize(
    ("change", "property_name"),
    [
        ({"amount": 10.5}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 0}, "amount"),
        ({"currency": "XXX"}, "currency"),
        ({"vendorTxCode": "x" * 41}, "vendorTxCode"),
        ({"description": "d" * 101}, "description"),
        ({"transactionType": "Sale"}, "transactionType"),
        ({"customerFirstName": None}, "customerFirstName"),
        ({"billingAddress": {"city": "London", "country": "GB"}}, "billingAddress.address1"),
        ({"entryMethod": "Telepathy"}, "entryMethod"),
    ],
)
def test_invalid_fields_are_422_naming_the_property(
    opayo_sandbox: OpayoSandboxHandle, change: dict[str, object], property_name: str
) -> None:
    body = {**opayo_sandbox.transaction_body(), **change}
    response = opayo_sandbox.create_transaction(body)
    assert response.status_code == 422
    assert property_name in [e["property"] for e in response.json()["errors"]]
    assert opayo_sandbox.client.get("/_sandbox/transactions").json()["transactions"] == []


def test_malformed_body_is_400(opayo_sandbox: OpayoSandboxHandle) -> None:
    response = opayo_sandbox.client.post(
        "/api/v1/transactions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"code": 1000, "description": "Malformed request: invalid JSON"}
    listed = opayo_sandbox.client.post("/api/v1/transactions", json=[1, 2])
    assert listed.status_code == 400


def test_duplicate_vendor_tx_code_is_rejected(opayo_sandbox: OpayoSandboxHandle) -> None:
    opayo_sandbox.pay(vendor_tx_code="order-42")
    again = opayo_sandbox.create_transaction(
        opayo_sandbox.transaction_body(vendor_tx_code="order-42")
    )
    assert again.status_code == 422
    assert again.json()["errors"][0]["property"] == "vendorTxCode"
    listed = opayo_sandbox.client.get("/_sandbox/transactions").json()["transactions"]
    assert len(listed) == 1


@pytest.mark.parametrize(
    ("amount", "http_status", "status", "status_code"),
    [
        (1999, 201, "Ok", "0000"),
        (40300, 403, "NotAuthed", "2000"),
        (40301, 403, "Rejected", "2001"),
        (50000, 500, "Error", "5003"),
    ],
)
def test_magic_amounts_give_deterministic_outcomes(
    opayo_sandbox: OpayoSandboxHandle, amount: int, http_status: int, status: str, status_code: str
) -> None:
    body = opayo_sandbox.transaction_body("Payment", amount)
    response = opayo_sandbox.create_transaction(body)
    assert response.status_code == http_status
    assert response.json()["status"] == status
    assert response.json()["statusCode"] == status_code
    state = opayo_sandbox.sandbox_transaction(body["vendorTxCode"])
    assert state["captureCount"] == (1 if status == "Ok" else 0)


def test_forced_avs_cv2_check_rejects_a_wrong_security_code(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    key, identifier = opayo_sandbox.card_identifier(security_code="999")
    body = opayo_sandbox.transaction_body(applyAvsCvcCheck="Force")
    body["paymentMethod"]["card"] = {"merchantSessionKey": key, "cardIdentifier": identifier}
    response = opayo_sandbox.create_transaction(body)
    assert response.status_code == 403
    assert response.json()["status"] == "Rejected"
    assert response.json()["avsCvcCheck"]["securityCode"] == "NotMatched"


def test_repeat_charges_the_card_of_the_original(opayo_sandbox: OpayoSandboxHandle) -> None:
    original = opayo_sandbox.pay(card=VISA_DEBIT)
    response = opayo_sandbox.create_transaction(
        {
            "transactionType": "Repeat",
            "referenceTransactionId": original["transactionId"],
            "vendorTxCode": "repeat-1",
            "amount": 700,
            "currency": "GBP",
            "description": "Monthly box",
        }
    )
    assert response.status_code == 201, response.text
    assert response.json()["transactionType"] == "Repeat"
    assert response.json()["paymentMethod"]["card"]["lastFourDigits"] == "0003"
    missing = opayo_sandbox.create_transaction(
        {
            "transactionType": "Repeat",
            "vendorTxCode": "repeat-2",
            "amount": 700,
            "currency": "GBP",
            "description": "x",
        }
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["property"] == "referenceTransactionId"
    # Elavon: a REPEAT may be for another amount and currency than the original.
    other_currency = opayo_sandbox.create_transaction(
        {
            "transactionType": "Repeat",
            "referenceTransactionId": original["transactionId"],
            "vendorTxCode": "repeat-3",
            "amount": 700,
            "currency": "EUR",
            "description": "x",
        }
    )
    assert other_currency.status_code == 201, other_currency.text
    assert other_currency.json()["currency"] == "EUR"


def _repeat(opayo_sandbox: OpayoSandboxHandle, reference: str, code: str) -> httpx.Response:
    return opayo_sandbox.create_transaction(
        {
            "transactionType": "Repeat",
            "referenceTransactionId": reference,
            "vendorTxCode": code,
            "amount": 1999,
            "currency": "GBP",
            "description": "Order again",
        }
    )


def test_a_deferred_is_repeated_only_once_released(opayo_sandbox: OpayoSandboxHandle) -> None:
    """Elavon: REPEAT follows a PAYMENT or a RELEASED Deferred; not one held or aborted."""
    held = opayo_sandbox.pay("Deferred")["transactionId"]
    refused = _repeat(opayo_sandbox, held, "rpt-held")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["property"] == "referenceTransactionId"
    aborted = opayo_sandbox.pay("Deferred")["transactionId"]
    assert opayo_sandbox.instruct(aborted, "abort").status_code == 201
    assert _repeat(opayo_sandbox, aborted, "rpt-aborted").status_code == 422
    released = opayo_sandbox.pay("Deferred")["transactionId"]
    assert opayo_sandbox.instruct(released, "release", 1999).status_code == 201
    repeat = _repeat(opayo_sandbox, released, "rpt-released")
    assert repeat.status_code == 201, repeat.text
    assert repeat.json()["transactionType"] == "Repeat"
    assert repeat.json()["status"] == "Ok"
