"""Fulfillment Outbound 2020-07-01 through python-amazon-sp-api against the sandbox."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sp_api.api import FulfillmentOutbound, Orders
from sp_api.base.exceptions import SellingApiBadRequestException, SellingApiNotFoundException

from sandbox.amazon.fulfillment import COMPLETE_AFTER, PLANNING_AFTER, PROCESSING_AFTER
from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle, mcf_order_body

pytestmark = pytest.mark.integration


@pytest.fixture
def fba(amazon_sandbox: AmazonSandboxHandle) -> FulfillmentOutbound:
    return amazon_sandbox.sp_api_client(FulfillmentOutbound)


def _status(fba: FulfillmentOutbound, order_id: str) -> str:
    status: str = fba.get_fulfillment_order(order_id).payload["fulfillmentOrder"][
        "fulfillmentOrderStatus"
    ]
    return status


def _stock(sandbox: AmazonSandboxHandle, sku: str) -> int:
    for record in sandbox.control.get("/_sandbox/inventory").json()["inventory"]:
        if record["sku"] == sku:
            quantity: int = record["quantity"]
            return quantity
    raise AssertionError(f"{sku} not in inventory")


def test_order_moves_received_planning_processing_complete_on_the_clock(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    before = _stock(amazon_sandbox, "OPF-MUG-BLUE")
    response = fba.create_fulfillment_order(**mcf_order_body("LIFE-1", quantity=2))
    assert response.rate_limit == "2"
    assert _status(fba, "LIFE-1") == "Received"
    amazon_sandbox.advance(PLANNING_AFTER)
    assert _status(fba, "LIFE-1") == "Planning"
    amazon_sandbox.advance(PROCESSING_AFTER - PLANNING_AFTER)
    processing = fba.get_fulfillment_order("LIFE-1").payload
    assert processing["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Processing"
    assert processing["fulfillmentShipments"][0]["fulfillmentShipmentStatus"] == "PENDING"
    assert _stock(amazon_sandbox, "OPF-MUG-BLUE") == before
    amazon_sandbox.advance(COMPLETE_AFTER - PROCESSING_AFTER)
    done = fba.get_fulfillment_order("LIFE-1").payload
    assert done["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Complete"
    shipment = done["fulfillmentShipments"][0]
    assert shipment["fulfillmentShipmentStatus"] == "SHIPPED"
    package = shipment["fulfillmentShipmentPackage"][0]
    assert package["trackingNumber"].startswith("RM")
    assert package["carrierCode"] == "Royal Mail"
    assert shipment["fulfillmentShipmentItem"][0]["quantity"] == 2
    assert done["fulfillmentOrderItems"][0]["sellerSku"] == "OPF-MUG-BLUE"
    assert _stock(amazon_sandbox, "OPF-MUG-BLUE") == before - 2


def test_status_timestamps_are_when_each_step_fell_due(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    fba.create_fulfillment_order(**mcf_order_body("LATE-1"))
    amazon_sandbox.advance(COMPLETE_AFTER * 3)  # one jump over all three steps
    order = fba.get_fulfillment_order("LATE-1").payload["fulfillmentOrder"]
    assert order["fulfillmentOrderStatus"] == "Complete"
    assert order["receivedDate"] == "2026-03-02T09:00:00Z"
    assert order["statusUpdatedDate"] == "2026-03-02T09:15:00Z"  # start + COMPLETE_AFTER


def test_create_is_idempotent_on_seller_fulfillment_order_id(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    body = mcf_order_body("IDEM-1")
    fba.create_fulfillment_order(**body)
    fba.create_fulfillment_order(**body)  # the same body again succeeds
    orders = fba.list_all_fulfillment_orders().payload["fulfillmentOrders"]
    assert [o["sellerFulfillmentOrderId"] for o in orders] == ["IDEM-1"]
    with pytest.raises(SellingApiBadRequestException) as raised:
        fba.create_fulfillment_order(**mcf_order_body("IDEM-1", quantity=3))
    assert "sellerFulfillmentOrderId" in raised.value.message


def test_hold_waits_until_updated_to_ship(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    fba.create_fulfillment_order(**mcf_order_body("HOLD-1", fulfillmentAction="Hold"))
    amazon_sandbox.advance(COMPLETE_AFTER * 4)
    assert _status(fba, "HOLD-1") == "Received"
    fba.update_fulfillment_order("HOLD-1", fulfillmentAction="Ship")
    order = fba.get_fulfillment_order("HOLD-1").payload["fulfillmentOrder"]
    assert order["fulfillmentAction"] == "Ship"
    amazon_sandbox.advance(COMPLETE_AFTER)
    assert _status(fba, "HOLD-1") == "Complete"


def test_cancel_only_while_received_or_planning(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    fba.create_fulfillment_order(**mcf_order_body("CANCEL-1"))
    fba.cancel_fulfillment_order("CANCEL-1")
    cancelled = fba.get_fulfillment_order("CANCEL-1").payload
    assert cancelled["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Cancelled"
    assert cancelled["fulfillmentOrderItems"][0]["cancelledQuantity"] == 1
    amazon_sandbox.advance(COMPLETE_AFTER)
    assert _status(fba, "CANCEL-1") == "Cancelled"  # a cancelled order stays cancelled

    fba.create_fulfillment_order(**mcf_order_body("CANCEL-2"))
    amazon_sandbox.advance(PLANNING_AFTER)
    assert _status(fba, "CANCEL-2") == "Planning"
    fba.cancel_fulfillment_order("CANCEL-2")
    assert _status(fba, "CANCEL-2") == "Cancelled"

    fba.create_fulfillment_order(**mcf_order_body("CANCEL-3"))
    amazon_sandbox.advance(PROCESSING_AFTER)
    assert _status(fba, "CANCEL-3") == "Processing"
    with pytest.raises(SellingApiBadRequestException) as raised:
        fba.cancel_fulfillment_order("CANCEL-3")
    assert "Received or Planning" in raised.value.message
    assert _status(fba, "CANCEL-3") == "Processing"


def test_sku_without_inventory_makes_the_order_unfulfillable(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    fba.create_fulfillment_order(**mcf_order_body("EMPTY-1", sku="OPF-OUT-OF-STOCK"))
    amazon_sandbox.advance(PLANNING_AFTER)
    payload = fba.get_fulfillment_order("EMPTY-1").payload
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Unfulfillable"
    assert payload["fulfillmentOrderItems"][0]["unfulfillableQuantity"] == 1


def test_stock_promised_to_one_order_is_not_available_to_the_next(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    assert _stock(amazon_sandbox, "OPF-CAP-RED") == 3
    fba.create_fulfillment_order(**mcf_order_body("CAP-1", sku="OPF-CAP-RED", quantity=2))
    fba.create_fulfillment_order(**mcf_order_body("CAP-2", sku="OPF-CAP-RED", quantity=2))
    amazon_sandbox.advance(PLANNING_AFTER)
    assert _status(fba, "CAP-1") == "Planning"
    assert _status(fba, "CAP-2") == "Unfulfillable"


def test_unknown_order_is_404(fba: FulfillmentOutbound) -> None:
    with pytest.raises(SellingApiNotFoundException):
        fba.get_fulfillment_order("NOPE")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("destinationAddress"), "destinationAddress"),
        (lambda b: b["items"][0].update(quantity="two"), "items/0/quantity"),
        (lambda b: b.update(shippingSpeedCategory="Teleport"), "shippingSpeedCategory"),
        (lambda b: b["items"][0].update(sellerSku="NO-SUCH-SKU"), "items[0].sellerSku"),
        (lambda b: b.update(sellerFulfillmentOrderId="X" * 41), "sellerFulfillmentOrderId"),
        (lambda b: b["items"][0].update(quantity=0), "items[0].quantity"),
        (lambda b: b["destinationAddress"].update(countryCode="UK1"), "countryCode"),
    ],
)
def test_invalid_body_is_400_naming_the_field_and_changes_nothing(
    fba: FulfillmentOutbound, change: Any, field: str
) -> None:
    body = mcf_order_body("BAD-1")
    change(body)
    with pytest.raises(SellingApiBadRequestException) as raised:
        fba.create_fulfillment_order(**body)
    error = raised.value.error[0]
    assert error["code"] == "InvalidInput"
    assert field in error["message"] + error.get("details", "")
    assert fba.list_all_fulfillment_orders().payload["fulfillmentOrders"] == []


def test_preview_reports_fees_and_unfulfillable_items(fba: FulfillmentOutbound) -> None:
    address = mcf_order_body("P")["destinationAddress"]
    previews = fba.get_fulfillment_preview(
        address=address,
        items=[
            {"sellerSku": "OPF-MUG-BLUE", "quantity": 2, "sellerFulfillmentOrderItemId": "1"},
            {"sellerSku": "OPF-TEE-M", "quantity": 1, "sellerFulfillmentOrderItemId": "2"},
        ],
        shippingSpeedCategories=["Standard", "Priority"],
    ).payload["fulfillmentPreviews"]
    assert [p["shippingSpeedCategory"] for p in previews] == ["Standard", "Priority"]
    assert previews[0]["isFulfillable"] is True
    assert previews[0]["estimatedFees"][0]["amount"] == {"currencyCode": "GBP", "value": "8.95"}
    blocked = fba.get_fulfillment_preview(
        address=address,
        items=[
            {"sellerSku": "OPF-OUT-OF-STOCK", "quantity": 1, "sellerFulfillmentOrderItemId": "1"}
        ],
    ).payload["fulfillmentPreviews"][0]
    assert blocked["isFulfillable"] is False
    assert blocked["unfulfillablePreviewItems"][0]["itemUnfulfillableReasons"] == [
        "InventoryUnavailable"
    ]


def test_list_all_pages_and_filters_by_query_start_date(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    for n in range(25):
        fba.create_fulfillment_order(**mcf_order_body(f"LIST-{n:02d}"))
    amazon_sandbox.advance(10)
    fba.create_fulfillment_order(**mcf_order_body("LIST-LATE"))
    first = fba.list_all_fulfillment_orders()
    assert len(first.payload["fulfillmentOrders"]) == 20
    second = fba.list_all_fulfillment_orders(nextToken=first.next_token)
    ids = [o["sellerFulfillmentOrderId"] for o in first.payload["fulfillmentOrders"]]
    ids += [o["sellerFulfillmentOrderId"] for o in second.payload["fulfillmentOrders"]]
    assert len(ids) == len(set(ids)) == 26
    assert second.next_token is None
    recent = fba.list_all_fulfillment_orders(queryStartDate="2026-03-02T09:00:05Z")
    assert [o["sellerFulfillmentOrderId"] for o in recent.payload["fulfillmentOrders"]] == [
        "LIST-LATE"
    ]


def test_sandbox_status_update_forces_a_status(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    fba.create_fulfillment_order(**mcf_order_body("FORCE-1"))
    fba.submit_fulfillment_order_status_update("FORCE-1", fulfillmentOrderStatus="Complete")
    payload = fba.get_fulfillment_order("FORCE-1").payload
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Complete"
    assert payload["fulfillmentShipments"][0]["fulfillmentShipmentPackage"][0]["trackingNumber"]
    with pytest.raises(SellingApiBadRequestException):
        fba.submit_fulfillment_order_status_update("FORCE-1", fulfillmentOrderStatus="Planning")


def test_mcf_orders_appear_in_get_orders_as_afn_non_amazon(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    fba.create_fulfillment_order(**mcf_order_body("MCF-1", fulfillmentAction="Hold"))
    orders = amazon_sandbox.sp_api_client(Orders)

    def mcf_order() -> dict[str, Any]:
        found = orders.get_orders(
            CreatedAfter=AMAZON_SANDBOX_START.isoformat(), FulfillmentChannels=["AFN"]
        ).payload["Orders"]
        (order,) = [o for o in found if o.get("SellerOrderId") == "MCF-1"]
        return order

    order = mcf_order()
    assert order["SalesChannel"] == "Non-Amazon"
    assert order["FulfillmentChannel"] == "AFN"
    assert order["OrderStatus"] == "Pending"
    fba.update_fulfillment_order("MCF-1", fulfillmentAction="Ship")
    assert mcf_order()["OrderStatus"] == "Unshipped"
    amazon_sandbox.advance(COMPLETE_AFTER)
    shipped = mcf_order()
    assert shipped["OrderStatus"] == "Shipped"
    assert shipped["NumberOfItemsShipped"] == 1


def test_a_running_clock_moves_orders_without_any_call(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    fba.create_fulfillment_order(**mcf_order_body("TICK-1"))
    published = amazon_sandbox.sandbox.notifications.published
    amazon_sandbox.control.post("/_sandbox/clock/factor", json={"factor": 20000}).raise_for_status()
    deadline = time.monotonic() + 10
    # No API call syncs the state here: only the background ticker can complete the order.
    while not any(
        body["Payload"]["FulfillmentOrderStatusNotification"]["FulfillmentOrderStatus"]
        == "COMPLETE"
        for kind, body in list(published)
        if kind == "FULFILLMENT_ORDER_STATUS"
    ):
        assert time.monotonic() < deadline, "the background ticker did not move the order"
        time.sleep(0.02)
    amazon_sandbox.control.post("/_sandbox/clock/factor", json={"factor": 0}).raise_for_status()
