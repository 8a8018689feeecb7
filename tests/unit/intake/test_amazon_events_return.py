"""A FULFILLMENT_ORDER_STATUS with EventType `Return` makes an order whose return is still
open due for the after-sale tracker at once (its status alone says nothing new)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from opayo_fba.intake.amazon_events import handle_amazon_notification
from opayo_fba.saga import steps
from opayo_fba.store.orders import OrderRecord, OrderReturn, RefundLine
from tests.fixtures.saga_world import World, authorised_payment, make_order

LATER = datetime.now(UTC) + timedelta(hours=1)


def _return_notification(nid: str, status: str = "Complete") -> dict[str, Any]:
    return {
        "NotificationType": "FULFILLMENT_ORDER_STATUS",
        "Payload": {
            "FulfillmentOrderStatusNotification": {
                "SellerFulfillmentOrderId": "W-1001",
                "FulfillmentOrderStatus": status,
                "StatusUpdatedDateTime": "2026-01-01T00:00:00Z",
                "EventType": "Return",
                "FulfillmentReturnItem": {
                    "ReceivedDateTime": "2026-01-01T00:00:00Z",
                    "ReturnedQuantity": 1,
                    "SellerSKU": "SKU-1",
                },
            }
        },
        "NotificationMetadata": {"NotificationId": nid},
    }


def _shipped(world: World, *, received: bool) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    state = steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    steps.create_fulfillment_order(state, world.deps)

    def shipped(r: OrderRecord) -> None:
        r.fulfillment_status = "Complete"
        r.follow_up_at = LATER
        r.returns.append(
            OrderReturn(
                return_id="RMA-1",
                lines=(RefundLine(line_id="1", quantity=1),),
                reason_code="CR-DEFECTIVE",
                item_ids=("RMA-1-1",),
                requested_at=datetime(2026, 1, 1, tzinfo=UTC),
                received_at=datetime(2026, 1, 2, tzinfo=UTC) if received else None,
            )
        )

    world.store.update("W-1001", shipped)


def test_a_return_notification_makes_an_open_return_due_now(world: World) -> None:
    _shipped(world, received=False)
    before = datetime.now(UTC)
    result = handle_amazon_notification(_return_notification("n-r1"), world.store, world.resumer)
    assert (result.outcome, result.order_id) == ("applied", "W-1001")
    record = world.store.get("W-1001")
    assert record.follow_up_at is not None
    assert before <= record.follow_up_at < LATER
    assert record.order_id in {
        r.order_id for r in world.store.due_for_follow_up(record.seller_account, datetime.now(UTC))
    }
    assert record.fulfillment_status == "Complete"
    assert world.resumer.resumed == []


def test_a_return_notification_for_a_received_return_changes_nothing(world: World) -> None:
    _shipped(world, received=True)
    result = handle_amazon_notification(_return_notification("n-r2"), world.store, world.resumer)
    assert result.outcome == "stale"
    assert world.store.get("W-1001").follow_up_at == LATER
