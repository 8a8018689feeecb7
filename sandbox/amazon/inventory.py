"""FBA Inventory v1: getInventorySummaries, and FBA_INVENTORY_AVAILABILITY_CHANGES.

Both answer from the sandbox's stock records (`AmazonState.inventory`). Every record carries
`last_updated`, the sandbox time its quantity last changed (`AmazonState.set_inventory`), so
`startDateTime` returns only the SKUs changed since then, and each change publishes one
availability notification whose EventTime is that same moment. Rules and their sources are in
docs/sandbox-amazon.md ("FBA inventory").
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sandbox.amazon.errors import invalid_input
from sandbox.amazon.pools import marketplaces_in
from sandbox.amazon.state import AmazonState, ApiCall
from sandbox.amazon.timefmt import iso, parse_iso, parse_param

NOTIFICATION_TYPE = "FBA_INVENTORY_AVAILABILITY_CHANGES"
SUBSCRIPTION_ID = "subscription-fba-inventory-availability-changes"
# Summaries per page. Amazon publishes none; our assumption (docs/sandbox-amazon.md).
PAGE_SIZE = 50
# "The string token will expire 30 seconds after being created" (fbaInventory.json, nextToken).
NEXT_TOKEN_SECONDS = 30
# "no earlier than 18 months prior to the date and time when you call the API" (startDateTime).
OLDEST_START = timedelta(days=548)
MAX_SELLER_SKUS = 50


def fn_sku(record: dict[str, Any]) -> str:
    """The FNSKU the sandbox reports use for a SKU (X00 + the ASIN's last seven characters)."""
    return f"X00{record['asin'][-7:]}"


def last_updated(record: dict[str, Any]) -> datetime:
    """When the record's quantity last changed (stamped by `AmazonState`)."""
    return parse_iso(str(record["last_updated"]))


def _summary(state: AmazonState, record: dict[str, Any], details: bool) -> dict[str, Any]:
    quantity = int(record["quantity"])
    summary: dict[str, Any] = {
        "asin": record["asin"],
        "fnSku": fn_sku(record),
        "sellerSku": record["sku"],
        "condition": "NewItem",
        "lastUpdatedTime": iso(last_updated(record)),
        "productName": record["title"],
        "totalQuantity": quantity,
    }
    if details:
        # The sandbox holds one on-hand quantity per SKU: all of it fulfillable, nothing
        # inbound, reserved, researching or unfulfillable (our assumption).
        summary["inventoryDetails"] = {
            "fulfillableQuantity": quantity,
            "inboundWorkingQuantity": 0,
            "inboundShippedQuantity": 0,
            "inboundReceivingQuantity": 0,
            "reservedQuantity": {
                "totalReservedQuantity": 0,
                "pendingCustomerOrderQuantity": 0,
                "pendingTransshipmentQuantity": 0,
                "fcProcessingQuantity": 0,
            },
            "researchingQuantity": {
                "totalResearchingQuantity": 0,
                "researchingQuantityBreakdown": [],
            },
            "unfulfillableQuantity": {
                "totalUnfulfillableQuantity": 0,
                "customerDamagedQuantity": 0,
                "warehouseDamagedQuantity": 0,
                "distributorDamagedQuantity": 0,
                "carrierDamagedQuantity": 0,
                "defectiveQuantity": 0,
                "expiredQuantity": 0,
            },
        }
    return summary


def _query(state: AmazonState, call: ApiCall) -> dict[str, Any]:
    """The request's filters, checked; 400 naming the parameter otherwise."""
    if call.param("granularityType") != "Marketplace":
        raise invalid_input("granularityType must be Marketplace.", "granularityType")
    enabled = state.credentials.enabled_marketplaces
    marketplaces = call.param_list("marketplaceIds")
    if len(marketplaces) != 1 or marketplaces[0] not in enabled:
        raise invalid_input(
            f"marketplaceIds must be exactly one marketplace enabled for this seller "
            f"(one of {', '.join(enabled)}).",
            "marketplaceIds",
        )
    marketplace = marketplaces[0]
    if call.param("granularityId") != marketplace:
        raise invalid_input(
            "granularityId must be the marketplace id when granularityType is Marketplace.",
            "granularityId",
        )
    details_raw = (call.param("details") or "false").lower()
    if details_raw not in ("true", "false"):
        raise invalid_input("details must be true or false.", "details")
    start_raw = call.param("startDateTime")
    start = parse_param("startDateTime", start_raw) if start_raw else None
    if start is not None and start < state.now() - OLDEST_START:
        raise invalid_input(
            "startDateTime must be no earlier than 18 months before now.", "startDateTime"
        )
    skus = call.param_list("sellerSkus")
    if len(skus) > MAX_SELLER_SKUS:
        raise invalid_input(f"sellerSkus takes at most {MAX_SELLER_SKUS} SKUs.", "sellerSkus")
    single = call.param("sellerSku")
    return {
        "marketplace": marketplace,
        "details": details_raw == "true",
        "start": iso(start) if start is not None else None,
        # startDateTime wins over sellerSkus, which wins over sellerSku (the model's summary).
        "skus": [] if start is not None else (skus or ([single] if single else [])),
    }


def get_inventory_summaries(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    query = _query(state, call)
    offset = 0
    token = call.param("nextToken")
    if token:
        saved = _decode(token)
        if parse_iso(saved["issued"]) + timedelta(seconds=NEXT_TOKEN_SECONDS) < state.now():
            raise invalid_input("The nextToken has expired; start again.", "nextToken")
        if saved["start"] != query["start"]:
            # "use both startDateTime and nextToken to get the next page" (the model).
            raise invalid_input(
                "A nextToken must be sent with the same startDateTime as the first page.",
                "startDateTime",
            )
        if saved.get("marketplace", query["marketplace"]) != query["marketplace"]:
            raise invalid_input(
                "A nextToken must be sent with the same marketplaceIds as the first page.",
                "marketplaceIds",
            )
        query, offset = {**query, "skus": saved["skus"]}, int(saved["offset"])
    # The marketplace's own pool: UK stock is not sellable in the EU (sandbox/amazon/pools.py).
    records = state.stock_in(state.pool_for(query["marketplace"]))
    if query["start"] is not None:
        since = parse_iso(query["start"])
        records = [r for r in records if last_updated(r) >= since]
    elif query["skus"]:
        wanted = set(query["skus"])
        records = [r for r in records if r["sku"] in wanted]
    page = records[offset : offset + PAGE_SIZE]
    marketplace = query["marketplace"]
    body: dict[str, Any] = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": marketplace},
            "inventorySummaries": [_summary(state, r, query["details"]) for r in page],
        }
    }
    if offset + PAGE_SIZE < len(records):
        body["pagination"] = {
            "nextToken": _encode(
                {
                    "start": query["start"],
                    "marketplace": query["marketplace"],
                    "skus": query["skus"],
                    "offset": offset + PAGE_SIZE,
                    "issued": iso(state.now()),
                }
            )
        }
    return 200, body


def _encode(query: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(query, sort_keys=True).encode()).decode()


def _decode(token: str) -> dict[str, Any]:
    try:
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError):
        decoded = {}
    if not isinstance(decoded, dict) or not {"start", "skus", "offset", "issued"} <= set(decoded):
        raise invalid_input("Invalid nextToken.", "nextToken")
    return decoded


def availability_change(state: AmazonState, record: dict[str, Any]) -> dict[str, Any]:
    """FBA_INVENTORY_AVAILABILITY_CHANGES for a stock record, in the official envelope.

    The payload is flat under `Payload` (FBAInventoryAvailabilityChangeNotification.json);
    EventTime is the record's `last_updated`, the moment the summaries report too.
    """
    quantity = int(record["quantity"])
    changed = iso(last_updated(record))
    now = iso(state.now())
    return {
        "NotificationVersion": "1.0",
        "NotificationType": NOTIFICATION_TYPE,
        "PayloadVersion": "1.0",
        "EventTime": changed,
        "Payload": {
            "SellerId": state.credentials.seller_id,
            "FNSKU": fn_sku(record),
            "ASIN": record["asin"],
            "SKU": record["sku"],
            # One entry per marketplace the record's pool sells in (sandbox/amazon/pools.py).
            "FulfillmentInventoryByMarketplace": [
                {
                    "MarketplaceId": marketplace,
                    "ItemName": record["title"],
                    "FulfillmentInventory": {
                        "InboundQuantityBreakdown": {"Working": 0, "Shipped": 0, "Receiving": 0},
                        "Fulfillable": quantity,
                        "Unfulfillable": 0,
                        "Researching": 0,
                        "ReservedQuantityBreakdown": {
                            "WarehouseProcessing": 0,
                            "WarehouseTransfer": 0,
                            "PendingCustomerOrder": 0,
                        },
                        "FutureSupplyBuyable": 0,
                        "PendingCustomerOrderInTransit": 0,
                    },
                }
                for marketplace in marketplaces_in(
                    record["pool"], state.credentials.enabled_marketplaces
                )
            ],
        },
        "NotificationMetadata": {
            "ApplicationId": state.credentials.application_id,
            "SubscriptionId": SUBSCRIPTION_ID,
            "PublishTime": now,
            "NotificationId": _notification_id(state),
        },
    }


def _notification_id(state: AmazonState) -> str:
    with state.store.transaction():
        return str(uuid.UUID(int=state.rng.getrandbits(128), version=4))


def publish_availability_change(state: AmazonState, record: dict[str, Any]) -> None:
    """A stock observer (`AmazonState.stock_observers`): one notification per change, for
    stock in a pool the seller sells in."""
    if not marketplaces_in(record["pool"], state.credentials.enabled_marketplaces):
        return
    state.publish(NOTIFICATION_TYPE, availability_change(state, record))
