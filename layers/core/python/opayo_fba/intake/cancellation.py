"""The merchant cancels an order (`POST /orders/{orderId}/cancel`).

Cancelling records the request; the saga acts on it at its next step, so the money and the
goods stay in one hand: before capture it cancels the fulfillment order and aborts the
Deferred payment; after capture it cancels the fulfillment order and refunds. A Payment (taken
at authorisation, never released) is refunded whenever it is cancelled: the payment
compensation acts on what Opayo holds, not on the branch it runs in.

A cancellation tells the truth. Our stored Amazon status may be stale, so a request is
accepted only after Amazon itself (getFulfillmentOrder, through the connector and its rate
limit) says the fulfillment order can still be cancelled: Amazon cancels only while it is
Received or Planning (sp-api reference, "Enumerations"). Once Amazon is picking it (Processing)
or has shipped it, the request is refused with 409 and the reason, and nothing changes.
Asking twice is the same as asking once.

Amazon may still refuse the saga's cancel a moment later (the order moved on to Processing in
between: a race no check can close). Then the order goes on: the saga records the request as
refused (`cancel_refused`, a `cancellation_refused` note and a `CancellationRefused` event on
the bus) and keeps following the shipment; see `opayo_fba.saga.steps.cancel_fulfillment_order`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from opayo_fba.amazon.errors import SpApiNotFound
from opayo_fba.errors import ConflictError
from opayo_fba.model import FbaFulfillmentOrderStatus
from opayo_fba.saga.ports import SagaResumer
from opayo_fba.store.orders import OrderRecord, OrderStore

CANCELLABLE = frozenset(
    {FbaFulfillmentOrderStatus.RECEIVED.value, FbaFulfillmentOrderStatus.PLANNING.value}
)
"""Amazon cancels a fulfillment order only in these statuses (sp-api reference)."""
NOTHING_TO_SHIP = frozenset(
    {
        FbaFulfillmentOrderStatus.CANCELLED.value,
        FbaFulfillmentOrderStatus.UNFULFILLABLE.value,
        FbaFulfillmentOrderStatus.INVALID.value,
    }
)
"""Nothing will ship: the cancellation stands and the saga undoes the payment."""


class FulfillmentOrderReader(Protocol):
    def get_fulfillment_order(self, seller_fulfillment_order_id: str) -> dict[str, Any]: ...


def _refuse_if_ended(record: OrderRecord) -> None:
    if record.outcome is not None:
        raise ConflictError(f"order {record.order_id} already ended ({record.outcome})")
    if record.cancel_refused:
        raise ConflictError(
            f"order {record.order_id} could not be cancelled: Amazon refused, the order ships; "
            "refund it after delivery instead"
        )


def amazon_fulfillment_status(record: OrderRecord, amazon: FulfillmentOrderReader) -> str | None:
    """The fulfillment order's status as Amazon has it now; None when there is none yet."""
    request: Mapping[str, Any] = record.fulfillment_request or {}
    sfo_id = str(request.get("sellerFulfillmentOrderId") or "")
    if not sfo_id:
        return None  # not mapped yet, so not created yet: nothing at Amazon can ship
    try:
        payload = amazon.get_fulfillment_order(sfo_id)
    except SpApiNotFound:
        return None  # mapped but not created yet (the create step may be running)
    order = payload.get("fulfillmentOrder") or {}
    return str(order.get("fulfillmentOrderStatus") or "") or None


def confirm_cancellable(record: OrderRecord, amazon: FulfillmentOrderReader) -> None:
    """Raise ConflictError unless Amazon says the fulfillment order can still be cancelled."""
    status = amazon_fulfillment_status(record, amazon)
    if status is None or status in CANCELLABLE or status in NOTHING_TO_SHIP:
        return
    raise ConflictError(
        f"order {record.order_id} is {status} at Amazon, which cancels a fulfillment order "
        "only while it is Received or Planning; it will ship: refund it after delivery instead"
    )


def request_cancellation(
    store: OrderStore,
    order_id: str,
    reason: str | None = None,
    resumer: SagaResumer | None = None,
    *,
    amazon: Callable[[str], FulfillmentOrderReader],
) -> OrderRecord:
    """Record the cancellation once Amazon confirms it can still happen; a saga waiting on
    Amazon is resumed to act on it at once. `amazon` gives the connector of a seller account.
    """
    record = store.get(order_id)
    if not record.cancel_requested:
        _refuse_if_ended(record)
        confirm_cancellable(record, amazon(record.seller_account))

    def change(r: OrderRecord) -> None:
        if r.cancel_requested:
            return
        _refuse_if_ended(r)
        r.cancel_requested = True
        r.note("cancel_requested", reason)

    record = store.update(order_id, change)
    if resumer is not None:
        from opayo_fba.intake.amazon_events import resume_waiting_saga

        resume_waiting_saga(store, resumer, record)
    return record
