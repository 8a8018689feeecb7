"""An unknown FULFILLMENT_ORDER_STATUS (the schema's own example value, PROCESSED) makes the
notifications consumer read the order from Amazon and act on its real status, through the
local runtime (issue 13, item 7).

Amazon sandbox controls used (docs/sandbox-amazon.md): a frozen clock so the released order
waits at Received, no notification targets while the clock is advanced past the 900 s Complete
offset (so Amazon ships without telling anyone), then one hand-made notification.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from demo.scenarios import BROWSER_DATA, DemoContext, sample_order

ORDER_ID = "E2E-UNKNOWN-STATUS"


def _until(what: str, check: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _history(demo: DemoContext) -> list[dict[str, Any]]:
    return list(demo.order(ORDER_ID).get("history", []))


def _sqs_record(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "r",
        "body": json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "0",
            "SenderId": "x",
            "ApproximateFirstReceiveTimestamp": "0",
        },
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:q",
        "awsRegion": "eu-west-2",
    }


def _processed(sfo_id: str) -> dict[str, Any]:
    """The schema's own example values: FulfillmentOrderStatus PROCESSED, EventType TYPE3945."""
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "FULFILLMENT_ORDER_STATUS",
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-28T12:00:00Z",
        "Payload": {
            "FulfillmentOrderStatusNotification": {
                "SellerId": "A1SANDBOXSELLER",
                "EventType": "TYPE3945",
                "StatusUpdatedDateTime": "2026-11-28T12:00:00Z",
                "SellerFulfillmentOrderId": sfo_id,
                "FulfillmentOrderStatus": "PROCESSED",
                "FulfillmentShipment": {
                    "FulfillmentShipmentStatus": "PROCESSED",
                    "AmazonShipmentId": "",
                    "EstimatedArrivalDateTime": "2026-11-28T12:00:00Z",
                    "info": {},
                    "FulfillmentShipmentPackages": [],
                },
                "FulfillmentReturnItem": {
                    "ReceivedDateTime": "2026-11-28T12:00:00Z",
                    "ReturnedQuantity": 0,
                    "SellerSKU": "OPF-MUG-BLUE",
                },
            }
        },
        "NotificationMetadata": {"NotificationId": str(uuid.uuid4())},
    }


def _consumer_results(demo: DemoContext, order_id: str) -> list[dict[str, Any]]:
    """apply_notification's results for the order, from the idempotency records."""
    runtime = demo.environment.runtime
    assert runtime is not None
    dynamodb = boto3.client("dynamodb", "eu-west-2")
    results = []
    for table in runtime.template.of_type("AWS::DynamoDB::Table"):
        name = runtime.template.physical_name(table.logical_id)
        for item in dynamodb.scan(TableName=name).get("Items", []):
            data = item.get("data", {}).get("S", "")
            if "statusSource" in data and order_id in data:
                results.append(json.loads(data))
    return results


@pytest.mark.e2e
def test_an_unknown_status_is_resolved_by_reading_the_order(demo: DemoContext) -> None:
    runtime = demo.environment.runtime
    assert runtime is not None
    targets = demo.amazon.get("/_sandbox/notifications").json()["targets"]
    demo.amazon.post("/_sandbox/clock/factor", json={"factor": 0}).raise_for_status()
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
        _until(
            "the release to Ship",
            lambda: "fulfillment_order_released" in [h["event"] for h in _history(demo)],
        )
        sfo_id = demo.order(ORDER_ID)["fulfillment"]["seller_fulfillment_order_id"]
        # Amazon ships without a word to us.
        demo.amazon.post("/_sandbox/notifications", json={"targets": []}).raise_for_status()
        demo.amazon.post("/_sandbox/clock/advance", json={"seconds": 901}).raise_for_status()
        assert demo.order(ORDER_ID).get("status") != "shipped"

        invocation = runtime.invoke(
            "amazon_notifications", {"Records": [_sqs_record(_processed(sfo_id))]}
        )
        assert invocation.error_type is None, invocation.error_message
        assert invocation.payload == {"batchItemFailures": []}  # not dead-lettered
        # The consumer read Amazon (its idempotency record keeps its result); it applied
        # Complete unless the saga's own status check, every 1.5 s here, got there first.
        results = _consumer_results(demo, ORDER_ID)
        assert {r["statusSource"] for r in results} == {"notification", "amazon"}
        (result,) = [r for r in results if r["statusSource"] == "amazon"]
        assert result["outcome"] in ("applied", "stale")
        if result["outcome"] == "applied":
            notes = [h["detail"] for h in _history(demo) if h["event"] == "amazon_notification"]
            assert any("Complete" in n and "read from Amazon" in n for n in notes)
        shipped = _until(
            "the shipment",
            lambda: (o := demo.order(ORDER_ID)).get("status") == "shipped" and o,
        )
        assert shipped["fulfillment_status"] == "Complete"
    finally:
        demo.amazon.post("/_sandbox/notifications", json={"targets": targets})
        demo.amazon.post("/_sandbox/clock/factor", json={"factor": 600.0})
