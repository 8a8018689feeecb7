"""Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment) and its order lifecycle.

A fulfillment order released to ship (fulfillmentAction Ship, or Hold then updated to Ship)
moves on the sandbox clock: Received -> Planning after PLANNING_AFTER seconds (or Unfulfillable
when a SKU lacks stock), -> Processing after PROCESSING_AFTER (a PENDING shipment appears), ->
Complete after COMPLETE_AFTER (the shipment is SHIPPED with a tracking number; stock drops).
Each change publishes FULFILLMENT_ORDER_STATUS and, through the linked Orders v0 order,
ORDER_CHANGE.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from sandbox.amazon import after_sale, notifications, orders
from sandbox.amazon.errors import invalid_input, not_found
from sandbox.amazon.money import to_decimal, to_minor
from sandbox.amazon.state import AmazonState, ApiCall
from sandbox.amazon.timefmt import iso, parse_iso, parse_param

PLANNING_AFTER = 60
PROCESSING_AFTER = 300
COMPLETE_AFTER = 900
LIST_PAGE_SIZE = 20
FULFILLMENT_CENTER = "LTN4"
CARRIER = "Royal Mail"
OPEN_STATUSES = ("Received", "Planning", "Processing")
CANCELLABLE = ("Received", "Planning")
ORDER_STATUS_FOR = {
    "Received": "Unshipped",
    "Planning": "Unshipped",
    "Processing": "Unshipped",
    "Complete": "Shipped",
    "CompletePartialled": "PartiallyShipped",
    "Cancelled": "Canceled",
    "Unfulfillable": "Unfulfillable",
    "Invalid": "Canceled",
    "New": "Pending",
}
_ADDRESS_TO_ORDERS = {
    "name": "Name",
    "addressLine1": "AddressLine1",
    "addressLine2": "AddressLine2",
    "addressLine3": "AddressLine3",
    "city": "City",
    "districtOrCounty": "County",
    "stateOrRegion": "StateOrRegion",
    "postalCode": "PostalCode",
    "countryCode": "CountryCode",
    "phone": "Phone",
}


def _stock(state: AmazonState, sku: str, field: str) -> dict[str, Any]:
    """The SKU's catalog record (from any pool: a SKU known to the seller but with no stock
    in the order's pool is accepted and goes unfulfillable, as one sold out)."""
    record = state.catalog_item(sku)
    if record is None:
        raise invalid_input(f"{field}: SKU {sku!r} is not in this seller's catalog.", field)
    return record


def _check_marketplace(state: AmazonState, body: dict[str, Any]) -> None:
    marketplace = body.get("marketplaceId")
    enabled = state.credentials.enabled_marketplaces
    if marketplace and marketplace not in enabled:
        raise invalid_input(
            f"marketplaceId {marketplace!r} is not enabled for this seller "
            f"(use one of {', '.join(enabled)}).",
            "marketplaceId",
        )


def _check_address(address: dict[str, Any], field: str) -> None:
    country = address["countryCode"]
    if len(country) != 2 or not country.isascii() or not country.isupper():
        raise invalid_input(
            f"{field}.countryCode {country!r} is not an ISO 3166-1 alpha-2 code (e.g. GB).",
            f"{field}.countryCode",
        )


def _check_items(state: AmazonState, items: list[dict[str, Any]]) -> None:
    if not items:
        raise invalid_input("items must contain at least one item.", "items")
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item["quantity"] < 1:
            raise invalid_input(
                f"items[{index}].quantity must be at least 1.", f"items[{index}].quantity"
            )
        item_id = item["sellerFulfillmentOrderItemId"]
        if item_id in seen:
            raise invalid_input(
                f"items[{index}].sellerFulfillmentOrderItemId {item_id!r} is repeated.",
                f"items[{index}].sellerFulfillmentOrderItemId",
            )
        seen.add(item_id)
        _stock(state, item["sellerSku"], f"items[{index}].sellerSku")
        for money_field in ("perUnitPrice", "perUnitTax", "perUnitDeclaredValue"):
            if money_field in item:
                money = item[money_field]
                to_minor(
                    money["value"], money["currencyCode"], f"items[{index}].{money_field}.value"
                )


def _available(state: AmazonState, sku: str, excluding: str, pool: str) -> int:
    """Stock of `pool` not yet promised to another order of that pool in Planning or
    Processing (sandbox/amazon/pools.py: UK stock never fills an EU order)."""
    record = state.inventory(sku, pool)
    on_hand: int = record["quantity"] if record else 0
    reserved: int = sum(
        int(item["quantity"])
        for other in state.in_flight("fulfillment_order")
        if other["order"]["sellerFulfillmentOrderId"] != excluding
        and other["order"]["fulfillmentOrderStatus"] in ("Planning", "Processing")
        and state.pool_for(other["order"].get("marketplaceId")) == pool
        for item in other["items"]
        if item["sellerSku"] == sku
    )
    return on_hand - reserved


# ---- lifecycle -----------------------------------------------------------------------------


def _save_and_publish(state: AmazonState, record: dict[str, Any], event_type: str) -> None:
    state.store.put("fulfillment_order", record["order"]["sellerFulfillmentOrderId"], record)
    state.publish(
        "FULFILLMENT_ORDER_STATUS",
        notifications.fulfillment_order_status(state, record, event_type),
    )


def _set_status(
    state: AmazonState, record: dict[str, Any], status: str, at: datetime, event_type: str
) -> None:
    order = record["order"]
    order["fulfillmentOrderStatus"] = status
    order["statusUpdatedDate"] = iso(at)
    record["last_updated"] = at.timestamp()
    if status not in OPEN_STATUSES:
        state.untrack("fulfillment_order", order["sellerFulfillmentOrderId"])
    _save_and_publish(state, record, event_type)
    orders.set_order_status(
        state,
        record["amazon_order_id"],
        ORDER_STATUS_FOR[status],
        at,
        f"Fulfillment order {status}",
    )


def _plan(state: AmazonState, record: dict[str, Any], at: datetime) -> None:
    """Planning: stock is promised to the order, or the order cannot be filled.

    FillOrKill (the default) and FillAll: one item short makes the whole order Unfulfillable.
    FillAllAvailable: the units in stock ship and the rest of each item is unfulfillable
    (`unfulfillableQuantity`); the order ends CompletePartialled, or Unfulfillable when
    nothing at all is in stock (the official model's FulfillmentPolicy descriptions).
    """
    order_id = record["order"]["sellerFulfillmentOrderId"]
    pool = state.pool_for(record["order"].get("marketplaceId"))
    available = {
        item["sellerFulfillmentOrderItemId"]: max(
            0, min(item["quantity"], _available(state, item["sellerSku"], order_id, pool))
        )
        for item in record["items"]
    }
    short = [
        item
        for item in record["items"]
        if available[item["sellerFulfillmentOrderItemId"]] < item["quantity"]
    ]
    partial = record["order"].get("fulfillmentPolicy") == "FillAllAvailable"
    if short and (not partial or not any(available.values())):
        for item in record["items"]:
            item["unfulfillableQuantity"] = item["quantity"]
        _set_status(state, record, "Unfulfillable", at, "Order")
        return
    for item in record["items"]:
        item["unfulfillableQuantity"] = (
            item["quantity"] - available[item["sellerFulfillmentOrderItemId"]]
        )
        item["estimatedShipDate"] = iso(at + timedelta(seconds=COMPLETE_AFTER - PLANNING_AFTER))
        item["estimatedArrivalDate"] = iso(at + timedelta(days=2))
    _set_status(state, record, "Planning", at, "Order")


def shipped_quantity(item: dict[str, Any]) -> int:
    return (
        int(item["quantity"])
        - int(item.get("unfulfillableQuantity") or 0)
        - int(item.get("cancelledQuantity") or 0)
    )


def _process(state: AmazonState, record: dict[str, Any], at: datetime) -> None:
    _open_shipment(state, record, at)
    _set_status(state, record, "Processing", at, "Shipment")


def ship(state: AmazonState, record: dict[str, Any], at: datetime) -> None:
    """Complete the order: the shipment leaves with a tracking number and stock drops."""
    if not record.get("shipments"):
        _open_shipment(state, record, at)
    for shipment in record["shipments"]:
        shipment["fulfillmentShipmentStatus"] = "SHIPPED"
        shipment["shippingDate"] = iso(at)
        shipment["fulfillmentShipmentPackage"] = [
            {
                "packageNumber": 1,
                "carrierCode": CARRIER,
                "trackingNumber": f"RM{state.random_digits(9)}GB",
                "amazonFulfillmentTrackingNumber": f"TBA{state.random_digits(12)}",
                "estimatedArrivalDate": shipment["estimatedArrivalDate"],
            }
        ]
    pool = state.pool_for(record["order"].get("marketplaceId"))
    for item in record["items"]:
        stock = state.inventory(item["sellerSku"], pool)
        if stock is not None:
            state.set_inventory(
                item["sellerSku"], max(0, stock["quantity"] - shipped_quantity(item)), pool
            )
    after_sale.register_packages(state, record, at)
    record["completed_at"] = at.timestamp()
    partial = any(shipped_quantity(item) < item["quantity"] for item in record["items"])
    _set_status(state, record, "CompletePartialled" if partial else "Complete", at, "Shipment")


def _open_shipment(state: AmazonState, record: dict[str, Any], at: datetime) -> None:
    record["shipments"] = [
        {
            "amazonShipmentId": f"D{state.random_digits(8)}",
            "fulfillmentCenterId": FULFILLMENT_CENTER,
            "fulfillmentShipmentStatus": "PENDING",
            "estimatedArrivalDate": iso(at + timedelta(days=2)),
            "fulfillmentShipmentItem": [
                {
                    "sellerSku": item["sellerSku"],
                    "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
                    "quantity": shipped_quantity(item),
                    "packageNumber": 1,
                }
                for item in record["items"]
                if shipped_quantity(item) > 0
            ],
        }
    ]


def cancel(state: AmazonState, record: dict[str, Any], at: datetime) -> None:
    for item in record["items"]:
        item["cancelledQuantity"] = item["quantity"]
    for shipment in record.get("shipments") or []:
        shipment["fulfillmentShipmentStatus"] = "CANCELLED_BY_SELLER"
    _set_status(state, record, "Cancelled", at, "Order")


def tick(state: AmazonState, now: datetime) -> None:
    """Apply every transition due by `now`, each at the moment it was due."""
    for record in state.in_flight("fulfillment_order"):
        release = record.get("release_at")
        if release is None:
            continue
        released = datetime.fromtimestamp(release, now.tzinfo)
        steps = (
            ("Received", PLANNING_AFTER, _plan),
            ("Planning", PROCESSING_AFTER, _process),
            ("Processing", COMPLETE_AFTER, ship),
        )
        for status, after, step in steps:
            due = released + timedelta(seconds=after)
            if record["order"]["fulfillmentOrderStatus"] == status and due <= now:
                step(state, record, due)


# ---- handlers ------------------------------------------------------------------------------


def _get_record(state: AmazonState, call: ApiCall) -> dict[str, Any]:
    order_id = call.path_params["sellerFulfillmentOrderId"]
    record = state.store.get("fulfillment_order", order_id)
    if record is None:
        raise not_found(f"Fulfillment order {order_id!r} was not found.")
    return record


def create_fulfillment_order(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    body = call.body
    order_id = body["sellerFulfillmentOrderId"]
    if not 1 <= len(order_id) <= 40:
        raise invalid_input(
            "sellerFulfillmentOrderId must be 1 to 40 characters.", "sellerFulfillmentOrderId"
        )
    existing = state.store.get("fulfillment_order", order_id)
    if existing is not None:
        if existing["request"] == body:
            return 200, {}
        raise invalid_input(
            f"sellerFulfillmentOrderId {order_id!r} already exists with a different request.",
            "sellerFulfillmentOrderId",
        )
    _check_marketplace(state, body)
    _check_address(body["destinationAddress"], "destinationAddress")
    _check_items(state, body["items"])
    parse_param("displayableOrderDate", body["displayableOrderDate"])
    now = state.now()
    action = body.get("fulfillmentAction", "Ship")
    order: dict[str, Any] = {
        "sellerFulfillmentOrderId": order_id,
        "marketplaceId": body.get("marketplaceId") or state.credentials.marketplace_id,
        "receivedDate": iso(now),
        "fulfillmentOrderStatus": "Received",
        "statusUpdatedDate": iso(now),
        "fulfillmentAction": action,
        "fulfillmentPolicy": body.get("fulfillmentPolicy", "FillOrKill"),
        **{
            key: body[key]
            for key in (
                "displayableOrderId",
                "displayableOrderDate",
                "displayableOrderComment",
                "shippingSpeedCategory",
                "destinationAddress",
                "deliveryWindow",
                "codSettings",
                "notificationEmails",
                "featureConstraints",
            )
            if key in body
        },
    }
    items = [
        {
            **item,
            "cancelledQuantity": 0,
            "unfulfillableQuantity": 0,
        }
        for item in body["items"]
    ]
    address = body["destinationAddress"]
    order_lines = []
    for item in body["items"]:
        stock = _stock(state, item["sellerSku"], "items")
        price = item.get("perUnitPrice")
        order_lines.append(
            {
                **stock,
                "quantity": item["quantity"],
                "unit_price_minor": to_minor(price["value"], price["currencyCode"], "perUnitPrice")
                if price
                else stock["unit_price_minor"],
                "currency": price["currencyCode"] if price else stock["currency"],
            }
        )
    amazon_order_id = orders.add_order(
        state,
        purchased=now,
        status="Pending" if action == "Hold" else "Unshipped",
        channel="AFN",
        sales_channel="Non-Amazon",
        items=order_lines,
        address={_ADDRESS_TO_ORDERS[k]: v for k, v in address.items() if k in _ADDRESS_TO_ORDERS},
        buyer=None,
        seller_order_id=order_id,
        ship_service_level=body["shippingSpeedCategory"],
        marketplace_id=body.get("marketplaceId"),
    )
    record = {
        "request": body,
        "order": order,
        "items": items,
        "shipments": [],
        "amazon_order_id": amazon_order_id,
        "release_at": now.timestamp() if action == "Ship" else None,
        "completed_at": None,
        "settled": False,
        "last_updated": now.timestamp(),
    }
    state.track("fulfillment_order", order_id)
    _save_and_publish(state, record, "Order")
    return 200, {}


def get_fulfillment_order(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    record = _get_record(state, call)
    return 200, {
        "payload": {
            "fulfillmentOrder": record["order"],
            "fulfillmentOrderItems": record["items"],
            "fulfillmentShipments": record["shipments"],
            **after_sale.returns_of(state, record["order"]["sellerFulfillmentOrderId"]),
        }
    }


def update_fulfillment_order(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    record = _get_record(state, call)
    body = call.body
    status = record["order"]["fulfillmentOrderStatus"]
    if status not in CANCELLABLE:
        raise invalid_input(
            f"Fulfillment order {record['order']['sellerFulfillmentOrderId']!r} is {status}; "
            "it can only be updated while Received or Planning.",
            "sellerFulfillmentOrderId",
        )
    _check_marketplace(state, body)
    if "destinationAddress" in body:
        _check_address(body["destinationAddress"], "destinationAddress")
    if "items" in body:
        raise invalid_input("Updating items is not supported by the sandbox.", "items")
    now = state.now()
    for key in (
        "displayableOrderId",
        "displayableOrderDate",
        "displayableOrderComment",
        "shippingSpeedCategory",
        "destinationAddress",
        "fulfillmentPolicy",
        "notificationEmails",
        "featureConstraints",
    ):
        if key in body:
            record["order"][key] = body[key]
    action = body.get("fulfillmentAction")
    if action == "Ship" and record["release_at"] is None:
        record["release_at"] = now.timestamp()
        record["order"]["fulfillmentAction"] = "Ship"
        orders.set_order_status(
            state, record["amazon_order_id"], "Unshipped", now, "Released for shipping"
        )
    elif action == "Hold" and record["release_at"] is not None:
        if status != "Received":
            raise invalid_input(
                "fulfillmentAction Hold is only possible while the order is Received.",
                "fulfillmentAction",
            )
        record["release_at"] = None
        record["order"]["fulfillmentAction"] = "Hold"
    record["last_updated"] = now.timestamp()
    state.store.put("fulfillment_order", record["order"]["sellerFulfillmentOrderId"], record)
    return 200, {}


def cancel_fulfillment_order(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    record = _get_record(state, call)
    status = record["order"]["fulfillmentOrderStatus"]
    if status not in CANCELLABLE:
        raise invalid_input(
            f"Fulfillment order {record['order']['sellerFulfillmentOrderId']!r} is {status}; "
            "it can only be cancelled while Received or Planning.",
            "sellerFulfillmentOrderId",
        )
    cancel(state, record, state.now())
    return 200, {}


def submit_status_update(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    """Sandbox-only: force a status (Complete ships, Cancelled cancels)."""
    record = _get_record(state, call)
    wanted = call.body.get("fulfillmentOrderStatus")
    if wanted is None:
        raise invalid_input("fulfillmentOrderStatus is required.", "fulfillmentOrderStatus")
    current = record["order"]["fulfillmentOrderStatus"]
    if current not in (*OPEN_STATUSES, "New"):
        raise invalid_input(
            f"Fulfillment order is {current}; a final status cannot change.",
            "fulfillmentOrderStatus",
        )
    now = state.now()
    if wanted == "Complete":
        ship(state, record, now)
    elif wanted == "Cancelled":
        cancel(state, record, now)
    else:
        if wanted == "Unfulfillable":
            for item in record["items"]:
                item["unfulfillableQuantity"] = item["quantity"]
        _set_status(state, record, wanted, now, "Order")
    return 200, {}


def list_all_fulfillment_orders(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    token = call.param("nextToken")
    if token:
        try:
            start_ts, offset = base64.urlsafe_b64decode(token.encode()).decode().split(":")
            since, start = float(start_ts), int(offset)
        except (binascii.Error, ValueError):
            raise invalid_input("Invalid nextToken.", "nextToken") from None
    else:
        raw = call.param("queryStartDate")
        since = parse_param("queryStartDate", raw).timestamp() if raw else 0.0
        start = 0
    records = sorted(
        (r for r in state.store.all("fulfillment_order") if r["last_updated"] >= since),
        key=lambda r: (r["last_updated"], r["order"]["sellerFulfillmentOrderId"]),
    )
    page = records[start : start + LIST_PAGE_SIZE]
    payload: dict[str, Any] = {"fulfillmentOrders": [r["order"] for r in page]}
    if start + LIST_PAGE_SIZE < len(records):
        cursor = f"{since}:{start + LIST_PAGE_SIZE}"
        payload["nextToken"] = base64.urlsafe_b64encode(cursor.encode()).decode()
    return 200, {"payload": payload}


def get_fulfillment_preview(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    body = call.body
    _check_marketplace(state, body)
    _check_address(body["address"], "address")
    items = body["items"]
    if not items:
        raise invalid_input("items must contain at least one item.", "items")
    now = state.now()
    marketplace = body.get("marketplaceId") or state.credentials.marketplace_id
    pool = state.pool_for(marketplace)
    speeds = body.get("shippingSpeedCategories") or ["Standard", "Expedited", "Priority"]
    previews = []
    for speed in speeds:
        unfulfillable, fulfillable = [], []
        fee_minor, grams, currency = 0, 0, "GBP"
        for item in items:
            stock = state.catalog_item(item["sellerSku"])
            # The units in stock are previewed as fulfillable and the rest as unfulfillable
            # (our assumption: Amazon's pages do not say how an item partly in stock previews).
            # Only the marketplace's own pool counts (sandbox/amazon/pools.py).
            in_stock = (
                0 if stock is None else max(0, _available(state, item["sellerSku"], "", pool))
            )
            ships = min(item["quantity"], in_stock)
            if ships < item["quantity"]:
                unfulfillable.append(
                    {
                        "sellerSku": item["sellerSku"],
                        "quantity": item["quantity"] - ships,
                        "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
                        "itemUnfulfillableReasons": [
                            "InvalidSKU" if stock is None else "InventoryUnavailable"
                        ],
                    }
                )
            if stock is None or ships == 0:
                continue
            fee_minor += stock["mcf_fee_minor"] * ships
            grams += stock["weight_grams"] * ships
            currency = stock["currency"]
            fulfillable.append(
                {
                    "sellerSku": item["sellerSku"],
                    "quantity": ships,
                    "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
                    "estimatedShippingWeight": _weight(stock["weight_grams"] * ships),
                    "shippingWeightCalculationMethod": "Package",
                }
            )
        days = {"Standard": 3, "Expedited": 2, "Priority": 1}.get(speed, 3)
        preview: dict[str, Any] = {
            "shippingSpeedCategory": speed,
            "isFulfillable": not unfulfillable,
            "isCODCapable": False,
            "marketplaceId": marketplace,
            "estimatedShippingWeight": _weight(grams),
            "estimatedFees": [
                {
                    "name": "FBAPerUnitFulfillmentFee",
                    "amount": {"currencyCode": currency, "value": to_decimal(fee_minor, currency)},
                }
            ],
            "fulfillmentPreviewShipments": [
                {
                    "earliestShipDate": iso(now + timedelta(hours=4)),
                    "latestShipDate": iso(now + timedelta(days=1)),
                    "earliestArrivalDate": iso(now + timedelta(days=days)),
                    "latestArrivalDate": iso(now + timedelta(days=days + 1)),
                    "fulfillmentPreviewItems": fulfillable,
                }
            ]
            if fulfillable
            else [],
            "unfulfillablePreviewItems": unfulfillable,
        }
        if unfulfillable:
            preview["orderUnfulfillableReasons"] = ["InventoryUnavailable"]
        previews.append(preview)
    return 200, {"payload": {"fulfillmentPreviews": previews}}


def _weight(grams: int) -> dict[str, str]:
    return {"unit": "KILOGRAMS", "value": f"{grams // 1000}.{grams % 1000:03d}"}


def completed_unsettled(state: AmazonState, until: datetime) -> list[dict[str, Any]]:
    return [
        r
        for r in state.store.all("fulfillment_order")
        if r["order"]["fulfillmentOrderStatus"] in ("Complete", "CompletePartialled")
        and not r.get("settled")
        and r["completed_at"] is not None
        and r["completed_at"] <= until.timestamp()
    ]


def mark_settled(state: AmazonState, record: dict[str, Any]) -> None:
    record["settled"] = True
    state.store.put("fulfillment_order", record["order"]["sellerFulfillmentOrderId"], record)


def completed_moment(record: dict[str, Any]) -> datetime:
    return parse_iso(record["order"]["statusUpdatedDate"])
