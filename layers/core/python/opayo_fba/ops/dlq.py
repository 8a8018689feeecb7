"""Dead-letter queues: find them, look inside without losing anything, and redrive.

On AWS, redrive is `StartMessageMoveTask`, which moves messages back to the queue they came
from, server side. The local runtime's moto has no message-move tasks, so there the same
move is done message by message: send to the source queue, then delete from the DLQ, so a
crash in between duplicates a message (which the idempotent consumers absorb) but never loses one.
One message is always moved that way (`redrive_message`): SQS has no call that moves one.

Why a message failed: SQS's own redrive (a consumer failed it maxReceiveCount times) adds
nothing to the message, so only its receive count and timestamps tell its story. EventBridge
Scheduler and EventBridge rules, when they give up on a target, do add message attributes
naming the error (ERROR_CODE, ERROR_MESSAGE: see the Scheduler and EventBridge user guides'
"dead-letter queue" pages); `failure_reason` reads those when they are there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str
    url: str
    arn: str
    messages: int
    source_queues: tuple[str, ...]  # URLs of the queues that redrive into it
    max_receive_count: int | None
    # What EventBridge (a schedule, a rule) gave up delivering into it: such a queue has no
    # source queue, and its messages are replayed to their target, never redriven.
    senders: tuple[str, ...] = ()
    # The function its messages are replayed to (`replay`), when the template says one.
    replay_to: str | None = None


# The message attributes EventBridge (Scheduler and rules) adds to what it dead-letters.
ERROR_ATTRIBUTES = ("ERROR_CODE", "ERROR_MESSAGE")


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receive_count: int
    sent_timestamp_ms: int
    group_id: str | None
    body: str
    # When it was first received (from any queue it was in; None: never, until this peek).
    first_received_ms: int | None = None
    # Its string message attributes (binary ones are left out).
    attributes: Mapping[str, str] = field(default_factory=dict)

    def failure_reason(self) -> str | None:
        """What the service that gave up on it said, if it said anything (see the module doc)."""
        said = [self.attributes[name] for name in ERROR_ATTRIBUTES if self.attributes.get(name)]
        return ": ".join(said) or None


@dataclass(frozen=True)
class RedriveResult:
    moved: int
    task_handle: str | None  # set when AWS moves them server side
    # A replay stops at the first message its function fails on: what the function said.
    failed: str | None = None


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


def dead_letter_queue(sqs: Any, name: str) -> DeadLetterQueue | None:
    """The queue `name` if another queue's redrive policy names it as its DLQ (None if not,
    or if there is no such queue): as `list_dead_letter_queues` would list it, read from it
    and its sources alone (SQS's ListDeadLetterSourceQueues), not from every queue."""
    from botocore.exceptions import ClientError

    try:
        url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as error:
        if gone(error):
            return None
        raise
    sources: list[str] = []
    for page in sqs.get_paginator("list_dead_letter_source_queues").paginate(QueueUrl=url):
        sources.extend(page.get("queueUrls", []))
    if not sources:
        return None
    counts = [
        int(json.loads(_attributes(sqs, source)["RedrivePolicy"])["maxReceiveCount"])
        for source in sources
    ]
    return _queue(
        sqs, name, url, source_queues=tuple(sorted(sources)), max_receive_count=min(counts)
    )


def _queue(sqs: Any, name: str, url: str, **rest: Any) -> DeadLetterQueue:
    """The queue at `url` with its ARN and depth read now, and the rest as given."""
    attributes = _attributes(sqs, url)
    return DeadLetterQueue(
        name=name,
        url=url,
        arn=attributes["QueueArn"],
        messages=int(attributes.get("ApproximateNumberOfMessages", 0)),
        **rest,
    )


def with_depths(
    sqs: Any, queues: Sequence[DeadLetterQueue], pool: Executor | None = None
) -> list[DeadLetterQueue]:
    """The same queues with their depth read now, ApproximateNumberOfMessages alone, a request
    each (in `pool`, side by side, when given): what changes of a queue between two reads
    (its name, ARN and sources change only with a deploy). A queue gone since raises SQS's
    NonExistentQueue error (botocore's ClientError)."""

    def depth(queue: DeadLetterQueue) -> DeadLetterQueue:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return replace(queue, messages=int(attributes.get("ApproximateNumberOfMessages", 0)))

    if pool is None or len(queues) < 2:
        return [depth(queue) for queue in queues]
    return list(pool.map(depth, queues))


def gone(error: Exception) -> bool:
    """Whether `error` is SQS saying a queue does not exist (any more)."""
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError) and "NonExistentQueue" in str(
        error.response.get("Error", {}).get("Code", "")
    )


def find_dead_letter_queue(sqs: Any, name_or_url: str) -> DeadLetterQueue:
    queues = list_dead_letter_queues(sqs)
    for queue in queues:
        if name_or_url in (queue.name, queue.url, queue.arn):
            return queue
    known = ", ".join(q.name for q in queues) or "none"
    raise LookupError(f"{name_or_url!r} is not a dead-letter queue (dead-letter queues: {known})")


def _letter(message: dict[str, Any]) -> DeadLetter:
    attrs = message.get("Attributes", {})
    first = attrs.get("ApproximateFirstReceiveTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        receive_count=int(attrs.get("ApproximateReceiveCount", 0)),
        sent_timestamp_ms=int(attrs.get("SentTimestamp", 0)),
        group_id=attrs.get("MessageGroupId"),
        body=message["Body"],
        first_received_ms=int(first) if first else None,
        attributes={
            name: str(value["StringValue"])
            for name, value in message.get("MessageAttributes", {}).items()
            if "StringValue" in value
        },
    )


def _receive(sqs: Any, queue: DeadLetterQueue, count: int, hide_seconds: int) -> list[Any]:
    messages: list[Any] = sqs.receive_message(
        QueueUrl=queue.url,
        MaxNumberOfMessages=min(10, count),
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        VisibilityTimeout=hide_seconds,
        WaitTimeSeconds=0,
    ).get("Messages", [])
    return messages


# ChangeMessageVisibilityBatch takes at most 10 entries.
RELEASE_BATCH = 10


def _release(sqs: Any, queue: DeadLetterQueue, handles: list[str]) -> None:
    """Make the received messages visible again at once, 10 a request; one the batch could
    not release is released alone (a failure there is raised, never left hidden silently)."""
    for start in range(0, len(handles), RELEASE_BATCH):
        chunk = handles[start : start + RELEASE_BATCH]
        reply = sqs.change_message_visibility_batch(
            QueueUrl=queue.url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(chunk)
            ],
        )
        for failed in reply.get("Failed", []):
            sqs.change_message_visibility(
                QueueUrl=queue.url, ReceiptHandle=chunk[int(failed["Id"])], VisibilityTimeout=0
            )


def event_dead_letter_queue(
    sqs: Any, name: str, senders: Sequence[str], replay_to: str | None = None
) -> DeadLetterQueue:
    """The queue `name` that EventBridge dead-letters into for `senders` (the template says
    which: no redrive policy names it, so list_dead_letter_queues cannot); its messages are
    replayed to the function `replay_to`, if given."""
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return _queue(
        sqs,
        name,
        url,
        source_queues=(),
        max_receive_count=None,
        senders=tuple(senders),
        replay_to=replay_to,
    )


# How long a message being replayed stays hidden: the function runs meanwhile (the saga
# recovery reads Opayo and Amazon, and may abort or refund), within its own timeout.
REPLAY_HIDE_SECONDS = 900


def replay(
    sqs: Any,
    queue: DeadLetterQueue,
    invoke: Callable[[str], str | None],
    message_id: str | None = None,
) -> RedriveResult:
    """Give each message of `queue` (or the one `message_id`) to its function again:
    `invoke(body)` runs it and says what went wrong (None: the function took it). A message
    the function took is deleted; the first one it fails on stays, visible again at once,
    and the replay stops there (the next would most likely fail for the same reason).
    LookupError if `message_id` is not in the queue now. The function runs before the
    message is deleted, so a crash in between runs it twice, never not at all: replay only
    to an idempotent function (the saga recovery re-reads both providers first)."""
    if queue.replay_to is None:
        raise ValueError(f"{queue.name} names no function to replay its messages to")
    passed: list[str] = []
    seen: set[str] = set()
    moved = 0
    try:
        while True:
            batch = _receive(sqs, queue, 10, hide_seconds=REPLAY_HIDE_SECONDS)
            fresh = [m for m in batch if m["MessageId"] not in seen]
            passed += [m["ReceiptHandle"] for m in batch if m["MessageId"] in seen]
            if not fresh:
                if message_id is not None:
                    raise LookupError(f"{queue.name} holds no message {message_id} now")
                return RedriveResult(moved=moved, task_handle=None)
            for index, message in enumerate(fresh):
                seen.add(message["MessageId"])
                if message_id is not None and message["MessageId"] != message_id:
                    passed.append(message["ReceiptHandle"])
                    continue
                error = invoke(str(message["Body"]))
                if error is not None:
                    passed += [m["ReceiptHandle"] for m in fresh[index:]]
                    return RedriveResult(moved=moved, task_handle=None, failed=error)
                sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
                if message_id is not None:
                    passed += [m["ReceiptHandle"] for m in fresh[index + 1 :]]
                    return RedriveResult(moved=moved, task_handle=None)
    finally:
        _release(sqs, queue, passed)


def peek(sqs: Any, queue: DeadLetterQueue, limit: int = 10) -> list[DeadLetter]:
    """Read up to `limit` messages and make them visible again at once."""
    seen: dict[str, DeadLetter] = {}
    handles: list[str] = []
    while len(seen) < limit:
        batch = _receive(sqs, queue, limit - len(seen), hide_seconds=30)
        if not batch:
            break
        for message in batch:
            handles.append(message["ReceiptHandle"])
            seen[message["MessageId"]] = _letter(message)
    _release(sqs, queue, handles)
    return list(seen.values())


def _only_source(queue: DeadLetterQueue) -> str:
    if len(queue.source_queues) != 1:
        raise ValueError(
            f"{queue.name} receives from {len(queue.source_queues)} queues; "
            "redrive needs exactly one source"
        )
    return queue.source_queues[0]


def _move(sqs: Any, queue: DeadLetterQueue, source: str, message: dict[str, Any]) -> None:
    """Send one received message to `source`, then delete it here (never lost, see above)."""
    send: dict[str, Any] = {"QueueUrl": source, "MessageBody": message["Body"]}
    if message.get("MessageAttributes"):
        send["MessageAttributes"] = message["MessageAttributes"]
    if source.endswith(".fifo"):
        attrs = message.get("Attributes", {})
        send["MessageGroupId"] = attrs.get("MessageGroupId", "redrive")
        send["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"
    sqs.send_message(**send)
    sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])


def redrive(sqs: Any, queue: DeadLetterQueue, *, server_side: bool) -> RedriveResult:
    """Move every message of `queue` back to the queue it came from."""
    source = _only_source(queue)
    if server_side:
        handle = sqs.start_message_move_task(SourceArn=queue.arn)["TaskHandle"]
        return RedriveResult(moved=queue.messages, task_handle=str(handle))
    moved = 0
    while True:
        batch = _receive(sqs, queue, 10, hide_seconds=60)
        if not batch:
            return RedriveResult(moved=moved, task_handle=None)
        for message in batch:
            _move(sqs, queue, source, message)
            moved += 1


def redrive_message(sqs: Any, queue: DeadLetterQueue, message_id: str) -> RedriveResult:
    """Move the one message `message_id` back to the queue it came from; the others stay
    (visible again at once). LookupError if the queue has no such message now."""
    source = _only_source(queue)
    passed: list[str] = []
    seen: set[str] = set()
    try:
        while True:
            batch = _receive(sqs, queue, 10, hide_seconds=60)
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                raise LookupError(f"{queue.name} holds no message {message_id} now")
            for message in fresh:
                if message["MessageId"] == message_id:
                    _move(sqs, queue, source, message)
                    return RedriveResult(moved=1, task_handle=None)
                seen.add(message["MessageId"])
                passed.append(message["ReceiptHandle"])
    finally:
        _release(sqs, queue, passed)
