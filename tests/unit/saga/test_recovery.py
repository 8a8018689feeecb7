"""Recovery of executions that ended badly: the decision table, on the providers' state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opayo_fba.errors import InvalidInputError
from opayo_fba.model import OrderStatus, PaymentState
from opayo_fba.saga import steps
from opayo_fba.saga.errors import RefundFailed
from opayo_fba.saga.recovery import recover_execution
from tests.fixtures.saga_world import World, authorised_payment, make_order

ARN = "arn:aws:states:eu-west-2:123456789012:execution:opayo-fba-dev-order-saga:W-1001"


def ended(status: str = "FAILED", order_id: str = "W-1001", arn: str = ARN) -> dict[str, Any]:
    """Step Functions' own event, in the shape its developer guide documents."""
    return {
        "version": "0",
        "id": "6d2f4a1e-3c9b-4e7a-9f10-5b8c7d6e4a21",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-12-01T10:42:21Z",
        "region": "eu-west-2",
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
            "name": order_id,
            "status": status,
            "startDate": 1764585600000,
            "stopDate": 1764585741000,
            "input": json.dumps({"orderId": order_id}),
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
        },
    }


def _created(world: World) -> dict[str, Any]:
    world.add_order(make_order(), authorised_payment("W-1001"))
    state = steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    return steps.create_fulfillment_order(state, world.deps)


def _compensated_events(world: World) -> list[dict[str, Any]]:
    return [d for kind, d in world.events.published if kind == "OrderCompensated"]


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_held_money_is_released_and_the_live_fulfillment_order_cancelled(
    world: World, status: str
) -> None:
    _created(world)
    result = recover_execution(ended(status), world.deps)
    assert (result["fulfillment"], result["payment"]) == ("cancelled", "aborted")
    assert world.amazon.cancels == ["W-1001"]
    assert world.opayo.aborts == ["TX-W-1001"]
    record = world.store.get("W-1001")
    assert record.outcome == f"execution_{status.lower()}"
    assert record.status is OrderStatus.CANCELLED
    assert len(_compensated_events(world)) == 1


def test_a_capture_nobody_recorded_is_refunded(world: World) -> None:
    _created(world)
    world.opayo.releases.append(("TX-W-1001", 2500))
    result = recover_execution(ended(), world.deps)
    assert result["payment"] == "refunded"
    assert [r[1] for r in world.opayo.refunds] == [2500]
    assert world.store.get("W-1001").status is OrderStatus.REFUNDED


def test_goods_underway_keep_their_money_and_a_mere_authorisation_is_captured(
    world: World,
) -> None:
    state = _created(world)
    steps.release_fulfillment_order(state, world.deps)
    world.amazon.set_status("W-1001", "Processing")  # released to Ship before the capture
    result = recover_execution(ended(), world.deps)
    assert result == {"orderId": "W-1001", "fulfillment": "underway", "payment": "captured"}
    assert world.opayo.releases == [("TX-W-1001", 2500)]
    assert world.opayo.refunds == []
    assert world.amazon.cancels == []
    assert _compensated_events(world) == []
    assert world.store.get("W-1001").payment.state is PaymentState.CAPTURED


def test_shipped_and_captured_is_left_as_it_is(world: World) -> None:
    state = _created(world)
    steps.capture_payment(state, world.deps)
    world.amazon.set_status("W-1001", "Complete")
    result = recover_execution(ended(), world.deps)
    assert result["payment"] == "kept (captured)"
    assert world.opayo.releases == [("TX-W-1001", 2500)]  # captured once
    assert world.opayo.refunds == []


def test_a_repeated_event_changes_nothing_more(world: World) -> None:
    _created(world)
    world.opayo.releases.append(("TX-W-1001", 2500))
    recover_execution(ended(), world.deps)
    again = recover_execution(ended(), world.deps)
    assert again["reason"] == "already recovered"
    assert len(world.opayo.refunds) == 1
    assert len(_compensated_events(world)) == 1


def test_a_refused_refund_fails_loudly_so_it_is_retried_and_alarmed(world: World) -> None:
    from tests.fixtures.saga_world import RefundResult

    _created(world)
    world.opayo.releases.append(("TX-W-1001", 2500))
    world.opayo.refund = lambda *a, **k: RefundResult(False, "Rejected", "no", "")  # type: ignore[method-assign]
    with pytest.raises(RefundFailed):
        recover_execution(ended(), world.deps)
    assert _compensated_events(world) == []


def test_succeeded_executions_and_unknown_orders_are_left_alone(world: World) -> None:
    assert recover_execution(ended("SUCCEEDED"), world.deps)["action"] == "none"
    assert recover_execution(ended(order_id="NOPE"), world.deps)["reason"] == "no such order"


@pytest.mark.parametrize(
    "broken",
    [
        {"source": "aws.events"},
        {"detail": None},
        {"detail": {"executionArn": ARN, "status": "FAILED", "input": "not json"}},
        {"detail": {"executionArn": ARN, "status": "FAILED", "input": "{}"}},
    ],
)
def test_an_event_that_is_not_ours_is_refused(world: World, broken: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        recover_execution({**ended(), **broken}, world.deps)
