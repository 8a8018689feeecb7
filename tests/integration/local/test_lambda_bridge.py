"""The moto hooks the local runtime relies on. If a moto upgrade breaks them, these fail."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_runtime import lambda_bridge
from local_runtime.lambda_bridge import InProcessLambdas, LocalFunction
from local_runtime.sqs_poller import EventSourceMapping, SqsPoller

REGION = "eu-west-2"
HANDLERS = """
import os

class PaymentDeclined(Exception):
    pass

def step(event, context):
    if event.get("decline"):
        raise PaymentDeclined("card declined")
    return {"seen": event, "stage": os.environ["STAGE"],
            "remaining_ms": context.get_remaining_time_in_millis()}

def consume(event, context):
    failures = [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "poison"
    ]
    return {"batchItemFailures": failures}
"""


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(
        config={
            "stepfunctions": {"execute_state_machine": True},
            "lambda": {"use_docker": False},
        }
    ):
        yield


@pytest.fixture
def lambdas(tmp_path: Path, aws: None) -> Iterator[InProcessLambdas]:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    iam = boto3.client("iam", REGION)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("handlers.py", HANDLERS)
    functions = []
    for name, handler in (("saga-step", "handlers.step"), ("consumer", "handlers.consume")):
        arn = boto3.client("lambda", REGION).create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": archive.getvalue()},
        )["FunctionArn"]
        functions.append(LocalFunction(name, tmp_path, handler, {"STAGE": "local"}, 30, 256, arn))
    runtime = InProcessLambdas(functions)
    lambda_bridge.install(runtime)
    yield runtime
    lambda_bridge.uninstall()


def _wait_for_execution(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError(f"execution {arn} still running after 30 s")


def test_state_machine_runs_real_handlers_and_catches_their_errors(
    lambdas: InProcessLambdas,
) -> None:
    fn = lambdas.function("saga-step").arn
    definition = {
        "StartAt": "Step",
        "States": {
            "Step": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "Catch": [{"ErrorEquals": ["PaymentDeclined"], "Next": "Compensate"}],
                "End": True,
            },
            "Compensate": {"Type": "Pass", "Result": {"outcome": "compensated"}, "End": True},
        },
    }
    sfn = boto3.client("stepfunctions", REGION)
    machine = sfn.create_state_machine(
        name="saga", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]

    ok = sfn.start_execution(stateMachineArn=machine, input='{"order": "A"}', name="order-A")[
        "executionArn"
    ]
    result = _wait_for_execution(sfn, ok)
    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["seen"] == {"order": "A"}
    assert output["stage"] == "local"  # the function's own environment
    assert 0 < output["remaining_ms"] <= 30_000

    declined = sfn.start_execution(
        stateMachineArn=machine, input='{"decline": true}', name="order-B"
    )
    result = _wait_for_execution(sfn, declined["executionArn"])
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"outcome": "compensated"}
    assert [i.error_type for i in lambdas.invocations] == [None, "PaymentDeclined"]


def test_sqs_poller_honours_batch_item_failures_and_redrive(lambdas: InProcessLambdas) -> None:
    sqs = boto3.client("sqs", REGION)
    dlq = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName="events",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
            "VisibilityTimeout": "30",
        },
    )["QueueUrl"]
    for body in ("good-1", "poison", "good-2"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    mapping = EventSourceMapping(
        "consumer", queue, "arn:aws:sqs:eu-west-2:123456789012:events", 10, True
    )
    poller = SqsPoller(sqs, lambdas, mapping, retry_visibility_seconds=0)

    processed: list[str] = []
    lambdas.listeners.append(lambda inv: processed.extend(r["body"] for r in inv.event["Records"]))
    for _ in range(4):
        poller.poll_once()

    # The good messages ran exactly once; the poison one twice, then moved to the DLQ.
    assert sorted(processed) == ["good-1", "good-2", "poison", "poison"]
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == ["poison"]
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []


def test_time_factor_shortens_waits_and_retries(lambdas: InProcessLambdas) -> None:
    from local_runtime import sfn_time

    fn = lambdas.function("saga-step").arn
    definition = {
        "StartAt": "Wait",
        "States": {
            # 40 s of waiting and retrying at real speed; well under a second at 1000x.
            "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Step"},
            "Step": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                "Retry": [
                    {"ErrorEquals": ["PaymentDeclined"], "IntervalSeconds": 10, "MaxAttempts": 1}
                ],
                "End": True,
            },
        },
    }
    sfn = boto3.client("stepfunctions", REGION)
    machine = sfn.create_state_machine(
        name="slow", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    sfn_time.install(1000)
    try:
        started = sfn.start_execution(
            stateMachineArn=machine, input='{"decline": true}', name="slow-1"
        )
        # The poll bound (30 s) is shorter than the unscaled 40 s: only scaling can pass.
        result = _wait_for_execution(sfn, started["executionArn"])
    finally:
        sfn_time.uninstall()
    assert result["status"] == "FAILED"
    assert [i.error_type for i in lambdas.invocations] == ["PaymentDeclined", "PaymentDeclined"]
