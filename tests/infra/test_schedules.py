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
        expected += [
            (logical_id_by_path(resources, f"/Schedules/{name}Function/Resource"), subject)
            for name in ("OrdersPoller", "ReportScheduler", "ReportPoller")
        ]
    for vendor in config.opayo_vendors:
        subject = json.dumps({"vendor": vendor.name}, separators=(",", ":"))
        expected += [
            (logical_id_by_path(resources, f"/Schedules/{name}Function/Resource"), subject)
            for name in ("OpayoBatchFetch", "PiStatusPoller")
        ]
    assert targets == Counter(expected)


def test_expressions_come_from_config(resources: dict[str, Any], config: EnvironmentConfig) -> None:
    expressions = {
        s["Description"].split(" for ")[0]: s["ScheduleExpression"] for s in _schedules(resources)
    }
    every = config.schedules
    assert expressions == {
        "orders_poller": every.orders_polling,
        "report_scheduler": every.report_requests,
        "report_poller": every.report_polling,
        "opayo_batch_fetch": every.opayo_settlement_batch_fetch,
        "pi_status_poller": every.opayo_pi_status_polling,
    }


def test_every_schedule_retries_then_dead_letters(resources: dict[str, Any]) -> None:
    dlq = logical_id_by_path(resources, "/Schedules/SchedulesDlq/Resource")
    for schedule in _schedules(resources):
        target = schedule["Target"]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert schedule["State"] == "ENABLED"
        assert "KmsKeyArn" in schedule
