"""An order's timeline: Step Functions' history read as steps and failures, never a state's
input or output, card numbers masked; the record's own times; one merged order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opayo_fba.ops.timeline import (
    TimelineEntry,
    execution_arn,
    execution_timeline,
    merged,
    record_timeline,
)
from opayo_fba.store.orders import HistoryEntry, OrderRecord
from tests.fixtures.saga_world import authorised_payment, make_order

T0 = datetime(2026, 11, 28, 10, 15, tzinfo=UTC)  # when make_order was placed


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_execution_arn_is_the_one_the_starter_names() -> None:
    machine = "arn:aws:states:eu-west-2:123456789012:stateMachine:opayo-fba-dev-order-saga"
    assert execution_arn(machine, "W-1") == (
        "arn:aws:states:eu-west-2:123456789012:execution:opayo-fba-dev-order-saga:W-1"
    )
    assert execution_arn(machine, "W-1", attempt=2).rsplit(":", 1)[1].startswith("W-1_A2-")


def test_history_events_become_steps_and_failures_without_inputs() -> None:
    events = [
        {
            "timestamp": _at(0),
            "type": "ExecutionStarted",
            "executionStartedEventDetails": {"input": '{"secret": "s3cr3t"}'},
        },
        {
            "timestamp": _at(1),
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "CapturePayment", "input": '{"x": "s3cr3t"}'},
        },
        {
            "timestamp": _at(2),
            "type": "LambdaFunctionFailed",
            "lambdaFunctionFailedEventDetails": {
                "error": "CaptureFailed",
                "cause": "card 4929000000006 declined",
            },
        },
        {"timestamp": _at(3), "type": "TaskStateExited", "stateExitedEventDetails": {}},
        {
            "timestamp": _at(4),
            "type": "ExecutionFailed",
            "executionFailedEventDetails": {"error": "States.TaskFailed"},
        },
    ]
    entries = execution_timeline(events, attempt=2)
    assert [e.title for e in entries] == [
        "saga started (attempt 2)",
        "step CapturePayment (attempt 2)",
        "LambdaFunctionFailed (attempt 2): CaptureFailed",
        "saga failed (attempt 2)",
    ]
    shown = " ".join(f"{e.title} {e.detail}" for e in entries)
    assert "s3cr3t" not in shown
    assert "4929000000006" not in shown
    assert entries[3].detail == "States.TaskFailed"


def test_the_records_own_times_and_the_sagas_merge_in_time_order() -> None:
    record = OrderRecord(
        order=make_order("W-1"),
        seller_account="uk-main",
        payment=authorised_payment("W-1").model_copy(update={"created_at": _at(60)}),
        history=[HistoryEntry(at=_at(30), event="received")],
    )
    saga = [TimelineEntry(_at(45), "saga", "saga started")]
    timeline = merged(record_timeline(record), saga)
    assert [e.at for e in timeline] == sorted(e.at for e in timeline)
    assert [e.source for e in timeline][:4] == ["order", "order", "saga", "payment"]
