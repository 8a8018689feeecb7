"""The payment-events FIFO queue: verified payment events, grouped per transaction."""

from __future__ import annotations

from typing import Any


class SqsPaymentEventQueue:
    def __init__(self, queue_url: str, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("sqs")
        self._client = client
        self._url = queue_url

    def send(self, body: str, group_id: str, deduplication_id: str) -> None:
        self._client.send_message(
            QueueUrl=self._url,
            MessageBody=body,
            MessageGroupId=group_id,
            MessageDeduplicationId=deduplication_id,
        )
