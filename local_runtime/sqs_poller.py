"""Poll an SQS queue for a Lambda event source mapping, the way Lambda does.

Lambda receives up to BatchSize messages, invokes the function with an `aws:sqs` event, and
then: on success deletes the batch, except the messages named in `batchItemFailures` when the
mapping reports batch item failures; on an unhandled error deletes nothing. Messages not
deleted become visible again after the visibility timeout (scaled by the runtime's time
factor here), and the queue's redrive policy moves a message to its dead-letter queue once it
has been received maxReceiveCount times (moto implements the redrive itself).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local_runtime.lambda_bridge import InProcessLambdas, Invocation


@dataclass(frozen=True)
class EventSourceMapping:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    region: str = "eu-west-2"


def sqs_event(records: list[dict[str, Any]], mapping: EventSourceMapping) -> dict[str, Any]:
    """The Lambda event for a batch of received SQS messages."""
    out = []
    for message in records:
        body = message["Body"]
        attributes = dict(message.get("Attributes", {}))
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        out.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": mapping.queue_arn,
                "awsRegion": mapping.region,
            }
        )
    return {"Records": out}


def failed_message_ids(invocation: Invocation, mapping: EventSourceMapping) -> set[str] | None:
    """Ids to leave on the queue; None means the whole batch failed."""
    if invocation.error_type is not None:
        return None
    if not mapping.report_batch_item_failures:
        return set()
    payload = invocation.payload if isinstance(invocation.payload, dict) else {}
    failures = payload.get("batchItemFailures") or []
    return {str(item["itemIdentifier"]) for item in failures}


class SqsPoller:
    """One thread per event source mapping; `poll_once` is exposed for step-by-step tests."""

    def __init__(
        self,
        sqs: Any,
        lambdas: InProcessLambdas,
        mapping: EventSourceMapping,
        *,
        retry_visibility_seconds: int = 1,
        idle_wait_seconds: float = 0.05,
        on_error: Callable[[EventSourceMapping, BaseException], None] | None = None,
    ) -> None:
        self._sqs = sqs
        self._lambdas = lambdas
        self.mapping = mapping
        self._retry_visibility = retry_visibility_seconds
        self._idle_wait = idle_wait_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-{mapping.function}", daemon=True
        )
        self._on_error = on_error

    def poll_once(self) -> int:
        """Receive and process one batch; returns how many messages were received."""
        received = self._sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=min(self.mapping.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not received:
            return 0
        invocation = self._lambdas.invoke(self.mapping.function, sqs_event(received, self.mapping))
        failed = failed_message_ids(invocation, self.mapping)
        for message in received:
            if failed is None or message["MessageId"] in failed:
                # Let it come back soon rather than after the full visibility timeout.
                self._sqs.change_message_visibility(
                    QueueUrl=self.mapping.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_visibility,
                )
            else:
                self._sqs.delete_message(
                    QueueUrl=self.mapping.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return len(received)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.poll_once() == 0:
                    self._stop.wait(self._idle_wait)
            except Exception as error:
                if self._on_error is not None:
                    self._on_error(self.mapping, error)
                self._stop.wait(self._idle_wait * 10)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
