"""Monitoring: one CloudWatch dashboard and the alarms that page the operator by e-mail.

Alarms: any message in a dead-letter queue, saga executions that fail or time out, API 5xx,
SP-API throttling, and messages waiting too long in the work queues.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constants import (
    ACCOUNT_DIMENSION,
    AFTER_SALE_TRACKER,
    HELD_AUTHORISATIONS_CHECK,
    METRIC_ACCOUNT_COMPENSATED,
    METRIC_ACCOUNT_DECLINED,
    METRIC_ACCOUNT_HELD,
    METRIC_ACCOUNT_RECEIVED,
    METRIC_ACCOUNT_UNFULFILLABLE,
    METRIC_DELIVERY_FAILURES,
    METRIC_HELD_AUTHORISATIONS,
    METRIC_ORDERS_UNFULFILLABLE,
    METRIC_PENDING_REFUNDS_LEFT,
    METRIC_REFUNDS_REFUSED,
    METRIC_SAGA_COMPENSATED,
    METRIC_SAGA_RECOVERY_FAILED,
    METRIC_SERVER_NOTIFICATION_CONTRADICTION,
    METRIC_SP_API_THROTTLED,
    METRIC_UNITS_NOT_SHIPPED,
    METRICS_NAMESPACE,
    OPAYO_WEBHOOK,
    ORDER_INTAKE,
    ORDER_REFUND,
    SAGA_ABORT_PAYMENT,
    SAGA_CAPTURE_PAYMENT,
    SAGA_MARK_SHIPPED,
    SAGA_RECORD_OUTCOME,
    SAGA_RECOVERY,
    SAGA_REFUND_PAYMENT,
    SAGA_REFUND_UNSHIPPED,
    SERVICE_NAME,
)

PERIOD = Duration.minutes(5)
OLDEST_MESSAGE_ALARM_SECONDS = 900
SP_API_THROTTLE_ALARM_COUNT = 5
MAX_ALARM_METRICS = 10


@dataclass(frozen=True)
class MonitoredResources:
    api: apigw.RestApi
    work_queues: dict[str, sqs.IQueue]
    dead_letter_queues: dict[str, sqs.IQueue]
    state_machine: sfn.StateMachine
    functions: dict[str, lambda_.Function]
    # Modules whose functions call SP-API and publish the throttle metric.
    sp_api_callers: tuple[str, ...]


HOUR = Duration.hours(1)
ACCOUNT_COMPENSATIONS_PER_HOUR = 5
DECLINE_RATE_PERCENT = 25
DECLINE_RATE_MIN_ORDERS = 10


def account_metric(
    name: str, module: str, seller_account: str, period: Duration = PERIOD
) -> cloudwatch.Metric:
    """A per-account count as opayo_fba.observability.account_metric publishes it."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={
            "service": f"{SERVICE_NAME}-{module.replace('_', '-')}",
            ACCOUNT_DIMENSION: seller_account,
        },
        statistic="Sum",
        period=period,
    )


def powertools_metric(name: str, module: str) -> cloudwatch.Metric:
    """A custom metric as Powertools publishes it: our namespace, `service` dimension."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": f"{SERVICE_NAME}-{module.replace('_', '-')}"},
        statistic="Sum",
        period=PERIOD,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        resources: MonitoredResources,
    ) -> None:
        super().__init__(scope, construct_id)
        # The alarm topic has its own key: CloudWatch must be allowed to use it to publish,
        # and that permission should not extend to the key of our data.
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description="opayo-fba alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{SERVICE_NAME} {config.name} alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(config.alert_email))
        self._action = cw_actions.SnsAction(self.topic)
        self._resources = resources
        self.alarms: list[cloudwatch.Alarm] = []
        self._build_alarms()
        self._build_account_alarms(config)
        self.dashboard = self._build_dashboard(config)

    # ---- alarms ---------------------------------------------------------------------------

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)

    def _build_alarms(self) -> None:
        res = self._resources
        for name, dlq in res.dead_letter_queues.items():
            self._alarm(
                f"{name}DlqNotEmpty",
                dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Max"),
                1,
                f"A message reached the {name} dead-letter queue; inspect and redrive it",
            )
        for name, queue in res.work_queues.items():
            self._alarm(
                f"{name}OldMessages",
                queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Max"),
                OLDEST_MESSAGE_ALARM_SECONDS,
                f"A message has waited over {OLDEST_MESSAGE_ALARM_SECONDS}s in {name}",
            )
        self._alarm(
            "SagaFailed",
            res.state_machine.metric_failed(period=PERIOD, statistic="Sum"),
            1,
            "A saga execution failed (a compensation did not complete): an order needs an operator",
        )
        self._alarm(
            "SagaTimedOut",
            res.state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            1,
            "A saga execution timed out before the order shipped",
        )
        self._alarm(
            "SagaRecoveryFailed",
            powertools_metric(METRIC_SAGA_RECOVERY_FAILED, SAGA_RECOVERY.module),
            1,
            "An ended saga execution could not be made right (abort, refund or cancel failed):"
            " see docs/deploy.md, runbook 'SagaRecoveryFailed'",
        )
        self._alarm(
            "HeldAuthorisations",
            powertools_metric(METRIC_HELD_AUTHORISATIONS, HELD_AUTHORISATIONS_CHECK.module),
            1,
            "A Deferred authorisation has been held past the alarm age without capture: an"
            " order is stuck before capture (see docs/deploy.md, runbook 'HeldAuthorisations')",
        )
        self._alarm(
            "UnitsNotShipped",
            powertools_metric(METRIC_UNITS_NOT_SHIPPED, SAGA_MARK_SHIPPED.module),
            1,
            "Amazon shipped an order in part; the units it did not ship are being refunded"
            " (see docs/deploy.md, runbook 'UnitsNotShipped')",
        )
        refusals = {
            f"r{index}": powertools_metric(METRIC_REFUNDS_REFUSED, spec.module)
            for index, spec in enumerate(
                (
                    ORDER_REFUND,
                    SAGA_REFUND_UNSHIPPED,
                    SAGA_REFUND_PAYMENT,
                    # Compensations refund through abort-payment too (a capture found), and
                    # a Repeat taken after its attempt was given up is refunded by capture.
                    SAGA_ABORT_PAYMENT,
                    SAGA_CAPTURE_PAYMENT,
                    HELD_AUTHORISATIONS_CHECK,
                    AFTER_SALE_TRACKER,
                )
            )
        }
        self._alarm(
            "RefundsRefused",
            cloudwatch.MathExpression(
                expression=" + ".join(f"FILL({key}, 0)" for key in refusals),
                using_metrics=refusals,
                label="Refunds Opayo refused",
                period=PERIOD,
            ),
            1,
            "Opayo refused a refund: the customer has not been paid back (see docs/deploy.md,"
            " runbook 'RefundsRefused')",
        )
        self._alarm(
            "OrdersUnfulfillable",
            powertools_metric(METRIC_ORDERS_UNFULFILLABLE, SAGA_RECORD_OUTCOME.module),
            1,
            "Amazon could not fulfil an order (stock or address); its payment was aborted,"
            " refunded, or held for a resubmission (see docs/deploy.md, runbook"
            " 'OrdersUnfulfillable')",
        )
        self._alarm(
            "DeliveryFailures",
            powertools_metric(METRIC_DELIVERY_FAILURES, AFTER_SALE_TRACKER.module),
            1,
            "A parcel was undeliverable or returned to the sender: the customer has not got the"
            " goods (see docs/deploy.md, runbook 'DeliveryFailures')",
        )
        self._alarm(
            "PendingRefundsLeft",
            powertools_metric(METRIC_PENDING_REFUNDS_LEFT, HELD_AUTHORISATIONS_CHECK.module),
            1,
            "Refunds written down could not be carried out at Opayo by the hourly check"
            " (see docs/deploy.md, runbook 'PendingRefundsLeft')",
        )
        self._alarm(
            "Api5xx",
            res.api.metric_server_error(period=PERIOD, statistic="Sum"),
            1,
            "The API answered 5xx (Opayo will retry notifications; orders may be failing)",
        )
        # An alarm's math may hold at most 10 metrics: one alarm per 10 SP-API callers.
        for index, throttles in enumerate(self._sp_api_throttles()):
            self._alarm(
                "SpApiThrottled" + (str(index + 1) if index else ""),
                throttles,
                SP_API_THROTTLE_ALARM_COUNT,
                "Amazon SP-API throttled our calls repeatedly; check rate-limit buckets",
            )

        self._alarm(
            "ServerNotificationContradiction",
            powertools_metric(METRIC_SERVER_NOTIFICATION_CONTRADICTION, OPAYO_WEBHOOK.module),
            1,
            "A genuine Opayo notification contradicted the registered transaction (an unsigned "
            "field was altered); it changed nothing: see the order's payment_contradiction note",
        )

    def _sp_api_throttles(self) -> list[cloudwatch.MathExpression]:
        """The SP-API callers' throttle counts, summed ten callers at a time (CloudWatch's
        limit on an alarm's metrics)."""
        callers = self._resources.sp_api_callers
        sums = []
        for start in range(0, len(callers), MAX_ALARM_METRICS):
            metrics = {
                f"t{start + index}": powertools_metric(METRIC_SP_API_THROTTLED, module)
                for index, module in enumerate(callers[start : start + MAX_ALARM_METRICS])
            }
            sums.append(
                cloudwatch.MathExpression(
                    expression=" + ".join(f"FILL({key}, 0)" for key in metrics),
                    using_metrics=metrics,
                    label="SP-API throttled calls",
                    period=PERIOD,
                )
            )
        return sums

    # ---- dashboard ------------------------------------------------------------------------

    def _build_account_alarms(self, config: EnvironmentConfig) -> None:
        """Per seller account: its compensations, its decline rate and its unfulfillable
        orders alarm on their own, so one account's trouble is not hidden in the totals
        (metrics with a `sellerAccount` dimension, opayo_fba.observability.account_metric)."""
        for seller in config.seller_accounts:
            account = seller.id
            self._alarm(
                f"Compensations-{account}",
                account_metric(
                    METRIC_ACCOUNT_COMPENSATED, SAGA_RECORD_OUTCOME.module, account, HOUR
                ),
                ACCOUNT_COMPENSATIONS_PER_HOUR,
                f"{account}: {ACCOUNT_COMPENSATIONS_PER_HOUR} or more orders were compensated in an"
                f" hour (see docs/deploy.md, runbook 'Compensations-<account>')",
            )
            self._alarm(
                f"OrdersUnfulfillable-{account}",
                account_metric(METRIC_ACCOUNT_UNFULFILLABLE, SAGA_RECORD_OUTCOME.module, account),
                1,
                f"{account}: Amazon could not fulfil an order (see docs/deploy.md, runbook"
                " 'OrdersUnfulfillable')",
            )
            self._alarm(
                f"HeldAuthorisations-{account}",
                account_metric(METRIC_ACCOUNT_HELD, HELD_AUTHORISATIONS_CHECK.module, account),
                1,
                f"{account}: a Deferred authorisation of one of its orders has been held too long"
                " without capture (see docs/deploy.md, runbook 'HeldAuthorisations')",
            )
            received = account_metric(METRIC_ACCOUNT_RECEIVED, ORDER_INTAKE.module, account, HOUR)
            declined = account_metric(
                METRIC_ACCOUNT_DECLINED, SAGA_RECORD_OUTCOME.module, account, HOUR
            )
            self._alarm(
                f"DeclineRate-{account}",
                cloudwatch.MathExpression(
                    # A percentage, once the hour has enough orders to mean something.
                    expression=(
                        f"IF(FILL(received, 0) >= {DECLINE_RATE_MIN_ORDERS},"
                        " 100 * FILL(declined, 0) / received, 0)"
                    ),
                    using_metrics={"received": received, "declined": declined},
                    label=f"{account} decline rate (%)",
                    period=HOUR,
                ),
                DECLINE_RATE_PERCENT,
                f"{account}: {DECLINE_RATE_PERCENT}% or more of an hour's orders (at least"
                f" {DECLINE_RATE_MIN_ORDERS}) were declined (see docs/deploy.md, runbook"
                " 'DeclineRate-<account>')",
            )

    def _build_dashboard(self, config: EnvironmentConfig) -> cloudwatch.Dashboard:
        res = self._resources
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{SERVICE_NAME}-{config.name}"
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API 4xx / 5xx",
                left=[
                    res.api.metric_client_error(period=PERIOD),
                    res.api.metric_server_error(period=PERIOD),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="API latency (p50, p99)",
                left=[
                    res.api.metric_latency(period=PERIOD, statistic="p50"),
                    res.api.metric_latency(period=PERIOD, statistic="p99"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="SP-API throttles", left=self._sp_api_throttles(), width=8
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth",
                left=[
                    q.metric_approximate_number_of_messages_visible(period=PERIOD, label=name)
                    for name, q in res.work_queues.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Age of oldest message (s)",
                left=[
                    q.metric_approximate_age_of_oldest_message(period=PERIOD, label=name)
                    for name, q in res.work_queues.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    q.metric_approximate_number_of_messages_visible(period=PERIOD, label=name)
                    for name, q in res.dead_letter_queues.items()
                ],
                width=8,
            ),
        )
        machine = res.state_machine
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Saga executions",
                left=[
                    machine.metric_started(period=PERIOD, label="started"),
                    machine.metric_succeeded(period=PERIOD, label="succeeded"),
                    machine.metric_failed(period=PERIOD, label="failed"),
                    machine.metric_timed_out(period=PERIOD, label="timed out"),
                    powertools_metric(METRIC_SAGA_COMPENSATED, SAGA_RECORD_OUTCOME.module).with_(
                        label="compensated"
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda errors",
                left=[
                    fn.metric_errors(period=PERIOD, label=module)
                    for module, fn in res.functions.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration p99 (ms)",
                left=[
                    fn.metric_duration(period=PERIOD, statistic="p99", label=module)
                    for module, fn in res.functions.items()
                ],
                width=8,
            ),
        )
        return dashboard
