"""FBA_INVENTORY_AVAILABILITY_CHANGES from the Amazon notifications queue -> InventoryLevelChanged.

The notification names a seller SKU and its availability per marketplace. Each marketplace
entry is applied to the seller account this deployment serves it with (`sellerAccounts[]`
`marketplaceIds` in cdk.json), through that account's SKU mapping, exactly like a summary
the inventory poller reads (`polling.amazon_inventory.apply_levels`): only a newer, different
level is announced and stored. A marketplace no account of ours serves, or one that two
accounts list (we could not tell whose stock it is), is left to the poller, which reads each
account's own stock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opayo_fba.convert.sku import SkuMapping
from opayo_fba.errors import InvalidInputError
from opayo_fba.jobs.amazon_inventory import apply_levels, level_from_notification
from opayo_fba.saga.ports import EventPort
from opayo_fba.store.inventory import InventoryStore

NOTIFICATION_TYPE = "FBA_INVENTORY_AVAILABILITY_CHANGES"


@dataclass(frozen=True)
class InventoryNotificationDependencies:
    inventory: InventoryStore
    events: EventPort
    # Seller account -> the marketplace ids it serves (configuration).
    marketplaces: Mapping[str, frozenset[str]]
    # The seller account's SKU mapping, or None to keep Amazon's seller SKUs.
    skus: Callable[[str], SkuMapping | None]

    def account_for(self, marketplace_id: str) -> str | None:
        accounts = [a for a, ids in self.marketplaces.items() if marketplace_id in ids]
        return accounts[0] if len(accounts) == 1 else None


@dataclass(frozen=True)
class InventoryNotificationResult:
    events_published: int
    unmapped_seller_skus: tuple[str, ...]
    marketplaces_not_ours: tuple[str, ...]


def _event_time(message: Mapping[str, Any]) -> datetime:
    value = message.get("EventTime")
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{NOTIFICATION_TYPE} EventTime {value!r} is not a time") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def apply_inventory_notification(
    message: Mapping[str, Any], deps: InventoryNotificationDependencies
) -> InventoryNotificationResult:
    payload = message.get("Payload")
    if not isinstance(payload, Mapping):
        raise InvalidInputError(f"{NOTIFICATION_TYPE} without a Payload object")
    entries = payload.get("FulfillmentInventoryByMarketplace")
    if not isinstance(entries, list):
        raise InvalidInputError(f"{NOTIFICATION_TYPE} without FulfillmentInventoryByMarketplace")
    event_time = _event_time(message)
    published = 0
    unmapped: list[str] = []
    not_ours: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise InvalidInputError("FulfillmentInventoryByMarketplace entries must be objects")
        marketplace_id = str(entry.get("MarketplaceId") or "")
        account = deps.account_for(marketplace_id)
        if account is None:
            not_ours.append(marketplace_id)
            continue
        applied = apply_levels(
            [level_from_notification(payload, entry, event_time)],
            seller_account=account,
            store=deps.inventory,
            events=deps.events,
            skus=deps.skus(account),
            source="notification",
        )
        published += applied.events_published
        unmapped.extend(applied.unmapped_seller_skus)
    return InventoryNotificationResult(published, tuple(unmapped), tuple(not_ours))
