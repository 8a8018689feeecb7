"""The saga's steps. Each is called by one Step Functions Lambda task and is idempotent.

The execution state carries identifiers only (`orderId` and what the steps add); the orders
table is the source of truth, read at the start of every step and written with a version
check at the end. Every step may run more than once (Step Functions retries, Lambda retries,
an operator's redrive), so each one first looks at what is already done:
- capture happens at most once: `captured` is recorded, and the Opayo connector itself
  recovers a capture whose response was lost instead of sending it again; a Payment, whose
  money Opayo took when it authorised it, is never released at all;
- a refund is written down as pending, with its id, BEFORE Opayo is asked, so a retry reuses
  the same id and Opayo's unique vendorTxCode refuses a second refund;
- the fulfillment order id is derived from the order id, and Amazon treats a repeated create
  with the same body as a success.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from opayo_fba.amazon.errors import SpApiNotFound, SpApiRequestRejected
from opayo_fba.convert.fba_outbound import fulfillment_order_from_fba
from opayo_fba.model import (
    FbaFulfillmentOrderStatus,
    FulfillmentOrder,
    Money,
    Order,
    OrderStatus,
    PaymentState,
    PaymentTransaction,
    Refund,
    RefundKind,
    RefundLine,
    TransactionType,
)
from opayo_fba.observability import (
    ACCOUNT_COMPENSATED,
    ACCOUNT_DECLINED,
    ACCOUNT_UNFULFILLABLE,
    account_metric,
    metrics,
)
from opayo_fba.opayo.errors import OpayoInstructionRefused
from opayo_fba.saga.errors import (
    CancellationRefused,
    CaptureFailed,
    FulfillmentRejected,
    FulfillmentUnderway,
    MerchantCancelled,
    PaymentDeclined,
    RefundFailed,
    step_errors,
)
from opayo_fba.saga.ports import (
    EventPort,
    FulfillmentPort,
    ObservedPayment,
    PaymentPort,
    SagaResumer,
)
from opayo_fba.store.orders import OrderRecord, OrderStore, RepeatCharge

if TYPE_CHECKING:
    # The mapping package loads the template engine: only the validate-and-map step needs it.
    from opayo_fba.mapping.fulfillment import MappedOrder

MERCHANT_CANCELLED_STATUS = "MerchantCancelled"
REJECTED_STATUSES = (FbaFulfillmentOrderStatus.INVALID, FbaFulfillmentOrderStatus.UNFULFILLABLE)
CAPTURABLE = (PaymentState.AUTHORISED,)
TAKEN_AT_AUTHORISATION = (TransactionType.PAYMENT, TransactionType.REPEAT)
"""Transaction types Opayo settles without a release (reference, "Transaction types that need
no capture"): there is nothing to capture, and every compensation after them refunds."""
RELEASE_NOT_NEEDED_NOTE = "release_not_needed"


@dataclass
class SagaDependencies:
    store: OrderStore
    fulfillment: Callable[[str], FulfillmentPort]  # by seller account
    # The payment's own integration, chosen per order by the composition root (wiring.py):
    # Pi for a Pi payment, the Server & Direct Shared Protocol for a Server one.
    payments: Callable[[OrderRecord], PaymentPort]
    events: EventPort
    # The createFulfillmentOrder body for an order, the merchant's templates applied.
    map_order: Callable[[OrderRecord], MappedOrder]
    resumer: SagaResumer
    # `unfulfillableAuthorisations`: "abort" gives a Deferred back at once when Amazon cannot
    # fulfil the order; "hold" keeps it for a resubmission once stock is back (resubmit.py),
    # until the held-authorisations check aborts it at the merchant's limit.
    unfulfillable_authorisations: str = "abort"


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


def save(
    deps: SagaDependencies, order_id: str, change: Callable[[OrderRecord], None]
) -> OrderRecord:
    """Apply `change` to the order (version-checked) and announce a status it changes."""
    before: list[OrderStatus] = []

    def apply(record: OrderRecord) -> None:
        before[:] = [record.status]
        change(record)
        record.refresh_status()

    record = deps.store.update(order_id, apply)
    if before and before[0] != record.status:
        # The canonical OrderStatusChanged, as the orders poller sends it for Amazon orders.
        deps.events.publish(
            "OrderStatusChanged",
            {
                "eventId": f"{order_id}#{record.version}",
                "orderId": order_id,
                "channel": record.order.channel.value,
                "sellerAccount": record.seller_account,
                "status": record.status.value,
                "previousStatus": before[0].value,
                "sourceStatus": None,
                "updatedAt": datetime.now(UTC).isoformat(),
            },
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
    if record.attempt > 1:
        # A resubmitted order is a new fulfillment order at Amazon, under a new id.
        from opayo_fba.convert.fba_outbound import attempt_fulfillment_order_id

        sfo_id = attempt_fulfillment_order_id(order_id, record.attempt)
        request = {**request, "sellerFulfillmentOrderId": sfo_id}

    def keep(r: OrderRecord) -> None:
        r.fulfillment_request = request
        r.order = mapped.order
        if r.payment is not None and mapped.payment_metadata:
            r.payment = r.payment.model_copy(
                update={"metadata": {**r.payment.metadata, **mapped.payment_metadata}}
            )
        r.note("mapped", request["sellerFulfillmentOrderId"])

    save(deps, order_id, keep)
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
            check_fulfillable(amazon, request, sfo_id)
        try:
            amazon.create_fulfillment_order_on_hold(request)
        except SpApiRequestRejected as error:
            raise FulfillmentRejected(f"Amazon refused the fulfillment order: {error}") from None
        fulfillment = read_fulfillment(amazon, sfo_id, order_id)
    _record_fulfillment(deps, order_id, fulfillment, "fulfillment_order_created")
    if fulfillment.status in REJECTED_STATUSES:
        raise FulfillmentRejected(f"fulfillment order {sfo_id} is {fulfillment.status.value}")
    return {**state, "fulfillmentStatus": fulfillment.status.value}


def read_fulfillment(amazon: FulfillmentPort, sfo_id: str, order_id: str) -> FulfillmentOrder:
    """The fulfillment order as Amazon has it now, in the canonical model."""
    return fulfillment_order_from_fba(amazon.get_fulfillment_order(sfo_id), order_id=order_id)


def _record_fulfillment(
    deps: SagaDependencies, order_id: str, fulfillment: FulfillmentOrder, event: str
) -> None:
    def keep(r: OrderRecord) -> None:
        r.fulfillment = fulfillment
        r.fulfillment_status = fulfillment.status.value
        r.note(event, fulfillment.status.value)

    save(deps, order_id, keep)


def preview_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """The getFulfillmentPreview body for a createFulfillmentOrder body: asked in the
    marketplace the order will be placed against, whose stock pool it draws on (UK and EU
    stock are separate pools)."""
    marketplace = {"marketplaceId": request["marketplaceId"]} if "marketplaceId" in request else {}
    return {
        **marketplace,
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


def check_fulfillable(amazon: FulfillmentPort, request: Mapping[str, Any], sfo_id: str) -> None:
    try:
        previews = amazon.fulfillment_preview(preview_request(request))
    except SpApiRequestRejected as error:
        raise FulfillmentRejected(f"Amazon refused the fulfillment preview: {error}") from None
    speed = request["shippingSpeedCategory"]
    at_speed = [p for p in previews if p.shipping_speed_category == speed]
    if request.get("fulfillmentPolicy") == "FillAllAvailable" and any(
        _ships_something(p.raw) for p in at_speed
    ):
        return  # Amazon ships what is in stock; the rest is refunded once it has shipped
    if not any(p.is_fulfillable for p in at_speed):
        raise FulfillmentRejected(
            f"Amazon cannot fulfil {sfo_id} at {speed} speed (stock or address)"
        )


def _ships_something(preview: Mapping[str, Any]) -> bool:
    """A preview that ships some units and names no SKU Amazon does not know."""
    unknown = any(
        "InvalidSKU" in (item.get("itemUnfulfillableReasons") or ())
        for item in preview.get("unfulfillablePreviewItems") or ()
    )
    units = sum(
        int(item.get("quantity") or 0)
        for shipment in preview.get("fulfillmentPreviewShipments") or ()
        for item in shipment.get("fulfillmentPreviewItems") or ()
    )
    return units > 0 and not unknown


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
    charge = record.repeat_charge
    if charge is not None and charge.status in ("declined", "cancelled"):
        raise CaptureFailed(f"order {order_id}: the repeat charge is {charge.status}")
    if record.captured is not None:
        return {**state, "captured": record.captured.model_dump(mode="json")}
    if record.cancel_requested:
        raise MerchantCancelled(f"order {order_id} was cancelled before capture")
    if charge is not None and charge.status == "pending":
        return {**state, "captured": _take_repeat(deps, record, charge).model_dump(mode="json")}
    payment = record.payment
    if payment is not None and payment.transaction_type in TAKEN_AT_AUTHORISATION:
        return {**state, "captured": _confirm_taken(deps, record).model_dump(mode="json")}
    if payment is None or payment.state not in CAPTURABLE:
        state_name = payment.state.value if payment else "missing"
        raise CaptureFailed(f"order {order_id}: payment is {state_name}, not capturable")
    amount = capture_amount(record)
    transaction_id = pi_transaction_id(record)
    with step_errors():
        try:
            deps.payments(record).release(transaction_id, amount)
        except OpayoInstructionRefused as error:
            refusal = f"Opayo refused the release: {error}"
            save(deps, order_id, lambda r: r.note("capture_refused", refusal[:500]))
            raise CaptureFailed(refusal) from None

    def keep(r: OrderRecord) -> None:
        r.captured = amount
        if r.payment is not None:
            r.payment = r.payment.model_copy(update={"state": PaymentState.CAPTURED})
        r.note("payment_captured", str(amount))

    save(deps, order_id, keep)
    deps.events.publish(
        "PaymentCaptured",
        {"orderId": order_id, "vendorTxCode": payment.vendor_tx_code, **_money(amount)},
    )
    return {**state, "captured": amount.model_dump(mode="json")}


def _confirm_taken(deps: SagaDependencies, record: OrderRecord) -> Money:
    """A Payment: nothing to release. Record what Opayo says it took, and go on as captured.

    Opayo is asked first (as a compensation would ask it): a Payment voided or refunded
    meanwhile, or one that took another amount than the order's total, ships nothing
    (`CaptureFailed`; the compensation then refunds whatever Opayo still holds).
    """
    order_id = record.order_id
    payment = record.payment
    assert payment is not None  # the caller checked
    with step_errors():
        observed = deps.payments(record).observe(pi_transaction_id(record))
    due = record.order.amount_due()
    taken = observed.captured or payment.amount
    problem = None
    if observed.state is not PaymentState.CAPTURED:
        problem = f"Opayo says the {payment.transaction_type.value} is {observed.state.value}"
    elif observed.refunded is not None and observed.refunded.amount > 0:
        problem = f"Opayo has already refunded {observed.refunded} of it"
    elif taken != due:
        problem = f"Opayo took {taken} at authorisation, but the order total is {due}"
    if problem is not None:
        detail = f"{problem}; nothing ships"
        save(deps, order_id, lambda r: r.note("capture_refused", detail[:500]))
        raise CaptureFailed(f"order {order_id}: {detail}")

    def keep(r: OrderRecord) -> None:
        r.captured = taken
        if r.payment is not None and r.payment.state is not PaymentState.CAPTURED:
            r.payment = r.payment.model_copy(update={"state": PaymentState.CAPTURED})
        r.note(
            RELEASE_NOT_NEEDED_NOTE,
            f"a {payment.transaction_type.value}: Opayo took {taken} when it authorised it",
        )

    save(deps, order_id, keep)
    deps.events.publish(
        "PaymentCaptured",
        {"orderId": order_id, "vendorTxCode": payment.vendor_tx_code, **_money(taken)},
    )
    return taken


def _take_repeat(deps: SagaDependencies, record: OrderRecord, charge: RepeatCharge) -> Money:
    """Charge a resubmitted order's card again (a Pi Repeat), once, under the vendorTxCode
    written down before: a retry after a lost answer finds the same Repeat (the connector
    looks it up by vendorTxCode) instead of charging twice."""
    order_id = record.order_id
    due = record.order.amount_due()
    if due != charge.amount:
        raise CaptureFailed(f"order total {due} is not the {charge.amount} to charge again")
    with step_errors():
        result = deps.payments(record).repeat(
            charge.reference_transaction_id,
            charge.amount,
            vendor_tx_code=charge.vendor_tx_code,
            description=f"Order {order_id}, attempt {record.attempt}"[:100],
        )
    if not result.succeeded:
        detail = f"Opayo declined the repeat: {result.status} {result.status_detail}".strip()

        def declined(r: OrderRecord) -> None:
            if r.repeat_charge is not None and r.repeat_charge.status == "pending":
                r.repeat_charge = r.repeat_charge.model_copy(
                    update={"status": "declined", "detail": detail[:200]}
                )
            r.note("repeat_declined", detail[:500])

        save(deps, order_id, declined)
        raise CaptureFailed(f"order {order_id}: {detail}; nothing ships")
    adopted, given_up = _adopt_repeat(
        deps, order_id, charge, result.transaction_id, PaymentState.CAPTURED, result.status
    )
    if given_up:
        # The attempt was given up while Opayo was being asked (its compensation found no
        # Repeat yet): the money just taken goes straight back.
        if adopted:
            record, index, _ = write_down_refund(
                deps, order_id, charge.amount, reason="repeat taken after its attempt ended"
            )
            execute_refund(deps, record, index, raise_refused=True)
        raise CaptureFailed(f"order {order_id}: the attempt ended while the repeat was taken")
    deps.events.publish(
        "PaymentCaptured",
        {"orderId": order_id, "vendorTxCode": charge.vendor_tx_code, **_money(charge.amount)},
    )
    return charge.amount


def _adopt_repeat(
    deps: SagaDependencies,
    order_id: str,
    charge: RepeatCharge,
    transaction_id: str,
    state: PaymentState,
    status: str,
) -> tuple[bool, bool]:
    """Make the Repeat Opayo made under `charge` the order's payment. Returns whether it was
    adopted now (not by an earlier call) and whether the attempt had been given up."""
    outcome: list[bool] = []

    def keep(r: OrderRecord) -> None:
        outcome.clear()
        current = r.repeat_charge
        if current is None or current.vendor_tx_code != charge.vendor_tx_code:
            raise ValueError(f"order {order_id} no longer has the repeat {charge.vendor_tx_code}")
        already = r.payment is not None and r.payment.vendor_tx_code == charge.vendor_tx_code
        outcome[:] = [not already, current.status == "cancelled"]
        if already:
            return
        earlier = r.payment
        r.payment = PaymentTransaction(
            provider="pi",
            vendor_tx_code=charge.vendor_tx_code,
            transaction_id=transaction_id,
            transaction_type=TransactionType.REPEAT,
            status=status,
            state=state,
            amount=charge.amount,
            reference_transaction_id=charge.reference_transaction_id,
            card=earlier.card if earlier is not None else None,
            order_id=order_id,
            created_at=datetime.now(UTC),
            metadata=earlier.metadata if earlier is not None else {},
        )
        if state is PaymentState.CAPTURED:
            r.captured = charge.amount
        if current.status == "pending":
            r.repeat_charge = current.model_copy(update={"status": "taken"})
        r.note("payment_repeated", f"{charge.vendor_tx_code}: {state.value}, {charge.amount}")

    save(deps, order_id, keep)
    return outcome[0], outcome[1]


def release_fulfillment_order(state: State, deps: SagaDependencies) -> dict[str, Any]:
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    sfo_id = _sfo_id(record)
    # In the marketplace the order was placed against (the route's, or the account's own).
    marketplace = (record.fulfillment_request or {}).get("marketplaceId")
    with step_errors():
        deps.fulfillment(record.seller_account).release_fulfillment_order(sfo_id, marketplace)
    save(deps, order_id, lambda r: r.note("fulfillment_order_released"))
    return dict(state)


def check_fulfillment_status(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """`{"status": ...}`: the FBA status, or MerchantCancelled when the merchant asked."""
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    if record.cancel_requested:
        return {"status": MERCHANT_CANCELLED_STATUS}
    sfo_id = _sfo_id(record)
    with step_errors():
        fulfillment = read_fulfillment(deps.fulfillment(record.seller_account), sfo_id, order_id)
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


UNSHIPPED_REFUND_ID = "unshipped"
"""The request id of an order's one refund of the units Amazon did not ship."""


def unshipped_units(order: Order, fulfillment: FulfillmentOrder) -> dict[str, int]:
    """Units of each line Amazon says will not ship (each item's cancelled plus unfulfillable
    quantity, from getFulfillmentOrder), by item id; lines that ship in full are left out."""
    from opayo_fba.refunds.allocation import line_ids

    lines = line_ids(order)
    units: dict[str, int] = {}
    for item in fulfillment.items:
        item_id = item.seller_fulfillment_order_item_id
        lost = item.cancelled_quantity + item.unfulfillable_quantity
        if item_id in lines and lost > 0:
            units[item_id] = min(lost, lines[item_id].quantity)
    return units


def shipment_summary(fulfillment: FulfillmentOrder) -> list[dict[str, Any]]:
    """Shipments and their packages as the saga state and OrderShipped carry them."""
    return [
        {
            "amazonShipmentId": shipment.amazon_shipment_id,
            "status": shipment.status.value,
            "shippedAt": shipment.shipped_at.isoformat() if shipment.shipped_at else None,
            "packages": [
                {
                    "packageNumber": package.package_number,
                    "carrierCode": package.carrier_code,
                    "trackingNumber": package.tracking_number,
                    "estimatedArrivalAt": (
                        package.estimated_arrival_at.isoformat()
                        if package.estimated_arrival_at
                        else None
                    ),
                }
                for package in shipment.packages
            ],
        }
        for shipment in fulfillment.shipments
    ]


def mark_shipped(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """Record the shipments and tracking Amazon reports, and write down the refund of any
    units it will not ship.

    Whatever resumed the saga (a FULFILLMENT_ORDER_STATUS notification carries no shipments or
    tracking numbers), the fulfillment order is read here, so `GET /orders/{id}` and
    OrderShipped carry every shipment, package, carrier, tracking number and estimated
    arrival. Units cancelled or unfulfillable (a FillAllAvailable order that shipped in part,
    or items Amazon cancelled after capture) are refunded by RefundUnshipped, once: the
    refund is written down here under one id per order.
    """
    from opayo_fba.refunds.allocation import line_ids, units_refund
    from opayo_fba.refunds.ledger import refundable, refunded_units

    order_id = _order_id(state)
    record = deps.store.get(order_id)
    sfo_id = _sfo_id(record)
    with step_errors():
        fulfillment = read_fulfillment(deps.fulfillment(record.seller_account), sfo_id, order_id)
    tracking = fulfillment.tracking_numbers()

    def keep(r: OrderRecord) -> None:
        r.fulfillment = fulfillment
        r.fulfillment_status = fulfillment.status.value
        if not any(entry.event == "shipped" for entry in r.history):
            r.note("shipped", ", ".join(tracking)[:500] or None)
            # Followed to the door from now on by the after-sale tracker.
            if any(shipment.packages for shipment in fulfillment.shipments):
                r.follow_up_at = datetime.now(UTC)

    record = save(deps, order_id, keep)
    unshipped = unshipped_units(record.order, fulfillment)
    written = next((r for r in record.refunds if r.request_id == UNSHIPPED_REFUND_ID), None)
    if unshipped and written is None and record.captured is not None:
        already = refunded_units(record)
        ordered = line_ids(record.order)
        left = {k: min(v, ordered[k].quantity - already.get(k, 0)) for k, v in unshipped.items()}
        left = {k: v for k, v in left.items() if v > 0}
        amount = units_refund(record.order, left, already) if left else None
        if amount is not None:
            amount = min(amount, refundable(record))
        if amount is not None and amount.amount > 0:
            write_down_refund(
                deps,
                order_id,
                amount,
                reason=f"not shipped by Amazon ({fulfillment.status.value})",
                kind="unshipped",
                request_id=UNSHIPPED_REFUND_ID,
                lines=tuple(RefundLine(line_id=k, quantity=v) for k, v in sorted(left.items())),
            )
            metrics.add_metric(
                name="UnitsNotShipped", unit=MetricUnit.Count, value=sum(left.values())
            )
            deps.events.publish(
                "UnitsNotShipped",
                {
                    "eventId": f"{order_id}#UnitsNotShipped",
                    "orderId": order_id,
                    "fulfillmentStatus": fulfillment.status.value,
                    "lines": [{"lineId": k, "quantity": v} for k, v in sorted(left.items())],
                    "refund": _money(amount),
                },
            )
    return {
        **state,
        "status": deps.store.get(order_id).status.value,
        "shipments": shipment_summary(fulfillment),
        "trackingNumbers": tracking,
    }


def refund_unshipped(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """Carry out the refund MarkShipped wrote down for units Amazon did not ship, if any."""
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    for index, refund in enumerate(record.refunds):
        if refund.request_id == UNSHIPPED_REFUND_ID:
            done = execute_refund(deps, record, index)
            return {
                "action": "refunded" if done.status == "succeeded" else done.status,
                **_money(done.amount),
            }
    return {"action": "none"}


# -- compensations ---------------------------------------------------------------------------
#
# A compensation never trusts the saga's belief: a step that timed out, or whose function was
# stopped after its call landed, may have done what the order does not record. Each one first
# asks the provider what is true now, records what it found on the order, and acts on that.


HOLD_UNFULFILLABLE = "hold"
HELD_FOR_RESUBMIT_NOTE = "authorisation_held"


def abort_payment(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """Give the customer's money back, whatever happened: abort if held, refund if taken.

    Under the merchant's `unfulfillableAuthorisations: hold`, a Deferred that Amazon could
    not fulfil (FulfillmentRejected, so nothing was captured) is kept instead, for a
    resubmission once stock is back; the held-authorisations check alarms on it and aborts
    it at the merchant's limit, before Opayo's 30 days.
    """
    reason = state.get("compensationReason") or {}
    outcome = reason.get("outcome") if isinstance(reason, Mapping) else None
    hold = deps.unfulfillable_authorisations == HOLD_UNFULFILLABLE
    if hold and outcome == "fulfillment_rejected":
        held = _hold_for_resubmit(deps, _order_id(state))
        if held is not None:
            return held
    return settle_payment(state, deps)


def _hold_for_resubmit(deps: SagaDependencies, order_id: str) -> dict[str, Any] | None:
    record = deps.store.get(order_id)
    payment = record.payment
    if (
        payment is None
        or payment.transaction_type is not TransactionType.DEFERRED
        or record.captured is not None
        or record.repeat_charge is not None
        or not payment.transaction_id
    ):
        return None
    with step_errors():
        observed = deps.payments(record).observe(pi_transaction_id(record))
    if observed.state is not PaymentState.AUTHORISED:
        return None  # captured or gone after all: settled as every compensation settles
    record_observed_payment(deps, order_id, observed)
    save(deps, order_id, lambda r: r.note(HELD_FOR_RESUBMIT_NOTE, "kept for a resubmission"))
    return {"found": observed.state.value, "action": "held"}


def refund_payment(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """The same decision as `abort_payment`: the state Opayo reports decides, not the branch."""
    return settle_payment(state, deps)


def settle_payment(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """Opayo says captured -> refund what is not refunded yet; authorised -> abort; else nothing.

    Idempotent: a refund is written down (with its id) before Opayo is asked, so a repeat
    reuses it; an abort that already happened reads back as ABORTED and is not sent again.
    """
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    charge = record.repeat_charge
    if charge is not None and charge.status != "taken":
        # A resubmitted attempt whose Repeat was not recorded as taken: its only money is
        # that Repeat, if Opayo made it; the earlier payment was settled by its own attempt.
        found = _settle_repeat(deps, record, charge)
        if found is not None:
            return found
        record = deps.store.get(order_id)
    payment = record.payment
    if payment is None or not payment.transaction_id or payment.state in _NEVER_HELD:
        return {"found": "nothing to settle", "action": "none"}
    port = deps.payments(record)
    with step_errors():
        observed = port.observe(pi_transaction_id(record))
    record = record_observed_payment(deps, order_id, observed)
    if observed.state is PaymentState.CAPTURED:
        return {"found": observed.state.value, **_refund_captured(state, deps, record, observed)}
    if observed.state is PaymentState.AUTHORISED:
        with step_errors():
            port.abort(pi_transaction_id(record))

        def keep(r: OrderRecord) -> None:
            if r.payment is not None:
                r.payment = r.payment.model_copy(update={"state": PaymentState.ABORTED})
            r.note("payment_aborted")

        save(deps, order_id, keep)
        return {"found": observed.state.value, "action": "aborted"}
    return {"found": observed.state.value, "action": "none"}


def _settle_repeat(
    deps: SagaDependencies, record: OrderRecord, charge: RepeatCharge
) -> dict[str, Any] | None:
    """Close the attempt's Repeat charge, then find out from Opayo whether it was made. None
    when it was (it is now the order's payment, and is settled like any other)."""
    order_id = record.order_id
    if charge.status == "declined":
        return {"found": "repeat declined", "action": "none"}
    if charge.status == "pending":
        # Closed first: a capture still under way that takes it after this refunds it itself.
        def close(r: OrderRecord) -> None:
            if r.repeat_charge is not None and r.repeat_charge.status == "pending":
                r.repeat_charge = r.repeat_charge.model_copy(update={"status": "cancelled"})

        record = save(deps, order_id, close)
        if record.repeat_charge is not None and record.repeat_charge.status == "taken":
            return None  # the capture finished first: settle its payment
    port = deps.payments(record)
    with step_errors():
        transaction_id = port.recover_transaction_id(charge.vendor_tx_code)
        if transaction_id is None:
            save(deps, order_id, lambda r: r.note("repeat_not_taken", charge.vendor_tx_code))
            return {"found": "no repeat at Opayo", "action": "none"}
        observed = port.observe(transaction_id)
    status = {
        PaymentState.CAPTURED: "Ok",
        PaymentState.VOIDED: "Ok",
        PaymentState.DECLINED: "NotAuthed",
    }.get(observed.state, "Error")
    _adopt_repeat(deps, order_id, charge, transaction_id, observed.state, status)
    return None


# A payment that never held money: nothing at Opayo to release or give back.
_NEVER_HELD = (PaymentState.DECLINED, PaymentState.NONE)


def record_observed_payment(
    deps: SagaDependencies, order_id: str, observed: ObservedPayment
) -> OrderRecord:
    """Write down what Opayo said; a capture the saga missed becomes a recorded capture."""

    def keep(r: OrderRecord) -> None:
        detail = observed.state.value + (f" ({observed.detail})" if observed.detail else "")
        r.note("payment_observed", detail[:200])
        if r.payment is None:
            return
        if observed.state is PaymentState.CAPTURED and r.captured is None:
            r.captured = observed.captured or _amount_released(r)
            r.note("payment_capture_found", str(r.captured))
        if observed.state in _OBSERVED_STATES and r.payment.state is not observed.state:
            r.payment = r.payment.model_copy(update={"state": observed.state})

    return save(deps, order_id, keep)


_OBSERVED_STATES = (
    PaymentState.CAPTURED,
    PaymentState.AUTHORISED,
    PaymentState.ABORTED,
    PaymentState.VOIDED,
)


def _amount_released(record: OrderRecord) -> Money:
    """What our capture step releases (the order total); the authorised amount if it exceeds."""
    try:
        return capture_amount(record)
    except CaptureFailed:
        assert record.payment is not None  # the caller checked
        return record.payment.amount


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

    save(deps, order_id, keep)
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


def _refund_id(order_id: str, index: int, attempt: int = 1) -> str:
    """The n-th refund of an order's attempt; recomputable from the record alone. A resubmitted
    order's refunds name their attempt, so none shares a vendorTxCode with an earlier one."""
    if attempt == 1:
        return f"{order_id}-R{index + 1}"
    return f"{order_id}-A{attempt}-R{index + 1}"


def _refund_captured(
    state: State, deps: SagaDependencies, record: OrderRecord, observed: ObservedPayment
) -> dict[str, Any]:
    """Carry out every refund already written down, then refund what is left of the capture."""
    order_id = record.order_id
    captured = record.captured
    if captured is None:  # record_observed_payment always sets it for a capture
        raise ValueError(f"order {order_id}: Opayo reports a capture of unknown amount")
    # A refund written down earlier (the shop's, one whose answer was lost) is carried out
    # first; if Opayo refuses it, it counts for nothing and the remainder below covers it.
    done = [
        refund for refund in execute_pending_refunds(deps, order_id) if refund.status == "succeeded"
    ]
    record = deps.store.get(order_id)
    ours = record.refunded.amount if record.refunded else 0
    theirs = observed.refunded.amount if observed.refunded else 0
    remaining = captured.amount - max(ours, theirs)
    if remaining <= 0:
        if done:
            return {"action": "refunded", "vendorTxCode": done[-1].vendor_tx_code}
        return {"action": "none", "reason": "already refunded in full"}
    reason = str((state.get("compensationReason") or {}).get("outcome", "refund"))
    record, index, _ = write_down_refund(
        deps, order_id, Money(amount=remaining, currency=captured.currency), reason=reason
    )
    refund = execute_refund(deps, record, index, raise_refused=True)
    return {"action": "refunded", "vendorTxCode": refund.vendor_tx_code}


def write_down_refund(
    deps: SagaDependencies,
    order_id: str,
    amount: Money,
    *,
    reason: str,
    kind: RefundKind = "compensation",
    request_id: str | None = None,
    lines: tuple[RefundLine, ...] = (),
    check: Callable[[OrderRecord], None] | None = None,
) -> tuple[OrderRecord, int, bool]:
    """Append a pending refund to the order (its id derived from its place), before Opayo is
    asked; `check` runs on the record being written and may refuse it. With `request_id`, a
    refund already written under that id is returned instead of a second one. Returns the
    record, the refund's index and whether it was written now."""
    # Imported here: the Pi client (and httpx) stays off the other steps' cold start.
    from opayo_fba.opayo.pi import refund_vendor_tx_code

    found: list[tuple[int, bool]] = []

    def keep(r: OrderRecord) -> None:
        found.clear()
        if request_id is not None:
            for index, existing in enumerate(r.refunds):
                if existing.request_id == request_id:
                    found.append((index, False))
                    return
        if check is not None:
            check(r)
        index = len(r.refunds)
        refund = Refund(
            order_id=order_id,
            vendor_tx_code=refund_vendor_tx_code(_refund_id(order_id, index, r.attempt)),
            reference_transaction_id=pi_transaction_id(r),
            amount=amount,
            reason=reason[:200],
            requested_at=datetime.now(UTC),
            kind=kind,
            request_id=request_id,
            lines=lines,
        )
        r.refunds.append(refund)
        r.note("refund_requested", f"{refund.vendor_tx_code} ({kind}, {amount})")
        found.append((index, True))

    record = save(deps, order_id, keep)
    return record, *found[0]


def execute_pending_refunds(
    deps: SagaDependencies, order_id: str, *, raise_refused: bool = False
) -> list[Refund]:
    """Carry out every refund of the order still pending, oldest first."""
    record = deps.store.get(order_id)
    results = []
    for index, refund in enumerate(record.refunds):
        if refund.status == "pending":
            results.append(execute_refund(deps, record, index, raise_refused=raise_refused))
            record = deps.store.get(order_id)
    return results


def execute_refund(
    deps: SagaDependencies, record: OrderRecord, index: int, *, raise_refused: bool = False
) -> Refund:
    """Ask Opayo for the pending refund at `index` and record its answer, once.

    The refund's vendorTxCode is derived from its id, so a repeat after a lost answer cannot
    refund twice: the connector finds the refund Opayo already made under that code
    (Reporting) instead of sending it again, and Opayo refuses a repeated code anyway.
    """
    order_id = record.order_id
    pending = record.refunds[index]
    if pending.status != "pending":
        return pending
    refund_id = _refund_id(order_id, index, record.attempt)
    with step_errors():
        result = deps.payments(record).refund(
            pending.reference_transaction_id,
            pending.amount,
            refund_id=refund_id,
            description=f"Refund for order {order_id}"[:100],
        )
    succeeded = result.succeeded
    settled: list[Refund] = []

    def settle(r: OrderRecord) -> None:
        settled.clear()
        current = r.refunds[index]
        if current.status == "pending":
            current = current.model_copy(
                update={
                    "status": "succeeded" if succeeded else "failed",
                    "transaction_id": result.transaction_id or None,
                    "status_detail": result.status_detail or None,
                    "completed_at": datetime.now(UTC),
                }
            )
            r.refunds[index] = current
            r.note("refund_" + ("issued" if succeeded else "refused"), pending.vendor_tx_code)
        settled.append(current)

    save(deps, order_id, settle)
    refund = settled[0]
    detail = {
        "eventId": f"{order_id}#{pending.vendor_tx_code}",
        "orderId": order_id,
        "vendorTxCode": pending.vendor_tx_code,
        "refundId": pending.request_id or refund_id,
        "kind": pending.kind,
        "reason": pending.reason,
        "lines": [line.model_dump(mode="json") for line in pending.lines],
        **_money(pending.amount),
    }
    if refund.status == "succeeded":
        deps.events.publish("RefundIssued", detail)
        return refund
    deps.events.publish("RefundFailed", {**detail, "statusDetail": refund.status_detail})
    metrics.add_metric(name="RefundsRefused", unit=MetricUnit.Count, value=1)
    if raise_refused:
        raise RefundFailed(f"Opayo refused refund {refund_id}: {refund.status_detail}")
    return refund


# Amazon has the goods moving or gone: a cancel is no longer possible, and money is owed.
UNDERWAY_STATUSES = (
    FbaFulfillmentOrderStatus.PROCESSING.value,
    FbaFulfillmentOrderStatus.COMPLETE.value,
    FbaFulfillmentOrderStatus.COMPLETE_PARTIALLED.value,
)
ENDED_STATUSES = (
    FbaFulfillmentOrderStatus.CANCELLED.value,
    FbaFulfillmentOrderStatus.INVALID.value,
    FbaFulfillmentOrderStatus.UNFULFILLABLE.value,
)


def cancel_fulfillment_order(state: State, deps: SagaDependencies) -> dict[str, Any]:
    """Amazon says live -> cancel; underway or shipped -> FulfillmentUnderway; else nothing.

    The create step may have landed without the saga knowing (its state timed out, or its
    function was stopped after the call), so Amazon is asked even when the order records no
    fulfillment order. A refused cancel whose order Amazon then shows Cancelled is a cancel
    that landed (its response was lost, or it was sent twice). When it is the merchant's
    cancellation that Amazon will not carry out (the order moved on to Processing after the
    request was accepted), the step ends in `CancellationRefused`: the request is marked
    refused, the shop is told, the order ships, nothing is refunded, and the state machine
    goes back to following it.
    """
    order_id = _order_id(state)
    record = deps.store.get(order_id)
    merchant = _merchant_cancellation(state)
    if record.cancel_refused and merchant:
        _cancellation_refused(deps, record, record.fulfillment_status or "unknown")
    if not (record.fulfillment_request or {}).get("sellerFulfillmentOrderId"):
        return {"found": "never mapped", "action": "none"}
    sfo_id = _sfo_id(record)
    amazon = deps.fulfillment(record.seller_account)
    with step_errors():
        try:
            found = read_fulfillment(amazon, sfo_id, order_id)
        except SpApiNotFound:
            save(deps, order_id, lambda r: r.note("fulfillment_observed", "none at Amazon"))
            return {"found": "none", "action": "none"}
    status = found.status.value
    if status in ENDED_STATUSES:
        _record_fulfillment(deps, order_id, found, "fulfillment_observed")
        return {"found": status, "action": "none"}
    if status in UNDERWAY_STATUSES:
        _record_fulfillment(deps, order_id, found, "fulfillment_observed")
        if merchant and record.cancel_requested:
            _cancellation_refused(deps, record, status)
        raise FulfillmentUnderway(f"fulfillment order {sfo_id} is {status}: it can't be cancelled")
    with step_errors():
        try:
            amazon.cancel_fulfillment_order(sfo_id)
        except SpApiRequestRejected:
            fulfillment = read_fulfillment(amazon, sfo_id, order_id)
            if fulfillment.status is not FbaFulfillmentOrderStatus.CANCELLED:
                _record_fulfillment(deps, order_id, fulfillment, "fulfillment_status")
                if merchant and record.cancel_requested:
                    _cancellation_refused(deps, record, fulfillment.status.value)
                if fulfillment.status.value in UNDERWAY_STATUSES:
                    raise FulfillmentUnderway(
                        f"fulfillment order {sfo_id} is {fulfillment.status.value}: "
                        "Amazon refused to cancel it"
                    ) from None
                raise
        else:
            fulfillment = read_fulfillment(amazon, sfo_id, order_id)
    _record_fulfillment(deps, order_id, fulfillment, "fulfillment_order_cancelled")
    return {"found": status, "action": "cancelled"}


UNFULFILLABLE_OUTCOMES = frozenset({"fulfillment_rejected", "fulfillment_lost"})


def record_outcome(state: State, deps: SagaDependencies) -> dict[str, Any]:
    order_id = _order_id(state)
    reason = state.get("compensationReason") or {}
    outcome = str(reason.get("outcome", "compensated"))

    def keep(r: OrderRecord) -> None:
        r.outcome = outcome
        r.note("outcome", outcome)

    record = save(deps, order_id, keep)
    # The dashboard's "compensated" line and its alarm read this (infra/monitoring.py).
    metrics.add_metric(name="SagaCompensated", unit=MetricUnit.Count, value=1)
    account = record.seller_account
    account_metric(ACCOUNT_COMPENSATED, account)  # per account: its own alarm
    if outcome == "payment_declined":
        account_metric(ACCOUNT_DECLINED, account)  # over ACCOUNT_RECEIVED: the decline rate
    if outcome in UNFULFILLABLE_OUTCOMES:
        # Amazon could not fulfil it (no stock, an address it cannot serve): this alarms, so
        # someone restocks and resubmits it (resubmit.py).
        metrics.add_metric(name="OrdersUnfulfillable", unit=MetricUnit.Count, value=1)
        account_metric(ACCOUNT_UNFULFILLABLE, account)
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
