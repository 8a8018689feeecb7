"""The merchant cancels an order (`POST /orders/{orderId}/cancel`).

Cancelling only records the request; the saga acts on it at its next step, so the money and
the goods stay in one hand: before capture it cancels the fulfillment order and aborts the
Deferred payment; after capture it cancels the fulfillment order and refunds. Once Amazon is
picking the order it can no longer be cancelled, and the request is refused (409) rather than
accepted and broken later. Asking twice is the same as asking once.
"""

from __future__ import annotations

from opayo_fba.errors import ConflictError
from opayo_fba.model import FbaFulfillmentOrderStatus
from opayo_fba.saga.ports import SagaResumer
from opayo_fba.store.orders import OrderRecord, OrderStore

# Amazon cancels only while Received or Planning (sp-api reference); later is too late.
TOO_LATE = frozenset(
    {
        FbaFulfillmentOrderStatus.PROCESSING.value,
        FbaFulfillmentOrderStatus.COMPLETE.value,
        FbaFulfillmentOrderStatus.COMPLETE_PARTIALLED.value,
    }
)


def request_cancellation(
    store: OrderStore,
    order_id: str,
    reason: str | None = None,
    resumer: SagaResumer | None = None,
) -> OrderRecord:
    """Record the cancellation; a saga waiting on Amazon is resumed to act on it at once."""

    def change(record: OrderRecord) -> None:
        if record.cancel_requested:
            return
        if record.outcome is not None:
            raise ConflictError(f"order {order_id} already ended ({record.outcome})")
        if record.fulfillment_status in TOO_LATE:
            raise ConflictError(
                f"order {order_id} is {record.fulfillment_status} at Amazon and can no longer "
                "be cancelled; refund it after delivery instead"
            )
        record.cancel_requested = True
        record.note("cancel_requested", reason)

    record = store.update(order_id, change)
    if resumer is not None:
        from opayo_fba.intake.amazon_events import resume_waiting_saga

        resume_waiting_saga(store, resumer, record)
    return record
