"""Schedules (EventBridge Scheduler): Amazon orders polling, FBA inventory polling, report
requests and polling, Opayo settlement batch fetch and Opayo Pi status polling.

One schedule per seller account (Amazon) or per vendor (Opayo), each passing its account or
vendor in the input, so one throttled account never delays the others. A schedule whose
invocation fails after its retries lands in the schedules' dead-letter queue (alarmed).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constants import (
    AFTER_SALE_TRACKER,
    ENV_RECONCILE_CONFIG,
    ENV_RETURN_DEDUCTIONS,
    ENV_SECURITY_KEYS_KEY_ARN,
    ENV_STATE_MACHINE_ARN,
    HELD_AUTHORISATIONS_CHECK,
    INVENTORY_POLLER,
    OPAYO_BATCH_FETCH,
    ORDERS_POLLER,
    PI_STATUS_POLLER,
    REPORT_POLLER,
    REPORT_SCHEDULER,
    SERVICE_NAME,
)
from infra.platform import Platform

SCHEDULE_RETRY_ATTEMPTS = 3
SCHEDULE_MAX_EVENT_AGE = Duration.hours(1)


class Schedules(Construct):
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
        functions = self._build_functions(platform, state_machine)
        self.dlq = sqs.Queue(
            self,
            "SchedulesDlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.group = scheduler.ScheduleGroup(
            self, "ScheduleGroup", schedule_group_name=f"{SERVICE_NAME}-{config.name}"
        )
        self._key = data_key
        self._roles: dict[str, iam.Role] = {}
        self.schedules: list[scheduler.Schedule] = []
        every = config.schedules
        for seller in config.seller_accounts:
            subject = {"sellerAccountId": seller.id}
            # Every marketplace the account sells in is polled, in one getOrders call.
            self._build_schedule(
                f"OrdersPolling-{seller.id}",
                every.orders_polling,
                functions,
                ORDERS_POLLER.module,
                {**subject, "marketplaceIds": list(seller.marketplace_ids)},
            )
            self._build_schedule(
                f"InventoryPolling-{seller.id}",
                every.inventory_polling,
                functions,
                INVENTORY_POLLER.module,
                subject,
            )
            self._build_schedule(
                f"ReportRequests-{seller.id}",
                every.report_requests,
                functions,
                REPORT_SCHEDULER.module,
                subject,
            )
            self._build_schedule(
                f"ReportPolling-{seller.id}",
                every.report_polling,
                functions,
                REPORT_POLLER.module,
                subject,
            )
            self._build_schedule(
                f"AfterSaleTracking-{seller.id}",
                every.after_sale_tracking,
                functions,
                AFTER_SALE_TRACKER.module,
                subject,
            )
        for vendor in config.opayo_vendors:
            subject = {"vendor": vendor.name}
            self._build_schedule(
                f"OpayoBatchFetch-{vendor.name}",
                every.opayo_settlement_batch_fetch,
                functions,
                OPAYO_BATCH_FETCH.module,
                subject,
            )
            self._build_schedule(
                f"PiStatusPolling-{vendor.name}",
                every.opayo_pi_status_polling,
                functions,
                PI_STATUS_POLLER.module,
                subject,
            )
            policy: dict[str, Any] = {
                "alarmAfterDays": config.held_authorisation_alarm_days,
                "abandonedAfterMinutes": config.abandoned_card_payment_minutes,
            }
            if vendor.abort_deferred_after_days is not None:
                policy["abortAfterDays"] = vendor.abort_deferred_after_days
            self._build_schedule(
                f"HeldAuthorisations-{vendor.name}",
                every.held_authorisations_check,
                functions,
                HELD_AUTHORISATIONS_CHECK.module,
                {**subject, **policy},
            )

    def _build_functions(
        self, platform: Platform, state_machine: sfn.IStateMachine
    ) -> dict[str, lambda_.IFunction]:
        """Access follows docs/pollers-and-reports.md: what each domain function touches.

        Report polling and batch fetching also run the journal step when a report is ready:
        it reads the orders table (the order book), writes journals to the archive bucket and
        publishes JournalEntriesReady.
        """
        amazon: dict[str, Any] = {"seller_secrets": True, "connector_state": True}
        # What Amazon names a SKU becomes the shop's SKU wherever a poller reads one.
        skus: dict[str, Any] = {"sku_mappings": True}
        journal: dict[str, Any] = {"orders": "read", "reports_bucket": True, "events_bus": True}
        chart = platform.config.chart_of_accounts
        if chart:
            journal["extra_environment"] = {ENV_RECONCILE_CONFIG: chart}
        built: dict[str, lambda_.IFunction] = {
            ORDERS_POLLER.module: platform.function(
                self, ORDERS_POLLER, orders="write", events_bus=True, **amazon, **skus
            ),
            # Writes inventory levels and its watermark (connector-state), publishes
            # InventoryLevelChanged; nothing else.
            INVENTORY_POLLER.module: platform.function(
                self, INVENTORY_POLLER, events_bus=True, **amazon, **skus
            ),
            REPORT_SCHEDULER.module: platform.function(self, REPORT_SCHEDULER, **amazon),
            REPORT_POLLER.module: platform.function(
                self, REPORT_POLLER, **journal, **amazon, **skus
            ),
            OPAYO_BATCH_FETCH.module: platform.function(
                self, OPAYO_BATCH_FETCH, vendor_secrets=True, connector_state=True, **journal
            ),
        }
        if chart:
            # Each journaling function reads exactly the chart of accounts object.
            for module in (REPORT_POLLER.module, OPAYO_BATCH_FETCH.module):
                built[module].add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["s3:GetObject"],
                        resources=[f"arn:{Stack.of(self).partition}:s3:::{chart[len('s3://') :]}"],
                    )
                )
        # A decided payment goes through intake.payments.apply_payment_update, the same entry
        # point as Opayo's notifications: it updates the order and may start the saga.
        pi_poller = platform.function(
            self,
            PI_STATUS_POLLER,
            orders="write",
            vendor_secrets=True,
            events_bus=True,
            extra_environment={ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn},
        )
        state_machine.grant_start_execution(pi_poller)
        built[PI_STATUS_POLLER.module] = pi_poller
        # Reads the held-authorisation index, aborts at Opayo (a Server payment through the
        # Shared Protocol, so it may decrypt SecurityKeys), records it on the order.
        security_keys = platform.keys.server_security_keys
        held = platform.function(
            self,
            HELD_AUTHORISATIONS_CHECK,
            orders="write",
            vendor_secrets=True,
            events_bus=True,
            extra_environment={ENV_SECURITY_KEYS_KEY_ARN: security_keys.key_arn},
        )
        security_keys.grant_decrypt(held)
        built[HELD_AUTHORISATIONS_CHECK.module] = held
        # Reads the follow-up index, asks Amazon for each package's tracking and each open
        # return (within the shared rate limit), records it on the order, tells the ERP, and
        # refunds a received return at Opayo (from the fixed egress; a Server payment's
        # refund.vsp quotes its SecurityKey, so it may decrypt it).
        tracker = platform.function(
            self,
            AFTER_SALE_TRACKER,
            orders="write",
            seller_secrets=True,
            vendor_secrets=True,
            connector_state=True,
            events_bus=True,
            extra_environment={
                ENV_SECURITY_KEYS_KEY_ARN: security_keys.key_arn,
                ENV_RETURN_DEDUCTIONS: json.dumps(
                    platform.config.return_deductions, separators=(",", ":"), sort_keys=True
                ),
            },
        )
        security_keys.grant_decrypt(tracker)
        built[AFTER_SALE_TRACKER.module] = tracker
        self.functions = built
        return built

    def _scheduler_role(self, module: str, function: lambda_.IFunction) -> iam.Role:
        """One role per invoked function: invoke it, read the schedule, dead-letter a failure."""
        if module not in self._roles:
            role = iam.Role(
                self,
                f"{module.title().replace('_', '')}SchedulerRole",
                assumed_by=iam.ServicePrincipal(
                    "scheduler.amazonaws.com",
                    conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
                ),
                description=f"EventBridge Scheduler invoking {module}",
            )
            function.grant_invoke(role)
            # Sending to a KMS-encrypted queue needs GenerateDataKey, which the L2 does not add.
            self.dlq.grant_send_messages(role)
            self._key.grant_decrypt(role)
            self._roles[module] = role
        return self._roles[module]

    def _build_schedule(
        self,
        construct_id: str,
        expression: str,
        functions: dict[str, lambda_.IFunction],
        module: str,
        subject: dict[str, Any],
    ) -> None:
        target = targets.LambdaInvoke(
            functions[module],
            role=self._scheduler_role(module, functions[module]),
            input=scheduler.ScheduleTargetInput.from_object(subject),
            dead_letter_queue=self.dlq,
            retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
            max_event_age=SCHEDULE_MAX_EVENT_AGE,
        )
        self.schedules.append(
            scheduler.Schedule(
                self,
                construct_id,
                schedule=scheduler.ScheduleExpression.expression(expression),
                target=target,
                schedule_group=self.group,
                key=self._key,
                description=f"{module} for {next(iter(subject.values()))}",
            )
        )
