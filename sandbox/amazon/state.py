"""The Amazon sandbox's state and the clock-driven engine that moves it on.

State lives in a `StateStore` (memory, optionally SQLite) under these kinds:
  inventory, access_token, fulfillment_order, order, report, document, meta,
  package, fulfillment_return (after_sale.py).
`sync()` runs every registered ticker up to the sandbox clock's "now"; it is called before each
API call, after each clock jump and by a background thread, so the state a client sees is the
same whichever of them got there first.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.amazon.options import AmazonSandboxOptions
from sandbox.amazon.pools import inventory_key, pool_of
from sandbox.amazon.timefmt import iso
from sandbox.common.clock import SandboxClock
from sandbox.common.store import StateStore

Ticker = Callable[["AmazonState", datetime], None]
# Records that may still change on their own as the clock runs (so tickers skip the rest).
_IN_FLIGHT: dict[str, Callable[[dict[str, Any]], bool]] = {
    "fulfillment_order": lambda r: (
        r["order"]["fulfillmentOrderStatus"] in ("Received", "Planning", "Processing")
    ),
    "report": lambda r: r["processingStatus"] in ("IN_QUEUE", "IN_PROGRESS"),
    "package": lambda r: not r["final"],
    "fulfillment_return": lambda r: any(i["status"] == "New" for i in r["items"]),
}
Publisher = Callable[[str, dict[str, Any]], None]
# Called with a stock record whose quantity has just changed (inventory.py publishes from it).
StockObserver = Callable[["AmazonState", dict[str, Any]], None]


@dataclass
class ApiCall:
    """One SP-API call as a handler sees it, after authentication."""

    operation_id: str
    path_params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    seller_id: str
    base_url: str
    # Data elements the caller's Restricted Data Token grants for this path (empty: no PII).
    restricted_elements: frozenset[str] = field(default_factory=frozenset)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def param_list(self, name: str) -> list[str]:
        """A list parameter, sent CSV-style (`A,B`) or repeated (`x=A&x=B`)."""
        items: list[str] = []
        for value in self.query.get(name, []):
            items.extend(part.strip() for part in value.split(",") if part.strip())
        return items


class AmazonState:
    def __init__(
        self, options: AmazonSandboxOptions, clock: SandboxClock, store: StateStore
    ) -> None:
        self.options = options
        self.credentials = options.credentials
        self.clock = clock
        self.store = store
        self.rng = random.Random(options.seed)
        self.tickers: list[Ticker] = []
        self._publishers: list[Publisher] = []
        self.stock_observers: list[StockObserver] = []
        self._sync_lock = threading.RLock()
        self._synced_to: datetime | None = None
        if not store.keys("inventory"):
            started = iso(clock.now())
            for stock in options.skus:
                pool = stock.pool or self.home_pool
                stock_record = {
                    **stock.model_dump(mode="json"),
                    "pool": pool,
                    "last_updated": started,
                }
                store.put("inventory", inventory_key(pool, stock.sku), stock_record)
        self._in_flight: dict[str, set[str]] = {
            kind: {
                key
                for key in store.keys(kind)
                if (record := store.get(kind, key)) is not None and is_open(record)
            }
            for kind, is_open in _IN_FLIGHT.items()
        }
        if store.get("meta", "settlement") is None:
            store.put("meta", "settlement", {"last_close": clock.now().timestamp()})

    # ---- identifiers -------------------------------------------------------------------
    def next_number(self, counter: str) -> int:
        with self.store.transaction():
            counters = self.store.get("meta", "counters") or {}
            value = int(counters.get(counter, 0)) + 1
            counters[counter] = value
            self.store.put("meta", "counters", counters)
            return value

    def random_digits(self, count: int) -> str:
        with self.store.transaction():
            return "".join(str(self.rng.randrange(10)) for _ in range(count))

    def amazon_order_id(self) -> str:
        return f"026-{self.random_digits(7)}-{self.random_digits(7)}"

    def token(self, prefix: str) -> str:
        with self.store.transaction():
            return prefix + "".join(
                self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(32)
            )

    # ---- records still in flight -------------------------------------------------------
    def track(self, kind: str, key: str) -> None:
        with self.store.transaction():
            self._in_flight[kind].add(key)

    def untrack(self, kind: str, key: str) -> None:
        with self.store.transaction():
            self._in_flight[kind].discard(key)

    def in_flight(self, kind: str) -> list[dict[str, Any]]:
        """The records of `kind` that may still move on, in key order."""
        with self.store.transaction():
            records = (self.store.get(kind, key) for key in sorted(self._in_flight[kind]))
            return [record for record in records if record is not None]

    # ---- inventory ---------------------------------------------------------------------
    @property
    def home_pool(self) -> str:
        return pool_of(self.credentials.marketplace_id)

    def pool_for(self, marketplace_id: str | None) -> str:
        """The pool a marketplace's orders draw on (the home pool when none is named)."""
        return pool_of(marketplace_id) if marketplace_id else self.home_pool

    def inventory(self, sku: str, pool: str | None = None) -> dict[str, Any] | None:
        """The stock of `sku` in `pool` (default: the home marketplace's pool)."""
        return self.store.get("inventory", inventory_key(pool or self.home_pool, sku))

    def stock_in(self, pool: str) -> list[dict[str, Any]]:
        """Every stock record of a pool, by SKU."""
        records = (r for r in self.store.all("inventory") if r["pool"] == pool)
        return sorted(records, key=lambda r: r["sku"])

    def catalog_item(self, sku: str) -> dict[str, Any] | None:
        """The SKU's record in any pool (its catalog data: title, fees, weight)."""
        return self.inventory(sku) or next(
            (r for r in self.store.all("inventory") if r["sku"] == sku), None
        )

    def set_inventory(self, sku: str, quantity: int, pool: str | None = None) -> None:
        key = inventory_key(pool or self.home_pool, sku)
        with self.store.transaction():
            record = self.store.get("inventory", key)
            if record is None:
                raise KeyError(sku)
            if record["quantity"] == quantity:
                return
            record["quantity"] = quantity
            # When the quantity last changed: getInventorySummaries' lastUpdatedTime.
            record["last_updated"] = iso(self.clock.now())
            self.store.put("inventory", key, record)
            for observer in self.stock_observers:
                observer(self, record)

    # ---- notifications -----------------------------------------------------------------
    def subscribe(self, publisher: Publisher) -> None:
        self._publishers.append(publisher)

    def publish(self, notification_type: str, body: dict[str, Any]) -> None:
        for publisher in self._publishers:
            publisher(notification_type, body)

    # ---- time --------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def sync(self) -> None:
        """Move every state machine on to the sandbox clock's current time."""
        with self._sync_lock, self.store.transaction():
            now = self.clock.now()
            if now == self._synced_to:
                return  # a frozen clock: nothing can have become due
            for ticker in self.tickers:
                ticker(self, now)
            self._synced_to = now
