"""Payments that need no capture (a Pi Payment, a Server TxType=PAYMENT): the saga never
releases them, and every compensation after them refunds, never aborts.

In-memory Opayo and Amazon behind the saga's ports (tests/fixtures/saga_world.py); the
in-memory Opayo says a transaction listed in `payments` was captured at authorisation.
"""

from __future__ import annotations

import pytest

from opayo_fba.model import OrderStatus, PaymentState, PaymentTransaction, TransactionType
from opayo_fba.saga import steps
from opayo_fba.saga.errors import CaptureFailed, MerchantCancelled
from tests.fixtures.saga_world import World, authorised_payment, make_order


def captured_payment(order_id: str, amount: int = 2500) -> PaymentTransaction:
    """A Payment as intake records it: Opayo said Ok, so the money is already taken."""
    return authorised_payment(order_id, amount).model_copy(
        update={"transaction_type": TransactionType.PAYMENT, "state": PaymentState.CAPTURED}
    )


def _add_payment_order(world: World, order_id: str = "W-1001", taken: int = 2500) -> None:
    world.add_order(make_order(order_id), captured_payment(order_id, taken))
    world.opayo.payments[f"TX-{order_id}"] = taken


def _mapped(world: World, order_id: str = "W-1001") -> dict[str, object]:
    state = steps.validate_and_map({"orderId": order_id}, world.deps)
    return steps.create_fulfillment_order(state, world.deps)


def _history(world: World, order_id: str = "W-1001") -> list[str]:
    return [entry.event for entry in world.store.get(order_id).history]


def test_a_payment_ships_without_a_release(world: World) -> None:
    _add_payment_order(world)
    state = steps.capture_payment(_mapped(world), world.deps)
    assert state["captured"] == {"amount": 2500, "currency": "GBP"}
    steps.release_fulfillment_order(state, world.deps)

    assert world.opayo.releases == []
    assert world.opayo.observed == ["TX-W-1001"]  # Opayo was asked what it holds
    assert world.amazon.releases == ["W-1001"]
    record = world.store.get("W-1001")
    assert record.captured is not None
    assert record.captured.amount == 2500
    [note] = [e for e in record.history if e.event == steps.RELEASE_NOT_NEEDED_NOTE]
    assert "Payment" in (note.detail or "")
    assert "payment_captured" not in _history(world)
    assert [kind for kind, _ in world.events.published].count("PaymentCaptured") == 1

    world.amazon.set_status("W-1001", "Complete")
    assert steps.check_fulfillment_status(state, world.deps)["status"] == "Complete"
    steps.mark_shipped(state, world.deps)
    assert world.store.get("W-1001").status is OrderStatus.SHIPPED


def test_the_capture_step_run_again_asks_and_records_nothing_more(world: World) -> None:
    _add_payment_order(world)
    state = _mapped(world)
    steps.capture_payment(state, world.deps)
    again = steps.capture_payment(state, world.deps)
    assert again["captured"] == {"amount": 2500, "currency": "GBP"}
    assert world.opayo.observed == ["TX-W-1001"]
    assert _history(world).count(steps.RELEASE_NOT_NEEDED_NOTE) == 1
    assert [kind for kind, _ in world.events.published].count("PaymentCaptured") == 1


def test_a_merchant_cancellation_after_it_refunds_in_full(world: World) -> None:
    _add_payment_order(world)
    state = steps.capture_payment(_mapped(world), world.deps)
    steps.release_fulfillment_order(state, world.deps)
    world.store.update("W-1001", lambda r: setattr(r, "cancel_requested", True))
    assert steps.check_fulfillment_status(state, world.deps) == {"status": "MerchantCancelled"}
    compensation = {**state, "compensationReason": {"outcome": "merchant_cancelled"}}

    assert steps.cancel_fulfillment_order(compensation, world.deps)["action"] == "cancelled"
    assert steps.refund_payment(compensation, world.deps) == {
        "found": "captured",
        "action": "refunded",
        "vendorTxCode": "RFND-W-1001-R1",
    }

    assert world.amazon.cancels == ["W-1001"]
    assert world.opayo.aborts == []
    assert [(r[0], r[1]) for r in world.opayo.refunds] == [("TX-W-1001", 2500)]
    assert world.store.get("W-1001").status is OrderStatus.REFUNDED


def test_a_merchant_cancellation_before_capture_refunds_it_too(world: World) -> None:
    _add_payment_order(world)
    state = _mapped(world)
    world.store.update("W-1001", lambda r: setattr(r, "cancel_requested", True))
    with pytest.raises(MerchantCancelled):
        steps.capture_payment(state, world.deps)
    compensation = {**state, "compensationReason": {"outcome": "merchant_cancelled"}}
    steps.cancel_fulfillment_order(compensation, world.deps)
    # The branch is AbortPayment, but Opayo says captured: the money is refunded.
    assert steps.abort_payment(compensation, world.deps)["action"] == "refunded"
    assert world.opayo.aborts == []
    assert world.opayo.releases == []
    assert [r[1] for r in world.opayo.refunds] == [2500]
    record = world.store.get("W-1001")
    assert record.captured is not None
    assert record.captured.amount == 2500
    assert record.status is OrderStatus.REFUNDED


def test_a_payment_opayo_no_longer_holds_ships_nothing(world: World) -> None:
    _add_payment_order(world)
    del world.opayo.payments["TX-W-1001"]
    world.opayo.unknown.add("TX-W-1001")
    state = _mapped(world)
    with pytest.raises(CaptureFailed, match="Opayo says the Payment is none; nothing ships"):
        steps.capture_payment(state, world.deps)
    record = world.store.get("W-1001")
    assert record.captured is None
    assert "capture_refused" in _history(world)
    assert steps.RELEASE_NOT_NEEDED_NOTE not in _history(world)
    assert world.opayo.releases == []
    assert "PaymentCaptured" not in [kind for kind, _ in world.events.published]


def test_a_payment_of_another_amount_than_the_order_ships_nothing_and_is_refunded(
    world: World,
) -> None:
    world.add_order(make_order(total=2500), captured_payment("W-1001", 2400))
    world.opayo.payments["TX-W-1001"] = 2400
    state = _mapped(world)
    with pytest.raises(CaptureFailed, match=r"took 24\.00 GBP at authorisation"):
        steps.capture_payment(state, world.deps)
    assert steps.abort_payment(state, world.deps)["action"] == "refunded"
    assert [r[1] for r in world.opayo.refunds] == [2400]
    assert world.opayo.aborts == []


def test_a_deferred_is_still_released(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    steps.capture_payment(_mapped(world), world.deps)
    assert world.opayo.releases == [("TX-W-1001", 2500)]
    assert steps.RELEASE_NOT_NEEDED_NOTE not in _history(world)
