"""Inventory changes between reports: summaries since a watermark and the availability
notification, mapped to the shop's SKUs, announced once per change (moto DynamoDB)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opayo_fba.convert.sku import SkuMapping
from opayo_fba.errors import InvalidInputError
from opayo_fba.intake.amazon_events import handle_amazon_notification
from opayo_fba.intake.amazon_inventory import InventoryNotificationDependencies
from opayo_fba.jobs.amazon_inventory import (
    INITIAL_LOOKBACK,
    INVENTORY_WATERMARK,
    OVERLAP,
    poll_amazon_inventory,
)
from opayo_fba.jobs.events import INVENTORY_LEVEL_CHANGED
from opayo_fba.jobs.inventory import apply_inventory_report
from opayo_fba.store.inventory import InventoryStore
from opayo_fba.store.watermarks import WatermarkStore
from tests.unit.pipeline.test_inventory import report
from tests.unit.polling.support import RecordingEvents

ACCOUNT = "uk-main"
UK = "A1F83G8C2ARO7P"
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SKUS = SkuMapping.from_pairs({"MUG-BLUE": "AMZ-MUG-BLUE", "MUG-RED": "AMZ-MUG-RED"})
SAMPLE = (
    Path(__file__).resolve().parents[3]
    / "events"
    / "amazon_notifications.fba_inventory_availability_changes.json"
)


def summary(seller_sku: str, fulfillable: int, changed: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "sellerSku": seller_sku,
        "asin": "B0SANDBX01",
        "productName": "Tasse émaillée – Enamel mug™",
        "lastUpdatedTime": changed.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "totalQuantity": fulfillable + 1,
        "inventoryDetails": {
            "fulfillableQuantity": fulfillable,
            "reservedQuantity": {"totalReservedQuantity": 1},
            "unfulfillableQuantity": {"totalUnfulfillableQuantity": 0},
        },
        **extra,
    }


@dataclass
class FakeInventory:
    summaries: list[dict[str, Any]] = field(default_factory=list)
    asked_since: list[datetime] = field(default_factory=list)

    def inventory_summaries_changed_since(self, since: datetime) -> list[dict[str, Any]]:
        self.asked_since.append(since)
        return [
            s
            for s in self.summaries
            if s["lastUpdatedTime"] >= since.strftime("%Y-%m-%dT%H:%M:%SZ")
        ]


@dataclass
class World:
    amazon: FakeInventory
    watermarks: WatermarkStore
    inventory: InventoryStore
    events: RecordingEvents

    def poll(self, now: datetime, skus: SkuMapping | None = SKUS) -> Any:
        return poll_amazon_inventory(
            self.amazon,
            self.watermarks,
            ACCOUNT,
            now,
            inventory=self.inventory,
            events=self.events,
            skus=skus,
        )

    def notify(
        self, message: dict[str, Any], marketplaces: dict[str, frozenset[str]] | None = None
    ) -> Any:
        deps = InventoryNotificationDependencies(
            inventory=self.inventory,
            events=self.events,
            marketplaces=marketplaces or {ACCOUNT: frozenset({UK})},
            skus=lambda account: SKUS if account == ACCOUNT else None,
        )
        return handle_amazon_notification(message, store=None, inventory=deps)  # type: ignore[arg-type]


@pytest.fixture
def world(state_table: Any) -> World:
    return World(
        FakeInventory(), WatermarkStore(state_table), InventoryStore(state_table), RecordingEvents()
    )


def notification(
    seller_sku: str, fulfillable: int, at: datetime, marketplace: str = UK
) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(
        json.loads(SAMPLE.read_text("utf-8"))["Records"][0]["body"]
    )
    message["EventTime"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    message["Payload"]["SKU"] = seller_sku
    (entry,) = message["Payload"]["FulfillmentInventoryByMarketplace"]
    entry["MarketplaceId"] = marketplace
    entry["FulfillmentInventory"]["Fulfillable"] = fulfillable
    message["NotificationMetadata"]["NotificationId"] = f"n-{seller_sku}-{fulfillable}-{at:%H%M%S}"
    return message


def test_the_first_run_looks_back_a_day_and_announces_each_change_with_the_shop_sku(
    world: World,
) -> None:
    world.amazon.summaries = [summary("AMZ-MUG-BLUE", 7, NOW - timedelta(minutes=3))]
    result = world.poll(NOW)
    assert world.amazon.asked_since == [NOW - INITIAL_LOOKBACK]
    (event,) = world.events.of(INVENTORY_LEVEL_CHANGED)
    assert (event["sku"], event["sellerSku"], event["fulfillable"]) == (
        "MUG-BLUE",
        "AMZ-MUG-BLUE",
        7,
    )
    assert (event["reserved"], event["total"], event["source"]) == (1, 8, "inventory-summaries")
    assert event["productName"] == "Tasse émaillée – Enamel mug™"
    assert event["eventId"] == f"{ACCOUNT}#MUG-BLUE#{(NOW - timedelta(minutes=3)).isoformat()}"
    assert world.inventory.levels(ACCOUNT)["MUG-BLUE"].fulfillable == 7
    assert world.watermarks.get(ACCOUNT, INVENTORY_WATERMARK) == NOW
    assert (result.summaries_seen, result.events_published) == (1, 1)


def test_the_next_run_reads_from_the_watermark_less_the_overlap_and_repeats_nothing(
    world: World,
) -> None:
    world.amazon.summaries = [summary("AMZ-MUG-BLUE", 7, NOW - timedelta(seconds=30))]
    world.poll(NOW)
    later = NOW + timedelta(minutes=5)
    again = world.poll(later)
    assert world.amazon.asked_since[-1] == NOW - OVERLAP
    assert again.summaries_seen == 1  # read again in the overlap ...
    assert len(world.events.of(INVENTORY_LEVEL_CHANGED)) == 1  # ... and not announced again
    world.amazon.summaries.append(summary("AMZ-MUG-BLUE", 3, later + timedelta(seconds=10)))
    world.poll(later + timedelta(minutes=5))
    assert [e["fulfillable"] for e in world.events.of(INVENTORY_LEVEL_CHANGED)] == [7, 3]
    assert world.events.of(INVENTORY_LEVEL_CHANGED)[-1]["previousFulfillable"] == 7


def test_a_seller_sku_the_mapping_lacks_is_reported_never_announced(world: World) -> None:
    world.amazon.summaries = [
        summary("AMZ-UNKNOWN", 4, NOW - timedelta(minutes=1)),
        summary("AMZ-MUG-RED", 2, NOW - timedelta(minutes=1)),
    ]
    result = world.poll(NOW)
    assert result.unmapped_seller_skus == ("AMZ-UNKNOWN",)
    assert [e["sku"] for e in world.events.of(INVENTORY_LEVEL_CHANGED)] == ["MUG-RED"]


def test_without_a_mapping_amazon_seller_skus_are_the_shop_skus(world: World) -> None:
    world.amazon.summaries = [summary("AMZ-UNKNOWN", 4, NOW - timedelta(minutes=1))]
    world.poll(NOW, skus=None)
    assert [e["sku"] for e in world.events.of(INVENTORY_LEVEL_CHANGED)] == ["AMZ-UNKNOWN"]


def test_a_failed_publish_leaves_the_watermark_and_the_level_so_the_next_run_repeats_it(
    world: World,
) -> None:
    world.amazon.summaries = [summary("AMZ-MUG-BLUE", 7, NOW - timedelta(minutes=1))]
    world.events.fail_next = True
    with pytest.raises(RuntimeError):
        world.poll(NOW)
    assert world.watermarks.get(ACCOUNT, INVENTORY_WATERMARK) is None
    assert world.inventory.levels(ACCOUNT) == {}
    world.poll(NOW + timedelta(minutes=5))
    assert len(world.events.of(INVENTORY_LEVEL_CHANGED)) == 1


def test_a_bad_quantity_is_refused_naming_it(world: World) -> None:
    bad = summary("AMZ-MUG-BLUE", 7, NOW)
    bad["inventoryDetails"]["fulfillableQuantity"] = -1
    world.amazon.summaries = [bad]
    with pytest.raises(InvalidInputError, match="fulfillableQuantity"):
        world.poll(NOW)
    assert world.events.published == []


def test_a_notification_announces_the_change_once_with_the_shop_sku(world: World) -> None:
    message = notification("AMZ-MUG-BLUE", 97, NOW)
    first = world.notify(message)
    assert (first.outcome, first.notification_type) == (
        "applied",
        "FBA_INVENTORY_AVAILABILITY_CHANGES",
    )
    (event,) = world.events.of(INVENTORY_LEVEL_CHANGED)
    # 97 fulfillable, 1 unfulfillable, 2 reserved, 12 inbound (the sample's breakdown).
    assert (event["sku"], event["fulfillable"], event["unsellable"], event["reserved"]) == (
        "MUG-BLUE", 97, 1, 2,
    )  # fmt: skip
    assert (event["total"], event["source"]) == (112, "notification")
    assert event["productName"] == "Tasse émaillée bleue – Enamel mug™"
    assert world.notify(message).outcome == "stale"  # delivered twice: nothing more
    assert len(world.events.of(INVENTORY_LEVEL_CHANGED)) == 1


def test_a_notification_older_than_the_stored_level_changes_nothing(world: World) -> None:
    world.notify(notification("AMZ-MUG-BLUE", 50, NOW))
    late = world.notify(notification("AMZ-MUG-BLUE", 60, NOW - timedelta(minutes=1)))
    assert late.outcome == "stale"
    assert world.inventory.levels(ACCOUNT)["MUG-BLUE"].fulfillable == 50


def test_the_poller_does_not_repeat_what_a_notification_announced(world: World) -> None:
    changed = NOW - timedelta(minutes=1)
    world.notify(notification("AMZ-MUG-BLUE", 97, changed))
    world.amazon.summaries = [summary("AMZ-MUG-BLUE", 97, changed)]
    world.poll(NOW)
    assert len(world.events.of(INVENTORY_LEVEL_CHANGED)) == 1


@pytest.mark.parametrize(
    ("marketplaces", "seller_sku"),
    [
        ({ACCOUNT: frozenset({"A1PM49TKAA8A7P"})}, "AMZ-MUG-BLUE"),  # not a marketplace of ours
        ({ACCOUNT: frozenset({UK}), "uk-two": frozenset({UK})}, "AMZ-MUG-BLUE"),  # ambiguous
        ({ACCOUNT: frozenset({UK})}, "AMZ-NOT-MAPPED"),
    ],
)
def test_a_notification_we_cannot_attribute_is_ignored(
    world: World, marketplaces: dict[str, frozenset[str]], seller_sku: str
) -> None:
    result = world.notify(notification(seller_sku, 5, NOW), marketplaces)
    assert result.outcome == "ignored"
    assert world.events.published == []
    assert world.inventory.levels(ACCOUNT) == {}


def test_a_report_level_newer_than_a_summary_wins(world: World) -> None:
    apply_inventory_report(
        report(("AMZ-MUG-BLUE", 9, 0, 0)),
        source="inventory.tsv",
        seller_account=ACCOUNT,
        report_id="R1",
        as_of=NOW,
        store=world.inventory,
        events=world.events,
        skus=SKUS,
    )
    world.amazon.summaries = [summary("AMZ-MUG-BLUE", 4, NOW - timedelta(minutes=1))]
    world.poll(NOW + timedelta(minutes=1))
    assert [e["source"] for e in world.events.of(INVENTORY_LEVEL_CHANGED)] == ["report"]
    assert world.inventory.levels(ACCOUNT)["MUG-BLUE"].fulfillable == 9
