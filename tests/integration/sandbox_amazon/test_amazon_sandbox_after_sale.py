"""Package tracking, return reason codes and fulfillment returns through python-amazon-sp-api.

Every response is validated against the official model at teardown (the fixture)."""

from __future__ import annotations

from typing import Any

import pytest
from sp_api.api import FulfillmentOutbound
from sp_api.base.exceptions import SellingApiBadRequestException, SellingApiNotFoundException

from sandbox.amazon.after_sale import (
    ARRIVAL_SCAN_AFTER,
    DELAYED_DELIVERED_AFTER,
    DELIVERED_AFTER,
    OUT_FOR_DELIVERY_AFTER,
    RETURN_RECEIVED_AFTER,
    RETURNED_AFTER,
)
from sandbox.amazon.fulfillment import COMPLETE_AFTER
from tests.fixtures.amazon_sandbox import AmazonSandboxHandle, mcf_order_body

pytestmark = pytest.mark.integration


@pytest.fixture
def fba(amazon_sandbox: AmazonSandboxHandle) -> FulfillmentOutbound:
    return amazon_sandbox.sp_api_client(FulfillmentOutbound)


def _ship(
    sandbox: AmazonSandboxHandle,
    fba: FulfillmentOutbound,
    order_id: str,
    *,
    name: str = "Ada Lovelace",
    quantity: int = 1,
) -> dict[str, Any]:
    body = mcf_order_body(order_id, quantity=quantity)
    body["destinationAddress"]["name"] = name
    fba.create_fulfillment_order(**body)
    sandbox.advance(COMPLETE_AFTER)
    payload: dict[str, Any] = fba.get_fulfillment_order(order_id).payload
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Complete"
    return payload


def _package(payload: dict[str, Any]) -> dict[str, Any]:
    package: dict[str, Any] = payload["fulfillmentShipments"][0]["fulfillmentShipmentPackage"][0]
    return package


def _tracking(fba: FulfillmentOutbound, number: int) -> dict[str, Any]:
    payload: dict[str, Any] = fba.get_package_tracking_details(packageNumber=number).payload
    return payload


def _codes(tracking: dict[str, Any]) -> list[str]:
    return [e["eventCode"] for e in reversed(tracking["trackingEvents"])]


# ---- tracking ------------------------------------------------------------------------------


def test_each_shipped_package_has_its_own_number(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    first = _ship(amazon_sandbox, fba, "PKG-1")
    second = _ship(amazon_sandbox, fba, "PKG-2")
    one, two = _package(first)["packageNumber"], _package(second)["packageNumber"]
    assert one != two
    item = first["fulfillmentShipments"][0]["fulfillmentShipmentItem"][0]
    assert item["packageNumber"] == one
    assert _package(first)["estimatedArrivalDate"]
    order_item = first["fulfillmentOrderItems"][0]
    assert (order_item["cancelledQuantity"], order_item["unfulfillableQuantity"]) == (0, 0)


def test_a_package_is_delivered_on_the_clock(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    package = _package(_ship(amazon_sandbox, fba, "TRK-1"))
    number = package["packageNumber"]
    shipped = _tracking(fba, number)
    assert shipped["currentStatus"] == "IN_TRANSIT"
    assert shipped["trackingNumber"] == package["trackingNumber"]
    assert shipped["carrierCode"] == "Royal Mail"
    assert shipped["customerTrackingLink"].endswith(package["trackingNumber"])
    assert shipped["estimatedArrivalDate"] == package["estimatedArrivalDate"]
    assert _codes(shipped) == ["EVENT_101", "EVENT_102"]
    amazon_sandbox.advance(OUT_FOR_DELIVERY_AFTER)
    out = _tracking(fba, number)
    assert out["currentStatus"] == "OUT_FOR_DELIVERY"
    assert out["trackingEvents"][0]["eventAddress"]["city"] == "London"
    amazon_sandbox.advance(DELIVERED_AFTER - OUT_FOR_DELIVERY_AFTER)
    delivered = _tracking(fba, number)
    assert delivered["currentStatus"] == "DELIVERED"
    assert _codes(delivered)[-1] == "EVENT_301"
    # Stamped when each event fell due (ship time + offset), newest first.
    assert delivered["trackingEvents"][0]["eventDate"] == "2026-03-02T09:45:00Z"
    amazon_sandbox.advance(86400)
    assert _tracking(fba, number) == delivered  # final: nothing moves any more


@pytest.mark.parametrize(
    ("name", "final", "after", "codes"),
    [
        ("Ada UNDELIVERABLE", "UNDELIVERABLE", DELIVERED_AFTER, ["EVENT_302", "EVENT_409"]),
        (
            "Ada RETURNED",
            "RETURNED",
            RETURNED_AFTER,
            ["EVENT_302", "EVENT_304", "EVENT_408", "EVENT_309"],
        ),
        (
            "Ada DELAYED",
            "DELIVERED",
            DELAYED_DELIVERED_AFTER,
            ["EVENT_404", "EVENT_302", "EVENT_301"],
        ),
    ],
)
def test_an_address_marker_chooses_the_outcome(
    amazon_sandbox: AmazonSandboxHandle,
    fba: FulfillmentOutbound,
    name: str,
    final: str,
    after: int,
    codes: list[str],
) -> None:
    number = _package(_ship(amazon_sandbox, fba, "MARK-1", name=name))["packageNumber"]
    amazon_sandbox.advance(after - 1)
    assert _tracking(fba, number)["currentStatus"] != final or final == "DELIVERED"
    amazon_sandbox.advance(1)
    tracking = _tracking(fba, number)
    assert tracking["currentStatus"] == final
    assert _codes(tracking)[3:] == codes


def test_a_delay_shows_as_delayed_and_moves_the_estimate(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    package = _package(_ship(amazon_sandbox, fba, "DLY-1", name="DELAYED"))
    amazon_sandbox.advance(OUT_FOR_DELIVERY_AFTER)
    delayed = _tracking(fba, package["packageNumber"])
    assert delayed["currentStatus"] == "DELAYED"
    assert delayed["estimatedArrivalDate"] > package["estimatedArrivalDate"]


def test_the_control_route_chooses_an_outcome_until_out_for_delivery(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    amazon_sandbox.control.post(
        "/_sandbox/tracking", json={"sellerFulfillmentOrderId": "CTL-1", "outcome": "RETURNED"}
    ).raise_for_status()
    returned = _package(_ship(amazon_sandbox, fba, "CTL-1"))["packageNumber"]
    other = _package(_ship(amazon_sandbox, fba, "CTL-2"))["packageNumber"]
    changed = amazon_sandbox.control.post(
        "/_sandbox/tracking", json={"packageNumber": other, "outcome": "UNDELIVERABLE"}
    )
    assert changed.json() == {"outcome": "UNDELIVERABLE", "packageNumbers": [other]}
    amazon_sandbox.advance(RETURNED_AFTER)
    assert _tracking(fba, returned)["currentStatus"] == "RETURNED"
    assert _tracking(fba, other)["currentStatus"] == "UNDELIVERABLE"
    too_late = amazon_sandbox.control.post(
        "/_sandbox/tracking", json={"packageNumber": other, "outcome": "DELIVERED"}
    )
    assert too_late.status_code == 409
    unknown = amazon_sandbox.control.post(
        "/_sandbox/tracking", json={"packageNumber": 999999, "outcome": "DELIVERED"}
    )
    assert unknown.status_code == 404
    both = amazon_sandbox.control.post(
        "/_sandbox/tracking",
        json={"packageNumber": other, "sellerFulfillmentOrderId": "CTL-2", "outcome": "DELAYED"},
    )
    assert both.status_code == 400


def test_an_unknown_package_is_404_and_a_bad_number_400(fba: FulfillmentOutbound) -> None:
    with pytest.raises(SellingApiNotFoundException):
        fba.get_package_tracking_details(packageNumber=424242)
    with pytest.raises(SellingApiBadRequestException):
        fba.get_package_tracking_details(packageNumber="one")


def test_a_package_moves_without_a_call_when_the_clock_jumps(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    number = _package(_ship(amazon_sandbox, fba, "JMP-1"))["packageNumber"]
    amazon_sandbox.advance(ARRIVAL_SCAN_AFTER)
    assert _codes(_tracking(fba, number)) == ["EVENT_101", "EVENT_102", "EVENT_201"]


# ---- return reason codes ---------------------------------------------------------------------


def test_return_reason_codes_for_a_sku(fba: FulfillmentOutbound) -> None:
    payload = fba.list_return_reason_codes(sellerSku="OPF-MUG-BLUE", language="en_GB").payload
    codes = {d["returnReasonCode"]: d for d in payload["reasonCodeDetails"]}
    assert "CR-DEFECTIVE" in codes
    assert "CR-UNWANTED_ITEM" in codes
    assert codes["CR-DEFECTIVE"]["translatedDescription"] == codes["CR-DEFECTIVE"]["description"]
    with pytest.raises(SellingApiBadRequestException):
        fba.list_return_reason_codes(sellerSku="NOT-A-SKU")
    with pytest.raises(SellingApiNotFoundException):
        fba.list_return_reason_codes(sellerSku="OPF-MUG-BLUE", sellerFulfillmentOrderId="NOPE")


# ---- returns -------------------------------------------------------------------------------


def _return_item(
    payload: dict[str, Any], return_id: str, *, code: str = "CR-DEFECTIVE", comment: str = ""
) -> dict[str, Any]:
    shipment = payload["fulfillmentShipments"][0]
    item: dict[str, Any] = {
        "sellerReturnItemId": return_id,
        "sellerFulfillmentOrderItemId": shipment["fulfillmentShipmentItem"][0][
            "sellerFulfillmentOrderItemId"
        ],
        "amazonShipmentId": shipment["amazonShipmentId"],
        "returnReasonCode": code,
    }
    if comment:
        item["returnComment"] = comment
    return item


def test_a_return_is_authorised_then_received_in_the_condition_chosen(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    order = _ship(amazon_sandbox, fba, "RET-1", quantity=2)
    stock_before = amazon_sandbox.sandbox.state.inventory("OPF-MUG-BLUE")["quantity"]  # type: ignore[index]
    answer = fba.create_fulfillment_return(
        "RET-1",
        items=[
            _return_item(order, "R1"),
            _return_item(order, "R2", comment="box crushed, CustomerDamaged"),
        ],
    ).payload
    assert [i["sellerReturnItemId"] for i in answer["returnItems"]] == ["R1", "R2"]
    assert answer["invalidReturnItems"] == []
    (rma,) = answer["returnAuthorizations"]
    assert rma["returnToAddress"]["countryCode"] == "GB"
    assert rma["rmaPageURL"].endswith(rma["amazonRmaId"])
    assert {i["returnAuthorizationId"] for i in answer["returnItems"]} == {
        rma["returnAuthorizationId"]
    }
    shown = fba.get_fulfillment_order("RET-1").payload
    assert [i["status"] for i in shown["returnItems"]] == ["New", "New"]
    assert shown["returnAuthorizations"] == [rma]

    published = amazon_sandbox.sandbox.notifications.published
    seen = len(published)
    amazon_sandbox.advance(RETURN_RECEIVED_AFTER)
    received = fba.get_fulfillment_order("RET-1").payload["returnItems"]
    assert [(i["status"], i["returnReceivedCondition"]) for i in received] == [
        ("Processed", "Sellable"),
        ("Processed", "CustomerDamaged"),
    ]
    assert amazon_sandbox.sandbox.state.inventory("OPF-MUG-BLUE")["quantity"] == stock_before + 1  # type: ignore[index]
    notes = [
        body["Payload"]["FulfillmentOrderStatusNotification"]
        for kind, body in list(published)[seen:]
        if kind == "FULFILLMENT_ORDER_STATUS"
    ]
    assert [(n["EventType"], n["FulfillmentReturnItem"]["ReturnedQuantity"]) for n in notes] == [
        ("Return", 2)
    ]
    assert notes[0]["FulfillmentOrderStatus"] == "COMPLETE"


def test_invalid_return_items_are_listed_and_nothing_is_authorised_for_them(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    order = _ship(amazon_sandbox, fba, "RET-2")
    good = _return_item(order, "OK-1")
    wrong_item = {**_return_item(order, "BAD-1"), "sellerFulfillmentOrderItemId": "nope"}
    wrong_shipment = {**_return_item(order, "BAD-2"), "amazonShipmentId": "D00000000"}
    wrong_code = _return_item(order, "BAD-3", code="CR-I-JUST-FELT-LIKE-IT")
    too_many = _return_item(order, "BAD-4")  # the order shipped one unit
    answer = fba.create_fulfillment_return(
        "RET-2", items=[good, wrong_item, wrong_shipment, wrong_code, too_many]
    ).payload
    assert [i["sellerReturnItemId"] for i in answer["returnItems"]] == ["OK-1"]
    reasons = {
        i["sellerReturnItemId"]: i["invalidItemReason"]["invalidItemReasonCode"]
        for i in answer["invalidReturnItems"]
    }
    assert reasons == {
        "BAD-1": "InvalidValues",
        "BAD-2": "InvalidValues",
        "BAD-3": "InvalidValues",
        "BAD-4": "NoReturnableQuantity",
    }
    again = fba.create_fulfillment_return("RET-2", items=[good]).payload
    assert again["returnItems"] == []
    assert again["returnAuthorizations"] == []
    assert again["invalidReturnItems"][0]["invalidItemReason"]["invalidItemReasonCode"] == (
        "DuplicateRequest"
    )
    assert len(fba.get_fulfillment_order("RET-2").payload["returnItems"]) == 1


def test_an_unshipped_order_cannot_be_returned(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    fba.create_fulfillment_order(**mcf_order_body("RET-3"))
    amazon_sandbox.advance(400)  # Processing: a PENDING shipment
    shipment = fba.get_fulfillment_order("RET-3").payload["fulfillmentShipments"][0]
    item = {
        "sellerReturnItemId": "X",
        "sellerFulfillmentOrderItemId": "RET-3-1",
        "amazonShipmentId": shipment["amazonShipmentId"],
        "returnReasonCode": "CR-DEFECTIVE",
    }
    answer = fba.create_fulfillment_return("RET-3", items=[item]).payload
    assert answer["invalidReturnItems"][0]["invalidItemReason"]["invalidItemReasonCode"] == (
        "NoCompletedShipItems"
    )
    with pytest.raises(SellingApiNotFoundException):
        fba.create_fulfillment_return("NO-SUCH-ORDER", items=[item])
    with pytest.raises(SellingApiBadRequestException):
        fba.create_fulfillment_return("RET-3", items=[])


def test_the_control_route_chooses_a_return_condition(
    amazon_sandbox: AmazonSandboxHandle, fba: FulfillmentOutbound
) -> None:
    order = _ship(amazon_sandbox, fba, "RET-4")
    fba.create_fulfillment_return("RET-4", items=[_return_item(order, "C1")])
    chosen = amazon_sandbox.control.post(
        "/_sandbox/returns", json={"sellerFulfillmentOrderId": "RET-4", "condition": "Defective"}
    )
    assert chosen.json() == {"condition": "Defective", "sellerReturnItemIds": ["C1"]}
    amazon_sandbox.advance(RETURN_RECEIVED_AFTER)
    (item,) = fba.get_fulfillment_order("RET-4").payload["returnItems"]
    assert item["returnReceivedCondition"] == "Defective"
    done = amazon_sandbox.control.post(
        "/_sandbox/returns", json={"sellerFulfillmentOrderId": "RET-4", "condition": "Sellable"}
    )
    assert done.status_code == 404
