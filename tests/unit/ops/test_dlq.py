from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from opayo_fba.ops import dlq


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sqs", "eu-west-2")
        dead = client.create_queue(QueueName="events-dlq.fifo", Attributes={"FifoQueue": "true"})
        arn = client.get_queue_attributes(QueueUrl=dead["QueueUrl"], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        client.create_queue(
            QueueName="events.fifo",
            Attributes={
                "FifoQueue": "true",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3}),
            },
        )
        client.create_queue(QueueName="unrelated")
        yield client


def _dead_letter(sqs: Any, body: str, group: str) -> None:
    url = sqs.get_queue_url(QueueName="events-dlq.fifo")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body
    )


def test_lists_only_queues_that_are_someones_dlq(sqs: Any) -> None:
    _dead_letter(sqs, "poison", "tx-1")
    [queue] = dlq.list_dead_letter_queues(sqs)
    assert queue.name == "events-dlq.fifo"
    assert queue.messages == 1
    assert queue.max_receive_count == 3
    assert [u.rsplit("/", 1)[-1] for u in queue.source_queues] == ["events.fifo"]


def test_peek_leaves_messages_in_place(sqs: Any) -> None:
    _dead_letter(sqs, "poison-a", "tx-1")
    _dead_letter(sqs, "poison-b", "tx-2")
    queue = dlq.find_dead_letter_queue(sqs, "events-dlq.fifo")
    first = dlq.peek(sqs, queue, 10)
    assert sorted(letter.body for letter in first) == ["poison-a", "poison-b"]
    assert {letter.group_id for letter in first} == {"tx-1", "tx-2"}
    again = dlq.peek(sqs, queue, 10)
    assert sorted(letter.body for letter in again) == ["poison-a", "poison-b"]


def test_redrive_moves_every_message_back_once_keeping_the_group(sqs: Any) -> None:
    _dead_letter(sqs, "poison-a", "tx-1")
    _dead_letter(sqs, "poison-b", "tx-2")
    queue = dlq.find_dead_letter_queue(sqs, "events-dlq.fifo")
    result = dlq.redrive(sqs, queue, server_side=False)
    assert result.moved == 2
    source = sqs.get_queue_url(QueueName="events.fifo")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, AttributeNames=["All"])[
        "Messages"
    ]
    assert sorted((m["Body"], m["Attributes"]["MessageGroupId"]) for m in messages) == [
        ("poison-a", "tx-1"),
        ("poison-b", "tx-2"),
    ]
    assert dlq.list_dead_letter_queues(sqs)[0].messages == 0


def test_unknown_queue_names_the_real_ones(sqs: Any) -> None:
    with pytest.raises(LookupError, match=r"'unrelated' is not a dead-letter queue.*events-dlq"):
        dlq.find_dead_letter_queue(sqs, "unrelated")


def test_redrive_on_aws_is_a_server_side_message_move_task() -> None:
    """moto has no message-move tasks, so the AWS call itself is checked with botocore's
    Stubber: the right API, with the dead-letter queue as the source."""
    from botocore.stub import Stubber

    client = boto3.client("sqs", "eu-west-2")
    queue = dlq.DeadLetterQueue(
        name="events-dlq.fifo",
        url="https://sqs.eu-west-2.amazonaws.com/123456789012/events-dlq.fifo",
        arn="arn:aws:sqs:eu-west-2:123456789012:events-dlq.fifo",
        messages=3,
        source_queues=("https://sqs.eu-west-2.amazonaws.com/123456789012/events.fifo",),
        max_receive_count=5,
    )
    with Stubber(client) as stub:
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {"SourceArn": queue.arn},
        )
        result = dlq.redrive(client, queue, server_side=True)
        stub.assert_no_pending_responses()
    assert result == dlq.RedriveResult(moved=3, task_handle="task-1")


def test_redrive_refuses_a_dlq_fed_by_several_queues() -> None:
    queue = dlq.DeadLetterQueue("shared", "u", "a", 1, ("q1", "q2"), 5)
    with pytest.raises(ValueError, match="receives from 2 queues"):
        dlq.redrive(None, queue, server_side=False)


def test_redrive_message_moves_that_one_only_and_leaves_the_others_visible(sqs: Any) -> None:
    for n in range(12):  # more than one receive batch
        _dead_letter(sqs, f"poison-{n}", f"tx-{n}")
    queue = dlq.find_dead_letter_queue(sqs, "events-dlq.fifo")
    letters = {letter.body: letter for letter in dlq.peek(sqs, queue, 12)}
    wanted = letters["poison-11"]
    assert dlq.redrive_message(sqs, queue, wanted.message_id) == dlq.RedriveResult(1, None)
    source = sqs.get_queue_url(QueueName="events.fifo")["QueueUrl"]
    [moved] = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, AttributeNames=["All"])[
        "Messages"
    ]
    assert (moved["Body"], moved["Attributes"]["MessageGroupId"]) == ("poison-11", "tx-11")
    left = dlq.peek(sqs, queue, 20)  # visible at once, not after the 60 s they were hidden
    assert sorted(letter.body for letter in left) == sorted(f"poison-{n}" for n in range(11))


def test_redrive_message_of_a_message_no_longer_there_moves_nothing(sqs: Any) -> None:
    _dead_letter(sqs, "poison-a", "tx-1")
    queue = dlq.find_dead_letter_queue(sqs, "events-dlq.fifo")
    with pytest.raises(LookupError, match="holds no message not-an-id now"):
        dlq.redrive_message(sqs, queue, "not-an-id")
    assert [letter.body for letter in dlq.peek(sqs, queue)] == ["poison-a"]


def test_peek_reads_the_error_eventbridge_attached_and_the_first_receive(sqs: Any) -> None:
    url = sqs.get_queue_url(QueueName="events-dlq.fifo")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="{}",
        MessageGroupId="g",
        MessageDeduplicationId="d",
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "Lambda.ServiceException"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Rate exceeded"},
            "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": "3"},
        },
    )
    [letter] = dlq.peek(sqs, dlq.find_dead_letter_queue(sqs, "events-dlq.fifo"))
    assert letter.failure_reason() == "Lambda.ServiceException: Rate exceeded"
    assert letter.attributes["RETRY_ATTEMPTS"] == "3"
    assert letter.first_received_ms is not None
    assert letter.first_received_ms >= letter.sent_timestamp_ms
    _dead_letter(sqs, "plain", "tx-2")
    plain = [x for x in dlq.peek(sqs, dlq.find_dead_letter_queue(sqs, "events-dlq.fifo"))]
    assert [x.failure_reason() for x in plain if x.body == "plain"] == [None]


def test_the_cli_redrives_one_message_by_its_id(sqs: Any) -> None:
    from typer.testing import CliRunner

    from opayo_fba.cli.main import app

    _dead_letter(sqs, "poison-a", "tx-1")
    _dead_letter(sqs, "poison-b", "tx-2")
    queue = dlq.find_dead_letter_queue(sqs, "events-dlq.fifo")
    [wanted] = [x for x in dlq.peek(sqs, queue) if x.body == "poison-b"]
    command = ["dlq", "redrive", queue.name, "--region", "eu-west-2"]
    moved = CliRunner().invoke(app, [*command, "--message-id", wanted.message_id])
    assert moved.exit_code == 0, moved.output
    assert "Moved 1 message from events-dlq.fifo" in moved.output
    assert [x.body for x in dlq.peek(sqs, queue)] == ["poison-a"]
    gone = CliRunner().invoke(app, [*command, "--message-id", wanted.message_id])
    assert gone.exit_code == 2
    assert "holds no message" in gone.output


def test_one_dlq_read_alone_is_what_the_list_says_of_it(sqs: Any) -> None:
    _dead_letter(sqs, "poison", "tx-1")
    [listed] = dlq.list_dead_letter_queues(sqs)
    assert dlq.dead_letter_queue(sqs, "events-dlq.fifo") == listed
    assert dlq.dead_letter_queue(sqs, "events.fifo") is None  # a source, not a DLQ
    assert dlq.dead_letter_queue(sqs, "unrelated") is None
    assert dlq.dead_letter_queue(sqs, "no-such-queue") is None


def test_peek_releases_more_than_a_batch_of_messages(sqs: Any) -> None:
    for n in range(23):  # three visibility batches
        _dead_letter(sqs, f"poison-{n}", f"tx-{n}")
    queue = dlq.find_dead_letter_queue(sqs, "events-dlq.fifo")
    assert len(dlq.peek(sqs, queue, 23)) == 23
    assert len(dlq.peek(sqs, queue, 23)) == 23  # every one visible again at once
