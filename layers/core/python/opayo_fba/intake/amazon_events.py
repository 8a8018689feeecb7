"""SP-API notifications from the Amazon notifications queue.

Delivery is at least once and in any order, so each notification only moves an order
forward: a FULFILLMENT_ORDER_STATUS older than the status we hold (by StatusUpdatedDateTime,
then by how far along the status is) changes nothing, and the same notification twice changes
nothing the second time. The saga's own status check reads Amazon directly; these keep the
order's status (what `GET /orders/{id}` and the ERP see) current between its checks.

The FULFILLMENT_ORDER_STATUS schema documents no values for FulfillmentOrderStatus (its own
example says `PROCESSED`), so a value we do not know is a hint, not a poison message: the
order is read from Amazon (getFulfillmentOrder) and its real status applied instead.

A notification with EventType `Return` (Amazon has received returned units) makes an order
with a return still open due for the after-sale tracker at once, whatever its status says:
the tracker reads the fulfillment order and refunds what came back (after_sale/returns.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from opayo_fba.card_numbers import quote_input
from opayo_fba.errors import InvalidInputError
from opayo_fba.model import FbaFulfillmentOrderStatus
from opayo_fba.saga.ports import SagaResumer
from opayo_fba.store.amazon_orders import AmazonOrderStore
from opayo_fba.store.orders import OrderRecord, OrderStore

if TYPE_CHECKING:
    from opayo_fba.intake.amazon_inventory import InventoryNotificationDependencies

_FBA_PROGRESS = {
    FbaFulfillmentOrderStatus.NEW: 0,
    FbaFulfillmentOrderStatus.RECEIVED: 1,
    FbaFulfillmentOrderStatus.PLANNING: 2,
    FbaFulfillmentOrderStatus.PROCESSING: 3,
    FbaFulfillmentOrderStatus.COMPLETE_PARTIALLED: 4,
    FbaFulfillmentOrderStatus.COMPLETE: 5,
    FbaFulfillmentOrderStatus.CANCELLED: 5,
    FbaFulfillmentOrderStatus.UNFULFILLABLE: 5,
    FbaFulfillmentOrderStatus.INVALID: 5,
}

Outcome = Literal["applied", "stale", "unknown_order", "ignored"]
StatusSource = Literal["notification", "amazon"]


class FulfillmentOrderReader(Protocol):
    def get_fulfillment_order(self, seller_fulfillment_order_id: str) -> dict[str, Any]: ...


FulfillmentReaders = Callable[[str], FulfillmentOrderReader]
"""Seller account -> what reads its fulfillment orders (the wiring's `amazon`)."""


@dataclass(frozen=True)
class NotificationResult:
    notification_id: str
    notification_type: str
    outcome: Outcome
    order_id: str | None = None
    status_source: StatusSource = "notification"
    """`amazon` when the notification's status was unknown and the order was read instead."""


def notification_id(message: dict[str, Any]) -> str:
    metadata = message.get("NotificationMetadata") or message.get("notificationMetadata") or {}
    value = metadata.get("NotificationId") or metadata.get("notificationId")
    if not value:
        raise InvalidInputError("SP-API notification without NotificationMetadata.NotificationId")
    return str(value)


def fba_status(value: str) -> FbaFulfillmentOrderStatus:
    """Notifications spell statuses COMPLETE_PARTIALLED; the API spells CompletePartialled."""
    wanted = value.replace("_", "").lower()
    for status in FbaFulfillmentOrderStatus:
        if status.value.lower() == wanted:
            return status
    raise InvalidInputError(f"unknown FulfillmentOrderStatus {quote_input(value)}")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _status_at_amazon(
    readers: FulfillmentReaders | None, record: OrderRecord, sfo_id: str, hint: str
) -> tuple[FbaFulfillmentOrderStatus, datetime]:
    """The fulfillment order's real status and its time, read from Amazon."""
    if readers is None:
        raise InvalidInputError(
            f"unknown FulfillmentOrderStatus {quote_input(hint)} and no way to read the order"
        )
    payload = readers(record.seller_account).get_fulfillment_order(sfo_id)
    header = payload.get("fulfillmentOrder") or {}
    return (
        fba_status(str(header.get("fulfillmentOrderStatus") or "")),
        _parse_time(str(header["statusUpdatedDate"])),
    )


def _fulfillment_status(
    message: dict[str, Any],
    store: OrderStore,
    resumer: SagaResumer | None,
    readers: FulfillmentReaders | None = None,
) -> NotificationResult:
    nid = notification_id(message)
    payload = message["Payload"]["FulfillmentOrderStatusNotification"]
    sfo_id = str(payload["SellerFulfillmentOrderId"])
    record = store.find_by_fulfillment_order(sfo_id)
    if record is None:
        return NotificationResult(nid, "FULFILLMENT_ORDER_STATUS", "unknown_order")
    raw_status = str(payload["FulfillmentOrderStatus"])
    source: StatusSource = "notification"
    try:
        status = fba_status(raw_status)
        updated_at = _parse_time(str(payload["StatusUpdatedDateTime"]))
    except InvalidInputError:
        status, updated_at = _status_at_amazon(readers, record, sfo_id, raw_status)
        source = "amazon"
    applied: list[bool] = []
    returned = str(payload.get("EventType") or "") == "Return"

    def change(r: OrderRecord) -> None:
        applied.clear()
        if returned and any(x.received_at is None for x in r.returns):
            r.follow_up_at = datetime.now(UTC)  # the tracker reads the return on its next run
            r.note("amazon_notification", f"return received at Amazon ({nid})")
            applied.append(True)
        current = FbaFulfillmentOrderStatus(r.fulfillment_status) if r.fulfillment_status else None
        current_at = r.fulfillment.status_updated_at if r.fulfillment is not None else None
        if current is not None:
            if _FBA_PROGRESS[status] < _FBA_PROGRESS[current]:
                return
            if status is current:
                return
            if current_at is not None and updated_at < current_at:
                return
        r.fulfillment_status = status.value
        if r.fulfillment is not None:
            r.fulfillment = r.fulfillment.model_copy(
                update={"status": status, "status_updated_at": updated_at}
            )
        read = "" if source == "notification" else f", read from Amazon for {raw_status[:40]!r}"
        r.note("amazon_notification", f"{status.value} ({nid}{read})")
        r.refresh_status()
        applied.append(True)

    updated = store.update(record.order_id, change)
    outcome: Outcome = "applied" if applied else "stale"
    if applied and resumer is not None:
        resume_waiting_saga(store, resumer, updated)
    return NotificationResult(
        nid, "FULFILLMENT_ORDER_STATUS", outcome, record.order_id, status_source=source
    )


def resume_waiting_saga(store: OrderStore, resumer: SagaResumer, record: OrderRecord) -> bool:
    """Hand a waiting saga the status it waits for, once; False if none was waiting."""
    from opayo_fba.saga.steps import decisive_status

    status = decisive_status(record)
    token = record.saga_task_token
    if status is None or token is None:
        return False

    def forget(r: OrderRecord) -> None:
        if r.saga_task_token == token:
            r.saga_task_token = None

    store.update(record.order_id, forget)
    return resumer.resume(token, {"status": status})


def _order_change(message: dict[str, Any], amazon_orders: AmazonOrderStore) -> NotificationResult:
    """An Amazon order's new status, applied to the copy the orders poller keeps.

    Only forward in time (EventTime against the stored LastUpdateDate); an order the poller
    has not stored yet is left to it, since the notification carries no order details.
    """
    from opayo_fba.convert.harmonise import order_status
    from opayo_fba.model import OrdersV0Status

    nid = notification_id(message)
    change = message["Payload"]["OrderChangeNotification"]
    amazon_order_id = str(change["AmazonOrderId"])
    summary = change.get("Summary") or {}
    raw_status = summary.get("OrderStatus")
    stored = amazon_orders.find(amazon_order_id)
    if stored is None or not raw_status:
        return NotificationResult(nid, "ORDER_CHANGE", "unknown_order")
    try:
        canonical = order_status(fulfillment=OrdersV0Status(str(raw_status)))
    except ValueError:
        raise InvalidInputError(
            f"unknown Orders v0 OrderStatus {quote_input(raw_status)}"
        ) from None
    updated = stored.model_copy(
        update={
            "source_status": str(raw_status),
            "status": canonical,
            "last_update": _parse_time(str(message["EventTime"])),
        }
    )
    written = amazon_orders.put_if_newer(updated)
    return NotificationResult(
        nid, "ORDER_CHANGE", "applied" if written else "stale", amazon_order_id
    )


def _inventory_change(
    message: dict[str, Any], inventory: InventoryNotificationDependencies
) -> NotificationResult:
    """A SKU's availability changed: InventoryLevelChanged with the shop's SKU (see
    intake/amazon_inventory.py); "ignored" when the SKU or marketplace is not ours."""
    from opayo_fba.intake.amazon_inventory import NOTIFICATION_TYPE, apply_inventory_notification

    nid = notification_id(message)
    result = apply_inventory_notification(message, inventory)
    outcome: Outcome = (
        "applied"
        if result.events_published
        else ("ignored" if result.unmapped_seller_skus or result.marketplaces_not_ours else "stale")
    )
    return NotificationResult(nid, NOTIFICATION_TYPE, outcome)


def handle_amazon_notification(
    message: dict[str, Any],
    store: OrderStore,
    resumer: SagaResumer | None = None,
    amazon_orders: AmazonOrderStore | None = None,
    fulfillment_readers: FulfillmentReaders | None = None,
    inventory: InventoryNotificationDependencies | None = None,
) -> NotificationResult:
    """Apply one notification; a decisive fulfillment status resumes the waiting saga.

    With `fulfillment_readers`, a FULFILLMENT_ORDER_STATUS whose status we do not know makes
    us read the order from Amazon and apply its real status; without, it is refused.
    """
    kind = str(message.get("NotificationType") or message.get("notificationType") or "")
    if kind == "FBA_INVENTORY_AVAILABILITY_CHANGES" and inventory is not None:
        return _inventory_change(message, inventory)
    if kind == "FULFILLMENT_ORDER_STATUS":
        return _fulfillment_status(message, store, resumer, fulfillment_readers)
    if kind == "ORDER_CHANGE" and amazon_orders is not None:
        return _order_change(message, amazon_orders)
    if kind in ("ORDER_CHANGE", "REPORT_PROCESSING_FINISHED", "FBA_INVENTORY_AVAILABILITY_CHANGES"):
        # The report pipeline acts on report notifications; recording them is enough here.
        return NotificationResult(notification_id(message), kind, "ignored")
    raise InvalidInputError(f"unexpected SP-API notification type {quote_input(kind)}")
