"""After the sale, through the real template on the local runtime, judged on the sandboxes'
own records: tracking on the order after a notification-resumed shipment, a FillAllAvailable
order shipped in part and refunded for exactly the missing units, and the shop's refunds
(one line, repeated, and one beyond what was captured)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from demo.scenarios import BROWSER_DATA, DemoContext, sample_order
from local_runtime.environment import LocalEnvironment
from tests.fixtures.bus import check_canonical, subscribe_to_bus

REGION = "eu-west-2"
TIME_FACTOR = 600.0
# This module's merchant keeps the authorisation of an order Amazon cannot fulfil, so it can
# be resubmitted once stock is back (cdk.json `unfulfillableAuthorisations: hold`).
FUNCTION_ENVIRONMENT = {"UNFULFILLABLE_AUTHORISATIONS": "hold"}


@pytest.fixture(scope="module")
def bus(environment: LocalEnvironment) -> Any:
    sqs, url = subscribe_to_bus(environment, "erp-after-sale")
    received: list[dict[str, Any]] = []

    def read(detail_type: str, order_id: str, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                event = json.loads(message["Body"])
                check_canonical(event)
                received.append(event)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found = [
                e["detail"]
                for e in received
                if e["detail-type"] == detail_type and e["detail"].get("orderId") == order_id
            ]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    return read


def _pay(demo: DemoContext, order: dict[str, Any]) -> None:
    msk, card = demo.card_identifier()
    reply = demo.submit(
        order,
        {
            "type": "pi_card",
            "merchantSessionKey": msk,
            "cardIdentifier": card,
            "strongCustomerAuthentication": BROWSER_DATA,
        },
    )
    assert reply.status_code == 201, reply.text


def _until(demo: DemoContext, order_id: str, done: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    order = demo.order(order_id)
    while not done(order) and time.monotonic() < deadline:
        time.sleep(0.2)
        order = demo.order(order_id)
    return order


def _amazon_record(demo: DemoContext, seller_fulfillment_order_id: str) -> dict[str, Any]:
    """The Amazon sandbox's own record of a fulfillment order."""
    sandbox = demo.environment.amazon.app.state.sandbox  # type: ignore[union-attr]
    record = sandbox.state.store.get("fulfillment_order", seller_fulfillment_order_id)
    assert record is not None
    return dict(record)


def _shipped(order: dict[str, Any]) -> bool:
    return any(entry["event"] == "shipped" for entry in order.get("history", []))


def _refunds_settled(order: dict[str, Any]) -> bool:
    refunds = order.get("refunds") or []
    return bool(refunds) and all(r["status"] != "pending" for r in refunds)


@pytest.mark.e2e
def test_a_shipment_resumed_by_amazons_notification_carries_its_tracking(
    demo: DemoContext, bus: Any
) -> None:
    order_id = "E2E-TRACKED"
    _pay(demo, sample_order(order_id))
    order = _until(demo, order_id, _shipped)
    assert order["status"] == "shipped", order.get("history")
    # The saga was resumed by the FULFILLMENT_ORDER_STATUS notification (the normal path),
    # which carries no tracking: the shipment on the order was read from Amazon.
    assert any(e["event"] == "amazon_notification" for e in order["history"])
    (shipment,) = order["fulfillment"]["shipments"]
    (package,) = shipment["packages"]
    amazon_package = _amazon_record(demo, order_id)["shipments"][0]["fulfillmentShipmentPackage"][0]
    assert package["tracking_number"] == amazon_package["trackingNumber"]
    assert package["carrier_code"] == amazon_package["carrierCode"]
    assert package["estimated_arrival_at"] is not None
    (shipped,) = bus("OrderShipped", order_id)
    assert shipped["trackingNumbers"] == [amazon_package["trackingNumber"]]
    assert shipped["shipments"][0]["packages"][0]["carrierCode"] == amazon_package["carrierCode"]


@pytest.mark.e2e
def test_units_amazon_did_not_ship_are_refunded_exactly_once(demo: DemoContext, bus: Any) -> None:
    order_id = "E2E-PARTIAL"
    stock = demo.amazon.post("/_sandbox/inventory", json={"sku": "OPF-CAP-RED", "quantity": 1})
    assert stock.status_code == 200
    order = sample_order(order_id)  # two mugs at 12.99
    order["lines"].append(
        {"sku": "OPF-CAP-RED", "quantity": 3, "unit_price": {"amount": 1499, "currency": "GBP"}}
    )
    order["totals"] = {"grand_total": {"amount": 2 * 1299 + 3 * 1499, "currency": "GBP"}}
    _pay(demo, order)

    done = _until(demo, order_id, lambda o: _shipped(o) and _refunds_settled(o))
    assert done["fulfillment_status"] == "CompletePartialled", done.get("history")
    (refund,) = done["refunds"]
    assert (refund["kind"], refund["status"]) == ("unshipped", "succeeded")
    assert refund["lines"] == [{"line_id": "2", "quantity": 2}]
    assert refund["amount"] == {"amount": 2 * 1499, "currency": "GBP"}
    assert done["status"] == "partially_refunded"
    opayo = demo.opayo_transaction(f"PAY-{order_id}")
    assert (opayo["capturedAmount"], opayo["refundedAmount"], opayo["refundCount"]) == (
        2 * 1299 + 3 * 1499,
        2 * 1499,
        1,
    )
    (missing,) = bus("UnitsNotShipped", order_id)
    assert missing["lines"] == [{"lineId": "2", "quantity": 2}]
    assert [e["kind"] for e in bus("RefundIssued", order_id)] == ["unshipped"]


@pytest.mark.e2e
def test_the_shops_refund_of_a_line_is_made_once_and_never_beyond_the_capture(
    demo: DemoContext, bus: Any
) -> None:
    order_id = "E2E-SHOP-REFUND"
    _pay(demo, sample_order(order_id))  # two mugs at 12.99
    assert _shipped(_until(demo, order_id, _shipped))
    route = f"/orders/{order_id}/refunds"
    body = {"refundId": "ERP-1", "lines": [{"lineId": "1", "quantity": 1}], "reason": "broken"}

    first = demo.api.post(route, json=body)
    again = demo.api.post(route, json=body)

    assert first.status_code == 201, first.text
    assert first.json()["refund"]["amount"] == {"amount": 1299, "currency": "GBP"}
    assert again.status_code == 200
    assert again.json()["refund"]["vendor_tx_code"] == first.json()["refund"]["vendor_tx_code"]
    opayo = demo.opayo_transaction(f"PAY-{order_id}")
    assert (opayo["refundedAmount"], opayo["refundCount"]) == (1299, 1)

    before = demo.order(order_id)
    beyond = demo.api.post(
        route,
        json={"refundId": "ERP-2", "amount": {"amount": 1300, "currency": "GBP"}, "reason": "x"},
    )
    reused = demo.api.post(route, json={**body, "lines": [{"lineId": "1", "quantity": 2}]})
    unknown = demo.api.post("/orders/E2E-NOBODY/refunds", json=body)
    card = demo.api.post(route, json={**body, "refundId": "ERP-3", "reason": "4929000000006"})
    malformed = demo.api.post(route, json={"refundId": "ERP-4", "reason": "x"})

    assert beyond.status_code == 409
    assert "exceeds what can still be refunded" in beyond.json()["error"]
    assert reused.status_code == 409
    assert unknown.status_code == 404
    assert card.status_code == 400
    assert "4929000000006" not in card.text
    assert malformed.status_code == 400
    after = demo.order(order_id)
    assert after["refunds"] == before["refunds"]
    assert after["version"] == before["version"]
    assert demo.opayo_transaction(f"PAY-{order_id}")["refundCount"] == 1
    assert [e["refundId"] for e in bus("RefundIssued", order_id)] == ["ERP-1"]
    assert after["status"] == "partially_refunded"


def _track(demo: DemoContext) -> dict[str, Any]:
    """What the after-sale schedule does: follow the packages of the orders due."""
    runtime = demo.environment.runtime
    assert runtime is not None
    invocation = runtime.invoke("after_sale_tracker", {"sellerAccountId": demo.seller_account})
    assert invocation.error_type is None, invocation.error_message
    return dict(invocation.payload or {})


@pytest.mark.e2e
def test_parcels_are_followed_to_delivery_or_to_their_failure(demo: DemoContext, bus: Any) -> None:
    delivered, lost = "E2E-DELIVERED", "E2E-LOST"
    _pay(demo, sample_order(delivered))
    failing = sample_order(lost)
    failing["shipping_address"]["name"] = "Ada UNDELIVERABLE"  # the sandbox's carrier loses it
    _pay(demo, failing)
    for order_id in (delivered, lost):
        assert _shipped(_until(demo, order_id, _shipped))
    # The carrier's clock moves past delivery (the sandbox's 1800 s), then the schedule runs.
    assert demo.amazon.post("/_sandbox/clock/advance", json={"seconds": 3600}).status_code == 200
    run = _track(demo)
    assert run["orders"] >= 2

    done = demo.order(delivered)
    assert done["status"] == "delivered", done["history"]
    assert [p["current_status"] for p in done["packages"]] == ["DELIVERED"]
    assert done["follow_up_at"] is None
    (event,) = bus("OrderDelivered", delivered)
    assert event["packages"][0]["trackingNumber"] == done["packages"][0]["tracking_number"]
    failed = demo.order(lost)
    assert [p["current_status"] for p in failed["packages"]] == ["UNDELIVERABLE"]
    assert failed["follow_up_at"] is None
    assert [e["status"] for e in bus("DeliveryFailed", lost)] == ["UNDELIVERABLE"]
    assert [e["status"] for e in bus("ShipmentUpdated", delivered)] == ["DELIVERED"]
    # Nothing left to follow: the next run reads neither order.
    again = _track(demo)
    assert again["packages_read"] == 0


@pytest.mark.e2e
def test_a_return_is_authorised_received_and_refunded_once(demo: DemoContext, bus: Any) -> None:
    order_id = "E2E-RETURNED"
    _pay(demo, sample_order(order_id))  # two mugs at 12.99
    assert _shipped(_until(demo, order_id, _shipped))
    route = f"/orders/{order_id}/returns"
    body = {
        "returnId": "RMA-1",
        "items": [{"lineId": "1", "quantity": 1}],
        "reasonCode": "CR-DEFECTIVE",
        "comment": "box crushed, CustomerDamaged",
    }
    bad_code = demo.api.post(route, json={**body, "returnId": "RMA-X", "reasonCode": "NOPE"})
    too_many = demo.api.post(
        route, json={**body, "returnId": "RMA-Y", "items": [{"lineId": "1", "quantity": 3}]}
    )
    first = demo.api.post(route, json=body)
    again = demo.api.post(route, json=body)

    assert bad_code.status_code == 400
    assert "CR-DEFECTIVE" in bad_code.json()["error"]  # the codes Amazon accepts are listed
    assert too_many.status_code == 409
    assert first.status_code == 201, first.text
    (authorization,) = first.json()["return"]["authorizations"]
    assert authorization["amazon_rma_id"]
    assert authorization["return_to_address"]["country_code"] == "GB"
    assert again.status_code == 200
    assert again.json()["return"] == first.json()["return"]
    assert [e["returnId"] for e in bus("ReturnAuthorized", order_id)] == ["RMA-1"]

    # Amazon receives the parcel (the sandbox's 1800 s), then the schedule runs.
    assert demo.amazon.post("/_sandbox/clock/advance", json={"seconds": 3600}).status_code == 200
    run = _track(demo)
    assert run["returns_received"] == 1
    done = _until(demo, order_id, _refunds_settled)
    assert done["returns"][0]["conditions"] == ["CustomerDamaged"]
    (refund,) = done["refunds"]
    assert (refund["kind"], refund["status"]) == ("return", "succeeded")
    assert refund["amount"] == {"amount": 1299 * 80 // 100, "currency": "GBP"}
    assert done["status"] == "returned"
    opayo = demo.opayo_transaction(f"PAY-{order_id}")
    assert (opayo["refundedAmount"], opayo["refundCount"]) == (1299 * 80 // 100, 1)
    _track(demo)  # a second run refunds nothing more
    assert demo.opayo_transaction(f"PAY-{order_id}")["refundCount"] == 1
    (received,) = bus("ReturnReceived", order_id)
    assert received["refund"] == {"amount": 1039, "currency": "GBP"}


def _out_of_stock(demo: DemoContext, sku: str, quantity: int = 0) -> None:
    stock = demo.amazon.post("/_sandbox/inventory", json={"sku": sku, "quantity": quantity})
    assert stock.status_code == 200, stock.text


def _resubmit(demo: DemoContext, order_id: str, resubmit_id: str) -> Any:
    return demo.api.post(f"/orders/{order_id}/resubmit", json={"resubmitId": resubmit_id})


@pytest.mark.e2e
def test_an_unfulfillable_order_is_resubmitted_after_restock(demo: DemoContext, bus: Any) -> None:
    order_id = "E2E-RESTOCK"
    sku = "OPF-TEE-M"
    _out_of_stock(demo, sku)
    _pay(demo, sample_order(order_id, sku=sku, unit=1500, qty=1))
    ended = _until(demo, order_id, lambda o: o.get("outcome") is not None)
    assert ended["outcome"] == "fulfillment_rejected", ended.get("history")
    held = demo.opayo_transaction(f"PAY-{order_id}")
    assert (held["aborted"], held["released"]) == (False, False)  # kept for a resubmission
    assert demo.amazon_fulfillment_orders(order_id) == 0  # refused at the preview

    # Still out of stock: refused, and nothing changes.
    refused = _resubmit(demo, order_id, "ERP-RS-1")
    assert refused.status_code == 409, refused.text
    assert "cannot fulfil" in refused.json()["error"]
    assert demo.order(order_id)["attempt"] == 1

    _out_of_stock(demo, sku, quantity=5)  # restocked
    accepted = _resubmit(demo, order_id, "ERP-RS-1")
    assert accepted.status_code == 202, accepted.text
    assert (accepted.json()["attempt"], accepted.json()["payment"]) == (2, "held authorisation")
    assert _resubmit(demo, order_id, "ERP-RS-1").status_code == 200  # the same resubmission

    shipped = _until(demo, order_id, _shipped)
    assert shipped["status"] == "shipped", shipped.get("history")
    sfo_id = shipped["fulfillment"]["seller_fulfillment_order_id"]
    assert sfo_id.startswith(f"{order_id}-A2-")
    assert _amazon_record(demo, sfo_id)["order"]["fulfillmentOrderStatus"] == "Complete"
    assert demo.amazon_fulfillment_orders(order_id) == 0  # one fulfillment order, the new one
    captured = demo.opayo_transaction(f"PAY-{order_id}")
    assert (captured["captureCount"], captured["capturedAmount"]) == (1, 1500)
    assert captured["aborted"] is False
    (earlier,) = shipped["previous_attempts"]
    assert (earlier["attempt"], earlier["outcome"]) == (1, "fulfillment_rejected")
    (event,) = bus("OrderResubmitted", order_id)
    assert (event["attempt"], event["sellerFulfillmentOrderId"]) == (2, sfo_id)


@pytest.mark.e2e
def test_a_refunded_payment_is_charged_again_by_a_repeat_when_resubmitted(
    demo: DemoContext,
) -> None:
    order_id = "E2E-RESTOCK-PAY"
    sku = "OPF-TEE-M"
    _out_of_stock(demo, sku)
    code = f"SHOP-{order_id}"
    original = demo.deferred_transaction(code, 1500, transaction_type="Payment")
    reply = demo.submit(
        sample_order(order_id, sku=sku, unit=1500, qty=1),
        {"type": "pi_transaction", "transactionId": original, "vendorTxCode": code},
    )
    assert reply.status_code == 201, reply.text
    ended = _until(demo, order_id, lambda o: o.get("outcome") is not None and _refunds_settled(o))
    assert (ended["outcome"], ended["status"]) == ("fulfillment_rejected", "refunded")

    _out_of_stock(demo, sku, quantity=5)
    accepted = _resubmit(demo, order_id, "ERP-RS-PAY")
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["payment"] == "repeat"

    shipped = _until(demo, order_id, _shipped)
    assert shipped["status"] == "shipped", shipped.get("history")
    repeat_code = f"RPT-{order_id}-A2"
    assert shipped["payment"]["vendor_tx_code"] == repeat_code
    assert shipped["payment"]["transaction_type"] == "Repeat"
    repeat = demo.opayo_transaction(repeat_code)
    assert (repeat["transactionType"], repeat["status"], repeat["amount"]) == ("Repeat", "Ok", 1500)
    assert repeat["referenceTransactionId"] == original
    first = demo.opayo_transaction(code)
    assert (first["refundCount"], first["refundedAmount"]) == (1, 1500)  # refunded once only


@pytest.mark.e2e
def test_an_order_that_did_not_fail_at_amazon_is_not_resubmitted(demo: DemoContext) -> None:
    order_id = "E2E-NOT-RESUBMITTED"
    _pay(demo, sample_order(order_id))
    refused = _resubmit(demo, order_id, "ERP-RS-NO")
    assert refused.status_code == 409, refused.text
    assert "only an order Amazon could not fulfil" in refused.json()["error"]
    after = demo.order(order_id)
    assert (after["attempt"], after["resubmit_id"]) == (1, None)
    assert _resubmit(demo, "E2E-NO-SUCH-ORDER", "ERP-RS-NO").status_code == 404
    assert _resubmit(demo, order_id, "not an id!").status_code == 400
    assert demo.api.post(f"/orders/{order_id}/resubmit", json={}).status_code == 400
