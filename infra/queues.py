"""Queues: verified Opayo payment events (FIFO) and Amazon SP-API notifications (standard).

Each queue has a dead-letter queue with the configured maxReceiveCount, KMS encryption and
an SSL-only policy, and is drained by its Lambda consumer through an event source mapping
that reports partial batch failures (one bad record never makes the good ones run twice).
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constants import (
    AMAZON_NOTIFICATIONS,
    ENV_SELLER_MARKETPLACES,
    ENV_STATE_MACHINE_ARN,
    PAYMENT_EVENTS,
    SP_API_NOTIFICATIONS_ACCOUNT,
)
from infra.platform import Platform

DLQ_RETENTION = Duration.days(14)
QUEUE_RETENTION = Duration.days(4)
# Visibility must cover the consumer's timeout times the batch retry window (AWS guidance: 6x).
VISIBILITY_TIMEOUT_FACTOR = 6


class Queues(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: Platform,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        config = platform.config
        data_key = platform.keys.data
        consumer_timeout = max(PAYMENT_EVENTS.timeout_seconds, AMAZON_NOTIFICATIONS.timeout_seconds)
        visibility = Duration.seconds(consumer_timeout * VISIBILITY_TIMEOUT_FACTOR)
        self.payment_events_dlq = _build_dlq(self, "PaymentEventsDlq", data_key, fifo=True)
        self.payment_events = sqs.Queue(
            self,
            "PaymentEventsQueue",
            fifo=True,
            # Opayo notifications carry their own ids; deduplicate on the id we set.
            content_based_deduplication=False,
            deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP,
            fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data_key,
            enforce_ssl=True,
            visibility_timeout=visibility,
            retention_period=QUEUE_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.payment_events_dlq, max_receive_count=config.dlq_max_receive_count
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )

        # Amazon's account must use this key to send, so it gets a key of its own and never
        # the key of our tables.
        self.notifications_key = kms.Key(
            self,
            "AmazonNotificationsKey",
            description="opayo-fba SP-API notifications queue (Amazon's sender may use it)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.amazon_notifications_dlq = _build_dlq(
            self, "AmazonNotificationsDlq", self.notifications_key, fifo=False
        )
        self.amazon_notifications = sqs.Queue(
            self,
            "AmazonNotificationsQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.notifications_key,
            enforce_ssl=True,
            visibility_timeout=visibility,
            retention_period=QUEUE_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.amazon_notifications_dlq,
                max_receive_count=config.dlq_max_receive_count,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        _allow_sp_api_notifications(self.amazon_notifications, self.notifications_key)

        self.payment_events_consumer = platform.function(
            self,
            PAYMENT_EVENTS,
            orders="write",
            idempotency=True,
            extra_environment={ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn},
        )
        state_machine.grant_start_execution(self.payment_events_consumer)
        _subscribe(self.payment_events, self.payment_events_consumer, fifo=True)

        # An unknown FULFILLMENT_ORDER_STATUS value makes it read the order from Amazon.
        # FBA_INVENTORY_AVAILABILITY_CHANGES: inventory levels live in the connector-state
        # table; the marketplace -> account map and the SKU mappings say whose SKU it is.
        self.amazon_notifications_consumer = platform.function(
            self,
            AMAZON_NOTIFICATIONS,
            orders="write",
            idempotency=True,
            events_bus=True,
            connector_state=True,
            seller_secrets=True,
            sku_mappings=True,
            extra_environment={
                ENV_SELLER_MARKETPLACES: json.dumps(
                    {s.id: s.marketplace_ids for s in config.seller_accounts}, sort_keys=True
                )
            },
        )
        # A fulfillment status resumes the saga waiting for it (SendTaskSuccess).
        state_machine.grant_task_response(self.amazon_notifications_consumer)
        _subscribe(self.amazon_notifications, self.amazon_notifications_consumer, fifo=False)


def _subscribe(queue: sqs.IQueue, consumer: lambda_.IFunction, *, fifo: bool) -> None:
    """Attach a consumer with ReportBatchItemFailures (grants receive/delete/decrypt)."""
    consumer.add_event_source(
        event_sources.SqsEventSource(
            queue,
            batch_size=10,
            # A FIFO source cannot batch by window; standard queues wait briefly to batch.
            max_batching_window=None if fifo else Duration.seconds(5),
            report_batch_item_failures=True,
        )
    )


def _build_dlq(scope: Construct, construct_id: str, key: kms.IKey, *, fifo: bool) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        fifo=fifo or None,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
        removal_policy=RemovalPolicy.RETAIN,
    )


def _allow_sp_api_notifications(queue: sqs.Queue, key: kms.Key) -> None:
    """Let the SP-API notification service deliver: SendMessage + GetQueueAttributes, and KMS."""
    amazon = iam.AccountPrincipal(SP_API_NOTIFICATIONS_ACCOUNT)
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowSellingPartnerApiNotifications",
            principals=[amazon],
            actions=["sqs:SendMessage", "sqs:GetQueueAttributes"],
            resources=[queue.queue_arn],
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowSellingPartnerApiNotificationsToEncrypt",
            principals=[amazon],
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=["*"],
            conditions={
                "StringEquals": {"kms:ViaService": f"sqs.{Stack.of(key).region}.amazonaws.com"}
            },
        )
    )
