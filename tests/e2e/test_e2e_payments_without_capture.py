"""Payments that need no capture (issue 12), end to end on the local runtime: a Server
`TxType=PAYMENT` and a Pi `Payment` are taken when Opayo authorises them, so the saga never
releases them, and a merchant cancellation after them refunds in full (refund.vsp for
Server, a Pi Refund for Pi), never aborts. Judged on the sandboxes' own records: the Opayo
transaction (`captureCount`, `released`, `instructions`, `refundedAmount`), every Shared
Protocol post that reached it (`/_sandbox/shared-protocol`), and Amazon's fulfillment order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from demo.scenarios import DemoContext, sample_order

TIME_FACTOR = 600.0
AMOUNT = 1850


def _until(what: str, condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def _posts(demo: DemoContext, code: str) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = demo.opayo.get(
        "/_sandbox/shared-protocol", params={"vendorTxCode": code}
    ).json()["posts"]
    return posts


def _events(demo: DemoContext, order_id: str) -> list[str]:
    return [entry["event"] for entry in demo.order(order_id).get("history", [])]


def _amazon_status(demo: DemoContext, sfo_id: str) -> str:
    sandbox = demo.environment.amazon.app.state.sandbox  # type: ignore[union-attr]
    record = sandbox.state.store.get("fulfillment_order", sfo_id)
    return str(record["order"]["fulfillmentOrderStatus"]) if record else ""


def _server_payment_order(demo: DemoContext, order_id: str) -> str:
    code = f"SRV-{order_id}"
    vps_tx_id, key = demo.register_server(code, AMOUNT, tx_type="PAYMENT")
    reply = demo.submit(
        sample_order(order_id, sku="OPF-TEE-M", unit=AMOUNT, qty=1),
        {
            "type": "server",
            "vendorTxCode": code,
            "vpsTxId": vps_tx_id,
            "securityKey": key,
            "txType": "PAYMENT",
        },
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["payment"]["transaction_type"] == "Payment"
    demo.complete_server(vps_tx_id)
    return code


@pytest.fixture
def amazon_waits_at_received(demo: DemoContext) -> Iterator[None]:
    """Amazon's clock stands still: a released order waits at Received, cancellable."""
    demo.amazon.post("/_sandbox/clock/factor", json={"factor": 0}).raise_for_status()
    try:
        yield
    finally:
        demo.amazon.post("/_sandbox/clock/factor", json={"factor": TIME_FACTOR})


def _cancel_once_released(demo: DemoContext, order_id: str) -> dict[str, Any]:
    _until(
        "fulfillment order released to ship",
        lambda: "fulfillment_order_released" in _events(demo, order_id),
    )
    assert demo.api.post(f"/orders/{order_id}/cancel").status_code == 202
    # Refunded first, then the compensation records its outcome.
    order: dict[str, Any] = _until(
        "refunded, with the outcome recorded",
        lambda: (
            (found := demo.order(order_id)).get("status") == "refunded"
            and found.get("outcome")
            and found
        ),
    )
    return order


@pytest.mark.e2e
def test_a_server_payment_ships_with_no_release_and_is_captured_once(demo: DemoContext) -> None:
    order_id = "E2E-SRVPAY-SHIP"
    code = _server_payment_order(demo, order_id)
    _until("shipped", lambda: demo.order(order_id).get("status") == "shipped")

    events = _events(demo, order_id)
    # Captured when its notification came (Status=OK on a registered PAYMENT), then the
    # capture step found nothing to release.
    assert events.index("payment_captured") < events.index("release_not_needed")
    assert events.count("release_not_needed") == 1
    # Opayo's records: taken once, at authorisation; no instruction of any kind was sent.
    transaction = demo.opayo_transaction(code)
    assert transaction["transactionType"] == "Payment"
    assert (transaction["captureCount"], transaction["capturedAmount"]) == (1, AMOUNT)
    assert (transaction["released"], transaction["aborted"], transaction["voided"]) == (
        False,
        False,
        False,
    )
    assert transaction["instructions"] == []
    assert transaction["refundCount"] == 0
    assert _posts(demo, code) == []
    assert _amazon_status(demo, order_id) == "Complete"


@pytest.mark.e2e
@pytest.mark.usefixtures("amazon_waits_at_received")
def test_a_cancelled_server_payment_is_refunded_in_full_through_refund_vsp(
    demo: DemoContext,
) -> None:
    order_id = "E2E-SRVPAY-CANCEL"
    code = _server_payment_order(demo, order_id)
    order = _cancel_once_released(demo, order_id)

    assert order["outcome"] == "merchant_cancelled"
    assert _amazon_status(demo, order_id) == "Cancelled"
    transaction = demo.opayo_transaction(code)
    assert (transaction["captureCount"], transaction["refundCount"]) == (1, 1)
    assert transaction["refundedAmount"] == AMOUNT
    assert (transaction["released"], transaction["aborted"]) == (False, False)
    [refund] = _posts(demo, code)  # the one Shared Protocol post: no RELEASE, no ABORT
    assert (refund["txType"], refund["status"], refund["amount"]) == ("REFUND", "OK", "18.50")
    assert refund["relatedVendorTxCode"] == code


@pytest.mark.e2e
@pytest.mark.usefixtures("amazon_waits_at_received")
def test_a_cancelled_pi_payment_is_refunded_in_full_through_pi(demo: DemoContext) -> None:
    order_id = "E2E-PIPAY-CANCEL"
    code = f"SHOP-{order_id}"
    transaction_id = demo.deferred_transaction(code, AMOUNT, transaction_type="Payment")
    reply = demo.submit(
        sample_order(order_id, sku="OPF-TEE-M", unit=AMOUNT, qty=1),
        {"type": "pi_transaction", "transactionId": transaction_id, "vendorTxCode": code},
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["payment"]["state"] == "captured"
    order = _cancel_once_released(demo, order_id)

    assert order["outcome"] == "merchant_cancelled"
    assert "release_not_needed" in _events(demo, order_id)
    assert _amazon_status(demo, order_id) == "Cancelled"
    transaction = demo.opayo_transaction(code)
    assert transaction["transactionType"] == "Payment"
    assert transaction["instructions"] == []  # never released, aborted or voided
    assert (transaction["captureCount"], transaction["refundCount"]) == (1, 1)
    assert transaction["refundedAmount"] == AMOUNT
    refunds = [
        (t["transactionType"], t["amount"], t["status"])
        for t in demo.opayo.get("/_sandbox/transactions").json()["transactions"]
        if t.get("referenceTransactionId") == transaction_id
    ]
    assert refunds == [("Refund", AMOUNT, "Ok")]  # a Pi Refund
    assert _posts(demo, code) == []  # nothing through the Shared Protocol


@pytest.mark.e2e
def test_a_server_order_with_another_tx_type_is_refused_and_stores_nothing(
    demo: DemoContext,
) -> None:
    order_id = "E2E-SRVPAY-BAD"
    reply = demo.submit(
        sample_order(order_id, sku="OPF-TEE-M", unit=AMOUNT, qty=1),
        {
            "type": "server",
            "vendorTxCode": f"SRV-{order_id}",
            "vpsTxId": "{11111111-2222-3333-4444-555555555555}",
            "securityKey": "ABCDEFGHIJ",
            "txType": "AUTHENTICATE",
        },
    )
    assert reply.status_code == 400, reply.text
    [detail] = reply.json()["details"]
    assert detail["field"] == "payment.server.txType"
    assert "'PAYMENT'" in detail["reason"]
    assert "'DEFERRED'" in detail["reason"]
    assert demo.api.get(f"/orders/{order_id}").status_code == 404
