"""The SQS consumers report exactly the records that failed, so one bad record never makes
the good ones run twice (Powertools batch processing, ReportBatchItemFailures)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from local_runtime.environment import LocalEnvironment


def _record(body: Any, group: str | None = None) -> dict[str, Any]:
    attributes: dict[str, str] = {"ApproximateReceiveCount": "1", "SentTimestamp": "1"}
    if group is not None:
        attributes |= {"MessageGroupId": group, "MessageDeduplicationId": uuid.uuid4().hex}
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "r",
        "body": json.dumps(body),
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:q",
        "awsRegion": "eu-west-2",
    }


def _notification(kind: str, nid: str) -> dict[str, Any]:
    return {
        "NotificationVersion": "1.0",
        "NotificationType": kind,
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-28T12:00:00Z",
        "Payload": {"OrderChangeNotification": {"AmazonOrderId": "206-1", "Summary": {}}},
        "NotificationMetadata": {"NotificationId": nid},
    }


@pytest.mark.e2e
def test_amazon_notifications_consumer_reports_only_the_bad_record(
    environment: LocalEnvironment,
) -> None:
    assert environment.runtime is not None
    good = _record(_notification("ORDER_CHANGE", "n-good"))
    bad = _record(_notification("ANY_OFFER_CHANGED", "n-bad"))
    invocation = environment.runtime.invoke("amazon_notifications", {"Records": [good, bad]})
    assert invocation.error_type is None
    assert invocation.payload == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}


@pytest.mark.e2e
def test_payment_events_consumer_holds_back_only_the_failed_group(
    environment: LocalEnvironment,
) -> None:
    assert environment.runtime is not None
    malformed = _record({"event_id": "x:OK", "payment": {"state": "nonsense"}}, group="tx-a")
    after_it = _record({"event_id": "y:OK", "payment": {"state": "nonsense"}}, group="tx-a")
    other_group = _record(
        {
            "event_id": "{00000000-0000-0000-0000-000000000001}:OK",
            "vendor": "sandboxvendor",
            "source": "opayo-server",
            "payment": {
                "provider": "server",
                "vendor_tx_code": "SRV-UNKNOWN-1",
                "transaction_id": "{00000000-0000-0000-0000-000000000001}",
                "transaction_type": "Deferred",
                "status": "OK",
                "state": "authorised",
                "amount": {"amount": 1000, "currency": "GBP"},
            },
        },
        group="tx-b",
    )
    invocation = environment.runtime.invoke(
        "payment_events", {"Records": [malformed, after_it, other_group]}
    )
    assert invocation.error_type is None
    failed = {f["itemIdentifier"] for f in invocation.payload["batchItemFailures"]}
    # FIFO: the malformed record's group stops there; the other group is processed (parked).
    assert failed == {malformed["messageId"], after_it["messageId"]}
