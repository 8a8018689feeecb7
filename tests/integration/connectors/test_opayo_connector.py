"""The Opayo connector against the Opayo sandbox over HTTP, with its fault injection on.

Nothing of ours is mocked: the Pi client, the Reporting client and the notification check
talk to (or read what came from) the sandbox on 127.0.0.1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from typer.testing import CliRunner

from opayo_fba.amazon.retry import RetryPolicy
from opayo_fba.cli.main import app as cli
from opayo_fba.model.money import Money
from opayo_fba.opayo.credentials import VendorCredentials
from opayo_fba.opayo.errors import (
    OpayoAuthenticationFailed,
    OpayoInstructionRefused,
    OpayoRequestInvalid,
    PaymentOutcomeUnknown,
)
from opayo_fba.opayo.notifications import check_notification
from opayo_fba.opayo.pi import CardPayment, PiClient, refund_vendor_tx_code
from opayo_fba.opayo.reporting import ReportingClient
from opayo_fba.opayo.signatures import compute_vps_signature
from sandbox.opayo.browser import answer_challenge
from tests.fixtures.opayo_sandbox import (
    BROWSER_DATA,
    MATCHING_ADDRESS,
    MerchantEndpoint,
    OpayoSandboxHandle,
    wait_until,
)

pytestmark = pytest.mark.integration

# Short enough that a lost response costs a test about a second, long enough for a slow CI.
TIMEOUT = httpx.Timeout(1.0, connect=1.0)
FAST_RETRIES = RetryPolicy(attempts=4, total_seconds=20, base_wait=0.01, max_wait=0.05)


def credentials(sandbox: OpayoSandboxHandle, **overrides: str) -> VendorCredentials:
    options = sandbox.options
    values: dict[str, Any] = {
        "vendor_name": options.vendor,
        "integration_key": options.integration_key,
        "integration_password": options.integration_password,
        "reporting_user": options.reporting_user,
        "reporting_password": options.reporting_password,
    }
    values.update(overrides)
    return VendorCredentials.model_validate(values)


@pytest.fixture
def pi(opayo_sandbox: OpayoSandboxHandle) -> Iterator[PiClient]:
    creds = credentials(opayo_sandbox)
    with httpx.Client(timeout=TIMEOUT) as http:
        reporting = ReportingClient(
            creds,
            url=f"{opayo_sandbox.url}/access/access.htm",
            http_client=http,
            timeout=TIMEOUT,
            retry=FAST_RETRIES,
        )
        yield PiClient(
            creds,
            reporting=reporting,
            base_url=opayo_sandbox.pi_url,
            http_client=http,
            timeout=TIMEOUT,
            retry=FAST_RETRIES,
        )


def card_payment(
    sandbox: OpayoSandboxHandle,
    kind: str = "Deferred",
    amount: int = 2599,
    *,
    cardholder_name: str = "Sam Jones",
    browser: dict[str, Any] | None = BROWSER_DATA,
) -> CardPayment:
    key, identifier = sandbox.card_identifier(cardholder_name=cardholder_name)
    return CardPayment(
        transaction_type=kind,  # type: ignore[arg-type]
        vendor_tx_code=f"order-{uuid.uuid4().hex[:12]}",
        amount=Money(amount=amount, currency="GBP"),
        description="Order from the web shop",
        merchant_session_key=key,
        card_identifier=identifier,
        customer_first_name="Sam",
        customer_last_name="Jones",
        billing_address=MATCHING_ADDRESS,
        strong_customer_authentication=browser,
    )


def lose_response_of(sandbox: OpayoSandboxHandle, operation: str) -> None:
    sandbox.set_faults(
        {"seed": 1, "rules": [{"operation": operation, "kind": "lost_response", "times": 1}]}
    )


def test_deferred_release_and_refund_happy_path(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    payment = card_payment(opayo_sandbox)
    created = pi.create_payment(payment)
    assert created.succeeded
    assert created.amount == Money(amount=2599, currency="GBP")
    canonical = created.to_payment_transaction(order_id="1001")
    assert (canonical.state.value, canonical.vendor_tx_code) == (
        "authorised",
        payment.vendor_tx_code,
    )
    assert pi.get_transaction(created.transaction_id).transaction_type == "Deferred"
    released = pi.release(created.transaction_id, Money(amount=2000, currency="GBP"))
    assert released.amount == 2000
    refund = pi.refund(
        created.transaction_id,
        Money(amount=500, currency="GBP"),
        refund_id="R-1",
        description="Returned mug",
    )
    assert refund.succeeded
    record = opayo_sandbox.sandbox_transaction(payment.vendor_tx_code)
    assert (record["capturedAmount"], record["refundedAmount"]) == (2000, 500)
    assert opayo_sandbox.sandbox_transaction(refund_vendor_tx_code("R-1"))["amount"] == 500


def test_a_capture_whose_response_is_lost_is_completed_exactly_once(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    created = pi.create_payment(card_payment(opayo_sandbox))
    lose_response_of(opayo_sandbox, "instructions")
    released = pi.release(created.transaction_id, Money(amount=2599, currency="GBP"))
    assert released.instruction_type == "release"
    record = opayo_sandbox.sandbox_transaction(created.vendor_tx_code or "")
    assert record["captureCount"] == 1
    assert record["capturedAmount"] == 2599
    assert [i["instructionType"] for i in record["instructions"]] == ["release"]
    # Calling again (say, the saga retried the step) is still exactly once.
    pi.release(created.transaction_id, Money(amount=2599, currency="GBP"))
    assert len(opayo_sandbox.sandbox_transaction(created.vendor_tx_code or "")["instructions"]) == 1


def test_a_payment_whose_response_is_lost_is_charged_once_and_recovered(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    payment = card_payment(opayo_sandbox, kind="Payment", amount=1500)
    lose_response_of(opayo_sandbox, "transactions")
    created = pi.create_payment(payment)
    assert created.succeeded
    assert created.vendor_tx_code == payment.vendor_tx_code
    listed = opayo_sandbox.client.get(
        "/_sandbox/transactions", params={"vendorTxCode": payment.vendor_tx_code}
    ).json()["transactions"]
    assert len(listed) == 1
    assert listed[0]["transactionId"] == created.transaction_id


def test_a_refund_whose_response_is_lost_refunds_once_even_when_retried(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    created = pi.create_payment(card_payment(opayo_sandbox, kind="Payment", amount=3000))
    lose_response_of(opayo_sandbox, "transactions")
    amount = Money(amount=1000, currency="GBP")
    first = pi.refund(created.transaction_id, amount, refund_id="RF-77", description="Refund")
    again = pi.refund(created.transaction_id, amount, refund_id="RF-77", description="Refund")
    assert first.transaction_id == again.transaction_id
    record = opayo_sandbox.sandbox_transaction(created.vendor_tx_code or "")
    assert (record["refundCount"], record["refundedAmount"]) == (1, 1000)


def test_a_repeat_whose_response_is_lost_charges_the_card_once(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    """What a resubmitted order is charged with: one Repeat per vendorTxCode, found again by
    that code after a lost answer, and recoverable by it alone."""
    created = pi.create_payment(card_payment(opayo_sandbox, kind="Payment", amount=2599))
    amount = Money(amount=2599, currency="GBP")
    lose_response_of(opayo_sandbox, "transactions")
    first = pi.repeat(
        created.transaction_id, amount, vendor_tx_code="RPT-1001-A2", description="Attempt 2"
    )
    again = pi.repeat(
        created.transaction_id, amount, vendor_tx_code="RPT-1001-A2", description="Attempt 2"
    )
    assert first.succeeded
    assert first.transaction_id == again.transaction_id
    assert pi.recover_transaction_id("RPT-1001-A2") == first.transaction_id
    assert pi.recover_transaction_id("RPT-1001-A3") is None
    listed = opayo_sandbox.client.get(
        "/_sandbox/transactions", params={"vendorTxCode": "RPT-1001-A2"}
    ).json()["transactions"]
    assert [(t["transactionType"], t["amount"]) for t in listed] == [("Repeat", 2599)]
    assert pi.observe(first.transaction_id).state.value == "captured"


def test_an_unreleased_deferred_is_not_repeated(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    held = pi.create_payment(card_payment(opayo_sandbox))
    with pytest.raises(OpayoRequestInvalid) as refused:
        pi.repeat(
            held.transaction_id,
            Money(amount=2599, currency="GBP"),
            vendor_tx_code="RPT-1002-A2",
            description="Attempt 2",
        )
    assert refused.value.field == "referenceTransactionId"


def test_a_server_error_that_changed_nothing_is_retried_after_checking(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    payment = card_payment(opayo_sandbox, kind="Payment")
    opayo_sandbox.set_faults(
        {"rules": [{"operation": "transactions", "kind": "server_error", "times": 2}]}
    )
    created = pi.create_payment(payment)
    assert created.succeeded
    fired = opayo_sandbox.client.get("/_sandbox/faults").json()["fired"]
    assert [f["kind"] for f in fired] == ["server_error", "server_error"]
    assert opayo_sandbox.sandbox_transaction(payment.vendor_tx_code)["status"] == "Ok"


def test_when_opayo_and_its_reporting_api_both_fail_the_outcome_is_unknown_not_retried(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    payment = card_payment(opayo_sandbox, kind="Payment")
    opayo_sandbox.set_faults(
        {
            "rules": [
                {"operation": "transactions", "kind": "lost_response", "times": 1},
                {"operation": "reporting", "kind": "unavailable"},
                {"operation": "transactions", "kind": "server_error"},
            ]
        }
    )
    with pytest.raises(PaymentOutcomeUnknown, match=payment.vendor_tx_code):
        pi.create_payment(payment)
    # Exactly one transaction exists (the first, committed one), whatever the client saw.
    opayo_sandbox.set_faults({"rules": []})
    assert opayo_sandbox.sandbox_transaction(payment.vendor_tx_code)["status"] == "Ok"
    recovered = pi.recover_transaction(payment.vendor_tx_code)
    assert recovered is not None
    assert recovered.succeeded


def test_refusals_are_typed_and_name_the_field(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    created = pi.create_payment(card_payment(opayo_sandbox, kind="Payment"))
    with pytest.raises(OpayoInstructionRefused, match="release"):
        pi.release(created.transaction_id, Money(amount=100, currency="GBP"))
    with pytest.raises(OpayoRequestInvalid) as caught:
        pi.refund(
            created.transaction_id,
            Money(amount=99_999, currency="GBP"),
            refund_id="too-much",
            description="Refund",
        )
    assert caught.value.field is not None


def test_wrong_integration_password_is_an_authentication_error(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    creds = credentials(opayo_sandbox, integration_password="wrong")
    reporting = ReportingClient(creds, url=f"{opayo_sandbox.url}/access/access.htm")
    client = PiClient(creds, reporting=reporting, base_url=opayo_sandbox.pi_url)
    with pytest.raises(OpayoAuthenticationFailed):
        client.create_merchant_session_key()


def test_reporting_lists_batches_after_settlement(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    created = pi.create_payment(card_payment(opayo_sandbox, kind="Payment", amount=1234))
    start = opayo_sandbox.now()
    opayo_sandbox.advance(2 * 86400)
    reporting = ReportingClient(
        credentials(opayo_sandbox), url=f"{opayo_sandbox.url}/access/access.htm"
    )
    batches = reporting.get_batch_list(start, opayo_sandbox.now())
    assert batches
    items = [
        item
        for batch in batches
        for item in reporting.get_batch_detail(
            batch.batch_id, batch.auth_processor, expected_rows=batch.expected_rows
        )
    ]
    assert all(batch.completed is not None and batch.groups for batch in batches)
    assert created.vendor_tx_code in {item.vendor_tx_code for item in items}
    ours = next(item for item in items if item.vendor_tx_code == created.vendor_tx_code)
    assert ours.amount == Money(amount=1234, currency="GBP")
    assert ours.card_scheme == "VISA"
    detail = reporting.get_transaction_detail(vendor_tx_code=created.vendor_tx_code or "")
    assert (detail.tx_state_id, detail.payment_system) == ("16", "VISA")
    assert detail.batch_id  # settled


def register_server_transaction(
    sandbox: OpayoSandboxHandle, notification_url: str
) -> tuple[str, str]:
    """Register a Server transaction; returns (VPSTxId, SecurityKey)."""
    response = httpx.post(
        f"{sandbox.url}/gateway/service/vspserver-register.vsp",
        data={
            "VPSProtocol": "4.00",
            "TxType": "DEFERRED",
            "Vendor": sandbox.options.vendor,
            "VendorTxCode": f"srv-{uuid.uuid4().hex[:12]}",
            "Amount": "19.99",
            "Currency": "GBP",
            "Description": "Server order",
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
            "DeliveryCountry": "GB",
        },
    )
    lines = dict(line.split("=", 1) for line in response.text.splitlines() if "=" in line)
    assert lines["Status"] == "OK", response.text
    return lines["VPSTxId"], lines["SecurityKey"]


def test_a_forged_or_altered_notification_is_rejected(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    vps_tx_id, security_key = register_server_transaction(opayo_sandbox, opayo_merchant.url)
    opayo_sandbox.client.post(
        f"/_sandbox/server/{vps_tx_id}/complete", json={"card": "4929000000006", "outcome": "OK"}
    ).raise_for_status()
    received = wait_until(opayo_merchant.snapshot)
    genuine = received[0]
    vendor = opayo_sandbox.options.vendor
    assert check_notification(genuine, vendor_name=vendor, security_key=security_key).valid

    altered = {**genuine, "Status": "NOTAUTHED"}
    check = check_notification(altered, vendor_name=vendor, security_key=security_key)
    assert not check.valid
    assert check.reason is not None
    assert check.reason.startswith("signature mismatch")

    forged = {**genuine, "VendorTxCode": "someone-else"}
    forged["VPSSignature"] = compute_vps_signature(
        forged, vendor_name=vendor, security_key="GUESSEDKEY"
    )
    assert not check_notification(forged, vendor_name=vendor, security_key=security_key).valid

    # The operator's command agrees, on the same bodies.
    runner = CliRunner()
    args = ["opayo", "verify-notification", "--vendor", vendor, "-"]
    env = {"OPAYO_SECURITY_KEY": security_key}
    ok = runner.invoke(cli, args, input=urlencode(genuine), env=env)
    bad = runner.invoke(cli, args, input=urlencode(altered), env=env)
    assert (ok.exit_code, ok.output) == (0, "valid\n")
    assert bad.exit_code == 1
    assert bad.output.startswith("invalid: signature mismatch")


def test_a_declined_card_is_a_result_not_an_exception(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    declined = pi.create_payment(card_payment(opayo_sandbox, kind="Payment", amount=40300))
    assert not declined.succeeded
    assert declined.status == "NotAuthed"
    assert declined.to_payment_transaction().state.value == "declined"


def test_an_opayo_error_outcome_is_read_back_not_charged_again(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    payment = card_payment(opayo_sandbox, kind="Payment", amount=50000)
    result = pi.create_payment(payment)
    assert result.status == "Error"
    listed = opayo_sandbox.client.get(
        "/_sandbox/transactions", params={"vendorTxCode": payment.vendor_tx_code}
    ).json()["transactions"]
    assert len(listed) == 1


def test_reporting_with_a_wrong_password_fails_as_authentication(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    reporting = ReportingClient(
        credentials(opayo_sandbox, reporting_password="not-it"),
        url=f"{opayo_sandbox.url}/access/access.htm",
    )
    with pytest.raises(OpayoAuthenticationFailed, match="0011"):
        reporting.get_transaction_detail(vendor_tx_code="anything")
    right = ReportingClient(
        credentials(opayo_sandbox), url=f"{opayo_sandbox.url}/access/access.htm"
    )
    assert right.find_transaction("never-used") is None


def test_observe_reads_where_the_money_is_from_pi(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    from opayo_fba.model import PaymentState

    held = pi.create_payment(card_payment(opayo_sandbox, "Deferred", 2599))
    assert pi.observe(held.transaction_id).state is PaymentState.AUTHORISED
    pi.release(held.transaction_id, Money(amount=2000, currency="GBP"))
    captured = pi.observe(held.transaction_id)
    assert captured.state is PaymentState.CAPTURED
    assert captured.captured == Money(amount=2000, currency="GBP")

    aborted = pi.create_payment(card_payment(opayo_sandbox, "Deferred", 1500))
    pi.abort(aborted.transaction_id)
    assert pi.observe(aborted.transaction_id).state is PaymentState.ABORTED

    paid = pi.create_payment(card_payment(opayo_sandbox, "Payment", 1200))
    observed = pi.observe(paid.transaction_id)
    assert (observed.state, observed.captured) == (
        PaymentState.CAPTURED,
        Money(amount=1200, currency="GBP"),
    )
    assert pi.observe("NO-SUCH-TRANSACTION").state is PaymentState.NONE


def test_observe_survives_a_lost_read(pi: PiClient, opayo_sandbox: OpayoSandboxHandle) -> None:
    from opayo_fba.model import PaymentState

    held = pi.create_payment(card_payment(opayo_sandbox, "Deferred", 2599))
    lose_response_of(opayo_sandbox, "get-instructions")
    assert pi.observe(held.transaction_id).state is PaymentState.AUTHORISED


# ---- 3-D Secure 2 -------------------------------------------------------------------------


def test_a_card_payment_without_browser_data_is_refused_naming_the_field(
    pi: PiClient, opayo_sandbox: OpayoSandboxHandle
) -> None:
    with pytest.raises(OpayoRequestInvalid) as caught:
        pi.create_payment(card_payment(opayo_sandbox, browser=None))
    assert caught.value.field == "strongCustomerAuthentication"


@pytest.fixture
def challenged(pi: PiClient, opayo_sandbox: OpayoSandboxHandle) -> tuple[PiClient, Any]:
    payment = pi.create_payment(card_payment(opayo_sandbox, cardholder_name="CHALLENGE"))
    assert (payment.status, payment.status_code) == ("3DAuth", "2021")
    returned = answer_challenge(payment.raw["acsUrl"], payment.raw["cReq"], "U0Qy")
    return pi, (payment, returned)


def test_a_challenge_is_completed_with_the_acs_cres(
    challenged: tuple[PiClient, Any], opayo_sandbox: OpayoSandboxHandle
) -> None:
    pi, (payment, returned) = challenged
    done = pi.complete_challenge(payment.transaction_id, returned.c_res, "U0Qy")
    assert done.status == "Ok"
    assert done.raw["3DSecure"]["status"] == "Authenticated"
    # Asked again (a repeat after a crash), the answer is read back, not sent twice.
    again = pi.complete_challenge(payment.transaction_id, returned.c_res, "U0Qy")
    assert again.status == "Ok"
    pi.release(payment.transaction_id, Money(amount=2599, currency="GBP"))
    state = opayo_sandbox.sandbox_transaction(payment.vendor_tx_code or "")
    assert state["captureCount"] == 1


def test_a_challenge_completion_whose_response_is_lost_is_read_back(
    challenged: tuple[PiClient, Any], opayo_sandbox: OpayoSandboxHandle
) -> None:
    pi, (payment, returned) = challenged
    lose_response_of(opayo_sandbox, "3d-secure-challenge")
    done = pi.complete_challenge(payment.transaction_id, returned.c_res, "U0Qy")
    assert done.status == "Ok"


def test_a_cres_opayo_refuses_is_a_typed_refusal(challenged: tuple[PiClient, Any]) -> None:
    pi, (payment, _) = challenged
    with pytest.raises(OpayoRequestInvalid) as caught:
        pi.complete_challenge(payment.transaction_id, "Y")
    assert caught.value.field == "cRes"
