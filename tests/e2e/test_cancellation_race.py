"""A cancellation tells the truth (issue 11, item 5), through the local runtime.

A merchant cancellation races the release to Ship: Amazon says the fulfillment order is still
Received when the cancellation is asked for (so it is accepted, 202), then picks it
(Processing) while the saga's cancelFulfillmentOrder is on its way, and refuses it. The order
must go on and ship, captured once and never refunded, with the refusal shown on the order
and announced on the bus. Judged on the Amazon and Opayo sandboxes' records.

Amazon sandbox controls used (docs/sandbox-amazon.md): a frozen clock (`clock/factor 0`) so
the released order waits at Received, a `delay` fault on cancelFulfillmentOrder that holds the
saga's cancel in flight, and `clock/advance` past the 300 s Processing offset meanwhile.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from demo.scenarios import BROWSER_DATA, DemoContext, sample_order
from local_runtime.environment import LocalEnvironment
from tests.fixtures.bus import check_canonical

REGION = "eu-west-2"
ORDER_ID = "E2E-CANCEL-RACE"


def _until(what: str, check: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _history(demo: DemoContext) -> list[str]:
    return [entry["event"] for entry in demo.order(ORDER_ID).get("history", [])]


def _amazon_status(demo: DemoContext, sfo_id: str) -> str:
    sandbox = demo.environment.amazon.app.state.sandbox  # type: ignore[union-attr]
    record = sandbox.state.store.get("fulfillment_order", sfo_id)
    return str(record["order"]["fulfillmentOrderStatus"]) if record else ""


def _order_when(demo: DemoContext, condition: Callable[[dict[str, Any]], bool]) -> Any:
    order = demo.order(ORDER_ID)
    return order if condition(order) else None


@pytest.fixture
def bus_inbox(environment: LocalEnvironment) -> tuple[Any, str]:
    runtime = environment.runtime
    assert runtime is not None
    bus = next(
        runtime.template.physical_name(r.logical_id)
        for r in runtime.template.of_type("AWS::Events::EventBus")
    )
    sqs = boto3.client("sqs", REGION)
    url = sqs.create_queue(QueueName="erp-cancellations")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = boto3.client("events", REGION)
    events.put_rule(
        Name="erp-cancellations",
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["opayo-fba"], "detail-type": ["CancellationRefused"]}),
    )
    events.put_targets(
        Rule="erp-cancellations", EventBusName=bus, Targets=[{"Id": "erp", "Arn": arn}]
    )
    return sqs, url


@pytest.mark.e2e
def test_a_cancellation_racing_the_release_to_ship_lets_the_order_ship(
    demo: DemoContext, bus_inbox: tuple[Any, str]
) -> None:
    demo.amazon.post("/_sandbox/clock/factor", json={"factor": 0}).raise_for_status()
    demo.amazon.post(
        "/_sandbox/faults",
        json={
            "seed": 1,
            "rules": [
                {
                    "operation": "cancelFulfillmentOrder",
                    "kind": "delay",
                    "delay_seconds": 3,
                    "times": 1,
                }
            ],
        },
    ).raise_for_status()
    try:
        msk, card = demo.card_identifier()
        placed = demo.submit(
            sample_order(ORDER_ID),
            {
                "type": "pi_card",
                "merchantSessionKey": msk,
                "cardIdentifier": card,
                "strongCustomerAuthentication": BROWSER_DATA,
            },
        )
        assert placed.status_code == 201, placed.text
        _until("the release to Ship", lambda: "fulfillment_order_released" in _history(demo))
        sfo_id = demo.order(ORDER_ID)["fulfillment"]["seller_fulfillment_order_id"]
        assert _amazon_status(demo, sfo_id) == "Received"

        accepted = demo.api.post(f"/orders/{ORDER_ID}/cancel")
        assert accepted.status_code == 202, accepted.text  # Amazon said Received: true then

        def cancel_in_flight() -> bool:
            fired = demo.amazon.get("/_sandbox/faults").json()["fired"]
            return {"operation": "cancelFulfillmentOrder", "kind": "delay"} in fired

        _until("the saga's cancelFulfillmentOrder", cancel_in_flight)
        # Meanwhile Amazon picks the order: past the 300 s Processing offset.
        demo.amazon.post("/_sandbox/clock/advance", json={"seconds": 310}).raise_for_status()
        assert _amazon_status(demo, sfo_id) == "Processing"

        refused = _until(
            "the refusal on the order",
            lambda: _order_when(demo, lambda order: bool(order.get("cancel_refused"))),
        )
        assert "cancellation_refused" in [h["event"] for h in refused["history"]]
        again = demo.api.post(f"/orders/{ORDER_ID}/cancel")
        assert again.status_code == 409
        assert "Amazon refused" in again.text

        demo.amazon.post("/_sandbox/clock/advance", json={"seconds": 700}).raise_for_status()
        shipped = _until(
            "the shipment",
            lambda: _order_when(demo, lambda order: order.get("status") == "shipped"),
        )
    finally:
        demo.amazon.delete("/_sandbox/faults")
        demo.amazon.post("/_sandbox/clock/factor", json={"factor": 600.0})

    assert shipped["outcome"] in (None, "shipped")
    # Amazon's records: the one fulfillment order shipped; it was never cancelled.
    assert demo.amazon_fulfillment_orders(sfo_id) == 1
    assert _amazon_status(demo, sfo_id) == "Complete"
    # Opayo's records: captured once, nothing refunded, for an order that shipped.
    transaction = demo.opayo_transaction(shipped["payment"]["vendor_tx_code"])
    assert transaction["captureCount"] == 1
    assert transaction["refundCount"] == 0
    assert transaction["refundedAmount"] == 0
    # The shop was told on the bus.
    sqs, url = bus_inbox

    def refusal() -> list[dict[str, Any]]:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in batch]

    [event] = _until("the CancellationRefused event", refusal, seconds=10)
    assert event["detail-type"] == "CancellationRefused"
    check_canonical(event)
    assert event["detail"]["orderId"] == ORDER_ID
    assert event["detail"]["fulfillmentStatus"] == "Processing"
