"""The saga's steps. Each is called by one Step Functions Lambda task and is idempotent.

The execution state carries identifiers only (`orderId` and what the steps add); the orders
table is the source of truth, read at the start of every step and written with a version
check at the end. Every step may run more than once (Step Functions retries, Lambda retries,
an operator's redrive), so each one first looks at what is already done:
- capture happens at most once: `captured` is recorded, and the Opayo connector itself
  recovers a capture whose response was lost instead of sending it again;
- a refund is written down as pending, with its id, BEFORE Opayo is asked, so a retry reuses
  the same id and Opayo's unique vendorTxCode refuses a second refund;
- the fulfillment order id is derived from the order id, and Amazon treats a repeated create
  with the same body as a success.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from opayo_fba.amazon.errors import SpApiRequestRejected
from opayo_fba.model import (
    FbaFulfillmentOrderStatus,
    FulfillmentOrder,
    Money,
    Order,
    OrderStatus,
    PaymentState,
    Refund,
)
from opayo_fba.observability import metrics
from opayo_fba.opayo.errors import OpayoInstructionRefused
from opayo_fba.saga.errors import (
    CancellationRefused,
    CaptureFailed,
    FulfillmentRejected,
    MerchantCancelled,
    PaymentDeclined,
    RefundFailed,
    step_errors,
)
from opayo_fba.saga.ports import EventPort, FulfillmentPort, PaymentPort, SagaResumer
from opayo_fba.store.orders import OrderRecord, OrderStore
from opayo_fba.transform.fba_outbound import fulfillment_order_from_fba

MERCHANT_CANCELLED_STATUS = "MerchantCancelled"
REJECTED_STATUSES = (FbaFulfillmentOrderStatus.INVALID, FbaFulfillmentOrderStatus.UNFULFILLABLE)
CAPTURABLE = (PaymentState.AUTHORISED,)


@dataclass
class SagaDependencies:
    store: OrderStore
    fulfillment: Callable[[str], FulfillmentPort]  # by seller account
    payments: Callable[[str], PaymentPort]  # by Opayo vendor
    events: EventPort
    # The createFulfillmentOrder body for an order, the merchant's templates applied.
    map_order: Callable[[OrderRecord], MappedOrder]
    resumer: SagaResumer


@dataclass(frozen=True)
class MappedOrder:
    """What the validate-and-map step produces from an order and the merchant's templates."""

    fulfillment_request: dict[str, Any]
    order: Order  # lines extended with the product master's and templates' attributes
    payment_metadata: dict[str, Any]


State = Mapping[str, Any]


def _order_id(state: State) -> str:
    order_id = state.get("orderId")
    if not isinstance(order_id, str) or not order_id:
        raise ValueError("saga state has no orderId")
    return order_id


def _require(value: str | None, what: str, order_id: str) -> str:
    if not value:
        raise ValueError(f"order {order_id} has no {what} yet")
    return value


def _save(
    deps: SagaDependencies, order_id: str, change: Callable[[OrderRecord], None]
) -> OrderRecord:
    before: list[OrderStatus] = []

    def apply(record: OrderRecord) -> None:
        before[:] = [record.status]
        change(record)
        record.refresh_status()

    record = deps.store.update(order_id, apply)
    if before and before[0] != record.status:
        deps.events.publish(
            "OrderStatusChanged",
            {"orderId": order_id, "from": before[0].value, "to": record.status.value},
        )
    return record


# -- forward steps ---------------------------------------------------------------------------


def validate_and_map(state: State, deps: SagaDependencies) -> dict[str, Any]:
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    payment = record.payment
    if payment is None:
        raise PaymentDeclined(f"order {order_id} has no payment")
    if payment.state not in (PaymentState.AUTHORISED, PaymentState.CAPTURED):
        raise PaymentDeclined(f"order {order_id}: payment is {payment.state.value}")
    mapped = deps.map_order(record)
    request = mapped.fulfillment_request

    def keep(r: OrderRecord) -> None:
        r.fulfillment_request = request
        r.order = mapped.order
        if r.payment is not None and mapped.payment_metadata:
            r.payment = r.payment.model_copy(
                update={"metadata": {**r.payment.metadata, **mapped.payment_metadata}}
            )
        r.note("mapped", request["sellerFulfillmentOrderId"])

    _save(deps, order_id, keep)
    return {
        **state,
        "vendor": record.vendor,
        "sellerAccount": record.seller_account,
        "vendorTxCode": payment.vendor_tx_code,
        "transactionId": payment.transaction_id,
        "sellerFulfillmentOrderId": request["sellerFulfillmentOrderId"],
    }


def create_fulfillment_order(state: State, deps: SagaDependencies) -> dict[str, Any]:
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    request = record.fulfillment_request
    if request is None:
        raise ValueError(f"order {order_id} was not mapped before creating its fulfillment")
    amazon = deps.fulfillment(record.seller_account)
    sfo_id = str(request["sellerFulfillmentOrderId"])
    deps.store.link_fulfillment_order(sfo_id, order_id)
    with step_errors():
        if record.fulfillment is None:
            # Ask before creating: stock that is not there must stop the order before any
            # money is taken, not after (which would mean capture, then refund).
            _check_fulfillable(amazon, request, sfo_id)
        try:
            amazon.create_fulfillment_order_on_hold(request)
        except SpApiRequestRejected as error:
            raise FulfillmentRejected(f"Amazon refused the fulfillment order: {error}") from None
        fulfillment = _read_fulfillment(amazon, sfo_id, order_id)
    _record_fulfillment(deps, order_id, fulfillment, "fulfillment_order_created")
    if fulfillment.status in REJECTED_STATUSES:
        raise FulfillmentRejected(f"fulfillment order {sfo_id} is {fulfillment.status.value}")
    return {**state, "fulfillmentStatus": fulfillment.status.value}


def _read_fulfillment(amazon: FulfillmentPort, sfo_id: str, order_id: str) -> FulfillmentOrder:
    return fulfillment_order_from_fba(amazon.get_fulfillment_order(sfo_id), order_id=order_id)


def _record_fulfillment(
    deps: SagaDependencies, order_id: str, fulfillment: FulfillmentOrder, event: str
) -> None:
    def keep(r: OrderRecord) -> None:
        r.fulfillment = fulfillment
        r.fulfillment_status = fulfillment.status.value
        r.note(event, fulfillment.status.value)

    _save(deps, order_id, keep)


def preview_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """The getFulfillmentPreview body for a createFulfillmentOrder body."""
    return {
        "address": request["destinationAddress"],
        "items": [
            {
                "sellerSku": item["sellerSku"],
                "quantity": item["quantity"],
                "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
            }
            for item in request["items"]
        ],
        "shippingSpeedCategories": [request["shippingSpeedCategory"]],
    }


def _check_fulfillable(amazon: FulfillmentPort, request: Mapping[str, Any], sfo_id: str) -> None:
    try:
        previews = amazon.fulfillment_preview(preview_request(request))
    except SpApiRequestRejected as error:
        raise FulfillmentRejected(f"Amazon refused the fulfillment preview: {error}") from None
    speed = request["shippingSpeedCategory"]
    if not any(p.is_fulfillable for p in previews if p.shipping_speed_category == speed):
        raise FulfillmentRejected(
            f"Amazon cannot fulfil {sfo_id} at {speed} speed (stock or address)"
        )


def capture_amount(record: OrderRecord) -> Money:
    """The order's grand total, which must not exceed what was authorised."""
    payment = record.payment
    if payment is None:
        raise CaptureFailed(f"order {record.order_id} has no payment to capture")
    amount = record.order.amount_due()
    if amount.currency != payment.amount.currency or amount.amount > payment.amount.amount:
        raise CaptureFailed(
            f"order total {amount} exceeds the authorised {payment.amount}; nothing captured"
        )
    return amount


def capture_payment(state: State, deps: SagaDependencies) -> dict[str, Any]:
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    if record.captured is not None:
        return {**state, "captured": record.captured.model_dump(mode="json")}
    if record.cancel_requested:
        raise MerchantCancelled(f"order {order_id} was cancelled before capture")
    payment = record.payment
    if payment is None or payment.state not in CAPTURABLE:
        state_name = payment.state.value if payment else "missing"
        raise CaptureFailed(f"order {order_id}: payment is {state_name}, not capturable")
    amount = capture_amount(record)
    transaction_id = pi_transaction_id(record)
    with step_errors():
        try:
            deps.payments(_require(record.vendor, "vendor", order_id)).release(
                transaction_id, amount
            )
        except OpayoInstructionRefused as error:
            raise CaptureFailed(f"Opayo refused the release: {error}") from None

    def keep(r: OrderRecord) -> None:
        r.captured = amount
        if r.payment is not None:
            r.payment = r.payment.model_copy(update={"state": PaymentState.CAPTURED})
        r.note("payment_captured", str(amount))

    _save(deps, order_id, keep)
    deps.events.publish(
        "PaymentCaptured",
        {"orderId": order_id, "vendorTxCode": payment.vendor_tx_code, **_money(amount)},
    )
    return {**state, "captured": amount.model_dump(mode="json")}


def release_fulfillment_order(state: State, deps: SagaDependencies) -> dict[str, Any]:
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    sfo_id = _sfo_id(record)
    with step_errors():
        deps.fulfillment(record.seller_account).release_fulfillment_order(sfo_id)
    _save(deps, order_id, lambda r: r.note("fulfillment_order_released"))
    return dict(state)


def check_fulfillment_status(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """`{"status": ...}`: the FBA status, or MerchantCancelled when the merchant asked."""
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    if record.cancel_requested:
        return {"status": MERCHANT_CANCELLED_STATUS}
    sfo_id = _sfo_id(record)
    with step_errors():
        fulfillment = _read_fulfillment(deps.fulfillment(record.seller_account), sfo_id, order_id)
    if fulfillment.status.value != record.fulfillment_status:
        _record_fulfillment(deps, order_id, fulfillment, "fulfillment_status")
    return {"status": fulfillment.status.value, "trackingNumbers": fulfillment.tracking_numbers()}


DECISIVE = frozenset(
    {
        FbaFulfillmentOrderStatus.COMPLETE.value,
        FbaFulfillmentOrderStatus.COMPLETE_PARTIALLED.value,
        FbaFulfillmentOrderStatus.CANCELLED.value,
        FbaFulfillmentOrderStatus.UNFULFILLABLE.value,
        FbaFulfillmentOrderStatus.INVALID.value,
    }
)


def decisive_status(record: OrderRecord) -> str | None:
    """The status the saga must act on now, if there is one."""
    if record.cancel_requested:
        return MERCHANT_CANCELLED_STATUS
    if record.fulfillment_status in DECISIVE:
        return record.fulfillment_status
    return None


def await_fulfillment_update(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """Leave the task token where the notification consumer and cancellation find it.

    The saga's task ends when one of them resumes it with a status, or when its timeout
    sends it to poll Amazon instead. Anything decisive that is already known resumes it at
    once, so a notification that raced ahead of this step is not lost.
    """
    order_id = _order_id(state)
    token = state.get("taskToken")
    if not isinstance(token, str) or not token:
        raise ValueError("await_fulfillment_update needs the task token ($$.Task.Token)")

    def keep(r: OrderRecord) -> None:
        # Left only while there is something to wait for; otherwise resumed below.
        r.saga_task_token = token if decisive_status(r) is None else None

    record = deps.store.update(order_id, keep)
    status = decisive_status(record)
    if status is not None:
        deps.resumer.resume(token, {"status": status})
    return {"waiting": status is None}


def mark_shipped(state: State, deps: SagaDependencies) -> dict[str, Any]:
    order_id = _order_id(state)
    record = _save(deps, order_id, lambda r: r.note("shipped"))
    return {**state, "status": record.status.value}


# -- compensations ---------------------------------------------------------------------------


def abort_payment(state: State, deps: SagaDependencies) -> dict[str, Any]:
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    payment = record.payment
    if payment is None or payment.state is not PaymentState.AUTHORISED or record.captured:
        return {"aborted": False, "reason": "nothing authorised to abort"}
    transaction_id = pi_transaction_id(record)
    with step_errors():
        deps.payments(_require(record.vendor, "vendor", order_id)).abort(transaction_id)

    def keep(r: OrderRecord) -> None:
        if r.payment is not None:
            r.payment = r.payment.model_copy(update={"state": PaymentState.ABORTED})
        r.note("payment_aborted")

    _save(deps, order_id, keep)
    return {"aborted": True}


def cancel_fulfillment_order(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """Cancel the fulfillment order; what Amazon answers is checked against its real state.

    A refused cancel whose order Amazon shows Cancelled is a cancel that landed (its response
    was lost, or it was sent twice). A refusal of the merchant's cancellation (the order moved
    on to Processing after the request was accepted) ends in `CancellationRefused`: the order
    ships, nothing is refunded, and the state machine goes back to following it.
    """
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    if record.cancel_refused and _merchant_cancellation(state):
        _cancellation_refused(deps, record, record.fulfillment_status or "unknown")
    if record.fulfillment is None or record.fulfillment_status in (
        FbaFulfillmentOrderStatus.CANCELLED.value,
        FbaFulfillmentOrderStatus.INVALID.value,
        FbaFulfillmentOrderStatus.UNFULFILLABLE.value,
    ):
        return {"cancelled": False, "reason": "no live fulfillment order"}
    sfo_id = _sfo_id(record)
    amazon = deps.fulfillment(record.seller_account)
    with step_errors():
        try:
            amazon.cancel_fulfillment_order(sfo_id)
        except SpApiRequestRejected:
            fulfillment = _read_fulfillment(amazon, sfo_id, order_id)
            if fulfillment.status is not FbaFulfillmentOrderStatus.CANCELLED:
                if record.cancel_requested and _merchant_cancellation(state):
                    _record_fulfillment(deps, order_id, fulfillment, "fulfillment_status")
                    _cancellation_refused(deps, record, fulfillment.status.value)
                raise
        else:
            fulfillment = _read_fulfillment(amazon, sfo_id, order_id)
    _record_fulfillment(deps, order_id, fulfillment, "fulfillment_order_cancelled")
    return {"cancelled": True}


def _merchant_cancellation(state: State) -> bool:
    reason = state.get("compensationReason") or {}
    return isinstance(reason, Mapping) and reason.get("outcome") == "merchant_cancelled"


def _cancellation_refused(deps: SagaDependencies, record: OrderRecord, status: str) -> None:
    """Mark the merchant's cancellation refused, tell the shop, and raise CancellationRefused.

    Idempotent: a retry finds `cancel_refused` and publishes again (consumers dedupe on
    `eventId`), so the event is sent at least once.
    """
    order_id = record.order_id
    detail = f"Amazon would not cancel: the fulfillment order is {status}; the order ships"

    def keep(r: OrderRecord) -> None:
        if not r.cancel_refused:
            r.cancel_requested = False
            r.cancel_refused = True
            r.note("cancellation_refused", detail)

    _save(deps, order_id, keep)
    deps.events.publish(
        "CancellationRefused",
        {
            "eventId": f"{order_id}#CancellationRefused",
            "orderId": order_id,
            "fulfillmentStatus": status,
            "reason": detail,
        },
    )
    raise CancellationRefused(f"order {order_id}: {detail}")


def _refund_id(order_id: str, index: int) -> str:
    """The n-th refund of an order; recomputable from the record alone."""
    return f"{order_id}-R{index + 1}"


def refund_payment(state: State, deps: SagaDependencies) -> dict[str, Any]:
    # Imported here: the Pi client (and httpx) stays off the other steps' cold start.
    from opayo_fba.opayo.pi import refund_vendor_tx_code

    order_id = _order_id(state)
    record = deps.store.get(order_id)
    captured = record.captured
    if captured is None or record.payment is None:
        return {"refunded": False, "reason": "nothing captured"}
    transaction_id = pi_transaction_id(record)
    index = next((i for i, r in enumerate(record.refunds) if r.status == "pending"), None)
    if index is None:
        already = record.refunded
        remaining = captured.amount - (already.amount if already else 0)
        if remaining <= 0:
            return {"refunded": False, "reason": "already refunded in full"}
        index = len(record.refunds)
        refund = Refund(
            order_id=order_id,
            vendor_tx_code=refund_vendor_tx_code(_refund_id(order_id, index)),
            reference_transaction_id=transaction_id,
            amount=Money(amount=remaining, currency=captured.currency),
            reason=str((state.get("compensationReason") or {}).get("outcome", "refund")),
            requested_at=datetime.now(UTC),
        )

        def write_down(r: OrderRecord) -> None:
            r.refunds.append(refund)
            r.note("refund_requested", refund.vendor_tx_code)

        record = _save(deps, order_id, write_down)
    pending = record.refunds[index]
    refund_id = _refund_id(order_id, index)
    with step_errors():
        result = deps.payments(_require(record.vendor, "vendor", order_id)).refund(
            pending.reference_transaction_id,
            pending.amount,
            refund_id=refund_id,
            description=f"Refund for order {order_id}"[:100],
        )
    succeeded = result.succeeded

    def settle(r: OrderRecord) -> None:
        r.refunds[index] = r.refunds[index].model_copy(
            update={
                "status": "succeeded" if succeeded else "failed",
                "transaction_id": result.transaction_id or None,
                "status_detail": result.status_detail or None,
                "completed_at": datetime.now(UTC),
            }
        )
        r.note("refund_" + ("issued" if succeeded else "refused"), pending.vendor_tx_code)

    _save(deps, order_id, settle)
    if not succeeded:
        raise RefundFailed(f"Opayo refused refund {refund_id}: {result.status_detail}")
    deps.events.publish(
        "RefundIssued",
        {"orderId": order_id, "vendorTxCode": pending.vendor_tx_code, **_money(pending.amount)},
    )
    return {"refunded": True, "vendorTxCode": pending.vendor_tx_code}


def record_outcome(state: State, deps: SagaDependencies) -> dict[str, Any]:
    order_id = _order_id(state)
    reason = state.get("compensationReason") or {}
    outcome = str(reason.get("outcome", "compensated"))

    def keep(r: OrderRecord) -> None:
        r.outcome = outcome
        r.note("outcome", outcome)

    record = _save(deps, order_id, keep)
    # The dashboard's "compensated" line and its alarm read this (infra/monitoring.py).
    metrics.add_metric(name="SagaCompensated", unit=MetricUnit.Count, value=1)
    return {"outcome": outcome, "status": record.status.value}


def pi_transaction_id(record: OrderRecord) -> str:
    """The Pi transactionId of the order's payment (a Server VPSTxId without its braces)."""
    payment = record.payment
    value = _require(payment.transaction_id if payment else None, "transaction id", record.order_id)
    return value.strip("{}")


def _sfo_id(record: OrderRecord) -> str:
    request = record.fulfillment_request or {}
    return _require(
        str(request.get("sellerFulfillmentOrderId") or ""),
        "fulfillment order",
        record.order_id,
    )


def _money(amount: Money) -> dict[str, Any]:
    return {"amount": amount.amount, "currency": amount.currency}
