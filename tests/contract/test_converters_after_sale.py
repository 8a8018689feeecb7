"""The after-sale converters accept the official model's own examples and what validates
against its schemas: getFulfillmentOrder (items, returns), getPackageTrackingDetails,
createFulfillmentReturn."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opayo_fba.amazon.spapi_models import load_model, validate_response
from opayo_fba.convert.fba_outbound import (
    fulfillment_order_from_fba,
    fulfillment_return_from_fba,
    package_tracking_from_fba,
)
from opayo_fba.model import FbaReturnItemStatus, PackageTrackingStatus, ReturnReceivedCondition

FBA = "fulfillmentOutbound_2020-07-01"


def _example(path: str, method: str) -> dict[str, Any]:
    operation = load_model(FBA)["paths"][path][method]
    payload: dict[str, Any] = operation["responses"]["200"]["examples"]["payload"]
    return payload


def test_the_model_example_of_get_package_tracking_details_converts() -> None:
    tracking = package_tracking_from_fba(_example("/fba/outbound/2020-07-01/tracking", "get"))
    assert tracking.package_number == 212794778
    assert tracking.current_status is PackageTrackingStatus.DELIVERED
    assert tracking.is_final
    assert tracking.carrier_code == "UPS"
    assert tracking.customer_tracking_link is not None
    assert tracking.customer_tracking_link.startswith("https://www.swiship.com/track?id=")
    # Oldest first, though Amazon lists them newest first.
    assert [e.code for e in tracking.events] == ["EVENT_206", "EVENT_301"]
    assert tracking.last_event_at == datetime(2020, 1, 22, 0, 15, 55, tzinfo=UTC)
    assert tracking.events[-1].city == "Troy"


def test_the_model_example_of_create_fulfillment_return_converts() -> None:
    path = "/fba/outbound/2020-07-01/fulfillmentOrders/{sellerFulfillmentOrderId}/return"
    result = fulfillment_return_from_fba(_example(path, "put"))
    (item,) = result.return_items
    assert item.seller_return_item_id == "testReturn11"
    assert item.status is FbaReturnItemStatus.NEW
    assert not item.received
    (rma,) = result.return_authorizations
    assert rma.return_authorization_id == item.return_authorization_id == "RMA3JTIPBJM42UU6"
    assert rma.amazon_rma_id == "D50WttPHRRMA"
    assert rma.return_to_address.postal_code == "85043"
    assert result.invalid_return_items == ()


def test_the_model_example_of_get_fulfillment_order_converts_with_its_items() -> None:
    path = "/fba/outbound/2020-07-01/fulfillmentOrders/{sellerFulfillmentOrderId}"
    order = fulfillment_order_from_fba(_example(path, "get"))
    assert order.status == "Processing"  # the example spells it PROCESSING
    assert [(i.seller_fulfillment_order_item_id, i.quantity) for i in order.items] == [
        ("OrderItemID2", 1),
        ("OrderItemID1", 3),
    ]
    assert order.items[1].fulfillable_quantity == 3


def test_a_schema_valid_order_with_partial_quantities_and_received_returns_converts() -> None:
    payload = {
        "fulfillmentOrder": {
            "sellerFulfillmentOrderId": "W-2001",
            "marketplaceId": "A1F83G8C2ARO7P",
            "displayableOrderId": "W-2001",
            "displayableOrderDate": "2026-11-28T09:15:00Z",
            "displayableOrderComment": "Thank you for your order.",
            "shippingSpeedCategory": "Standard",
            "destinationAddress": {"name": "Jane Doe", "addressLine1": "88 Acacia Avenue",
                                   "postalCode": "SW1A 1AA", "countryCode": "GB"},
            "fulfillmentOrderStatus": "CompletePartialled",
            "receivedDate": "2026-11-28T09:16:00Z",
            "statusUpdatedDate": "2026-11-30T08:00:00Z",
        },
        "fulfillmentOrderItems": [
            {"sellerSku": "AMZ-A", "sellerFulfillmentOrderItemId": "1", "quantity": 3,
             "cancelledQuantity": 1, "unfulfillableQuantity": 1,
             "estimatedArrivalDate": "2026-12-01T18:00:00Z"}
        ],
        "fulfillmentShipments": [],
        "returnItems": [
            {"sellerReturnItemId": "R1", "sellerFulfillmentOrderItemId": "1",
             "amazonShipmentId": "DnPb1ZGvN", "sellerReturnReasonCode": "CR-DEFECTIVE",
             "status": "Processed", "statusChangedDate": "2026-12-05T10:00:00Z",
             "returnAuthorizationId": "RMA1", "returnReceivedCondition": "CustomerDamaged",
             "fulfillmentCenterId": "LTN4"}
        ],
        "returnAuthorizations": [
            {"returnAuthorizationId": "RMA1", "fulfillmentCenterId": "LTN4",
             "amazonRmaId": "DX1RMA",
             "rmaPageURL": "https://www.amazon.co.uk/gp/orc/rml/DX1RMA",
             "returnToAddress": {"name": "Returns", "addressLine1": "Boscombe Road",
                                 "city": "Dunstable", "postalCode": "lu54fe", "countryCode": "GB"}}
        ],
    }  # fmt: skip
    validate_response("getFulfillmentOrder", 200, {"payload": payload})
    order = fulfillment_order_from_fba(payload, order_id="W-2001")
    (item,) = order.items
    assert (item.cancelled_quantity, item.unfulfillable_quantity) == (1, 1)
    assert item.fulfillable_quantity == 1
    (returned,) = order.return_items
    assert returned.received
    assert returned.return_received_condition is ReturnReceivedCondition.CUSTOMER_DAMAGED
    assert order.return_authorizations[0].return_to_address.postal_code == "LU5 4FE"


def test_an_unknown_tracking_status_reads_as_unknown_and_is_not_final() -> None:
    payload = {"packageNumber": 7, "currentStatus": "TELEPORTED", "trackingEvents": []}
    tracking = package_tracking_from_fba(payload)
    assert tracking.current_status is PackageTrackingStatus.UNKNOWN
    assert not tracking.is_final
    assert tracking.last_event_at is None
