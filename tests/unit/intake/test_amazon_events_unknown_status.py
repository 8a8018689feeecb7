"""An unknown FULFILLMENT_ORDER_STATUS value is a reason to read the order, not a poison
message (the schema documents no values; its own example says PROCESSED)."""

from __future__ import annotations

from typing import Any

import pytest

from opayo_fba.errors import InvalidInputError
from opayo_fba.intake.amazon_events import handle_amazon_notification
from opayo_fba.saga import steps
from tests.fixtures.saga_world import World, authorised_payment, make_order


def _notification(status: str, nid: str, sfo: str = "W-1001") -> dict[str, Any]:
    return {
        "NotificationType": "FULFILLMENT_ORDER_STATUS",
        "Payload": {
            "FulfillmentOrderStatusNotification": {
                "SellerFulfillmentOrderId": sfo,
                "FulfillmentOrderStatus": status,
                "StatusUpdatedDateTime": "2030-01-01T00:00:00Z",
            }
        },
        "NotificationMetadata": {"NotificationId": nid},
    }


def _waiting_saga(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    state = steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    state = steps.create_fulfillment_order(state, world.deps)
    state = steps.capture_payment(state, world.deps)
    state = steps.release_fulfillment_order(state, world.deps)
    assert steps.await_fulfillment_update({**state, "taskToken": "T1"}, world.deps) == {
        "waiting": True
    }


def test_an_unknown_status_applies_the_status_amazon_reports(world: World) -> None:
    _waiting_saga(world)
    world.amazon.set_status("W-1001", "Complete")
    world.amazon.orders["W-1001"]["statusUpdatedDate"] = "2026-11-28T12:00:00Z"
    result = handle_amazon_notification(
        _notification("PROCESSED", "n-1"),
        world.store,
        world.resumer,
        fulfillment_readers=world.deps.fulfillment,
    )
    assert (result.outcome, result.status_source) == ("applied", "amazon")
    record = world.store.get("W-1001")
    assert record.fulfillment_status == "Complete"
    assert world.resumer.resumed == [("T1", {"status": "Complete"})]


def test_an_unknown_status_when_amazon_has_not_moved_changes_nothing(world: World) -> None:
    _waiting_saga(world)
    before = world.store.get("W-1001").fulfillment_status
    result = handle_amazon_notification(
        _notification("TYPE3945", "n-2"),
        world.store,
        world.resumer,
        fulfillment_readers=world.deps.fulfillment,
    )
    assert (result.outcome, result.status_source) == ("stale", "amazon")
    assert world.store.get("W-1001").fulfillment_status == before
    assert world.resumer.resumed == []


def test_without_a_reader_an_unknown_status_is_still_refused(world: World) -> None:
    _waiting_saga(world)
    with pytest.raises(InvalidInputError, match="PROCESSED"):
        handle_amazon_notification(_notification("PROCESSED", "n-3"), world.store)


def test_an_unknown_status_for_an_order_we_do_not_know_reads_nothing(world: World) -> None:
    def no_reads(account: str) -> Any:
        raise AssertionError("Amazon must not be read for an order that is not ours")

    result = handle_amazon_notification(
        _notification("PROCESSED", "n-4", sfo="NOT-OURS"),
        world.store,
        fulfillment_readers=no_reads,
    )
    assert result.outcome == "unknown_order"
