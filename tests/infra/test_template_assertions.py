"""The critical properties once more, through aws_cdk.assertions.Template (the CDK's matcher)."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from infra.config import EnvironmentConfig
from infra.constants import ALL_FUNCTIONS


def test_resource_counts(template: Any, config: EnvironmentConfig) -> None:
    template.resource_count_is("AWS::Lambda::Function", len(ALL_FUNCTIONS))
    template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    template.resource_count_is("AWS::DynamoDB::Table", 3)
    template.resource_count_is("AWS::Events::EventBus", 1)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.resource_count_is(
        "AWS::SecretsManager::Secret", len(config.seller_accounts) + len(config.opayo_vendors)
    )
    template.resource_count_is(
        "AWS::Scheduler::Schedule", 5 * len(config.seller_accounts) + 3 * len(config.opayo_vendors)
    )


def test_fifo_queue_with_dlq_and_kms(template: Any, config: EnvironmentConfig) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "FifoQueue": True,
            "KmsMasterKeyId": Match.any_value(),
            "RedrivePolicy": {
                "deadLetterTargetArn": Match.any_value(),
                "maxReceiveCount": config.dlq_max_receive_count,
            },
        },
    )


def test_state_machine_logging_and_tracing(template: Any) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL"}),
        },
    )


def test_tables_pitr_and_ttl(template: Any) -> None:
    template.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
        },
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True}},
    )


def test_event_source_mappings_report_batch_item_failures(template: Any) -> None:
    template.all_resources_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )


def test_dlq_alarm_threshold_is_one_message(template: Any) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [Match.any_value()],
        },
    )


def test_webhook_method_is_open_and_order_methods_need_iam(template: Any) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "AuthorizationType": "NONE",
            "RequestValidatorId": Match.any_value(),
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Method", {"HttpMethod": "GET", "AuthorizationType": "AWS_IAM"}
    )
