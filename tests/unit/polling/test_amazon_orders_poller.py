"""poll_amazon_orders with an in-memory Amazon and moto tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opayo_fba.amazon.errors import SpApiUnavailable, Throttled
from opayo_fba.amazon.results import OrdersUpdate
from opayo_fba.convert.sku import SkuMapping
from opayo_fba.jobs.amazon_orders import (
    INITIAL_LOOKBACK,
    ORDERS_WATERMARK,
    OVERLAP,
    poll_amazon_orders,
)
from opayo_fba.jobs.events import ORDER_STATUS_CHANGED
from opayo_fba.store.amazon_orders import AmazonOrderStore
from opayo_fba.store.watermarks import WatermarkStore
from tests.unit.polling.support import RecordingEvents

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ACCOUNT = "uk-main"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def amazon_order(order_id: str, updated: datetime, status: str = "Unshipped") -> dict[str, Any]:
    return {
        "AmazonOrderId": order_id,
        "PurchaseDate": _iso(updated - timedelta(hours=1)),
        "LastUpdateDate": _iso(updated),
        "OrderStatus": status,
        "FulfillmentChannel": "AFN",
        "SalesChannel": "Amazon.co.uk",
        "MarketplaceId": "A1F83G8C2ARO7P",
        "OrderTotal": {"CurrencyCode": "GBP", "Amount": "12.99"},
    }


def order_item(sku: str = "AMZ-MUG") -> dict[str, Any]:
    return {
        "ASIN": "B000000001",
        "SellerSKU": sku,
        "OrderItemId": "1",
        "QuantityOrdered": 1,
        "ItemPrice": {"CurrencyCode": "GBP", "Amount": "12.99"},
    }


@dataclass
class FakeAmazon:
    """Orders v0 in memory: `orders` by id, `items` by id, answers as of `now`."""

    now: datetime = NOW
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    queries: list[datetime] = field(default_factory=list)
    item_calls: list[str] = field(default_factory=list)
    fail_items_for: set[str] = field(default_factory=set)
    throttle_orders: bool = False
    marketplaces: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, order: dict[str, Any], sku: str = "AMZ-MUG") -> None:
        self.orders[order["AmazonOrderId"]] = order
        self.items[order["AmazonOrderId"]] = [order_item(sku)]

    def orders_updated_since(
        self, since: datetime, marketplace_ids: Sequence[str] = ()
    ) -> OrdersUpdate:
        if self.throttle_orders:
            raise Throttled("getOrders", 1.0)
        self.queries.append(since)
        self.marketplaces.append(tuple(marketplace_ids))
        found = [
            o
            for o in self.orders.values()
            if since <= datetime.fromisoformat(o["LastUpdateDate"].replace("Z", "+00:00"))
        ]
        return OrdersUpdate(orders=found, last_updated_before=self.now)

    def order_items(self, amazon_order_id: str) -> list[dict[str, Any]]:
        self.item_calls.append(amazon_order_id)
        if amazon_order_id in self.fail_items_for:
            raise SpApiUnavailable("getOrderItems", 503, "ServiceUnavailable", "try later")
        return self.items[amazon_order_id]


@pytest.fixture
def stores(orders_table: Any, state_table: Any) -> tuple[AmazonOrderStore, WatermarkStore]:
    return AmazonOrderStore(orders_table), WatermarkStore(state_table)


def poll(
    amazon: FakeAmazon,
    stores: tuple[AmazonOrderStore, WatermarkStore],
    events: RecordingEvents,
    **kw: Any,
) -> Any:
    orders, marks = stores
    return poll_amazon_orders(
        amazon, marks, ACCOUNT, amazon.now, orders=orders, events=events, **kw
    )


def test_first_run_stores_orders_announces_them_and_sets_the_watermark(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents()
    amazon.add(amazon_order("202-1", NOW - timedelta(hours=3)))
    amazon.add(amazon_order("202-2", NOW - timedelta(hours=2), "Shipped"))
    result = poll(amazon, stores, events)
    assert amazon.queries == [NOW - INITIAL_LOOKBACK]
    assert (result.orders_seen, result.orders_stored, result.events_published) == (2, 2, 2)
    stored = stores[0].find("202-2")
    assert stored is not None
    assert stored.order is not None
    assert stored.order.lines[0].seller_sku == "AMZ-MUG"
    assert stored.status is not None
    assert stored.status.value == "shipped"
    assert stores[1].get(ACCOUNT, ORDERS_WATERMARK) == NOW
    shipped = next(e for e in events.of(ORDER_STATUS_CHANGED) if e["orderId"] == "202-2")
    assert shipped["status"] == "shipped"
    assert shipped["previousStatus"] is None
    assert shipped["sourceStatus"] == "Shipped"
    assert shipped["channel"] == "amazon"
    assert "BuyerInfo" not in str(shipped)


def test_every_marketplace_the_schedule_names_is_polled(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents()
    poll(amazon, stores, events, marketplace_ids=("A1PA6795UKMFR9", "A13V1IB3VIYZZH"))
    poll(amazon, stores, events)
    assert amazon.marketplaces == [("A1PA6795UKMFR9", "A13V1IB3VIYZZH"), ()]


def test_the_next_run_reads_from_the_watermark_minus_the_overlap_and_repeats_nothing(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents()
    amazon.add(amazon_order("202-1", NOW - timedelta(seconds=30)))
    poll(amazon, stores, events)
    amazon.now = NOW + timedelta(minutes=5)
    amazon.item_calls.clear()
    result = poll(amazon, stores, events)
    assert amazon.queries[-1] == NOW - OVERLAP
    # The order inside the overlap is read again, and costs nothing more.
    assert (result.orders_seen, result.orders_stored, result.orders_unchanged) == (1, 0, 1)
    assert amazon.item_calls == []
    assert len(events.published) == 1
    assert result.watermark == NOW + timedelta(minutes=5)


def test_a_status_change_is_stored_and_announced_with_the_previous_status(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents()
    amazon.add(amazon_order("202-1", NOW - timedelta(hours=1)))
    poll(amazon, stores, events)
    amazon.now = NOW + timedelta(hours=1)
    amazon.orders["202-1"] = amazon_order("202-1", NOW + timedelta(minutes=30), "Shipped")
    result = poll(amazon, stores, events)
    assert result.orders_stored == 1
    changed = events.of(ORDER_STATUS_CHANGED)[-1]
    assert (changed["previousStatus"], changed["status"]) == ("fulfilment_pending", "shipped")
    stored = stores[0].find("202-1")
    assert stored is not None
    assert stored.source_status == "Shipped"


def test_an_update_that_does_not_change_the_status_is_stored_without_an_event(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents()
    amazon.add(amazon_order("202-1", NOW - timedelta(hours=1)))
    poll(amazon, stores, events)
    amazon.now = NOW + timedelta(hours=1)
    amazon.orders["202-1"] = amazon_order("202-1", NOW + timedelta(minutes=30))
    result = poll(amazon, stores, events)
    assert (result.orders_stored, result.events_published) == (1, 0)
    stored = stores[0].find("202-1")
    assert stored is not None
    assert stored.last_update == NOW + timedelta(minutes=30)


def test_a_crash_mid_run_keeps_the_watermark_and_the_retry_loses_nothing(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents()
    amazon.add(amazon_order("202-1", NOW - timedelta(hours=2)))
    amazon.add(amazon_order("202-2", NOW - timedelta(hours=1)))
    amazon.fail_items_for = {"202-2"}
    with pytest.raises(SpApiUnavailable):
        poll(amazon, stores, events)
    assert stores[1].get(ACCOUNT, ORDERS_WATERMARK) is None
    assert stores[0].find("202-1") is not None
    assert stores[0].find("202-2") is None

    amazon.fail_items_for = set()
    result = poll(amazon, stores, events)
    assert amazon.queries[-1] == NOW - INITIAL_LOOKBACK  # the same window again
    assert (result.orders_stored, result.orders_unchanged) == (1, 1)
    assert stores[0].find("202-2") is not None
    assert sorted(e["orderId"] for e in events.of(ORDER_STATUS_CHANGED)) == ["202-1", "202-2"]
    assert stores[1].get(ACCOUNT, ORDERS_WATERMARK) == NOW


def test_an_event_bus_failure_leaves_the_order_unstored_so_the_retry_announces_it(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents(fail_next=True)
    amazon.add(amazon_order("202-1", NOW - timedelta(hours=2)))
    with pytest.raises(RuntimeError, match="event bus"):
        poll(amazon, stores, events)
    assert stores[0].find("202-1") is None
    poll(amazon, stores, events)
    assert [e["orderId"] for e in events.of(ORDER_STATUS_CHANGED)] == ["202-1"]


def test_throttled_listing_changes_nothing(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(throttle_orders=True), RecordingEvents()
    with pytest.raises(Throttled):
        poll(amazon, stores, events)
    assert stores[1].get(ACCOUNT, ORDERS_WATERMARK) is None
    assert events.published == []


def test_an_order_with_an_unmapped_sku_is_kept_with_the_reason_and_does_not_block(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents()
    amazon.add(amazon_order("202-1", NOW - timedelta(hours=2)), sku="AMZ-MUG")
    amazon.add(amazon_order("202-2", NOW - timedelta(hours=1)), sku="AMZ-UNKNOWN")
    skus = SkuMapping.from_pairs({"MUG-1": "AMZ-MUG"})
    result = poll(amazon, stores, events, skus=skus)
    assert result.unconvertible == ("202-2",)
    bad = stores[0].find("202-2")
    assert bad is not None
    assert bad.order is None
    assert bad.error is not None
    assert "AMZ-UNKNOWN" in bad.error
    good = stores[0].find("202-1")
    assert good is not None
    assert good.order is not None
    assert good.order.lines[0].sku == "MUG-1"
    assert [e["orderId"] for e in events.of(ORDER_STATUS_CHANGED)] == ["202-1"]
    assert stores[1].get(ACCOUNT, ORDERS_WATERMARK) == NOW


def test_an_older_copy_never_overwrites_a_newer_one(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents()
    amazon.add(amazon_order("202-1", NOW - timedelta(seconds=30), "Shipped"))
    poll(amazon, stores, events)
    # A stale replica answers with the older version of the order (inside the overlap).
    amazon.orders["202-1"] = amazon_order("202-1", NOW - timedelta(seconds=90), "Unshipped")
    amazon.now = NOW + timedelta(minutes=1)
    result = poll(amazon, stores, events)
    assert result.orders_unchanged == 1
    stored = stores[0].find("202-1")
    assert stored is not None
    assert stored.source_status == "Shipped"


def test_now_must_be_aware(stores: tuple[AmazonOrderStore, WatermarkStore]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        poll_amazon_orders(
            FakeAmazon(),
            stores[1],
            ACCOUNT,
            datetime(2026, 11, 28),  # noqa: DTZ001 - the naive value under test
            orders=stores[0],
            events=RecordingEvents(),
        )


def test_a_run_stops_after_max_new_orders_and_the_next_run_carries_on(
    stores: tuple[AmazonOrderStore, WatermarkStore],
) -> None:
    amazon, events = FakeAmazon(), RecordingEvents()
    for minute in range(5):
        amazon.add(
            amazon_order(f"202-{minute}", NOW - timedelta(hours=5) + timedelta(minutes=minute))
        )
    first = poll(amazon, stores, events, max_new_orders=2)
    assert (first.orders_stored, first.complete) == (2, False)
    # The watermark stops at the first order left behind, never past it.
    assert stores[1].get(ACCOUNT, ORDERS_WATERMARK) == NOW - timedelta(hours=5, minutes=-2)
    second = poll(amazon, stores, events, max_new_orders=2)
    third = poll(amazon, stores, events, max_new_orders=2)
    assert (second.orders_stored, third.orders_stored, third.complete) == (2, 1, True)
    assert stores[1].get(ACCOUNT, ORDERS_WATERMARK) == NOW
    assert sorted(e["orderId"] for e in events.of(ORDER_STATUS_CHANGED)) == [
        f"202-{minute}" for minute in range(5)
    ]
    assert sorted(amazon.item_calls) == [f"202-{minute}" for minute in range(5)]
