"""Poll Amazon Orders v0 since a watermark, store canonical orders, announce status changes.

Why the order of steps matters:
- the watermark moves only after every order of the run was stored, so a crash (or a
  throttled page) makes the next run read the same window again: nothing is lost;
- each run reads from the watermark minus an overlap, because Amazon's `LastUpdatedAfter`
  index is eventually consistent and a just-updated order can appear late;
- storing is idempotent (keyed on the order, conditional on `LastUpdateDate`), so orders seen
  twice cost a read and nothing else (no item call, no write, no event);
- an OrderStatusChanged event is published before the order is stored: a crash in between
  publishes it again on the next run (at least once; consumers dedupe on `eventId`), while
  the other order would lose it;
- a run converts at most `max_new_orders` new or changed orders (each costs a getOrderItems
  call, the scarcest rate); orders are taken oldest first and the watermark stops at the first
  one left, so a backlog drains over a few runs instead of timing out every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from opayo_fba.amazon.results import OrdersUpdate
from opayo_fba.convert.orders_v0 import order_from_orders_v0
from opayo_fba.convert.sku import SkuMapping, UnknownSkuError
from opayo_fba.errors import InvalidInputError
from opayo_fba.jobs.events import ORDER_STATUS_CHANGED
from opayo_fba.model import OrderStatus
from opayo_fba.saga.ports import EventPort
from opayo_fba.store.amazon_orders import AmazonOrderRecord, AmazonOrderStore
from opayo_fba.store.watermarks import WatermarkStore

ORDERS_WATERMARK = "orders"
OVERLAP = timedelta(minutes=2)
"""How far before the watermark each run starts reading again."""
INITIAL_LOOKBACK = timedelta(days=1)
"""Where the very first run starts (no watermark yet)."""
MAX_NEW_ORDERS_PER_RUN = 100
"""getOrderItems allows 0.5 requests a second (burst 30): about 170 s for 100 new orders, inside
the poller's 300 s. A run that stops there moves the watermark only up to the first order it
left, so the next run carries on from it."""


class OrdersSource(Protocol):
    """The part of the Amazon connector this poller uses."""

    def orders_updated_since(
        self, since: datetime, marketplace_ids: Sequence[str] = ()
    ) -> OrdersUpdate: ...

    def order_items(self, amazon_order_id: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class PollResult:
    seller_account: str
    since: datetime
    """Where this run started reading (previous watermark minus the overlap)."""
    watermark: datetime
    """The watermark after this run."""
    orders_seen: int
    orders_stored: int
    orders_unchanged: int
    events_published: int
    unconvertible: tuple[str, ...]
    """AmazonOrderIds stored with an error instead of a canonical order."""
    complete: bool = True
    """False when the run stopped at `max_new_orders`; the next run continues."""


def _time(value: Any, field: str) -> datetime:
    if not value:
        raise InvalidInputError(f"{field} is missing")
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{field} {value!r} is not an ISO 8601 time") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def order_status_changed_detail(
    record: AmazonOrderRecord, previous: OrderStatus | None
) -> dict[str, Any]:
    """The canonical OrderStatusChanged detail: ids and statuses, no buyer data."""
    assert record.status is not None
    return {
        "eventId": f"{record.amazon_order_id}#{record.last_update.isoformat()}",
        "orderId": record.amazon_order_id,
        "channel": "amazon",
        "sellerAccount": record.seller_account,
        "status": record.status.value,
        "previousStatus": previous.value if previous is not None else None,
        "sourceStatus": record.source_status,
        "updatedAt": record.last_update.isoformat(),
    }


def _convert(
    connector: OrdersSource,
    raw: Mapping[str, Any],
    seller_account: str,
    last_update: datetime,
    skus: SkuMapping | None,
) -> AmazonOrderRecord:
    order_id = str(raw["AmazonOrderId"])
    source_status = str(raw.get("OrderStatus") or "")
    try:
        items = connector.order_items(order_id)
        order = order_from_orders_v0(raw, items, skus=skus)
    except (InvalidInputError, UnknownSkuError) as error:
        # Amazon answered, but we cannot read it (e.g. a SKU missing from the mapping):
        # keep the order with the reason rather than block every later order behind it.
        # (SpApiRequestRejected is an InvalidInputError too: a 400 will not heal on retry.)
        return AmazonOrderRecord(
            amazon_order_id=order_id,
            seller_account=seller_account,
            last_update=last_update,
            source_status=source_status,
            error=str(error),
        )
    return AmazonOrderRecord(
        amazon_order_id=order_id,
        seller_account=seller_account,
        last_update=last_update,
        source_status=source_status,
        status=order.status,
        order=order,
    )


def poll_amazon_orders(
    connector: OrdersSource,
    watermarks: WatermarkStore,
    seller_account: str,
    now: datetime,
    *,
    orders: AmazonOrderStore,
    events: EventPort,
    skus: SkuMapping | None = None,
    marketplace_ids: Sequence[str] = (),
    overlap: timedelta = OVERLAP,
    initial_lookback: timedelta = INITIAL_LOOKBACK,
    max_new_orders: int = MAX_NEW_ORDERS_PER_RUN,
) -> PollResult:
    """One run of the orders poller for one seller account.

    Throttling and outages (Throttled, SpApiUnavailable) propagate: nothing after the last
    stored order happens, and the watermark stays where it was.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    previous = watermarks.get(seller_account, ORDERS_WATERMARK)
    since = previous - overlap if previous is not None else now - initial_lookback
    update = connector.orders_updated_since(since, marketplace_ids)
    stored = unchanged = published = converted = 0
    unconvertible: list[str] = []
    dated = []
    for raw in update.orders:
        order_id = raw.get("AmazonOrderId")
        if not order_id:
            raise InvalidInputError("an Orders v0 order has no AmazonOrderId")
        dated.append((_time(raw.get("LastUpdateDate"), f"{order_id}: LastUpdateDate"), raw))
    dated.sort(key=lambda pair: (pair[0], str(pair[1]["AmazonOrderId"])))
    # Amazon's LastUpdatedBefore is the end of the window it answered for; never past `now`.
    watermark = min(update.last_updated_before or now, now)
    complete = True
    for last_update, raw in dated:
        existing = orders.find(str(raw["AmazonOrderId"]))
        if existing is not None and existing.last_update >= last_update:
            unchanged += 1
            continue
        if converted >= max_new_orders:
            # Everything before this order is stored; the next run starts here.
            watermark, complete = min(watermark, last_update), False
            break
        converted += 1
        record = _convert(connector, raw, seller_account, last_update, skus)
        if record.error is not None:
            unconvertible.append(record.amazon_order_id)
        previous_status = existing.status if existing is not None else None
        if record.status is not None and record.status != previous_status:
            events.publish(
                ORDER_STATUS_CHANGED, order_status_changed_detail(record, previous_status)
            )
            published += 1
        if orders.put_if_newer(record):
            stored += 1
        else:
            unchanged += 1
    watermarks.advance(seller_account, ORDERS_WATERMARK, watermark)
    return PollResult(
        seller_account=seller_account,
        since=since,
        watermark=max(watermark, previous) if previous is not None else watermark,
        orders_seen=len(update.orders),
        orders_stored=stored,
        orders_unchanged=unchanged,
        events_published=published,
        unconvertible=tuple(unconvertible),
        complete=complete,
    )


if TYPE_CHECKING:
    from opayo_fba.amazon.connector import SpApiConnector

    def _connector_is_an_orders_source(connector: SpApiConnector) -> OrdersSource:
        return connector  # mypy checks the real connector against the protocol
