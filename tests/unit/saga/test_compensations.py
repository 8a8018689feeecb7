"""The compensations' decision tables: each asks the provider first, then acts on its answer.

The saga's belief (the order record) is deliberately left wrong in these tests, as it is
after a step timed out or its function was stopped right after its call landed.
"""

from __future__ import annotations

import pytest

from opayo_fba.model import OrderStatus, PaymentState
from opayo_fba.saga import steps
from opayo_fba.saga.errors import FulfillmentUnderway
from tests.fixtures.saga_world import World, authorised_payment, make_order


def _mapped(world: World, order_id: str = "W-1001") -> dict[str, object]:
    world.add_order(make_order(order_id), authorised_payment(order_id))
    return steps.validate_and_map({"orderId": order_id}, world.deps)


def _history(world: World, order_id: str = "W-1001") -> list[str]:
    return [entry.event for entry in world.store.get(order_id).history]


# -- the payment: captured -> refund, authorised -> abort, nothing -> nothing ----------------


@pytest.mark.parametrize("step", [steps.abort_payment, steps.refund_payment])
def test_a_capture_the_saga_missed_is_refunded_whichever_step_runs(world: World, step) -> None:
    state = steps.create_fulfillment_order(_mapped(world), world.deps)
    world.opayo.releases.append(("TX-W-1001", 2500))  # landed; the capture step never recorded
    assert world.store.get("W-1001").captured is None

    assert step(state, world.deps)["action"] == "refunded"

    assert world.opayo.aborts == []
    assert [(r[0], r[1]) for r in world.opayo.refunds] == [("TX-W-1001", 2500)]
    record = world.store.get("W-1001")
    assert record.captured is not None
    assert record.captured.amount == 2500
    assert record.status is OrderStatus.REFUNDED
    assert {"payment_observed", "payment_capture_found", "refund_issued"} <= set(_history(world))


def test_only_what_is_not_refunded_yet_is_refunded(world: World) -> None:
    state = steps.create_fulfillment_order(_mapped(world), world.deps)
    steps.capture_payment(state, world.deps)
    world.opayo.refunds.append(("TX-W-1001", 1000, "elsewhere"))  # Opayo knows of 10.00 back
    assert steps.refund_payment(state, world.deps)["action"] == "refunded"
    assert [r[1] for r in world.opayo.refunds] == [1000, 1500]
    assert steps.refund_payment(state, world.deps) == {
        "found": "captured",
        "action": "none",
        "reason": "already refunded in full",
    }


@pytest.mark.parametrize("step", [steps.abort_payment, steps.refund_payment])
def test_an_authorisation_still_held_is_aborted(world: World, step) -> None:
    state = _mapped(world)
    assert step(state, world.deps) == {"found": "authorised", "action": "aborted"}
    assert world.opayo.aborts == ["TX-W-1001"]
    assert world.opayo.refunds == []
    assert world.store.get("W-1001").payment.state is PaymentState.ABORTED


def test_a_payment_captured_at_once_is_refunded_not_aborted(world: World) -> None:
    state = _mapped(world)
    world.opayo.payments["TX-W-1001"] = 2500
    assert steps.abort_payment(state, world.deps)["action"] == "refunded"
    assert world.opayo.aborts == []
    assert [r[1] for r in world.opayo.refunds] == [2500]


@pytest.mark.parametrize(
    ("opayo_says", "found"), [("unknown", "none"), ("declined", "declined"), ("aborts", "aborted")]
)
def test_nothing_is_sent_when_opayo_holds_no_money(
    world: World, opayo_says: str, found: str
) -> None:
    state = _mapped(world)
    held = getattr(world.opayo, opayo_says)
    if isinstance(held, set):
        held.add("TX-W-1001")
    else:
        held.append("TX-W-1001")
    aborts_before = list(world.opayo.aborts)
    assert steps.abort_payment(state, world.deps) == {"found": found, "action": "none"}
    assert world.opayo.aborts == aborts_before
    assert world.opayo.refunds == []
    assert "payment_observed" in _history(world)


def test_a_declined_payment_is_not_even_looked_up(world: World) -> None:
    declined = authorised_payment("W-1001").model_copy(
        update={"state": PaymentState.DECLINED, "status": "NotAuthed"}
    )
    world.add_order(make_order(), declined)
    result = steps.abort_payment({"orderId": "W-1001"}, world.deps)
    assert result == {"found": "nothing to settle", "action": "none"}
    assert world.opayo.observed == []


# -- the fulfillment order: live -> cancel, underway -> the order goes on, none -> nothing ---


def test_a_fulfillment_order_the_saga_never_recorded_is_cancelled(world: World) -> None:
    state = _mapped(world)
    # The create landed at Amazon, but its step timed out before recording it.
    world.amazon.create_fulfillment_order_on_hold(world.store.get("W-1001").fulfillment_request)
    assert world.store.get("W-1001").fulfillment is None

    assert steps.cancel_fulfillment_order(state, world.deps) == {
        "found": "Received",
        "action": "cancelled",
    }
    assert world.amazon.cancels == ["W-1001"]
    assert world.store.get("W-1001").fulfillment_status == "Cancelled"


def test_no_fulfillment_order_at_amazon_means_nothing_to_cancel(world: World) -> None:
    state = _mapped(world)
    assert steps.cancel_fulfillment_order(state, world.deps) == {"found": "none", "action": "none"}
    assert world.amazon.cancels == []


def test_an_order_never_mapped_has_nothing_to_cancel(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    result = steps.cancel_fulfillment_order({"orderId": "W-1001"}, world.deps)
    assert result == {"found": "never mapped", "action": "none"}


@pytest.mark.parametrize("status", ["Processing", "Complete", "CompletePartialled"])
def test_goods_underway_are_not_cancelled_and_say_so(world: World, status: str) -> None:
    state = steps.create_fulfillment_order(_mapped(world), world.deps)
    world.amazon.set_status("W-1001", status)
    with pytest.raises(FulfillmentUnderway, match=status):
        steps.cancel_fulfillment_order(state, world.deps)
    assert world.amazon.cancels == []
    assert world.store.get("W-1001").fulfillment_status == status


@pytest.mark.parametrize("status", ["Cancelled", "Unfulfillable", "Invalid"])
def test_an_ended_fulfillment_order_is_left_alone(world: World, status: str) -> None:
    state = steps.create_fulfillment_order(_mapped(world), world.deps)
    world.amazon.set_status("W-1001", status)
    assert steps.cancel_fulfillment_order(state, world.deps) == {"found": status, "action": "none"}
    assert world.amazon.cancels == []
