"""A cancellation tells the truth (issue 11, item 5): Amazon is asked before a cancellation is
accepted, and a cancel Amazon refuses later (the race) lets the order ship, unrefunded, with
the shop told."""

from __future__ import annotations

import pytest

from opayo_fba.errors import ConflictError
from opayo_fba.intake.cancellation import request_cancellation
from opayo_fba.saga import steps
from opayo_fba.saga.errors import CancellationRefused
from tests.fixtures.saga_world import World, authorised_payment, make_order

MERCHANT = {"compensationReason": {"outcome": "merchant_cancelled"}}


def _released(world: World, order_id: str) -> dict[str, object]:
    world.add_order(make_order(order_id), authorised_payment(order_id))
    state: dict[str, object] = {"orderId": order_id}
    state = steps.validate_and_map(state, world.deps)
    state = steps.create_fulfillment_order(state, world.deps)
    state = steps.capture_payment(state, world.deps)
    return steps.release_fulfillment_order(state, world.deps)


def _cancel(world: World, order_id: str) -> object:
    return request_cancellation(
        world.store, order_id, "changed mind", world.resumer, amazon=lambda _: world.amazon
    )


def test_a_stale_stored_status_does_not_make_a_cancellation_202(world: World) -> None:
    _released(world, "P")
    world.amazon.set_status("P", "Processing")  # Amazon moved on; our record still says Received
    assert world.store.get("P").fulfillment_status == "Received"
    before = world.store.get("P")
    with pytest.raises(ConflictError, match="Processing at Amazon"):
        _cancel(world, "P")
    after = world.store.get("P")
    assert not after.cancel_requested
    assert after.version == before.version  # nothing changed
    assert world.amazon.cancels == []


@pytest.mark.parametrize("status", ["Received", "Planning", "Cancelled", "Unfulfillable"])
def test_a_cancellation_amazon_can_still_honour_is_accepted(world: World, status: str) -> None:
    _released(world, "R")
    world.amazon.set_status("R", status)
    assert _cancel(world, "R").cancel_requested  # type: ignore[attr-defined]


def test_before_anything_exists_at_amazon_the_cancellation_is_accepted(world: World) -> None:
    world.add_order(make_order("N"), authorised_payment("N"))
    steps.validate_and_map({"orderId": "N"}, world.deps)  # mapped, not created at Amazon
    assert _cancel(world, "N").cancel_requested  # type: ignore[attr-defined]


def test_a_cancel_amazon_refuses_after_acceptance_lets_the_order_ship(world: World) -> None:
    state = {**_released(world, "RACE"), **MERCHANT}
    _cancel(world, "RACE")  # Amazon said Received: accepted
    world.amazon.set_status("RACE", "Processing")  # ... and then picked it (the race)
    with pytest.raises(CancellationRefused, match="Processing"):
        steps.cancel_fulfillment_order(state, world.deps)
    record = world.store.get("RACE")
    assert record.cancel_refused
    assert not record.cancel_requested
    assert record.fulfillment_status == "Processing"
    assert "cancellation_refused" in [h.event for h in record.history]
    assert record.public_view()["cancel_refused"] is True
    refused = [d for kind, d in world.events.published if kind == "CancellationRefused"]
    assert refused == [
        {
            "eventId": "RACE#CancellationRefused",
            "orderId": "RACE",
            "fulfillmentStatus": "Processing",
            "reason": "Amazon would not cancel: the fulfillment order is Processing; the order "
            "ships",
        }
    ]
    # A retry of the step raises the same, without asking Amazon to cancel again.
    with pytest.raises(CancellationRefused):
        steps.cancel_fulfillment_order(state, world.deps)
    assert world.amazon.cancels == []
    # The saga goes back to following the shipment: no MerchantCancelled any more ...
    assert steps.check_fulfillment_status(state, world.deps)["status"] == "Processing"
    assert steps.decisive_status(world.store.get("RACE")) is None
    # ... and a second cancellation is refused with the reason.
    with pytest.raises(ConflictError, match="Amazon refused"):
        _cancel(world, "RACE")
    world.amazon.set_status("RACE", "Complete")
    assert steps.check_fulfillment_status(state, world.deps)["status"] == "Complete"
    steps.mark_shipped(state, world.deps)
    assert world.opayo.refunds == []  # nothing refunded for an order that ships


def test_a_cancel_whose_response_was_lost_is_a_cancel(world: World) -> None:
    state = {**_released(world, "LOST"), **MERCHANT}
    _cancel(world, "LOST")
    world.amazon.set_status("LOST", "Cancelled")  # it landed; our record does not know yet
    world.store.update("LOST", lambda r: setattr(r, "fulfillment_status", "Received"))
    # Amazon is read first: the order is already Cancelled, so nothing is sent again.
    assert steps.cancel_fulfillment_order(state, world.deps) == {
        "found": "Cancelled",
        "action": "none",
    }
    assert world.store.get("LOST").fulfillment_status == "Cancelled"


def test_a_refused_cancel_outside_a_merchant_cancellation_still_fails_loudly(
    world: World,
) -> None:
    from opayo_fba.saga.errors import FulfillmentUnderway

    state = {**_released(world, "CF"), "compensationReason": {"outcome": "capture_failed"}}
    world.amazon.set_status("CF", "Processing")
    with pytest.raises(FulfillmentUnderway):
        steps.cancel_fulfillment_order(state, world.deps)
    assert not world.store.get("CF").cancel_refused
