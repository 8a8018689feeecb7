"""Dead-letter queues: find them, look inside without losing anything, and redrive.

On AWS, redrive is `StartMessageMoveTask`, which moves messages back to the queue they came
from, server side. The local runtime's moto has no message-move tasks, so there the same
move is done message by message: send to the source queue, then delete from the DLQ, so a
crash in between duplicates a message (which the idempotent consumers absorb) but never loses one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str
    url: str
    arn: str
    messages: int
    source_queues: tuple[str, ...]  # URLs of the queues that redrive into it
    max_receive_count: int | None


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receive_count: int
    sent_timestamp_ms: int
    group_id: str | None
    body: str


@dataclass(frozen=True)
class RedriveResult:
    moved: int
    task_handle: str | None  # set when AWS moves them server side


def _attributes(sqs: Any, url: str) -> dict[str, str]:
    attributes: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    return attributes


def _all_queue_urls(sqs: Any) -> list[str]:
    urls: list[str] = []
    for page in sqs.get_paginator("list_queues").paginate():
        urls.extend(page.get("QueueUrls", []))
    return urls


def list_dead_letter_queues(sqs: Any) -> list[DeadLetterQueue]:
    """Every queue that some other queue's redrive policy names as its DLQ."""
    attributes = {url: _attributes(sqs, url) for url in _all_queue_urls(sqs)}
    by_arn = {attrs["QueueArn"]: url for url, attrs in attributes.items()}
    sources: dict[str, list[tuple[str, int]]] = {}
    for url, attrs in attributes.items():
        if "RedrivePolicy" in attrs:
            policy = json.loads(attrs["RedrivePolicy"])
            target = by_arn.get(policy["deadLetterTargetArn"])
            if target is not None:
                sources.setdefault(target, []).append((url, int(policy["maxReceiveCount"])))
    return [
        DeadLetterQueue(
            name=url.rsplit("/", 1)[-1],
            url=url,
            arn=attributes[url]["QueueArn"],
            messages=int(attributes[url].get("ApproximateNumberOfMessages", 0)),
            source_queues=tuple(source for source, _ in feeding),
            max_receive_count=min(count for _, count in feeding),
        )
        for url, feeding in sorted(sources.items())
    ]


def find_dead_letter_queue(sqs: Any, name_or_url: str) -> DeadLetterQueue:
    queues = list_dead_letter_queues(sqs)
    for queue in queues:
        if name_or_url in (queue.name, queue.url, queue.arn):
            return queue
    known = ", ".join(q.name for q in queues) or "none"
    raise LookupError(f"{name_or_url!r} is not a dead-letter queue (dead-letter queues: {known})")


def peek(sqs: Any, queue: DeadLetterQueue, limit: int = 10) -> list[DeadLetter]:
    """Read up to `limit` messages and make them visible again at once."""
    seen: dict[str, DeadLetter] = {}
    handles: list[str] = []
    while len(seen) < limit:
        batch = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=min(10, limit - len(seen)),
            AttributeNames=["All"],
            VisibilityTimeout=30,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            handles.append(message["ReceiptHandle"])
            attrs = message.get("Attributes", {})
            seen[message["MessageId"]] = DeadLetter(
                message_id=message["MessageId"],
                receive_count=int(attrs.get("ApproximateReceiveCount", 0)),
                sent_timestamp_ms=int(attrs.get("SentTimestamp", 0)),
                group_id=attrs.get("MessageGroupId"),
                body=message["Body"],
            )
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=queue.url, ReceiptHandle=handle, VisibilityTimeout=0)
    return list(seen.values())


def redrive(sqs: Any, queue: DeadLetterQueue, *, server_side: bool) -> RedriveResult:
    """Move every message of `queue` back to the queue it came from."""
    if len(queue.source_queues) != 1:
        raise ValueError(
            f"{queue.name} receives from {len(queue.source_queues)} queues; "
            "redrive needs exactly one source"
        )
    if server_side:
        handle = sqs.start_message_move_task(SourceArn=queue.arn)["TaskHandle"]
        return RedriveResult(moved=queue.messages, task_handle=str(handle))
    source = queue.source_queues[0]
    fifo = source.endswith(".fifo")
    moved = 0
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            return RedriveResult(moved=moved, task_handle=None)
        for message in batch:
            send: dict[str, Any] = {"QueueUrl": source, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                send["MessageAttributes"] = message["MessageAttributes"]
            if fifo:
                attrs = message.get("Attributes", {})
                send["MessageGroupId"] = attrs.get("MessageGroupId", "redrive")
                send["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"
            sqs.send_message(**send)
            sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
