"""Only signed or registered facts move money (issue 11, item 3), through the local runtime.

A genuine Opayo Server notification is re-sent with `TxType` changed (TxType is not covered by
VPSSignature). It must be answered OK (its signed facts are genuine), recorded on the order as
a contradiction, and change nothing: the Deferred is still released once the fulfillment
order is created and the order ships. Judged on the Opayo and Amazon sandboxes' records.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from demo.scenarios import DemoContext, sample_order

ORDER_ID = "E2E-FORGED-TXTYPE"
VENDOR_TX_CODE = "E2E-FORGED-TXTYPE-S1"
AMOUNT = 1850


def _held_notification(demo: DemoContext, vendor_tx_code: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = demo.opayo.get("/_sandbox/notifications", params={"vendorTxCode": vendor_tx_code})
        notifications = found.json()["notifications"]
        if notifications:
            return dict(notifications[0])
        time.sleep(0.05)
    raise AssertionError(f"the Opayo sandbox made no notification for {vendor_tx_code}")


def _until_terminal(demo: DemoContext, order_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        order = demo.order(order_id)
        if order.get("status") in {"shipped", "cancelled", "refunded", "payment_failed"}:
            return order
        time.sleep(0.1)
    return order


@pytest.mark.e2e
def test_a_genuine_notification_with_a_forged_txtype_moves_no_money(demo: DemoContext) -> None:
    vps_tx_id, key = demo.register_server(VENDOR_TX_CODE, AMOUNT)
    reply = demo.submit(
        sample_order(ORDER_ID, sku="OPF-TEE-M", unit=AMOUNT, qty=1),
        {
            "type": "server",
            "vendorTxCode": VENDOR_TX_CODE,
            "vpsTxId": vps_tx_id,
            "securityKey": key,
        },
    )
    assert reply.status_code == 201, reply.text
    # Keep Opayo's own delivery back, so the forged copy arrives first.
    demo.opayo.post("/_sandbox/notifications/faults", json={"hold": True}).raise_for_status()
    try:
        demo.complete_server(vps_tx_id)
        genuine = _held_notification(demo, VENDOR_TX_CODE)
        fields = dict(genuine["fields"])
        assert fields["TxType"] == "DEFERRED"
        assert fields["Status"] == "OK"
        forged = {**fields, "TxType": "PAYMENT"}
        answer = demo.api.post(
            f"/webhooks/opayo/{demo.vendor}",
            data=forged,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200
        # The signed facts are genuine: answered OK, never INVALID (which would stop Opayo).
        assert answer.text.startswith("Status=OK")
    finally:
        demo.opayo.post("/_sandbox/notifications/faults", json={"hold": False}).raise_for_status()

    order = _until_terminal(demo, ORDER_ID)
    history = [entry["event"] for entry in order.get("history", [])]
    assert order.get("status") == "shipped", history
    assert history.count("payment_contradiction") == 1
    [note] = [e for e in order["history"] if e["event"] == "payment_contradiction"]
    assert "registered as Deferred" in note["detail"]
    assert order["payment"]["transaction_type"] == "Deferred"

    # Opayo's records: the Deferred was released once, for the amount registered, never
    # aborted; Opayo's own delivery of the genuine notification was answered OK too.
    transaction = demo.opayo_transaction(VENDOR_TX_CODE)
    assert transaction["captureCount"] == 1
    assert transaction["capturedAmount"] == AMOUNT
    assert transaction["refundCount"] == 0
    assert transaction["server"]["status"] != "ABORTED"
    delivered = _held_notification(demo, VENDOR_TX_CODE)
    assert any(a.get("replyStatus") == "OK" for a in delivered.get("attempts", []))
    # Amazon's records: one fulfillment order, not cancelled.
    assert demo.amazon_fulfillment_orders(ORDER_ID) == 1
