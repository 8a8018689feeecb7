"""MarkShipped: the shipments come from Amazon; units it will not ship are refunded once."""

from __future__ import annotations

from typing import Any

import pytest

from opayo_fba.model import Money
from opayo_fba.saga import steps
from tests.fixtures.saga_world import World, authorised_payment, make_order


def _shipped_order(world: World, *, unfulfillable: int, cancelled: int = 0) -> dict[str, Any]:
    world.add_order(make_order("W-1001"), authorised_payment("W-1001"))
    state = steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    state = steps.create_fulfillment_order(state, world.deps)
    steps.capture_payment(state, world.deps)
    world.amazon.set_status("W-1001", "CompletePartialled" if unfulfillable else "Complete")
    order = world.amazon.orders["W-1001"]
    payload = {
        "fulfillmentOrder": dict(order),
        "fulfillmentOrderItems": [
            {
                "sellerSku": "SKU-RED",
                "sellerFulfillmentOrderItemId": "1",
                "quantity": 2,
                "cancelledQuantity": cancelled,
                "unfulfillableQuantity": unfulfillable,
            }
        ],
        "fulfillmentShipments": [
            {
                "amazonShipmentId": "D1",
                "fulfillmentCenterId": "LTN4",
                "fulfillmentShipmentStatus": "SHIPPED",
                "shippingDate": "2026-11-29T09:00:00Z",
                "fulfillmentShipmentItem": [
                    {
                        "sellerSku": "SKU-RED",
                        "sellerFulfillmentOrderItemId": "1",
                        "quantity": 2 - unfulfillable - cancelled,
                        "packageNumber": 1,
                    }
                ],
                "fulfillmentShipmentPackage": [
                    {
                        "packageNumber": 1,
                        "carrierCode": "Royal Mail",
                        "trackingNumber": "RM123456789GB",
                        "estimatedArrivalDate": "2026-12-01T18:00:00Z",
                    }
                ],
            }
        ],
    }
    world.amazon.get_fulfillment_order = lambda sfo: payload  # type: ignore[method-assign]
    return {"orderId": "W-1001"}


def test_a_complete_order_records_its_tracking_and_refunds_nothing(world: World) -> None:
    out = steps.mark_shipped(_shipped_order(world, unfulfillable=0), world.deps)
    assert out["trackingNumbers"] == ["RM123456789GB"]
    assert out["shipments"][0]["packages"][0]["carrierCode"] == "Royal Mail"
    record = world.store.get("W-1001")
    assert record.fulfillment is not None
    assert record.fulfillment.tracking_numbers() == ["RM123456789GB"]
    assert record.refunds == []
    assert steps.refund_unshipped(out, world.deps) == {"action": "none"}


@pytest.mark.parametrize(("unfulfillable", "cancelled"), [(1, 0), (0, 1)])
def test_units_not_shipped_are_refunded_once_however_often_the_steps_run(
    world: World, unfulfillable: int, cancelled: int
) -> None:
    state = _shipped_order(world, unfulfillable=unfulfillable, cancelled=cancelled)
    for _ in range(2):
        out = steps.mark_shipped(state, world.deps)
        steps.refund_unshipped(out, world.deps)
    record = world.store.get("W-1001")
    (refund,) = record.refunds
    assert (refund.kind, refund.status) == ("unshipped", "succeeded")
    assert refund.amount == Money(amount=1250, currency="GBP")
    assert [(r[1]) for r in world.opayo.refunds] == [1250]
    assert [d["lines"] for k, d in world.events.published if k == "UnitsNotShipped"] == [
        [{"lineId": "1", "quantity": 1}]
    ]


def test_a_fill_all_available_order_passes_the_preview_when_something_ships() -> None:
    ships = {
        "fulfillmentPreviewShipments": [{"fulfillmentPreviewItems": [{"quantity": 1}]}],
        "unfulfillablePreviewItems": [{"itemUnfulfillableReasons": ["InventoryUnavailable"]}],
    }
    nothing = {"fulfillmentPreviewShipments": [], "unfulfillablePreviewItems": []}
    unknown_sku = {
        **ships,
        "unfulfillablePreviewItems": [{"itemUnfulfillableReasons": ["InvalidSKU"]}],
    }
    assert steps._ships_something(ships)
    assert not steps._ships_something(nothing)
    assert not steps._ships_something(unknown_sku)
