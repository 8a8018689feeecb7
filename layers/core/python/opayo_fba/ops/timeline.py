"""An order's whole story in time order: what its record says happened, and its saga's steps.

The record (store/orders.py) keeps a history of notes, the payment, the fulfillment order
with its shipments, what the carrier said of each package, refunds, returns and earlier
attempts, each with its own times; Step Functions keeps each execution's history
(GetExecutionHistory). Both become `TimelineEntry`s, merged by time. No request body, no
payment method and no mapped source order is shown; a card number that slipped into a
free-text cause is masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opayo_fba.card_numbers import mask_card_numbers
from opayo_fba.saga.starter import execution_name
from opayo_fba.store.orders import OrderRecord

MAX_CAUSE = 300
# Step Functions event types shown as they are; every *StateEntered shows its state's name.
_EXECUTION_EVENTS = {
    "ExecutionStarted": "saga started",
    "ExecutionSucceeded": "saga succeeded",
    "ExecutionFailed": "saga failed",
    "ExecutionAborted": "saga aborted",
    "ExecutionTimedOut": "saga timed out",
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    source: str
    """Where it comes from: order, payment, saga, fulfillment, shipment, package, refund,
    return or attempt."""
    title: str
    detail: str | None = None
    link: str | None = None
    """A carrier's tracking page, for a package."""


def _clip(text: str | None) -> str | None:
    if not text:
        return None
    masked = mask_card_numbers(text)
    return masked if len(masked) <= MAX_CAUSE else masked[: MAX_CAUSE - 1] + "…"


def record_timeline(record: OrderRecord) -> list[TimelineEntry]:
    """What the order record itself says happened, each at the time it names."""
    entries = [TimelineEntry(record.order.placed_at, "order", "placed by the shopper")]
    entries += [
        TimelineEntry(note.at, "order", note.event, _clip(note.detail)) for note in record.history
    ]
    payment = record.payment
    if payment is not None:
        card = payment.card
        method = (
            f"{card.card_type or 'card'} ending {card.last_four_digits}"
            if card is not None and card.last_four_digits
            else None
        )
        what = f"{payment.transaction_type.value} {payment.amount}: {payment.status}"
        detail = "; ".join(d for d in (method, _clip(payment.status_detail)) if d) or None
        if payment.created_at is not None:
            entries.append(TimelineEntry(payment.created_at, "payment", what, detail))
        if payment.updated_at is not None and payment.updated_at != payment.created_at:
            entries.append(
                TimelineEntry(payment.updated_at, "payment", f"payment {payment.state.value}")
            )
    fulfillment = record.fulfillment
    if fulfillment is not None:
        fo_id = fulfillment.seller_fulfillment_order_id
        if fulfillment.received_at is not None:
            entries.append(
                TimelineEntry(fulfillment.received_at, "fulfillment", f"Amazon received {fo_id}")
            )
        if fulfillment.status_updated_at is not None:
            entries.append(
                TimelineEntry(
                    fulfillment.status_updated_at,
                    "fulfillment",
                    f"fulfillment {fulfillment.status.value}",
                    fo_id,
                )
            )
        for shipment in fulfillment.shipments:
            if shipment.shipped_at is not None:
                tracking = ", ".join(
                    f"{p.carrier_code} {p.tracking_number}"
                    for p in shipment.packages
                    if p.tracking_number
                )
                entries.append(
                    TimelineEntry(
                        shipment.shipped_at,
                        "shipment",
                        f"shipment {shipment.amazon_shipment_id} {shipment.status.value}",
                        tracking or None,
                    )
                )
    for package in record.packages:
        for event in package.events:
            where = ", ".join(p for p in (event.city, event.state, event.country) if p)
            entries.append(
                TimelineEntry(
                    event.at,
                    "package",
                    f"package {package.package_number}: {event.description or event.code}",
                    where or None,
                    package.customer_tracking_link,
                )
            )
    for refund in record.refunds:
        what = f"refund {refund.amount} ({refund.kind})"
        if refund.requested_at is not None:
            entries.append(
                TimelineEntry(refund.requested_at, "refund", f"{what} asked", _clip(refund.reason))
            )
        if refund.completed_at is not None:
            entries.append(
                TimelineEntry(
                    refund.completed_at,
                    "refund",
                    f"{what} {refund.status}",
                    _clip(refund.status_detail),
                )
            )
    for returned in record.returns:
        units = sum(line.quantity for line in returned.lines)
        entries.append(
            TimelineEntry(
                returned.requested_at,
                "return",
                f"return {returned.return_id} asked ({units} units)",
                returned.reason_code,
            )
        )
        if returned.received_at is not None:
            entries.append(
                TimelineEntry(
                    returned.received_at,
                    "return",
                    f"return {returned.return_id} received",
                    ", ".join(returned.conditions) or None,
                )
            )
    for attempt in record.previous_attempts:
        entries.append(
            TimelineEntry(
                attempt.ended_at,
                "attempt",
                f"attempt {attempt.attempt} ended: {attempt.outcome or 'no outcome'}",
                attempt.seller_fulfillment_order_id,
            )
        )
    return entries


def execution_arn(state_machine_arn: str, order_id: str, attempt: int = 1) -> str:
    """The ARN of the saga execution SagaStarter starts for `order_id`'s `attempt`."""
    return (
        state_machine_arn.replace(":stateMachine:", ":execution:", 1)
        + ":"
        + execution_name(order_id, attempt)
    )


def saga_attempts(record: OrderRecord) -> list[int]:
    """The attempts whose executions may exist: the earlier ones, then the current one."""
    return sorted({*(a.attempt for a in record.previous_attempts), record.attempt})


def execution_timeline(
    events: Iterable[Mapping[str, Any]], attempt: int = 1
) -> list[TimelineEntry]:
    """GetExecutionHistory's events as timeline entries: the execution's start and end, each
    state entered, and each failure with its error (never a state's input or output)."""
    label = f" (attempt {attempt})" if attempt > 1 else ""
    entries = []
    for event in events:
        kind = str(event.get("type", ""))
        at = event.get("timestamp")
        if not isinstance(at, datetime):
            continue
        details = next(
            (v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)),
            {},
        )
        if kind in _EXECUTION_EVENTS:
            detail = _clip(" ".join(str(details[k]) for k in ("error", "cause") if details.get(k)))
            entries.append(TimelineEntry(at, "saga", _EXECUTION_EVENTS[kind] + label, detail))
        elif kind.endswith("StateEntered"):
            entries.append(TimelineEntry(at, "saga", f"step {details.get('name', '?')}{label}"))
        elif kind.endswith(("Failed", "TimedOut")):
            error = details.get("error")
            entries.append(
                TimelineEntry(
                    at,
                    "saga",
                    f"{kind}{label}" + (f": {error}" if error else ""),
                    _clip(str(details["cause"])) if details.get("cause") else None,
                )
            )
    return entries


def merged(*parts: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """Every entry of every part, oldest first (a stable sort: ties keep their order)."""
    return sorted((entry for part in parts for entry in part), key=lambda entry: entry.at)
