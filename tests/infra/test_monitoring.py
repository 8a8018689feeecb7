"""Monitoring: the dashboard's widgets and the alarms that page the operator."""

from __future__ import annotations

import json
from typing import Any

from infra.config import EnvironmentConfig
from infra.stack import SP_API_CALLERS
from tests.infra.conftest import logical_id_by_path, of_type


def _alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["Metadata"]["aws:cdk:path"].split("/")[-2]: r["Properties"]
        for r in of_type(resources, "AWS::CloudWatch::Alarm").values()
    }


def test_alarm_topic_is_encrypted_and_mails_the_operator(
    resources: dict[str, Any], config: EnvironmentConfig
) -> None:
    ((topic_id, topic),) = of_type(resources, "AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic["Properties"]
    (subscription,) = of_type(resources, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == config.alert_email
    assert subscription["Properties"]["TopicArn"] == {"Ref": topic_id}


def test_every_alarm_notifies_the_topic(resources: dict[str, Any]) -> None:
    (topic_id,) = of_type(resources, "AWS::SNS::Topic")
    alarms = _alarms(resources)
    assert alarms
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_any_message_in_any_dlq_alarms(resources: dict[str, Any]) -> None:
    alarms = _alarms(resources)
    dlqs = {
        "PaymentEventsDlqNotEmpty": "/Queues/PaymentEventsDlq/Resource",
        "AmazonNotificationsDlqNotEmpty": "/Queues/AmazonNotificationsDlq/Resource",
        "SchedulesDlqNotEmpty": "/Schedules/SchedulesDlq/Resource",
        "RecoveryDlqNotEmpty": "/Recovery/RecoveryDlq/Resource",
    }
    for alarm_name, queue_path in dlqs.items():
        alarm = alarms[alarm_name]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        queue_id = logical_id_by_path(resources, queue_path)
        assert alarm["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
        ]


def test_saga_api_throttle_and_age_alarms(resources: dict[str, Any]) -> None:
    alarms = _alarms(resources)
    assert alarms["SagaFailed"]["MetricName"] == "ExecutionsFailed"
    assert alarms["SagaFailed"]["Threshold"] == 1
    assert alarms["SagaTimedOut"]["MetricName"] == "ExecutionsTimedOut"
    assert alarms["Api5xx"]["MetricName"] == "5XXError"
    assert alarms["Api5xx"]["Threshold"] == 1
    for queue in ("PaymentEvents", "AmazonNotifications"):
        alarm = alarms[f"{queue}OldMessages"]
        assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
        assert alarm["Threshold"] == 900
    throttles = [
        m["MetricStat"]["Metric"]
        for name, alarm in alarms.items()
        if name.startswith("SpApiThrottled")
        for m in alarm["Metrics"]
        if "MetricStat" in m
    ]
    assert {m["MetricName"] for m in throttles} == {"SpApiThrottled"}
    services = sorted(m["Dimensions"][0]["Value"] for m in throttles)
    expected = sorted(f"opayo-fba-{module.replace('_', '-')}" for module in SP_API_CALLERS)
    assert services == expected


def test_authorisations_held_too_long_alarm(resources: dict[str, Any]) -> None:
    alarm = _alarms(resources)["HeldAuthorisations"]
    assert alarm["MetricName"] == "HeldAuthorisations"
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": "opayo-fba-held-authorisations-check"}
    ]
    assert alarm["Threshold"] == 1


def test_a_saga_execution_that_could_not_be_made_right_alarms(resources: dict[str, Any]) -> None:
    alarm = _alarms(resources)["SagaRecoveryFailed"]
    assert alarm["MetricName"] == "SagaRecoveryFailed"
    assert alarm["Namespace"] == "OpayoFba"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "opayo-fba-saga-recovery"}]
    assert alarm["Threshold"] == 1
    assert "docs/deploy.md" in alarm["AlarmDescription"]


def test_dashboard_shows_every_signal(resources: dict[str, Any]) -> None:
    (dashboard,) = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in (
        "API 4xx / 5xx",
        "API latency",
        "Queue depth",
        "Age of oldest message",
        "Dead-letter queue depth",
        "Saga executions",
        "SP-API throttles",
        "Lambda errors",
        "Lambda duration",
    ):
        assert title in body, title
    for metric in (
        "4XXError",
        "5XXError",
        "Latency",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "SagaCompensated",
        "SpApiThrottled",
        "Errors",
        "Duration",
    ):
        assert metric in body, metric


def test_each_seller_account_has_its_own_alarms(
    resources: dict[str, Any], config: EnvironmentConfig
) -> None:
    """Compensations, decline rate and unfulfillable orders alarm per account, on metrics
    with the account's dimension, as the code publishes them."""
    from opayo_fba import observability

    assert (
        observability.ACCOUNT_DIMENSION,
        observability.ACCOUNT_RECEIVED,
        observability.ACCOUNT_COMPENSATED,
        observability.ACCOUNT_DECLINED,
        observability.ACCOUNT_UNFULFILLABLE,
        observability.ACCOUNT_HELD,
    ) == (
        "sellerAccount",
        "AccountOrdersReceived",
        "AccountOrdersCompensated",
        "AccountPaymentsDeclined",
        "AccountOrdersUnfulfillable",
        "AccountHeldAuthorisations",
    )
    alarms = _alarms(resources)
    for seller in config.seller_accounts:
        account = {"Name": "sellerAccount", "Value": seller.id}
        compensations = alarms[f"Compensations-{seller.id}"]
        assert compensations["MetricName"] == "AccountOrdersCompensated"
        assert account in compensations["Dimensions"]
        assert (compensations["Period"], compensations["Threshold"]) == (3600, 5)
        unfulfillable = alarms[f"OrdersUnfulfillable-{seller.id}"]
        assert unfulfillable["MetricName"] == "AccountOrdersUnfulfillable"
        assert account in unfulfillable["Dimensions"]
        held = alarms[f"HeldAuthorisations-{seller.id}"]
        assert held["MetricName"] == "AccountHeldAuthorisations"
        assert account in held["Dimensions"]
        rate = alarms[f"DeclineRate-{seller.id}"]
        metrics = {m["Id"]: m for m in rate["Metrics"]}
        assert "100 * FILL(declined, 0) / received" in metrics[next(
            k for k, m in metrics.items() if "Expression" in m
        )]["Expression"]  # fmt: skip
        stats = {k: m["MetricStat"]["Metric"] for k, m in metrics.items() if "MetricStat" in m}
        assert stats["received"]["MetricName"] == "AccountOrdersReceived"
        assert stats["declined"]["MetricName"] == "AccountPaymentsDeclined"
        assert all(account in m["Dimensions"] for m in stats.values())
        assert rate["Threshold"] == 25
