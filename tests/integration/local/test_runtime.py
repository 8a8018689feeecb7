"""The local runtime runs a synthesized template: API -> queue -> consumer, saga, schedules."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from local_runtime.runtime import LocalRuntime, RuntimeOptions, find_template

STACK = Path(__file__).parent / "stack"


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    options = RuntimeOptions(
        template=STACK / "Mini.template.json",
        time_factor=100,
        secret_values={"Secret": {"vendor": "sandbox"}},
    )
    with LocalRuntime(options) as running:
        yield running


def _poll(predicate, what: str, seconds: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_find_template_explains_a_missing_synth(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make synth"):
        find_template(tmp_path)
    assert find_template(STACK).name == "Mini.template.json"


def test_report_lists_what_runs_and_what_does_not(runtime: LocalRuntime) -> None:
    report = "\n".join(runtime.report())
    assert "functions run each invocation in its own worker process: 4" in report
    assert "POST   /webhooks/opayo/{vendor}" in report
    assert "UNSUPPORTED locally, not run: Weird (AWS::AppSync::GraphQLApi)" in report
    assert "not needed locally: 1 AWS::CloudWatch::Alarm" in report
    assert "run locally: 4 AWS::Lambda::Function" in report
    assert "cron(0 2 * * ? *) (fire on demand)" in report


def test_api_to_fifo_queue_to_consumer_with_dlq(runtime: LocalRuntime) -> None:
    table = boto3.resource("dynamodb", "eu-west-2").Table(runtime.template.physical_name("Table"))
    with httpx.Client(base_url=runtime.api_url) as client:
        ok = client.post("/webhooks/opayo/sandbox", content="VPSTxId=1")
        assert (ok.status_code, ok.text) == (200, "Status=OK")
        assert client.post("/webhooks/opayo/sandbox", content="poison").status_code == 200
        forged = client.post("/webhooks/opayo/sandbox", content="forged")
        assert (forged.status_code, forged.text) == (400, "Status=INVALID")
        assert client.get("/nowhere").status_code == 403
        assert client.get("/webhooks/opayo/sandbox").status_code == 405

    item = _poll(lambda: table.get_item(Key={"pk": "VPSTxId=1"}).get("Item"), "consumer")
    assert item["vendor"] == "sandbox"
    sqs = boto3.client("sqs", "eu-west-2")
    dlq = runtime.template.ref("Dlq")
    dead = _poll(
        lambda: sqs.receive_message(QueueUrl=dlq).get("Messages"), "poison message in the DLQ"
    )
    assert json.loads(dead[0]["Body"])["body"] == "poison"


def test_state_machine_reads_secret_seeded_by_runtime(runtime: LocalRuntime) -> None:
    sfn = boto3.client("stepfunctions", "eu-west-2")
    arn = runtime.provisioned.state_machines["Saga"]
    execution = sfn.start_execution(stateMachineArn=arn, input='{"order": "A"}', name="A")
    described = _poll(
        lambda: (
            (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"]
            != "RUNNING"
            and d
        ),
        "saga",
    )
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"order": "A", "vendor": "sandbox"}


def test_schedules_fire_on_demand(runtime: LocalRuntime) -> None:
    invocation = runtime.schedules.fire("Tick")
    assert invocation.payload == {"detail-type": "Scheduled Event"}
    with pytest.raises(KeyError, match="known: Tick"):
        runtime.schedules.fire("Tock")


def test_server_mode_shares_state_with_other_processes_over_http() -> None:
    options = RuntimeOptions(
        template=STACK / "Mini.template.json",
        time_factor=100,
        secret_values={"Secret": {"vendor": "sandbox"}},
        moto_port=0,
        run_pollers=False,
        run_schedules=False,
        serve_api=False,
    )
    with LocalRuntime(options) as running:
        assert running.moto_url.startswith("http://127.0.0.1:")
        # Another process would pass --endpoint-url; a client given it explicitly sees the DLQ.
        sqs = boto3.client("sqs", "eu-west-2", endpoint_url=running.moto_url)
        names = [u.rsplit("/", 1)[-1] for u in sqs.list_queues()["QueueUrls"]]
        assert "Mini-Dlq.fifo" in names
        sfn = boto3.client("stepfunctions", "eu-west-2", endpoint_url=running.moto_url)
        arn = running.provisioned.state_machines["Saga"]
        started = sfn.start_execution(stateMachineArn=arn, input='{"order": "B"}', name="B")
        described = _poll(
            lambda: (
                (d := sfn.describe_execution(executionArn=started["executionArn"]))["status"]
                != "RUNNING"
                and d
            ),
            "saga over HTTP",
        )
        assert json.loads(described["output"]) == {"order": "B", "vendor": "sandbox"}


def test_an_execution_that_fails_is_announced_on_the_default_bus_as_aws_does(
    runtime: LocalRuntime,
) -> None:
    sfn = boto3.client("stepfunctions", "eu-west-2")
    arn = runtime.provisioned.state_machines["Saga"]
    ok = sfn.start_execution(stateMachineArn=arn, input='{"order": "C"}', name="C")
    failed = sfn.start_execution(stateMachineArn=arn, input="{}", name="D")  # no "order"
    for started in (ok, failed):
        _poll(
            lambda s=started: (
                sfn.describe_execution(executionArn=s["executionArn"])["status"] != "RUNNING"
            ),
            "execution end",
        )
    assert runtime.default_bus.wait_idle(10)
    announced = [
        i.event for i in runtime.lambdas.invocations if i.event.get("source") == "aws.states"
    ]
    # Only the failed one matches the rule (status FAILED, this state machine).
    (event,) = announced
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["resources"] == [failed["executionArn"]]
    detail = event["detail"]
    assert detail["executionArn"] == failed["executionArn"]
    assert detail["stateMachineArn"] == arn
    assert (detail["name"], detail["status"]) == ("D", "FAILED")
    assert json.loads(detail["input"]) == {}
    assert detail["inputDetails"] == {"included": True}
    assert detail["error"]
    assert isinstance(detail["startDate"], int)
    assert detail["stopDate"] >= detail["startDate"]


def test_the_status_change_hook_is_where_moto_ends_an_execution() -> None:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    from local_runtime import execution_events

    assert callable(getattr(BaseExecutionWorkerCommunication, execution_events.PATCHED_METHOD))
