"""`POST /orders/{orderId}/resubmit`: try again an order Amazon could not fulfil.

An order whose saga ended because Amazon could not fulfil it (`fulfillment_rejected`: the
preview or the create said no, for stock or the address; `fulfillment_lost`: Amazon marked it
Unfulfillable after capture) can be resubmitted once stock is back. A resubmission:

- is idempotent on the caller's `resubmitId`: the same id again answers 200 with the order
  (and starts its execution if a crash stopped that); an id used for an earlier attempt is a
  409;
- asks Amazon first (getFulfillmentPreview of the order's own request): an order Amazon still
  cannot fulfil is a 409 with Amazon's reason, and nothing is written;
- decides where the money comes from by asking Opayo, never by believing the record:
  - the Deferred is still authorised (the merchant keeps authorisations of unfulfillable
    orders, `unfulfillableAuthorisations: hold`) -> the saga captures that same Deferred;
  - the money was given back (a Payment, a Repeat or a released Deferred, refunded in full)
    -> the authorisation lapsed and a new one is needed: a Pi Repeat of the card of the last
    successful transaction, for the order's total. Its vendorTxCode is written down here,
    and the saga's CapturePayment step takes it only after Amazon has accepted the new
    fulfillment order, so an order still out of stock never charges the card;
  - an aborted or voided Deferred, a declined one, or a payment made through Opayo Server
    -> a 409: Opayo repeats only a Payment, a Repeat or a released Deferred ("REPEAT
    Transactions", Elavon's developer pages), and Server payments are charged again only by
    the shopper; the shop takes a new order.
- archives the ended attempt (its fulfillment order, payment, capture, refunds) under
  `previous_attempts` and starts a new saga execution for attempt n+1, with a new
  sellerFulfillmentOrderId (`attempt_fulfillment_order_id`); `OrderResubmitted` is published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opayo_fba.amazon.errors import SpApiRequestRejected
from opayo_fba.convert.fba_outbound import attempt_fulfillment_order_id
from opayo_fba.errors import ConflictError
from opayo_fba.model import PaymentState, TransactionType
from opayo_fba.saga import steps
from opayo_fba.saga.errors import FulfillmentRejected, step_errors
from opayo_fba.saga.steps import SagaDependencies
from opayo_fba.store.orders import OrderAttempt, OrderRecord, RepeatCharge

MAX_RESUBMIT_REQUEST_BYTES = 2_048
MAX_RESUBMIT_REQUEST_DEPTH = 2
MAX_ATTEMPTS = 5
"""An order is tried at most this many times; past that, the shop takes a new order."""
RESUBMITTABLE_OUTCOMES = steps.UNFULFILLABLE_OUTCOMES
REPEATABLE = (TransactionType.PAYMENT, TransactionType.REPEAT, TransactionType.DEFERRED)
"""What Opayo repeats: a Payment, a Repeat, or a Deferred once released (Elavon)."""

ResubmitId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class ResubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)

    resubmit_id: ResubmitId = Field(alias="resubmitId")


def parse_resubmit_request(body: str) -> ResubmitRequest:
    """The body: bounded in size and depth, screened for card numbers, validated."""
    from opayo_fba.intake.orders import parse_request

    return parse_request(
        body,
        ResubmitRequest,
        what="resubmit",
        max_bytes=MAX_RESUBMIT_REQUEST_BYTES,
        max_depth=MAX_RESUBMIT_REQUEST_DEPTH,
    )


class AttemptStarter(Protocol):
    def start(self, order_id: str, attempt: int = 1) -> bool: ...


@dataclass(frozen=True)
class ResubmitReply:
    record: OrderRecord
    created: bool  # False: a repeat of this resubmission
    money: str  # "held authorisation" or "repeat"


def repeat_vendor_tx_code(order_id: str, attempt: int) -> str:
    """The vendorTxCode of the Repeat that pays `attempt` of an order, from the two alone
    (readable when it fits Opayo's 40 characters, else hashed, like a refund's)."""
    from opayo_fba.opayo.pi import derived_vendor_tx_code

    return derived_vendor_tx_code("RPT", f"{order_id}-A{attempt}")


def resubmit_order(
    deps: SagaDependencies,
    starter: AttemptStarter,
    order_id: str,
    request: ResubmitRequest,
) -> ResubmitReply:
    record = deps.store.get(order_id)
    if record.resubmit_id == request.resubmit_id:
        starter.start(order_id, record.attempt)  # a no-op unless a crash stopped it
        return ResubmitReply(record, False, _money_of(record))
    for earlier in record.previous_attempts:
        if earlier.resubmit_id == request.resubmit_id:
            raise ConflictError(
                f"resubmitId {request.resubmit_id} made attempt {earlier.attempt}, which has "
                "ended; use a new resubmitId to try again"
            )
    _check_resubmittable(record)
    charge = _next_payment(deps, record)
    attempt = record.attempt + 1
    request_body = _check_stock(deps, record, attempt)
    ended_at = datetime.now(UTC)

    def keep(r: OrderRecord) -> None:
        if r.version != record.version:
            # Someone else changed it since we asked Opayo and Amazon: decide again.
            raise ConflictError(f"order {order_id} changed meanwhile; send the request again")
        r.previous_attempts.append(
            OrderAttempt(
                attempt=r.attempt,
                seller_fulfillment_order_id=str(
                    (r.fulfillment_request or {}).get("sellerFulfillmentOrderId") or ""
                )
                or None,
                fulfillment_status=r.fulfillment_status,
                outcome=r.outcome,
                payment=r.payment,
                captured=r.captured,
                refunds=tuple(r.refunds),
                saga_execution=r.saga_execution,
                resubmit_id=r.resubmit_id,
                ended_at=ended_at,
            )
        )
        r.attempt = attempt
        r.resubmit_id = request.resubmit_id
        r.repeat_charge = charge
        r.fulfillment_request = request_body
        r.fulfillment = None
        r.fulfillment_status = None
        r.captured = None
        r.refunds = []
        r.outcome = None
        r.saga_task_token = None
        r.saga_execution = None
        r.note(
            "resubmitted",
            f"attempt {attempt}, {request_body['sellerFulfillmentOrderId']}, "
            + (f"a repeat {charge.vendor_tx_code}" if charge else "the held authorisation"),
        )

    record = steps.save(deps, order_id, keep)
    starter.start(order_id, attempt)
    deps.events.publish(
        "OrderResubmitted",
        {
            "eventId": f"{order_id}#OrderResubmitted#{attempt}",
            "orderId": order_id,
            "attempt": attempt,
            "resubmitId": request.resubmit_id,
            "sellerFulfillmentOrderId": request_body["sellerFulfillmentOrderId"],
            "payment": _money_of(record),
            **({"repeatVendorTxCode": charge.vendor_tx_code} if charge else {}),
        },
    )
    return ResubmitReply(record, True, _money_of(record))


def _money_of(record: OrderRecord) -> str:
    return "repeat" if record.repeat_charge is not None else "held authorisation"


def _check_resubmittable(record: OrderRecord) -> None:
    order_id = record.order_id
    if record.outcome not in RESUBMITTABLE_OUTCOMES:
        ended = f"ended as {record.outcome}" if record.outcome else "has not ended"
        raise ConflictError(
            f"order {order_id} {ended} (status {record.status.value}); only an order Amazon "
            "could not fulfil can be resubmitted"
        )
    if record.cancel_requested or record.cancel_refused:
        raise ConflictError(f"order {order_id} was cancelled by the merchant")
    if record.attempt >= MAX_ATTEMPTS:
        raise ConflictError(
            f"order {order_id} was tried {record.attempt} times; take a new order instead"
        )
    if record.fulfillment_request is None:
        raise ConflictError(f"order {order_id} was never mapped to a fulfillment order")


def _next_payment(deps: SagaDependencies, record: OrderRecord) -> RepeatCharge | None:
    """None to capture the Deferred still held, or the Repeat to take; ConflictError if the
    order can only be paid again by the shopper."""
    order_id = record.order_id
    payment = record.payment
    if payment is None or not payment.transaction_id:
        raise ConflictError(f"order {order_id} has no payment to charge again")
    if payment.provider == "server":
        raise ConflictError(
            f"order {order_id} was paid through Opayo Server, which this integration does not "
            "charge again; take a new order with a new payment from the shopper"
        )
    if record.refund_pending_since() is not None:
        raise ConflictError(
            f"order {order_id}: a refund of the ended attempt is still pending at Opayo; "
            "resubmit once it is done"
        )
    with step_errors():
        observed = deps.payments(record).observe(steps.pi_transaction_id(record))
    if observed.state is PaymentState.AUTHORISED:
        return None  # a Deferred still held: the saga captures it
    due = record.order.amount_due()
    given_back = observed.state is PaymentState.CAPTURED and _given_back(record)
    if not given_back or payment.transaction_type not in REPEATABLE:
        raise ConflictError(
            f"order {order_id}: Opayo says the {payment.transaction_type.value} is "
            f"{observed.state.value}, and Opayo repeats only a Payment, a Repeat or a released "
            "Deferred; the authorisation lapsed, so take a new payment from the shopper"
        )
    if payment.amount.currency != due.currency:
        raise ConflictError(f"order {order_id}: the order is in {due.currency}, the card in "
                            f"{payment.amount.currency}")  # fmt: skip
    attempt = record.attempt + 1
    return RepeatCharge(
        vendor_tx_code=repeat_vendor_tx_code(order_id, attempt),
        reference_transaction_id=steps.pi_transaction_id(record),
        amount=due,
    )


def _given_back(record: OrderRecord) -> bool:
    """Whether the payment's capture was refunded in full, counting the refunds of every
    attempt that held it (an attempt whose Repeat was never made holds none of its own)."""
    payment = record.payment
    assert payment is not None  # the caller checked
    transaction_id = steps.pi_transaction_id(record)
    held = [(record.captured, record.refunds)] + [
        (a.captured, list(a.refunds))
        for a in record.previous_attempts
        if a.payment is not None and a.payment.vendor_tx_code == payment.vendor_tx_code
    ]
    captured = next((amount for amount, _ in held if amount is not None), None)
    refunded = sum(
        refund.amount.amount
        for _, refunds in held
        for refund in refunds
        if refund.status == "succeeded" and refund.reference_transaction_id == transaction_id
    )
    return captured is not None and refunded >= captured.amount


def _check_stock(deps: SagaDependencies, record: OrderRecord, attempt: int) -> dict[str, Any]:
    """The next attempt's createFulfillmentOrder body, once Amazon says it can fulfil it."""
    assert record.fulfillment_request is not None  # _check_resubmittable checked
    sfo_id = attempt_fulfillment_order_id(record.order_id, attempt)
    body = {**record.fulfillment_request, "sellerFulfillmentOrderId": sfo_id}
    amazon = deps.fulfillment(record.seller_account)
    with step_errors():
        try:
            steps.check_fulfillable(amazon, body, sfo_id)
        except (FulfillmentRejected, SpApiRequestRejected) as error:
            raise ConflictError(
                f"order {record.order_id}: {error}; nothing was changed, resubmit once "
                "stock is back"
            ) from None
    return body


def reply_body(reply: ResubmitReply) -> tuple[int, dict[str, Any]]:
    """202 for a resubmission started now (the saga runs), 200 for a repeat of it."""
    return (202 if reply.created else 200), {
        "attempt": reply.record.attempt,
        "payment": reply.money,
        "order": reply.record.public_view(),
    }
