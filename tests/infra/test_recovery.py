"""Recovery: Step Functions' own status-change events for this saga reach the recovery."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import logical_id_by_path, of_type


def _rule(resources: dict[str, Any]) -> dict[str, Any]:
    rule_id = logical_id_by_path(resources, "/Recovery/ExecutionEndedBadly/Resource")
    return dict(resources[rule_id]["Properties"])


def test_the_rule_listens_on_the_default_bus_to_this_saga_ending_badly(
    resources: dict[str, Any],
) -> None:
    rule = _rule(resources)
    assert "EventBusName" not in rule  # AWS services' events arrive on the default bus
    assert rule["State"] == "ENABLED"
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    (machine_id,) = of_type(resources, "AWS::StepFunctions::StateMachine")
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": machine_id}]


def test_its_target_is_the_recovery_function_with_retries_and_a_dead_letter_queue(
    resources: dict[str, Any],
) -> None:
    (target,) = _rule(resources)["Targets"]
    function_id = logical_id_by_path(resources, "/Recovery/SagaRecoveryFunction/Resource")
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert resources[function_id]["Properties"]["Handler"] == "saga_recovery.handler"
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 3
    dlq_id = logical_id_by_path(resources, "/Recovery/RecoveryDlq/Resource")
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}


def test_the_recovery_role_reaches_orders_providers_and_the_bus_only(
    resources: dict[str, Any],
) -> None:
    function_id = logical_id_by_path(resources, "/Recovery/SagaRecoveryFunction/Resource")
    role = resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found = statement["Action"]
                actions |= set(found if isinstance(found, list) else [found])
    assert {"dynamodb:UpdateItem", "events:PutEvents", "secretsmanager:GetSecretValue"} <= actions
    assert not {a for a in actions if a.startswith(("states:", "sqs:", "s3:"))}
