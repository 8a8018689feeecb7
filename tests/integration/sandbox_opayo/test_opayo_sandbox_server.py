"""Server integration over real HTTP: registration, completion as the shopper, and the signed
notifications delivered to a merchant endpoint on loopback (retries, duplicates, reordering)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from opayo_fba.opayo.signatures import verify_vps_signature
from sandbox.opayo.notifications import RETRY_SCHEDULE_SECONDS
from tests.fixtures.opayo_sandbox import (
    MASTERCARD,
    VISA,
    MerchantEndpoint,
    OpayoSandboxHandle,
    wait_until,
)

pytestmark = pytest.mark.integration
REFERENCE_FIELDS = {
    *("VPSProtocol", "TxType", "VendorTxCode", "VPSTxId", "Status", "StatusDetail", "TxAuthNo"),
    *("AVSCV2", "AddressResult", "PostCodeResult", "CV2Result", "GiftAid", "3DSecureStatus"),
    *("CAVV", "AddressStatus", "PayerStatus", "CardType", "Last4Digits", "FraudResponse"),
    *("Surcharge", "DeclineCode", "ExpiryDate", "BankAuthCode", "Token", "VPSSignature"),
    *("ACSTransID", "DSTransID", "SchemeTraceID"),
}


def _lines(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200
    assert "\r\n" in response.text
    return dict(line.split("=", 1) for line in response.text.split("\r\n") if line)


def _registration(notification_url: str, **change: str) -> dict[str, str]:
    form = {
        "VPSProtocol": "4.00",
        "TxType": "DEFERRED",
        "Vendor": "sandbox",
        "VendorTxCode": "srv-1",
        "Amount": "49.99",
        "Currency": "GBP",
        "Description": "Two widgets",
        "NotificationURL": notification_url,
        "BillingSurname": "Jones",
        "BillingFirstnames": "Sam",
        "BillingAddress1": "88 The Road",
        "BillingCity": "London",
        "BillingPostCode": "412",
        "BillingCountry": "GB",
        "DeliverySurname": "Jones",
        "DeliveryFirstnames": "Sam",
        "DeliveryAddress1": "88 The Road",
        "DeliveryCity": "London",
        "DeliveryPostCode": "412",
        "DeliveryCountry": "GB",
    }
    form.update(change)
    return form


def _register(sandbox: OpayoSandboxHandle, url: str, **change: str) -> dict[str, str]:
    response = sandbox.client.post(
        "/gateway/service/vspserver-register.vsp", data=_registration(url, **change)
    )
    return _lines(response)


def _complete(sandbox: OpayoSandboxHandle, vps_tx_id: str, **body: Any) -> httpx.Response:
    return sandbox.client.post(f"/_sandbox/server/{vps_tx_id}/complete", json=body)


def test_registration_answers_opayo_lines(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    reply = _register(opayo_sandbox, opayo_merchant.url)
    assert reply["Status"] == "OK"
    assert reply["StatusDetail"].startswith("2014 : ")
    assert reply["VPSTxId"][0] + reply["VPSTxId"][-1] == "{}"
    assert len(reply["SecurityKey"]) == 10
    assert reply["NextURL"].startswith(opayo_sandbox.url + "/gateway/service/cardselection")
    state = opayo_sandbox.sandbox_transaction("srv-1")
    assert state["amount"] == 4999
    assert state["server"]["status"] == "REGISTERED"
    assert "securityKey" not in state["server"]
    page = httpx.get(reply["NextURL"])
    assert page.status_code == 200
    assert "/complete" in page.text


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"Currency": ""}, "MALFORMED", "Currency"),
        ({"BillingSurname": ""}, "MALFORMED", "BillingSurname"),
        ({"Amount": "12.345"}, "INVALID", "Amount"),
        ({"Amount": "1e3"}, "INVALID", "Amount"),
        ({"Amount": "0.00"}, "INVALID", "Amount"),
        ({"TxType": "REFUND"}, "INVALID", "TxType"),
        ({"Vendor": "other"}, "INVALID", "Vendor"),
        ({"Currency": "XYZ"}, "INVALID", "Currency"),
        ({"NotificationURL": "ftp://x"}, "INVALID", "NotificationURL"),
        ({"VendorTxCode": "v" * 41}, "INVALID", "VendorTxCode"),
    ],
)
def test_bad_registrations_name_the_field(
    opayo_sandbox: OpayoSandboxHandle, change: dict[str, str], status: str, detail: str
) -> None:
    reply = _register(opayo_sandbox, "http://127.0.0.1:9/notify", **change)
    assert reply["Status"] == status
    assert detail in reply["StatusDetail"]
    assert "VPSTxId" not in reply
    assert opayo_sandbox.client.get("/_sandbox/transactions").json()["transactions"] == []


def test_duplicate_vendor_tx_code_across_integrations(opayo_sandbox: OpayoSandboxHandle) -> None:
    opayo_sandbox.pay(vendor_tx_code="shared-code")
    reply = _register(opayo_sandbox, "http://127.0.0.1:9/n", VendorTxCode="shared-code")
    assert reply["Status"] == "INVALID"
    assert reply["StatusDetail"].startswith("4042")


def test_completion_sends_a_correctly_signed_notification(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    reply = _register(opayo_sandbox, opayo_merchant.url)
    done = _complete(opayo_sandbox, reply["VPSTxId"], card=VISA, outcome="OK")
    assert done.status_code == 200, done.text
    received = wait_until(opayo_merchant.snapshot)
    fields = received[0]
    assert set(fields) >= REFERENCE_FIELDS
    assert fields["Status"] == "OK"
    assert fields["TxType"] == "DEFERRED"
    assert fields["VPSTxId"] == reply["VPSTxId"]
    assert fields["VendorTxCode"] == "srv-1"
    assert fields["CardType"] == "VISA"
    assert fields["Last4Digits"] == "0006"
    assert fields["AVSCV2"] == "ALL MATCH"
    assert fields["VPSSignature"] == fields["VPSSignature"].upper()
    assert "SecurityKey" not in fields
    assert verify_vps_signature(fields, vendor_name="sandbox", security_key=reply["SecurityKey"])
    assert not verify_vps_signature(fields, vendor_name="sandbox", security_key="WRONG00000")
    delivered = wait_until(lambda: opayo_sandbox.notifications("srv-1")[0]["delivered"])
    assert delivered is True
    assert opayo_sandbox.notifications("srv-1")[0]["redirectUrl"] == "https://shop.example/done"


def test_pi_refuses_instructions_and_refunds_for_a_server_transaction(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    # Nothing public says Pi manages Server transactions (reference, "Corrections"): refused.
    reply = _register(opayo_sandbox, opayo_merchant.url)
    _complete(opayo_sandbox, reply["VPSTxId"], card=MASTERCARD)
    wait_until(lambda: opayo_sandbox.notifications("srv-1")[0]["delivered"])
    transaction_id = reply["VPSTxId"].strip("{}")
    pi = opayo_sandbox.client.get(f"/api/v1/transactions/{transaction_id}")
    assert pi.status_code == 200
    assert (pi.json()["transactionType"], pi.json()["status"]) == ("Deferred", "Ok")
    for instruction in ("release", "abort"):
        refused = opayo_sandbox.instruct(transaction_id, instruction, None)
        assert refused.status_code == 403
        assert "Shared Protocol" in refused.json()["description"]
    refund = opayo_sandbox.client.post(
        "/api/v1/transactions",
        json={
            "transactionType": "Refund",
            "referenceTransactionId": transaction_id,
            "vendorTxCode": "srv-1-refund",
            "amount": 100,
            "currency": "GBP",
            "description": "refund",
        },
    )
    assert refund.status_code == 422
    assert refund.json()["errors"][0]["property"] == "referenceTransactionId"
    state = opayo_sandbox.sandbox_transaction("srv-1")
    assert (state["capturedAmount"], state["aborted"], state["refundIds"]) == (0, False, [])


def test_unfinished_registration_is_invisible_to_pi(opayo_sandbox: OpayoSandboxHandle) -> None:
    reply = _register(opayo_sandbox, "http://127.0.0.1:9/n")
    response = opayo_sandbox.client.get(f"/api/v1/transactions/{reply['VPSTxId'].strip('{}')}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [("NOTAUTHED", "NOTAUTHED"), ("REJECTED", "REJECTED"), ("ERROR", "ERROR"), ("ABORT", "ABORT")],
)
def test_each_outcome_is_notified(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint, outcome: str, expected: str
) -> None:
    reply = _register(opayo_sandbox, opayo_merchant.url)
    assert _complete(opayo_sandbox, reply["VPSTxId"], card=VISA, outcome=outcome).status_code == 200
    fields = wait_until(opayo_merchant.snapshot)[0]
    assert fields["Status"] == expected
    assert verify_vps_signature(fields, vendor_name="sandbox", security_key=reply["SecurityKey"])
    assert opayo_sandbox.sandbox_transaction("srv-1")["captureCount"] == 0


def test_magic_amount_decides_when_no_outcome_is_given(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    reply = _register(opayo_sandbox, opayo_merchant.url, Amount="403.00", TxType="PAYMENT")
    _complete(opayo_sandbox, reply["VPSTxId"], card=VISA)
    assert wait_until(opayo_merchant.snapshot)[0]["Status"] == "NOTAUTHED"


def test_completion_errors(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    reply = _register(opayo_sandbox, opayo_merchant.url)
    not_a_test_card = _complete(opayo_sandbox, reply["VPSTxId"], card="4111111111111111")
    assert not_a_test_card.status_code == 422
    assert not_a_test_card.json()["property"] == "card"
    bad_outcome = _complete(opayo_sandbox, reply["VPSTxId"], card=VISA, outcome="MAYBE")
    assert bad_outcome.status_code == 422
    assert bad_outcome.json()["property"] == "outcome"
    assert _complete(opayo_sandbox, "{00000000-0000}", card=VISA).status_code == 404
    assert _complete(opayo_sandbox, reply["VPSTxId"], card=VISA).status_code == 200
    twice = _complete(opayo_sandbox, reply["VPSTxId"], card=VISA)
    assert twice.status_code == 409
    assert len(wait_until(opayo_merchant.snapshot)) == 1


def test_only_an_unanswered_notification_is_retried(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    # A 503 with no Status= body, then a 200 whose body does not start with Status=: both
    # are "no valid answer" (reference) and retried; then Status=OK delivers it.
    opayo_merchant.http_status = 503
    opayo_merchant.raw_body = "try again later"
    reply = _register(opayo_sandbox, opayo_merchant.url)
    _complete(opayo_sandbox, reply["VPSTxId"], card=VISA, outcome="OK")
    first = wait_until(lambda: opayo_sandbox.notifications("srv-1")[0]["attempts"])
    assert first[0]["httpStatus"] == 503
    # Retry schedule 5 min, scaled by 0.01 in the fixture: due 3 s later on the sandbox clock.
    record = opayo_sandbox.notifications("srv-1")[0]
    assert record["delivered"] is False
    assert record["nextAttemptAt"] > record["attempts"][0]["at"]
    opayo_merchant.http_status = 200
    opayo_merchant.raw_body = "OK"
    opayo_sandbox.advance(3)
    wait_until(lambda: len(opayo_sandbox.notifications("srv-1")[0]["attempts"]) == 2)
    opayo_merchant.raw_body = None
    opayo_sandbox.advance(3)
    wait_until(lambda: opayo_sandbox.notifications("srv-1")[0]["delivered"])
    received = opayo_merchant.snapshot()
    assert len(received) == 3
    assert received[0] == received[1] == received[2]
    attempts = opayo_sandbox.notifications("srv-1")[0]["attempts"]
    assert [a["answered"] for a in attempts] == [False, False, True]
    assert opayo_sandbox.sandbox_transaction("srv-1")["server"]["vendorReply"] == "OK"


@pytest.mark.parametrize("answer", ["INVALID", "ERROR"])
def test_invalid_or_error_cancels_the_transaction_and_is_never_retried(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint, answer: str
) -> None:
    opayo_merchant.replies = [answer]
    reply = _register(opayo_sandbox, opayo_merchant.url, TxType="PAYMENT")
    _complete(opayo_sandbox, reply["VPSTxId"], card=VISA, outcome="OK")
    notification = wait_until(
        lambda: (
            (found := opayo_sandbox.notifications("srv-1")[0]).get("cancelledByVendor") and found
        )
    )
    assert notification["delivered"] is False
    assert notification["shopperSentTo"] == "https://shop.example/done"
    opayo_sandbox.advance(86400 * 2)  # every retry would be due by now: none is sent
    assert len(opayo_merchant.snapshot()) == 1
    assert len(opayo_sandbox.notifications("srv-1")[0]["attempts"]) == 1
    state = opayo_sandbox.sandbox_transaction("srv-1")
    assert state["server"]["vendorReply"] == answer
    assert state["server"]["vendorCancelled"] is True
    # Not settled: no batch carries it, although a PAYMENT settles at midnight.
    assert all(
        item["vendorTxCode"] != "srv-1"
        for batch in opayo_sandbox.batches()
        for item in batch["items"]
    )


def test_http_errors_and_unreachable_urls_are_retried(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    opayo_merchant.http_status = 500
    reply = _register(opayo_sandbox, opayo_merchant.url)
    _complete(opayo_sandbox, reply["VPSTxId"], card=VISA, outcome="OK")
    wait_until(lambda: opayo_sandbox.notifications("srv-1")[0]["attempts"])
    opayo_merchant.http_status = 200
    opayo_sandbox.advance(3)
    wait_until(lambda: opayo_sandbox.notifications("srv-1")[0]["delivered"])
    unreachable = _register(opayo_sandbox, "http://127.0.0.1:9/nothing", VendorTxCode="srv-2")
    _complete(opayo_sandbox, unreachable["VPSTxId"], card=VISA, outcome="OK")
    attempts = wait_until(lambda: opayo_sandbox.notifications("srv-2")[0]["attempts"])
    assert attempts[0]["ok"] is False
    assert "error" in attempts[0]


def test_duplicated_notifications(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    opayo_sandbox.set_notification_faults({"duplicate_probability": 1.0})
    reply = _register(opayo_sandbox, opayo_merchant.url)
    _complete(opayo_sandbox, reply["VPSTxId"], card=VISA, outcome="OK")
    received = wait_until(lambda: len(opayo_merchant.snapshot()) == 2 and opayo_merchant.snapshot())
    assert received[0] == received[1]
    attempts = wait_until(
        lambda: (
            len(opayo_sandbox.notifications("srv-1")[0]["attempts"]) == 2
            and opayo_sandbox.notifications("srv-1")[0]["attempts"]
        )
    )
    assert attempts[1]["duplicate"] is True


def test_reordered_notifications(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    opayo_sandbox.set_notification_faults({"hold": True, "reorder": True})
    first = _register(opayo_sandbox, opayo_merchant.url, VendorTxCode="first")
    second = _register(opayo_sandbox, opayo_merchant.url, VendorTxCode="second")
    _complete(opayo_sandbox, first["VPSTxId"], card=VISA, outcome="OK")
    _complete(opayo_sandbox, second["VPSTxId"], card=VISA, outcome="NOTAUTHED")
    queued = opayo_sandbox.notifications()
    assert [n["vendorTxCode"] for n in queued] == ["first", "second"]
    assert all(n["attempts"] == [] for n in queued)
    opayo_sandbox.set_notification_faults({"hold": False, "reorder": True})
    received = wait_until(lambda: len(opayo_merchant.snapshot()) == 2 and opayo_merchant.snapshot())
    assert [n["VendorTxCode"] for n in received] == ["second", "first"]


def test_unfinished_transactions_are_aborted_after_15_minutes(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    reply = _register(opayo_sandbox, opayo_merchant.url)
    opayo_sandbox.advance(899)
    assert opayo_sandbox.sandbox_transaction("srv-1")["server"]["status"] == "REGISTERED"
    opayo_sandbox.advance(1)
    fields = wait_until(opayo_merchant.snapshot)[0]
    assert fields["Status"] == "ABORT"
    assert verify_vps_signature(fields, vendor_name="sandbox", security_key=reply["SecurityKey"])
    assert _complete(opayo_sandbox, reply["VPSTxId"], card=VISA).status_code == 409


def test_retry_schedule_is_followed_then_given_up(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    opayo_merchant.http_status = 500
    reply = _register(opayo_sandbox, opayo_merchant.url)
    _complete(opayo_sandbox, reply["VPSTxId"], card=VISA, outcome="OK")
    scale = opayo_sandbox.options.notification_retry_scale
    waits: list[float] = []
    for attempt in range(1, len(RETRY_SCHEDULE_SECONDS) + 2):
        record = wait_until(
            lambda n=attempt: (
                (found := opayo_sandbox.notifications("srv-1")[0])
                and len(found["attempts"]) == n
                and found
            )
        )
        if record["gaveUp"]:
            break
        last = datetime.fromisoformat(record["attempts"][-1]["at"])
        due = datetime.fromisoformat(record["nextAttemptAt"])
        waits.append((due - last).total_seconds())
        opayo_sandbox.advance((due - last).total_seconds())
    assert waits == [seconds * scale for seconds in RETRY_SCHEDULE_SECONDS]
    assert waits[:6] == [3.0] * 5 + [9.0]
    final = opayo_sandbox.notifications("srv-1")[0]
    assert final["gaveUp"] is True
    assert final["delivered"] is False
    assert len(final["attempts"]) == len(RETRY_SCHEDULE_SECONDS) + 1
    assert len(opayo_merchant.snapshot()) == len(RETRY_SCHEDULE_SECONDS) + 1
