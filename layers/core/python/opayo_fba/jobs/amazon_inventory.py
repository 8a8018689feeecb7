"""Stock changes between the daily reports: FBA inventory summaries since a watermark, and the
FBA_INVENTORY_AVAILABILITY_CHANGES notification, both turned into `InventoryLevelChanged`.

Both paths, and the daily inventory report (`pipeline.inventory`), write the same per-SKU
levels (`store.inventory`) and publish the same event, so whichever sees a change first
announces it and the others find nothing newer:
- a level is taken as of the moment Amazon says the quantities changed (a summary's
  `lastUpdatedTime`, a notification's `EventTime`); an event goes out only when that is later
  than the stored level's and the quantities differ, and the write is conditional on it;
- the event is published before the level is stored: a crash in between repeats it (at least
  once), with the same `eventId` (`<account>#<sku>#<as of>`), so the ERP dedupes it;
- the poller's watermark moves only after every summary was applied, and each run reads
  again from `OVERLAP` before it (Amazon's change index, like Orders', may show a change late);
- the merchant's SKU mapping turns Amazon's seller SKU into the shop's SKU; a seller SKU the
  mapping does not list is reported in the result, never announced under Amazon's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from opayo_fba.convert.sku import SkuMapping, UnknownSkuError
from opayo_fba.errors import InvalidInputError
from opayo_fba.jobs.events import INVENTORY_LEVEL_CHANGED
from opayo_fba.jobs.inventory import inventory_level_changed_detail
from opayo_fba.saga.ports import EventPort
from opayo_fba.store.inventory import InventoryLevel, InventoryStore, level_changed
from opayo_fba.store.watermarks import WatermarkStore

INVENTORY_WATERMARK = "inventory-summaries"
OVERLAP = timedelta(minutes=2)
"""How far before the watermark each run reads again."""
INITIAL_LOOKBACK = timedelta(days=1)
"""Where the first run starts: the daily report covers what came before."""

Source = Literal["report", "inventory-summaries", "notification"]


class InventorySource(Protocol):
    """The part of the Amazon connector the inventory poller uses."""

    def inventory_summaries_changed_since(self, since: datetime) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class LevelsApplied:
    levels_seen: int
    levels_changed: int
    events_published: int
    unmapped_seller_skus: tuple[str, ...]


@dataclass(frozen=True)
class InventoryPollResult:
    seller_account: str
    since: datetime
    watermark: datetime
    summaries_seen: int
    levels_changed: int
    events_published: int
    unmapped_seller_skus: tuple[str, ...]


def _time(value: Any, field: str) -> datetime:
    if not value:
        raise InvalidInputError(f"{field} is missing")
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{field} {value!r} is not an ISO 8601 time") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _count(value: Any, field: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"{field} {value!r} is not a whole number of units")
    return value


def _internal_sku(skus: SkuMapping | None, seller_sku: str) -> str:
    return skus.internal_sku(seller_sku) if skus is not None else seller_sku


@dataclass(frozen=True)
class SellerLevel:
    """A level as Amazon names it (seller SKU), before the SKU mapping."""

    seller_sku: str
    asin: str | None
    product_name: str | None
    fulfillable: int
    unsellable: int
    reserved: int
    total: int
    as_of: datetime

    def for_shop(self, skus: SkuMapping | None) -> InventoryLevel:
        """UnknownSkuError when the mapping does not list the seller SKU."""
        return InventoryLevel(
            sku=_internal_sku(skus, self.seller_sku),
            seller_sku=self.seller_sku,
            asin=self.asin,
            product_name=self.product_name,
            fulfillable=self.fulfillable,
            unsellable=self.unsellable,
            reserved=self.reserved,
            total=self.total,
            as_of=self.as_of,
        )


def level_from_summary(summary: Mapping[str, Any], *, fallback_as_of: datetime) -> SellerLevel:
    """An FBA Inventory v1 `InventorySummary` (requested with details=true) as a level.

    `fallback_as_of` stands in for a summary without `lastUpdatedTime` (the model makes it
    optional): the time the poll started, so it is never older than what it reports.
    """
    seller_sku = str(summary.get("sellerSku") or "")
    if not seller_sku:
        raise InvalidInputError("inventory summary without sellerSku")
    details = summary.get("inventoryDetails") or {}
    fulfillable = _count(details.get("fulfillableQuantity"), "fulfillableQuantity")
    unsellable = _count(
        (details.get("unfulfillableQuantity") or {}).get("totalUnfulfillableQuantity"),
        "totalUnfulfillableQuantity",
    )
    reserved = _count(
        (details.get("reservedQuantity") or {}).get("totalReservedQuantity"),
        "totalReservedQuantity",
    )
    total = summary.get("totalQuantity")
    stamp = summary.get("lastUpdatedTime")
    return SellerLevel(
        seller_sku=seller_sku,
        asin=summary.get("asin") or None,
        product_name=summary.get("productName") or None,
        fulfillable=fulfillable,
        unsellable=unsellable,
        reserved=reserved,
        total=(
            _count(total, "totalQuantity")
            if total is not None
            else fulfillable + unsellable + reserved
        ),
        as_of=_time(stamp, "lastUpdatedTime") if stamp else fallback_as_of,
    )


def level_from_notification(
    payload: Mapping[str, Any], marketplace: Mapping[str, Any], event_time: datetime
) -> SellerLevel:
    """One `FulfillmentInventoryByMarketplace` entry of FBA_INVENTORY_AVAILABILITY_CHANGES.

    Reserved is the sum of `ReservedQuantityBreakdown`; total adds fulfillable, unfulfillable,
    researching, reserved and inbound (Working, Shipped, Receiving), as the summaries'
    `totalQuantity` counts units inbound or in Amazon's fulfillment centres.
    """
    inventory = marketplace.get("FulfillmentInventory") or {}
    fulfillable = _count(inventory.get("Fulfillable"), "Fulfillable")
    unsellable = _count(inventory.get("Unfulfillable"), "Unfulfillable")
    researching = _count(inventory.get("Researching"), "Researching")
    reserved = sum(
        _count(v, f"ReservedQuantityBreakdown.{k}")
        for k, v in (inventory.get("ReservedQuantityBreakdown") or {}).items()
    )
    inbound = sum(
        _count(v, f"InboundQuantityBreakdown.{k}")
        for k, v in (inventory.get("InboundQuantityBreakdown") or {}).items()
    )
    seller_sku = str(payload.get("SKU") or "")
    if not seller_sku:
        raise InvalidInputError("FBA_INVENTORY_AVAILABILITY_CHANGES without Payload.SKU")
    return SellerLevel(
        seller_sku=seller_sku,
        asin=payload.get("ASIN") or None,
        product_name=marketplace.get("ItemName") or None,
        fulfillable=fulfillable,
        unsellable=unsellable,
        reserved=reserved,
        total=fulfillable + unsellable + researching + reserved + inbound,
        as_of=event_time,
    )


def apply_levels(
    seller_levels: Iterable[SellerLevel],
    *,
    seller_account: str,
    store: InventoryStore,
    events: EventPort,
    skus: SkuMapping | None,
    source: Source,
) -> LevelsApplied:
    """Announce and store each level that is newer than the stored one and differs from it."""
    stored = store.levels(seller_account)
    seen = changed = published = 0
    unmapped: list[str] = []
    for seller_level in seller_levels:
        seen += 1
        try:
            level = seller_level.for_shop(skus)
        except UnknownSkuError:
            unmapped.append(seller_level.seller_sku)
            continue
        previous = stored.get(level.sku)
        if not level_changed(level, previous):
            continue
        events.publish(
            INVENTORY_LEVEL_CHANGED,
            inventory_level_changed_detail(seller_account, level, previous, source=source),
        )
        published += 1
        if store.put_if_newer(seller_account, level):
            changed += 1
            stored[level.sku] = level
    return LevelsApplied(seen, changed, published, tuple(dict.fromkeys(unmapped)))


def poll_amazon_inventory(
    connector: InventorySource,
    watermarks: WatermarkStore,
    seller_account: str,
    now: datetime,
    *,
    inventory: InventoryStore,
    events: EventPort,
    skus: SkuMapping | None = None,
    initial_lookback: timedelta = INITIAL_LOOKBACK,
) -> InventoryPollResult:
    """Summaries changed since the watermark (minus the overlap) -> levels and events."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    previous = watermarks.get(seller_account, INVENTORY_WATERMARK)
    since = previous - OVERLAP if previous is not None else now - initial_lookback
    summaries = connector.inventory_summaries_changed_since(since)
    applied = apply_levels(
        (level_from_summary(s, fallback_as_of=now) for s in summaries),
        seller_account=seller_account,
        store=inventory,
        events=events,
        skus=skus,
        source="inventory-summaries",
    )
    watermarks.advance(seller_account, INVENTORY_WATERMARK, now)
    return InventoryPollResult(
        seller_account=seller_account,
        since=since,
        watermark=max(now, previous) if previous is not None else now,
        summaries_seen=len(summaries),
        levels_changed=applied.levels_changed,
        events_published=applied.events_published,
        unmapped_seller_skus=applied.unmapped_seller_skus,
    )


if TYPE_CHECKING:
    from opayo_fba.amazon.connector import SpApiConnector

    def _connector_is_an_inventory_source(connector: SpApiConnector) -> InventorySource:
        return connector  # mypy checks the real connector against the protocol
