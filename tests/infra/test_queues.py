"""Queues: FIFO payment events, SP-API notifications; DLQs, KMS, TLS, partial batch failures."""

from __future__ import annotations

from typing import Any

from infra.config import EnvironmentConfig
from infra.constants import SP_API_NOTIFICATIONS_ACCOUNT
from tests.infra.conftest import logical_id_by_path, of_type


def _queue(resources: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    logical_id = logical_id_by_path(resources, f"/Queues/{name}/Resource")
    return logical_id, resources[logical_id]["Properties"]


def test_payment_events_queue_is_fifo_with_fifo_dlq(
    resources: dict[str, Any], config: EnvironmentConfig
) -> None:
    _, props = _queue(resources, "PaymentEventsQueue")
    dlq_id, dlq = _queue(resources, "PaymentEventsDlq")
    assert props["FifoQueue"] is True
    assert props["FifoThroughputLimit"] == "perMessageGroupId"
    assert props["DeduplicationScope"] == "messageGroup"
    assert dlq["FifoQueue"] is True
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": config.dlq_max_receive_count,
    }


def test_amazon_notifications_queue_is_standard_with_dlq(
    resources: dict[str, Any], config: EnvironmentConfig
) -> None:
    _, props = _queue(resources, "AmazonNotificationsQueue")
    dlq_id, _ = _queue(resources, "AmazonNotificationsDlq")
    assert "FifoQueue" not in props
    assert props["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert props["RedrivePolicy"]["maxReceiveCount"] == config.dlq_max_receive_count


def test_every_queue_is_kms_encrypted_with_our_keys(resources: dict[str, Any]) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    # Two work queues, their DLQs, the schedules' DLQ, the recovery rule's DLQ.
    assert len(queues) == 6
    for logical_id, queue in queues.items():
        key = queue["Properties"]["KmsMasterKeyId"]
        assert "Fn::GetAtt" in key, logical_id
        assert resources[key["Fn::GetAtt"][0]]["Type"] == "AWS::KMS::Key"


def test_every_queue_denies_requests_without_tls(resources: dict[str, Any]) -> None:
    queues = set(of_type(resources, "AWS::SQS::Queue"))
    protected = set()
    for policy in of_type(resources, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                protected.update(ref["Ref"] for ref in policy["Properties"]["Queues"])
    assert protected == queues


def test_sp_api_notification_service_may_send_and_use_the_key(resources: dict[str, Any]) -> None:
    queue_id, _ = _queue(resources, "AmazonNotificationsQueue")
    amazon = {"AWS": f"arn:aws:iam::{SP_API_NOTIFICATIONS_ACCOUNT}:root"}
    statements = [
        statement
        for policy in of_type(resources, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in policy["Properties"]["Queues"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]
    (allow,) = statements
    assert allow["Principal"] == amazon
    assert sorted(allow["Action"]) == ["sqs:GetQueueAttributes", "sqs:SendMessage"]
    assert allow["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}

    key_id = logical_id_by_path(resources, "/Queues/AmazonNotificationsKey/Resource")
    key_statements = resources[key_id]["Properties"]["KeyPolicy"]["Statement"]
    (for_amazon,) = [s for s in key_statements if s.get("Principal") == amazon]
    assert sorted(for_amazon["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "kms:ViaService" in for_amazon["Condition"]["StringEquals"]


def test_amazon_never_gets_the_data_key(resources: dict[str, Any]) -> None:
    key_id = logical_id_by_path(resources, "/Keys/DataKey/Resource")
    policy = str(resources[key_id]["Properties"]["KeyPolicy"])
    assert SP_API_NOTIFICATIONS_ACCOUNT not in policy


def test_consumers_report_partial_batch_failures(resources: dict[str, Any]) -> None:
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping")
    sources = {}
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        sources[props["EventSourceArn"]["Fn::GetAtt"][0]] = props["FunctionName"]["Ref"]
    payment_queue, _ = _queue(resources, "PaymentEventsQueue")
    notifications_queue, _ = _queue(resources, "AmazonNotificationsQueue")
    assert set(sources) == {payment_queue, notifications_queue}
    assert "PaymentEvents" in sources[payment_queue]
    assert "AmazonNotifications" in sources[notifications_queue]


def test_visibility_timeout_covers_the_consumer(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Lambda::Function")
    for mapping in of_type(resources, "AWS::Lambda::EventSourceMapping").values():
        queue = resources[mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]]
        function = functions[mapping["Properties"]["FunctionName"]["Ref"]]
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]
