"""Orders v0: getOrders, getOrder, getOrderItems, getOrderBuyerInfo, getOrderAddress.

Records (kind "order") hold the full order, PII included; responses drop PII unless the call
carried a Restricted Data Token granting `buyerInfo` / `shippingAddress` for that path.
MCF fulfillment orders appear here as AFN orders with SalesChannel "Non-Amazon".
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta
from typing import Any

from sandbox.amazon import notifications
from sandbox.amazon.errors import invalid_input, not_found
from sandbox.amazon.money import to_decimal
from sandbox.amazon.state import AmazonState, ApiCall
from sandbox.amazon.timefmt import iso, parse_iso, parse_param

ORDER_STATUSES = frozenset(
    {
        "Pending",
        "Unshipped",
        "PartiallyShipped",
        "Shipped",
        "Canceled",
        "Unfulfillable",
        "InvoiceUnconfirmed",
        "PendingAvailability",
    }
)
FULFILLMENT_CHANNELS = frozenset({"AFN", "MFN"})
# Address parts that are not PII and are returned without a Restricted Data Token.
_PUBLIC_ADDRESS_FIELDS = ("City", "StateOrRegion", "PostalCode", "CountryCode")


def _money(minor: int, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": to_decimal(minor, currency)}


def add_order(
    state: AmazonState,
    *,
    purchased: datetime,
    status: str,
    channel: str,
    sales_channel: str,
    items: list[dict[str, Any]],
    address: dict[str, Any],
    buyer: dict[str, Any] | None,
    seller_order_id: str | None = None,
    ship_service_level: str = "Standard",
    marketplace_id: str | None = None,
) -> str:
    """Store an order; `items` are (sku, quantity, unit_price_minor, currency, asin, title)."""
    amazon_order_id = state.amazon_order_id()
    currency = items[0]["currency"]
    total = sum(item["unit_price_minor"] * item["quantity"] for item in items)
    order: dict[str, Any] = {
        "AmazonOrderId": amazon_order_id,
        "PurchaseDate": iso(purchased),
        "LastUpdateDate": iso(purchased),
        "OrderStatus": status,
        "FulfillmentChannel": channel,
        "SalesChannel": sales_channel,
        "ShipServiceLevel": ship_service_level,
        "ShipmentServiceLevelCategory": ship_service_level,
        "OrderTotal": _money(total, currency),
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": sum(item["quantity"] for item in items),
        "PaymentMethod": "Other",
        "MarketplaceId": marketplace_id or state.credentials.marketplace_id,
        "OrderType": "StandardOrder",
        "IsBusinessOrder": False,
        "IsPrime": False,
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "ShippingAddress": address,
    }
    if seller_order_id:
        order["SellerOrderId"] = seller_order_id
    if buyer:
        order["BuyerInfo"] = buyer
    order_items = [
        {
            "ASIN": item["asin"],
            "SellerSKU": item["sku"],
            "OrderItemId": state.random_digits(14),
            "Title": item["title"],
            "QuantityOrdered": item["quantity"],
            "QuantityShipped": 0,
            "ItemPrice": _money(item["unit_price_minor"] * item["quantity"], currency),
            "ItemTax": _money(0, currency),
            "IsGift": "false",
            "ConditionId": "New",
            "IsTransparency": False,
            "SerialNumberRequired": False,
        }
        for item in items
    ]
    if status == "Shipped":
        for item in order_items:
            item["QuantityShipped"] = item["QuantityOrdered"]
        order["NumberOfItemsShipped"] = order.pop("NumberOfItemsUnshipped")
        order["NumberOfItemsUnshipped"] = 0
    state.store.put("order", amazon_order_id, {"order": order, "items": order_items})
    return amazon_order_id


def set_order_status(
    state: AmazonState, amazon_order_id: str, status: str, at: datetime, reason: str
) -> None:
    """Move an order to `status` (publishing ORDER_CHANGE when it really changes)."""
    with state.store.transaction():
        record = state.store.get("order", amazon_order_id)
        if record is None or record["order"]["OrderStatus"] == status:
            return
        order = record["order"]
        order["OrderStatus"] = status
        order["LastUpdateDate"] = iso(at)
        if status == "Shipped":
            shipped = 0
            for item in record["items"]:
                item["QuantityShipped"] = item["QuantityOrdered"]
                shipped += item["QuantityOrdered"]
            order["NumberOfItemsShipped"] = shipped
            order["NumberOfItemsUnshipped"] = 0
        state.store.put("order", amazon_order_id, record)
    state.publish("ORDER_CHANGE", notifications.order_change(state, record, reason))


def seed_amazon_orders(state: AmazonState) -> None:
    """Two Amazon.co.uk orders so getOrders has something besides MCF orders."""
    now = state.now()
    stock = {record["sku"]: record for record in state.stock_in(state.home_pool)}
    skus = [sku for sku, record in stock.items() if record["quantity"] > 0][:2]
    for index, (sku, status, channel) in enumerate(
        [(skus[0], "Shipped", "AFN"), (skus[-1], "Unshipped", "MFN")]
    ):
        record = stock[sku]
        add_order(
            state,
            purchased=now - timedelta(days=2 - index),
            status=status,
            channel=channel,
            sales_channel="Amazon.co.uk",
            items=[{**record, "quantity": 1}],
            address={
                "Name": f"Sandbox Buyer {index + 1}",
                "AddressLine1": f"{index + 1} High Street",
                "City": "London",
                "PostalCode": "SW1A 1AA",
                "CountryCode": "GB",
                "Phone": "+44 20 7946 0000",
                "AddressType": "Residential",
            },
            buyer={
                "BuyerEmail": f"sandbox-buyer-{index + 1}@marketplace.amazon.co.uk",
                "BuyerName": f"Sandbox Buyer {index + 1}",
            },
        )


def _public_view(order: dict[str, Any], elements: frozenset[str]) -> dict[str, Any]:
    view = dict(order)
    if "buyerInfo" not in elements:
        view.pop("BuyerInfo", None)
    if "shippingAddress" not in elements and "ShippingAddress" in view:
        address = view["ShippingAddress"]
        view["ShippingAddress"] = {k: address[k] for k in _PUBLIC_ADDRESS_FIELDS if k in address}
    return view


def _record(state: AmazonState, call: ApiCall) -> dict[str, Any]:
    order_id = call.path_params["orderId"]
    record = state.store.get("order", order_id)
    if record is None:
        raise not_found(f"Order {order_id} was not found.")
    return record


def get_order(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    record = _record(state, call)
    return 200, {"payload": _public_view(record["order"], call.restricted_elements)}


def get_order_buyer_info(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    order = _public_view(_record(state, call)["order"], call.restricted_elements)
    return 200, {"payload": {"AmazonOrderId": order["AmazonOrderId"], **order.get("BuyerInfo", {})}}


def get_order_address(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    order = _public_view(_record(state, call)["order"], call.restricted_elements)
    payload: dict[str, Any] = {"AmazonOrderId": order["AmazonOrderId"]}
    if "ShippingAddress" in order:
        payload["ShippingAddress"] = order["ShippingAddress"]
    return 200, {"payload": payload}


def get_order_items(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    record = _record(state, call)
    return 200, {
        "payload": {
            "AmazonOrderId": record["order"]["AmazonOrderId"],
            "OrderItems": record["items"],
        }
    }


def _encode_token(query: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(query, sort_keys=True).encode()).decode()


def _decode_token(token: str, field: str) -> dict[str, Any]:
    try:
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError):
        raise invalid_input(f"Invalid {field}: it was not issued by this service.", field) from None
    return decoded


def _orders_query(state: AmazonState, call: ApiCall) -> dict[str, Any]:
    if not call.param_list("MarketplaceIds"):
        raise invalid_input("MarketplaceIds is required.", "MarketplaceIds")
    created_after = call.param("CreatedAfter")
    updated_after = call.param("LastUpdatedAfter")
    if bool(created_after) == bool(updated_after):
        raise invalid_input(
            "Exactly one of CreatedAfter or LastUpdatedAfter must be specified.",
            "CreatedAfter",
        )
    statuses = call.param_list("OrderStatuses")
    if unknown := sorted(set(statuses) - ORDER_STATUSES):
        raise invalid_input(f"OrderStatuses has unknown values {unknown}.", "OrderStatuses")
    channels = call.param_list("FulfillmentChannels")
    if unknown := sorted(set(channels) - FULFILLMENT_CHANNELS):
        raise invalid_input(
            f"FulfillmentChannels has unknown values {unknown}.", "FulfillmentChannels"
        )
    raw_size = call.param("MaxResultsPerPage") or "100"
    if not raw_size.isdigit() or not 1 <= int(raw_size) <= 100:
        raise invalid_input(
            "MaxResultsPerPage must be an integer from 1 to 100.", "MaxResultsPerPage"
        )
    field, after_name = (
        ("PurchaseDate", "CreatedAfter")
        if created_after
        else ("LastUpdateDate", "LastUpdatedAfter")
    )
    after = parse_param(after_name, created_after or updated_after or "")
    before_name = "CreatedBefore" if created_after else "LastUpdatedBefore"
    before_raw = call.param(before_name)
    before = parse_param(before_name, before_raw) if before_raw else state.now()
    if after > before:
        raise invalid_input(f"{after_name} must be earlier than {before_name}.", after_name)
    return {
        "field": field,
        "before_name": before_name,
        "after": iso(after),
        "before": iso(before),
        "statuses": statuses,
        "channels": channels,
        "marketplaces": call.param_list("MarketplaceIds"),
        "ids": call.param_list("AmazonOrderIds"),
        "size": int(raw_size),
        "offset": 0,
    }


def get_orders(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    token = call.param("NextToken")
    query = _decode_token(token, "NextToken") if token else _orders_query(state, call)
    after, before = parse_iso(query["after"]), parse_iso(query["before"])
    matching = []
    for record in state.store.all("order"):
        order = record["order"]
        moment = parse_iso(order[query["field"]])
        if not after <= moment <= before:
            continue
        if query["statuses"] and order["OrderStatus"] not in query["statuses"]:
            continue
        if query["channels"] and order["FulfillmentChannel"] not in query["channels"]:
            continue
        if query["marketplaces"] and order["MarketplaceId"] not in query["marketplaces"]:
            continue
        if query["ids"] and order["AmazonOrderId"] not in query["ids"]:
            continue
        matching.append(order)
    matching.sort(key=lambda o: (o[query["field"]], o["AmazonOrderId"]))
    start, size = query["offset"], query["size"]
    page = matching[start : start + size]
    payload: dict[str, Any] = {
        "Orders": [_public_view(order, call.restricted_elements) for order in page],
        query["before_name"]: query["before"],
    }
    if start + size < len(matching):
        payload["NextToken"] = _encode_token({**query, "offset": start + size})
    return 200, {"payload": payload}
