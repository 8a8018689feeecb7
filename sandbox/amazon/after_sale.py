"""After the sale: package tracking, return reason codes and fulfillment returns (FBA outbound
2020-07-01), each moving on the sandbox clock.

Packages. `register_packages` (called by fulfillment.ship) gives each shipped package a
seller-wide unique packageNumber and a tracking plan: a list of (seconds after shipping, event
code, current status). The outcome is DELIVERED unless a marker chooses another: an upper-case
word `DELAYED`, `UNDELIVERABLE` or `RETURNED` in the destination address's name or address
lines, or `POST /_sandbox/tracking` (see `set_tracking_outcome`). `tick` reveals each event
when its moment comes, stamped with that moment however large the clock jump.

Returns. `createFulfillmentReturn` checks each item against the shipped order (one item per
returned unit, as the model has no quantity) and authorises the valid ones under one RMA;
`RETURN_RECEIVED_AFTER` seconds later each item is Processed with a returnReceivedCondition
(Sellable unless the returnComment names another ReturnItemDisposition value, or
`POST /_sandbox/returns` chose one), Sellable units go back to stock, and a
FULFILLMENT_ORDER_STATUS notification (EventType `Return`) is published.

Rules and sources: docs/sandbox-amazon.md, "After the sale".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.amazon import notifications
from sandbox.amazon.errors import invalid_input, not_found
from sandbox.amazon.state import AmazonState, ApiCall
from sandbox.amazon.timefmt import iso, parse_iso

FINAL_STATUSES = ("DELIVERED", "UNDELIVERABLE", "RETURNED")
OUTCOMES = ("DELIVERED", "DELAYED", "UNDELIVERABLE", "RETURNED")
RETURN_CONDITIONS = (
    "Sellable",
    "Defective",
    "CustomerDamaged",
    "CarrierDamaged",
    "FulfillerDamaged",
)
# Sandbox seconds after shipping (our assumption: compressed so a demo at clock factor 60 sees
# a delivery half a minute after the shipment; real parcels take days).
PICKED_UP_AFTER = 0
ARRIVAL_SCAN_AFTER = 600
OUT_FOR_DELIVERY_AFTER = 1200
DELIVERED_AFTER = 1800
DELAYED_DELIVERED_AFTER = 3600
RETURNED_AFTER = 3600
DELAY_EXTENDS_ESTIMATE = timedelta(days=1)
RETURN_RECEIVED_AFTER = 1800
"""Sandbox seconds from a return's authorisation to its receipt at the fulfillment center."""
SWISHIP_TRACKING = "https://www.swiship.co.uk/track?id="
FULFILLMENT_CENTER = "LTN4"
FULFILLMENT_CENTER_CITY = {"city": "Dunstable", "state": "Bedfordshire", "country": "GB"}
RETURN_TO_ADDRESS = {
    "name": "Amazon Returns Department",
    "addressLine1": "Boscombe Road",
    "addressLine2": "LTN4",
    "city": "Dunstable",
    "stateOrRegion": "Bedfordshire",
    "postalCode": "LU5 4FE",
    "countryCode": "GB",
}
# The official model's own listReturnReasonCodes example (fulfillmentOutbound_2020-07-01.json).
RETURN_REASON_CODES: tuple[tuple[str, str], ...] = (
    ("CR-UNWANTED_ITEM", "No longer needed/wanted"),
    ("AMZ-PG-BAD-DESC", "Different from website description"),
    ("CR-DEFECTIVE", "Defective/Does not work properly"),
    ("CR-ORDERED_WRONG_ITEM", "Accidental order"),
    ("CR-FOUND_BETTER_PRICE", "Better price available"),
    ("CR-DAMAGED_BY_FC", "Damaged due to inappropriate packaging"),
    ("CR-MISSED_ESTIMATED_DELIVERY", "Missed estimated delivery date"),
    ("CR-MISSING_PARTS", "Missing parts or accessories"),
    ("CR-DAMAGED_BY_CARRIER", "Damaged during shipping"),
    ("CR-SWITCHEROO", "Different from what was ordered"),
    ("CR-EXTRA_ITEM", "Arrived in addition to what was ordered"),
    ("CR-UNAUTHORIZED_PURCHASE", "Unauthorized purchase"),
)
# Descriptions of the model's EventCode and CurrentStatus enums (x-docgen-enum-table-extension).
EVENT_DESCRIPTIONS = {
    "EVENT_101": "Carrier notified to pick up package.",
    "EVENT_102": "Shipment picked up from seller's facility.",
    "EVENT_201": "Arrival scan.",
    "EVENT_301": "Delivered.",
    "EVENT_302": "Out for delivery.",
    "EVENT_304": "Delivery attempted.",
    "EVENT_309": "Returned to seller.",
    "EVENT_404": "Delay in delivery due to external factors.",
    "EVENT_408": "Returning to seller.",
    "EVENT_409": "Lost by carrier.",
}
STATUS_DESCRIPTIONS = {
    "IN_TRANSIT": "In transit to the destination address.",
    "OUT_FOR_DELIVERY": "Out for Delivery.",
    "DELIVERED": "Delivered to the destination address.",
    "DELAYED": "Delayed.",
    "DELIVERY_ATTEMPTED": "Delivery Attempted.",
    "RETURNING": "In the process of being returned to Amazon's fulfillment network.",
    "RETURNED": "Returned to Amazon's fulfillment network.",
    "UNDELIVERABLE": "Undeliverable because package was lost or destroyed.",
}
# (seconds after shipping, event code, current status, where: "fc" | "destination")
_START = (
    (PICKED_UP_AFTER, "EVENT_101", "IN_TRANSIT", "fc"),
    (PICKED_UP_AFTER, "EVENT_102", "IN_TRANSIT", "fc"),
    (ARRIVAL_SCAN_AFTER, "EVENT_201", "IN_TRANSIT", "destination"),
)
PLANS: dict[str, tuple[tuple[int, str, str, str], ...]] = {
    "DELIVERED": (
        *_START,
        (OUT_FOR_DELIVERY_AFTER, "EVENT_302", "OUT_FOR_DELIVERY", "destination"),
        (DELIVERED_AFTER, "EVENT_301", "DELIVERED", "destination"),
    ),
    "DELAYED": (
        *_START,
        (OUT_FOR_DELIVERY_AFTER, "EVENT_404", "DELAYED", "destination"),
        (DELAYED_DELIVERED_AFTER - 600, "EVENT_302", "OUT_FOR_DELIVERY", "destination"),
        (DELAYED_DELIVERED_AFTER, "EVENT_301", "DELIVERED", "destination"),
    ),
    "UNDELIVERABLE": (
        *_START,
        (OUT_FOR_DELIVERY_AFTER, "EVENT_302", "OUT_FOR_DELIVERY", "destination"),
        (DELIVERED_AFTER, "EVENT_409", "UNDELIVERABLE", "destination"),
    ),
    "RETURNED": (
        *_START,
        (OUT_FOR_DELIVERY_AFTER, "EVENT_302", "OUT_FOR_DELIVERY", "destination"),
        (DELIVERED_AFTER, "EVENT_304", "DELIVERY_ATTEMPTED", "destination"),
        (DELIVERED_AFTER + 600, "EVENT_408", "RETURNING", "destination"),
        (RETURNED_AFTER, "EVENT_309", "RETURNED", "fc"),
    ),
}
# Every plan shares its first steps; an outcome can change until a package leaves them.
_SHARED_STEPS = len(_START)
_OUTCOME_MARKER = re.compile(r"\b(DELAYED|UNDELIVERABLE|RETURNED)\b")
_CONDITION_MARKER = re.compile(r"\b(" + "|".join(RETURN_CONDITIONS) + r")\b", re.IGNORECASE)


# ---- packages ------------------------------------------------------------------------------


def _marked_outcome(address: dict[str, Any]) -> str:
    for field in ("name", "addressLine1", "addressLine2", "addressLine3"):
        found = _OUTCOME_MARKER.search(str(address.get(field) or ""))
        if found:
            return found.group(1)
    return "DELIVERED"


def _destination_city(address: dict[str, Any]) -> dict[str, str]:
    city = str(address.get("city") or address.get("postalCode") or "")
    return {
        "city": city[:150],
        "state": str(address.get("stateOrRegion") or address.get("districtOrCounty") or city)[:150],
        "country": str(address.get("countryCode") or "GB")[:6],
    }


def register_packages(state: AmazonState, record: dict[str, Any], at: datetime) -> None:
    """Number every newly SHIPPED package of `record` uniquely and start its tracking.

    fulfillment.ship builds packages with a placeholder number; each gets the next number of
    the seller's sequence (in its shipment items too), so getPackageTrackingDetails can find
    it by packageNumber alone, as Amazon's does.
    """
    order_id = record["order"]["sellerFulfillmentOrderId"]
    tracked: list[int] = record.setdefault("tracked_packages", [])
    address = record["order"].get("destinationAddress") or {}
    preset = (state.store.get("meta", "tracking_outcomes") or {}).get(order_id)
    outcome = preset or _marked_outcome(address)
    for shipment in record.get("shipments") or []:
        if shipment.get("fulfillmentShipmentStatus") != "SHIPPED":
            continue
        renumbered: dict[int, int] = {}
        for package in shipment.get("fulfillmentShipmentPackage") or []:
            if package["packageNumber"] in tracked:
                continue
            number = state.next_number("package")
            renumbered[package["packageNumber"]] = number
            package["packageNumber"] = number
            tracked.append(number)
            _start_tracking(state, order_id, shipment, package, address, outcome, at)
        for item in shipment.get("fulfillmentShipmentItem") or []:
            if item.get("packageNumber") in renumbered:
                item["packageNumber"] = renumbered[item["packageNumber"]]


def _start_tracking(
    state: AmazonState,
    order_id: str,
    shipment: dict[str, Any],
    package: dict[str, Any],
    address: dict[str, Any],
    outcome: str,
    at: datetime,
) -> None:
    number = package["packageNumber"]
    tracking = {
        "packageNumber": number,
        "sellerFulfillmentOrderId": order_id,
        "amazonShipmentId": shipment["amazonShipmentId"],
        "trackingNumber": package.get("trackingNumber", ""),
        "carrierCode": package["carrierCode"],
        "shipped_at": at.timestamp(),
        "estimatedArrivalDate": package.get("estimatedArrivalDate")
        or shipment.get("estimatedArrivalDate")
        or iso(at + timedelta(days=2)),
        "destination": _destination_city(address),
        "outcome": outcome,
        "events": [],
        "currentStatus": "IN_TRANSIT",
        "final": False,
    }
    state.store.put("package", str(number), tracking)
    state.track("package", str(number))
    _advance_package(state, tracking, at)


def _advance_package(state: AmazonState, tracking: dict[str, Any], now: datetime) -> None:
    shipped = datetime.fromtimestamp(tracking["shipped_at"], now.tzinfo)
    plan = PLANS[tracking["outcome"]]
    changed = False
    for after, code, status, where in plan[len(tracking["events"]) :]:
        due = shipped + timedelta(seconds=after)
        if due > now:
            break
        tracking["events"].append(
            {
                "eventDate": iso(due),
                "eventAddress": FULFILLMENT_CENTER_CITY
                if where == "fc"
                else tracking["destination"],
                "eventCode": code,
                "eventDescription": EVENT_DESCRIPTIONS[code],
            }
        )
        tracking["currentStatus"] = status
        if code == "EVENT_404":
            estimate = parse_iso(tracking["estimatedArrivalDate"]) + DELAY_EXTENDS_ESTIMATE
            tracking["estimatedArrivalDate"] = iso(estimate)
        if status in FINAL_STATUSES:
            tracking["final"] = True
            tracking["final_at"] = due.timestamp()
        changed = True
    if changed:
        state.store.put("package", str(tracking["packageNumber"]), tracking)
        if tracking["final"]:
            state.untrack("package", str(tracking["packageNumber"]))


def _package_payload(tracking: dict[str, Any]) -> dict[str, Any]:
    status = tracking["currentStatus"]
    payload: dict[str, Any] = {
        "packageNumber": tracking["packageNumber"],
        "trackingNumber": tracking["trackingNumber"],
        "customerTrackingLink": SWISHIP_TRACKING + tracking["trackingNumber"],
        "carrierCode": tracking["carrierCode"],
        "shipDate": iso(datetime.fromtimestamp(tracking["shipped_at"], UTC)),
        "estimatedArrivalDate": tracking["estimatedArrivalDate"],
        "shipToAddress": tracking["destination"],
        "currentStatus": status,
        "currentStatusDescription": STATUS_DESCRIPTIONS[status],
        # Newest first, as in the model's example.
        "trackingEvents": list(reversed(tracking["events"])),
    }
    if status == "DELIVERED":
        payload["additionalLocationInfo"] = "FRONT_DOOR"
    return payload


def tick(state: AmazonState, now: datetime) -> None:
    """Reveal every tracking event and receive every return due by `now`."""
    for tracking in state.in_flight("package"):
        _advance_package(state, tracking, now)
    for returns in state.in_flight("fulfillment_return"):
        _receive_returns(state, returns, now)


def get_package_tracking_details(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    raw = call.param("packageNumber")
    if raw is None:
        raise invalid_input("packageNumber is required.", "packageNumber")
    try:
        number = int(raw)
    except ValueError:
        raise invalid_input(f"packageNumber {raw!r} is not an integer.", "packageNumber") from None
    tracking = state.store.get("package", str(number))
    if tracking is None:
        raise not_found(f"Package {number} was not found.")
    return 200, {"payload": _package_payload(tracking)}


def set_tracking_outcome(
    state: AmazonState, outcome: str, *, order_id: str | None, package_number: int | None
) -> list[int]:
    """Choose how packages end (sandbox control): a shipped package that has not left the
    shared first steps, or every package of a fulfillment order (including those not shipped
    yet). Returns the package numbers changed now; ValueError if one is too far along."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    state.sync()
    with state.store.transaction():
        targets = [
            t
            for t in state.store.all("package")
            if (package_number is not None and t["packageNumber"] == package_number)
            or (order_id is not None and t["sellerFulfillmentOrderId"] == order_id)
        ]
        if package_number is not None and not targets:
            raise KeyError(package_number)
        for tracking in targets:
            if len(tracking["events"]) > _SHARED_STEPS:
                raise ValueError(
                    f"package {tracking['packageNumber']} is already "
                    f"{tracking['currentStatus']}; choose an outcome before it is out for "
                    f"delivery ({OUT_FOR_DELIVERY_AFTER} s after shipping)"
                )
        if order_id is not None:
            presets = state.store.get("meta", "tracking_outcomes") or {}
            presets[order_id] = outcome
            state.store.put("meta", "tracking_outcomes", presets)
        for tracking in targets:
            tracking["outcome"] = outcome
            state.store.put("package", str(tracking["packageNumber"]), tracking)
        return [t["packageNumber"] for t in targets]


# ---- return reason codes -------------------------------------------------------------------


def _fulfillment_record(state: AmazonState, order_id: str) -> dict[str, Any]:
    record = state.store.get("fulfillment_order", order_id)
    if record is None:
        raise not_found(f"Fulfillment order {order_id!r} was not found.")
    return record


def list_return_reason_codes(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    sku = call.param("sellerSku")
    if not sku:
        raise invalid_input("sellerSku is required.", "sellerSku")
    if state.catalog_item(sku) is None:
        raise invalid_input(f"sellerSku {sku!r} is not in this seller's catalog.", "sellerSku")
    marketplace = call.param("marketplaceId")
    if marketplace and marketplace not in state.credentials.enabled_marketplaces:
        raise invalid_input(
            f"marketplaceId {marketplace!r} is not enabled for this seller.", "marketplaceId"
        )
    order_id = call.param("sellerFulfillmentOrderId")
    if order_id:
        _fulfillment_record(state, order_id)
    language = call.param("language")
    details = []
    for code, description in RETURN_REASON_CODES:
        detail = {"returnReasonCode": code, "description": description}
        if language and language.lower().startswith("en"):
            detail["translatedDescription"] = description
        details.append(detail)
    return 200, {"payload": {"reasonCodeDetails": details}}


# ---- fulfillment returns -------------------------------------------------------------------


def _returns(state: AmazonState, order_id: str) -> dict[str, Any]:
    return state.store.get("fulfillment_return", order_id) or {
        "sellerFulfillmentOrderId": order_id,
        "items": [],
        "authorizations": [],
    }


def returns_of(state: AmazonState, order_id: str) -> dict[str, list[dict[str, Any]]]:
    """getFulfillmentOrder's `returnItems` and `returnAuthorizations` for an order."""
    returns = _returns(state, order_id)
    return {
        "returnItems": [_public_item(i) for i in returns["items"]],
        "returnAuthorizations": returns["authorizations"],
    }


def _public_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _invalid(item: dict[str, Any], code: str, description: str) -> dict[str, Any]:
    return {
        "sellerReturnItemId": item["sellerReturnItemId"],
        "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
        "invalidItemReason": {"invalidItemReasonCode": code, "description": description},
    }


def _shipped_quantity(record: dict[str, Any], shipment_id: str, item_id: str) -> int | None:
    """Units of the item in the shipment; None if the shipment has no such item."""
    for shipment in record.get("shipments") or []:
        if shipment["amazonShipmentId"] != shipment_id:
            continue
        quantities = [
            int(i["quantity"])
            for i in shipment.get("fulfillmentShipmentItem") or []
            if i["sellerFulfillmentOrderItemId"] == item_id
        ]
        if not quantities:
            return None
        if shipment["fulfillmentShipmentStatus"] != "SHIPPED":
            return 0
        return sum(quantities)
    return None


def create_fulfillment_return(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    order_id = call.path_params["sellerFulfillmentOrderId"]
    record = _fulfillment_record(state, order_id)
    requested = call.body["items"]
    if not requested:
        raise invalid_input("items must contain at least one item.", "items")
    returns = _returns(state, order_id)
    known_ids = {i["sellerReturnItemId"] for i in returns["items"]}
    order_item_ids = {i["sellerFulfillmentOrderItemId"] for i in record["items"]}
    codes = {code for code, _ in RETURN_REASON_CODES}
    now = state.now()
    accepted: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    for item in requested:
        item_id = item["sellerFulfillmentOrderItemId"]
        shipment_id = item["amazonShipmentId"]
        if item["sellerReturnItemId"] in known_ids:
            invalid.append(
                _invalid(
                    item,
                    "DuplicateRequest",
                    f"A return was already requested as {item['sellerReturnItemId']!r}.",
                )
            )
            continue
        shipped = _shipped_quantity(record, shipment_id, item_id)
        if item_id not in order_item_ids or shipped is None:
            invalid.append(
                _invalid(
                    item,
                    "InvalidValues",
                    f"Item {item_id!r} is not in shipment {shipment_id!r} of this order.",
                )
            )
            continue
        if item["returnReasonCode"] not in codes:
            invalid.append(
                _invalid(
                    item,
                    "InvalidValues",
                    f"returnReasonCode {item['returnReasonCode']!r} is not a code from "
                    "listReturnReasonCodes.",
                )
            )
            continue
        if shipped == 0:
            invalid.append(_invalid(item, "NoCompletedShipItems", "The shipment has not shipped."))
            continue
        allocated = sum(
            1
            for other in (*returns["items"], *accepted)
            if other["sellerFulfillmentOrderItemId"] == item_id
            and other["amazonShipmentId"] == shipment_id
        )
        if allocated >= shipped:
            invalid.append(
                _invalid(
                    item,
                    "NoReturnableQuantity",
                    f"All {shipped} shipped units of {item_id!r} are already being returned.",
                )
            )
            continue
        known_ids.add(item["sellerReturnItemId"])
        accepted.append(item)
    authorizations: list[dict[str, Any]] = []
    return_items: list[dict[str, Any]] = []
    if accepted:
        rma = f"D{state.token('')[:8]}RMA"
        authorization = {
            "returnAuthorizationId": state.token("RMA")[:16],
            "fulfillmentCenterId": FULFILLMENT_CENTER,
            "returnToAddress": dict(RETURN_TO_ADDRESS),
            "amazonRmaId": rma,
            "rmaPageURL": f"https://www.amazon.co.uk/gp/orc/rml/{rma}",
        }
        authorizations.append(authorization)
        returns["authorizations"].append(authorization)
        sku_of = {i["sellerFulfillmentOrderItemId"]: i["sellerSku"] for i in record["items"]}
        for item in accepted:
            stored = {
                "sellerReturnItemId": item["sellerReturnItemId"],
                "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
                "amazonShipmentId": item["amazonShipmentId"],
                "sellerReturnReasonCode": item["returnReasonCode"],
                **({"returnComment": item["returnComment"]} if "returnComment" in item else {}),
                "status": "New",
                "statusChangedDate": iso(now),
                "returnAuthorizationId": authorization["returnAuthorizationId"],
                "_sku": sku_of[item["sellerFulfillmentOrderItemId"]],
                "_receive_at": (now + timedelta(seconds=RETURN_RECEIVED_AFTER)).timestamp(),
            }
            returns["items"].append(stored)
            return_items.append(_public_item(stored))
        state.store.put("fulfillment_return", order_id, returns)
        state.track("fulfillment_return", order_id)
    return 200, {
        "payload": {
            "returnItems": return_items,
            "invalidReturnItems": invalid,
            "returnAuthorizations": authorizations,
        }
    }


def _condition(item: dict[str, Any], chosen: dict[str, str]) -> str:
    if item["sellerReturnItemId"] in chosen:
        return chosen[item["sellerReturnItemId"]]
    found = _CONDITION_MARKER.search(item.get("returnComment") or "")
    if found:
        word = found.group(1).lower()
        return next(c for c in RETURN_CONDITIONS if c.lower() == word)
    return "Sellable"


def _receive_returns(state: AmazonState, returns: dict[str, Any], now: datetime) -> None:
    order_id = returns["sellerFulfillmentOrderId"]
    chosen: dict[str, str] = returns.get("conditions") or {}
    due = sorted(
        (
            i
            for i in returns["items"]
            if i["status"] == "New" and i["_receive_at"] <= now.timestamp()
        ),
        key=lambda i: i["_receive_at"],
    )
    if not due:
        return
    original = state.store.get("fulfillment_order", order_id)
    # A sellable return goes back into the stock of the order's own pool (our assumption:
    # Amazon's pages say where a return is received, not whose pool it joins).
    pool = state.pool_for(original["order"].get("marketplaceId") if original else None)
    for item in due:
        received = datetime.fromtimestamp(item["_receive_at"], now.tzinfo)
        condition = _condition(item, chosen)
        item.update(
            status="Processed",
            statusChangedDate=iso(received),
            returnReceivedCondition=condition,
            amazonReturnReasonCode=item["sellerReturnReasonCode"],
            fulfillmentCenterId=FULFILLMENT_CENTER,
        )
        if condition == "Sellable":
            stock = state.inventory(item["_sku"], pool)
            if stock is not None:
                state.set_inventory(item["_sku"], stock["quantity"] + 1, pool)
    state.store.put("fulfillment_return", order_id, returns)
    if all(i["status"] == "Processed" for i in returns["items"]):
        state.untrack("fulfillment_return", order_id)
    record = state.store.get("fulfillment_order", order_id)
    if record is None:
        return
    by_sku: dict[str, list[dict[str, Any]]] = {}
    for item in due:
        by_sku.setdefault(item["_sku"], []).append(item)
    for sku, items in by_sku.items():
        body = notifications.fulfillment_order_status(state, record, "Return")
        payload = body["Payload"]["FulfillmentOrderStatusNotification"]
        payload["FulfillmentReturnItem"] = {
            "ReceivedDateTime": items[-1]["statusChangedDate"],
            "ReturnedQuantity": len(items),
            "SellerSKU": sku,
        }
        state.publish("FULFILLMENT_ORDER_STATUS", body)


def set_return_condition(
    state: AmazonState, order_id: str, condition: str, seller_return_item_id: str | None
) -> list[str]:
    """Choose the condition return items of an order arrive in (sandbox control); only items
    still New. Returns the sellerReturnItemIds it applies to; KeyError if none match."""
    if condition not in RETURN_CONDITIONS:
        raise ValueError(f"condition must be one of {RETURN_CONDITIONS}")
    state.sync()
    with state.store.transaction():
        returns = state.store.get("fulfillment_return", order_id)
        if returns is None:
            raise KeyError(order_id)
        targets = [
            i["sellerReturnItemId"]
            for i in returns["items"]
            if i["status"] == "New"
            and (seller_return_item_id is None or i["sellerReturnItemId"] == seller_return_item_id)
        ]
        if not targets:
            raise KeyError(seller_return_item_id or order_id)
        conditions = returns.setdefault("conditions", {})
        for item_id in targets:
            conditions[item_id] = condition
        state.store.put("fulfillment_return", order_id, returns)
        return targets
