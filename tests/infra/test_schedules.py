"""Schedules: one per seller account / vendor and poller, from config, with DLQ and retries."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from infra.config import EnvironmentConfig
from tests.infra.conftest import logical_id_by_path, of_type


def _schedules(resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [s["Properties"] for s in of_type(resources, "AWS::Scheduler::Schedule").values()]


def test_one_schedule_per_account_and_poller(
    resources: dict[str, Any], config: EnvironmentConfig
) -> None:
    targets = Counter(
        (s["Target"]["Arn"]["Fn::GetAtt"][0], s["Target"]["Input"]) for s in _schedules(resources)
    )
    expected = []
    for seller in config.seller_accounts:
        subject = json.dumps({"sellerAccountId": seller.id}, separators=(",", ":"))
        orders = json.dumps(
            {"sellerAccountId": seller.id, "marketplaceIds": seller.marketplace_ids},
            separators=(",", ":"),
        )
        expected.append(
            (logical_id_by_path(resources, "/Schedules/OrdersPollerFunction/Resource"), orders)
        )
        expected += [
            (logical_id_by_path(resources, f"/Schedules/{name}Function/Resource"), subject)
            for name in (
                "InventoryPoller",
                "ReportScheduler",
                "ReportPoller",
                "AfterSaleTracker",
            )
        ]
    for vendor in config.opayo_vendors:
        subject = json.dumps({"vendor": vendor.name}, separators=(",", ":"))
        expected += [
            (logical_id_by_path(resources, f"/Schedules/{name}Function/Resource"), subject)
            for name in ("OpayoBatchFetch", "PiStatusPoller")
        ]
        # The held-authorisations check carries the vendor's policy with it.
        policy = {
            "vendor": vendor.name,
            "alarmAfterDays": config.held_authorisation_alarm_days,
            "abandonedAfterMinutes": config.abandoned_card_payment_minutes,
        }
        if vendor.abort_deferred_after_days is not None:
            policy["abortAfterDays"] = vendor.abort_deferred_after_days
        expected.append(
            (
                logical_id_by_path(
                    resources, "/Schedules/HeldAuthorisationsCheckFunction/Resource"
                ),
                json.dumps(policy, separators=(",", ":")),
            )
        )
    assert targets == Counter(expected)


def test_expressions_come_from_config(resources: dict[str, Any], config: EnvironmentConfig) -> None:
    expressions = {
        s["Description"].split(" for ")[0]: s["ScheduleExpression"] for s in _schedules(resources)
    }
    every = config.schedules
    assert expressions == {
        "orders_poller": every.orders_polling,
        "inventory_poller": every.inventory_polling,
        "report_scheduler": every.report_requests,
        "report_poller": every.report_polling,
        "opayo_batch_fetch": every.opayo_settlement_batch_fetch,
        "pi_status_poller": every.opayo_pi_status_polling,
        "held_authorisations_check": every.held_authorisations_check,
        "after_sale_tracker": every.after_sale_tracking,
    }


def test_every_schedule_retries_then_dead_letters(resources: dict[str, Any]) -> None:
    dlq = logical_id_by_path(resources, "/Schedules/SchedulesDlq/Resource")
    for schedule in _schedules(resources):
        target = schedule["Target"]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert schedule["State"] == "ENABLED"
        assert "KmsKeyArn" in schedule


def test_scheduler_roles_can_dead_letter_to_the_encrypted_queue(resources: dict[str, Any]) -> None:
    """SQS with KMS needs kms:GenerateDataKey from the sender, or dead letters are lost."""
    data_key = logical_id_by_path(resources, "/Keys/DataKey/Resource")
    dlq = logical_id_by_path(resources, "/Schedules/SchedulesDlq/Resource")
    roles = {s["Target"]["RoleArn"]["Fn::GetAtt"][0] for s in _schedules(resources)}
    assert len(roles) == 8  # one per invoked function
    for role in roles:
        actions: dict[str, set[str]] = {}
        for policy in of_type(resources, "AWS::IAM::Policy").values():
            if {"Ref": role} not in policy["Properties"]["Roles"]:
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                granted = statement["Action"]
                for action in granted if isinstance(granted, list) else [granted]:
                    actions.setdefault(action, set()).add(json.dumps(statement["Resource"]))
        assert any(data_key in r for r in actions["kms:GenerateDataKey*"]), role
        assert any(dlq in r for r in actions["sqs:SendMessage"]), role
        assert "lambda:InvokeFunction" in actions
