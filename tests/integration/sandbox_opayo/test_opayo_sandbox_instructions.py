"""Pi instructions and refunds over real HTTP: every rule, and that a refusal changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.opayo_sandbox import OpayoSandboxHandle

pytestmark = pytest.mark.integration
DAY = 24 * 3600


def _refund(
    sandbox: OpayoSandboxHandle, reference: str, amount: Any, code: str, currency: str = "GBP"
) -> Any:
    return sandbox.create_transaction(
        {
            "transactionType": "Refund",
            "referenceTransactionId": reference,
            "vendorTxCode": code,
            "amount": amount,
            "currency": currency,
            "description": "Refund",
        }
    )


def test_release_full_amount_by_default(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 5000, vendor_tx_code="d-full")
    response = opayo_sandbox.instruct(deferred["transactionId"], "release")
    assert response.status_code == 201
    assert response.json()["instructionType"] == "release"
    assert response.json()["amount"] == 5000
    state = opayo_sandbox.sandbox_transaction("d-full")
    assert (state["released"], state["releasedAmount"], state["captureCount"]) == (True, 5000, 1)


def test_release_partial_then_never_again(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 5000, vendor_tx_code="d-part")
    assert opayo_sandbox.instruct(deferred["transactionId"], "release", 3000).status_code == 201
    again = opayo_sandbox.instruct(deferred["transactionId"], "release", 1000)
    assert again.status_code == 403
    assert "released once" in again.json()["description"]
    state = opayo_sandbox.sandbox_transaction("d-part")
    assert state["releasedAmount"] == 3000
    assert state["captureCount"] == 1
    assert len(state["instructions"]) == 1


def test_release_above_the_authorised_amount_is_refused(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 5000, vendor_tx_code="d-over")
    response = opayo_sandbox.instruct(deferred["transactionId"], "release", 5001)
    assert response.status_code == 422
    assert response.json()["errors"][0]["property"] == "amount"
    assert opayo_sandbox.sandbox_transaction("d-over")["released"] is False
    assert opayo_sandbox.instruct(deferred["transactionId"], "release", 5000).status_code == 201


@pytest.mark.parametrize("amount", ["100", 0, -5, 12.5])
def test_release_amount_must_be_a_positive_integer(
    opayo_sandbox: OpayoSandboxHandle, amount: Any
) -> None:
    deferred = opayo_sandbox.pay("Deferred", 5000)
    response = opayo_sandbox.client.post(
        f"/api/v1/transactions/{deferred['transactionId']}/instructions",
        json={"instructionType": "release", "amount": amount},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["property"] == "amount"


def test_release_and_abort_only_for_deferred(opayo_sandbox: OpayoSandboxHandle) -> None:
    payment = opayo_sandbox.pay("Payment", 1000)
    for instruction in ("release", "abort"):
        response = opayo_sandbox.instruct(payment["transactionId"], instruction)
        assert response.status_code == 403
        assert "Only a Deferred" in response.json()["description"]


def test_unknown_instruction_type_names_the_property(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 1000)
    response = opayo_sandbox.instruct(deferred["transactionId"], "capture")
    assert response.status_code == 422
    assert response.json()["errors"][0]["property"] == "instructionType"
    missing = opayo_sandbox.instruct("NOPE", "abort")
    assert missing.status_code == 404


def test_abort_deferred_then_no_release(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 2500, vendor_tx_code="d-abort")
    assert opayo_sandbox.instruct(deferred["transactionId"], "abort").status_code == 201
    assert opayo_sandbox.instruct(deferred["transactionId"], "abort").status_code == 403
    refused = opayo_sandbox.instruct(deferred["transactionId"], "release")
    assert refused.status_code == 403
    assert "aborted" in refused.json()["description"]
    state = opayo_sandbox.sandbox_transaction("d-abort")
    assert (state["aborted"], state["released"], state["captureCount"]) == (True, False, 0)


def test_abort_after_release_is_refused(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 2500)
    opayo_sandbox.instruct(deferred["transactionId"], "release")
    assert opayo_sandbox.instruct(deferred["transactionId"], "abort").status_code == 403


def test_deferred_cannot_be_released_after_30_days(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 2500)
    opayo_sandbox.advance(30 * DAY + 1)
    response = opayo_sandbox.instruct(deferred["transactionId"], "release")
    assert response.status_code == 403
    assert "30 days" in response.json()["description"]


def test_instructions_need_a_successful_transaction(opayo_sandbox: OpayoSandboxHandle) -> None:
    declined = opayo_sandbox.create_transaction(opayo_sandbox.transaction_body("Deferred", 40300))
    assert declined.status_code == 403
    response = opayo_sandbox.instruct(declined.json()["transactionId"], "release")
    assert response.status_code == 403
    assert "NotAuthed" in response.json()["description"]


def test_void_payment_same_day(opayo_sandbox: OpayoSandboxHandle) -> None:
    payment = opayo_sandbox.pay("Payment", 1500, vendor_tx_code="p-void")
    opayo_sandbox.advance(3600)
    assert opayo_sandbox.instruct(payment["transactionId"], "void").status_code == 201
    again = opayo_sandbox.instruct(payment["transactionId"], "void")
    assert again.status_code == 403
    state = opayo_sandbox.sandbox_transaction("p-void")
    assert (state["voided"], state["captureCount"]) == (True, 0)
    refund = _refund(opayo_sandbox, payment["transactionId"], 100, "r-after-void")
    assert refund.status_code == 422


def test_void_is_refused_after_midnight(opayo_sandbox: OpayoSandboxHandle) -> None:
    # The fixture clock starts at 09:00 UTC; 15 hours later it is the next day.
    payment = opayo_sandbox.pay("Payment", 1500, vendor_tx_code="p-late")
    opayo_sandbox.advance(15 * 3600)
    response = opayo_sandbox.instruct(payment["transactionId"], "void")
    assert response.status_code == 403
    assert "on the day" in response.json()["description"]
    assert opayo_sandbox.sandbox_transaction("p-late")["voided"] is False


def test_void_deferred_is_refused(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 1500)
    response = opayo_sandbox.instruct(deferred["transactionId"], "void")
    assert response.status_code == 403
    assert "abort it instead" in response.json()["description"]


def test_refund_limits_and_void_of_refund(opayo_sandbox: OpayoSandboxHandle) -> None:
    payment = opayo_sandbox.pay("Payment", 1000, vendor_tx_code="p-ref")
    tid = payment["transactionId"]
    first = _refund(opayo_sandbox, tid, 600, "r-1")
    assert first.status_code == 201
    assert first.json()["transactionType"] == "Refund"
    too_much = _refund(opayo_sandbox, tid, 401, "r-2")
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["property"] == "amount"
    assert "captured minus refunded" in too_much.json()["errors"][0]["description"]
    assert _refund(opayo_sandbox, tid, 400, "r-3").status_code == 201
    assert _refund(opayo_sandbox, tid, 1, "r-4").status_code == 422
    state = opayo_sandbox.sandbox_transaction("p-ref")
    assert (state["refundCount"], state["refundedAmount"]) == (2, 1000)
    # A payment with refunds standing cannot be voided; voiding a refund frees its amount.
    assert opayo_sandbox.instruct(tid, "void").status_code == 403
    assert opayo_sandbox.instruct(first.json()["transactionId"], "void").status_code == 201
    assert opayo_sandbox.sandbox_transaction("p-ref")["refundedAmount"] == 400
    assert _refund(opayo_sandbox, tid, 600, "r-5").status_code == 201


def test_refund_of_deferred_only_up_to_the_released_amount(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    deferred = opayo_sandbox.pay("Deferred", 5000)
    tid = deferred["transactionId"]
    before = _refund(opayo_sandbox, tid, 100, "rd-0")
    assert before.status_code == 422
    assert "released" in before.json()["errors"][0]["description"]
    opayo_sandbox.instruct(tid, "release", 2000)
    assert _refund(opayo_sandbox, tid, 2001, "rd-1").status_code == 422
    assert _refund(opayo_sandbox, tid, 2000, "rd-2").status_code == 201


def test_refund_currency_and_reference_checks(opayo_sandbox: OpayoSandboxHandle) -> None:
    payment = opayo_sandbox.pay("Payment", 1000)
    wrong = _refund(opayo_sandbox, payment["transactionId"], 100, "rc-1", currency="EUR")
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["property"] == "currency"
    unknown = _refund(opayo_sandbox, "NOPE", 100, "rc-2")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["property"] == "referenceTransactionId"
    refund = _refund(opayo_sandbox, payment["transactionId"], 100, "rc-3")
    of_refund = _refund(opayo_sandbox, refund.json()["transactionId"], 10, "rc-4")
    assert of_refund.status_code == 422
    as_string = _refund(opayo_sandbox, payment["transactionId"], "100", "rc-5")
    assert as_string.status_code == 422
    assert as_string.json()["errors"][0]["property"] == "amount"


def test_instructions_are_listed_with_their_dates_and_404_when_none(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    deferred = opayo_sandbox.pay("Deferred", 5000, vendor_tx_code="d-list")
    path = f"/transactions/{deferred['transactionId']}/instructions"
    none = opayo_sandbox.client.get(f"/api/v1{path}")
    assert none.status_code == 404
    assert opayo_sandbox.instruct(deferred["transactionId"], "release", 4000).status_code == 201
    listed = opayo_sandbox.client.get(f"/api/v1{path}")
    assert listed.status_code == 200
    (only,) = listed.json()["instructions"]
    assert (only["instructionType"], only["amount"]) == ("release", 4000)
    assert only["date"].startswith(str(opayo_sandbox.now().year))
    unknown = opayo_sandbox.client.get("/api/v1/transactions/NO-SUCH-TX/instructions")
    assert unknown.status_code == 404
