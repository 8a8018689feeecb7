"""`POST /orders/{orderId}/refunds`: the shop or the ERP refunds an order, whole or in part.

A request names its own `refundId`, which makes it idempotent: the same refundId again is the
same refund (its state is returned, and a refund still pending is carried out), and the same
refundId with a different amount or lines is a 409. A refund is for an amount, or for units
of lines (worth what `opayo_fba.refunds.allocation` says they are). It may never exceed what
was captured less what is refunded or being refunded; that, a payment not captured yet, or
an order with no payment is a 409 with the reason, and nothing is written.

The refund is written down as pending before Opayo is asked (saga.steps.write_down_refund),
then carried out through the payment's own integration (Pi Refund, or the Shared Protocol's
refund.vsp for a Server payment). When Opayo cannot be asked right now the refund stays
pending: a repeat of the request, or the scheduled sweep of pending refunds, carries it out.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from opayo_fba.errors import ConflictError, InvalidInputError
from opayo_fba.model import Money, Refund, RefundLine
from opayo_fba.model.address import clean_text
from opayo_fba.refunds.allocation import count_units, line_ids, units_refund
from opayo_fba.refunds.ledger import refundable, refunded_units
from opayo_fba.saga import steps
from opayo_fba.saga.errors import UpstreamError
from opayo_fba.saga.steps import SagaDependencies
from opayo_fba.store.orders import OrderRecord

MAX_REFUND_REQUEST_BYTES = 16_384
MAX_REFUND_REQUEST_DEPTH = 6

RefundId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
RefundReason = Annotated[
    Annotated[str, StringConstraints(min_length=1, max_length=200)] | None,
    BeforeValidator(clean_text),
]
"""Cleaned text of 1 to 200 characters (the bounds on the text itself, so the OpenAPI document
and the edge's model say them too); None when empty, which the request refuses."""


class RefundLineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)

    line_id: str = Field(alias="lineId", min_length=1, max_length=50)
    """The order line's line_id, or its 1-based position when it has none."""
    quantity: int = Field(ge=1, le=250)


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)

    refund_id: RefundId = Field(alias="refundId")
    amount: Money | None = None
    lines: tuple[RefundLineRequest, ...] | None = Field(default=None, min_length=1, max_length=100)
    reason: RefundReason

    @model_validator(mode="after")
    def _amount_or_lines(self) -> RefundRequest:
        if (self.amount is None) == (self.lines is None):
            raise ValueError("give either amount or lines, not both and not neither")
        if self.amount is not None and self.amount.amount <= 0:
            raise ValueError("amount must be positive")
        if self.reason is None:
            raise ValueError("reason is required")
        return self

    def units(self) -> dict[str, int]:
        return count_units((line.line_id, line.quantity) for line in self.lines or ())


def parse_refund_request(body: str) -> RefundRequest:
    """The body: bounded in size and depth, screened for card numbers, validated."""
    from opayo_fba.intake.orders import parse_request

    return parse_request(
        body,
        RefundRequest,
        what="refund",
        max_bytes=MAX_REFUND_REQUEST_BYTES,
        max_depth=MAX_REFUND_REQUEST_DEPTH,
    )


@dataclass(frozen=True)
class RefundReply:
    refund: Refund
    created: bool  # False: a repeat of a refund already requested
    record: OrderRecord


def _matches(refund: Refund, request: RefundRequest, lines: tuple[RefundLine, ...]) -> bool:
    """Whether an earlier refund under this refundId is the one asked for now."""
    if request.amount is not None:
        return not refund.lines and refund.amount == request.amount
    return sorted(refund.lines, key=lambda line: line.line_id) == sorted(
        lines, key=lambda line: line.line_id
    )


def _amount_for(record: OrderRecord, request: RefundRequest) -> Money:
    if request.amount is not None:
        return request.amount
    lines = line_ids(record.order)
    already = refunded_units(record)
    for item_id, count in request.units().items():
        line = lines.get(item_id)
        if line is None:
            known = ", ".join(sorted(lines))
            raise InvalidInputError(
                f"lines: the order has no line {item_id!r} (its lines: {known})"
            )
        left = line.quantity - already.get(item_id, 0)
        if count > left:
            raise ConflictError(
                f"lines: line {item_id!r} has {left} of its {line.quantity} units left to "
                f"refund, not {count}"
            )
    return units_refund(record.order, request.units(), already)


def _check(record: OrderRecord, amount: Money) -> None:
    left = refundable(record)
    if amount.currency != left.currency:
        raise InvalidInputError(
            f"amount is in {amount.currency}; the payment was captured in {left.currency}"
        )
    if amount.amount > left.amount:
        captured = record.captured
        raise ConflictError(
            f"a refund of {amount} exceeds what can still be refunded ({left} of the {captured} "
            "captured)"
        )


def request_refund(deps: SagaDependencies, order_id: str, request: RefundRequest) -> RefundReply:
    """Write the refund down (once per refundId) and carry it out; see the module doc."""
    record = deps.store.get(order_id)
    lines = tuple(
        RefundLine(line_id=item_id, quantity=count) for item_id, count in request.units().items()
    )
    existing = next((r for r in record.refunds if r.request_id == request.refund_id), None)
    if existing is None:
        if record.payment is None or not record.payment.transaction_id:
            raise ConflictError(f"order {order_id} has no Opayo payment to refund")
        amount = _amount_for(record, request)
        _check(record, amount)
        record, index, created = steps.write_down_refund(
            deps,
            order_id,
            amount,
            reason=request.reason or "merchant refund",
            kind="merchant",
            request_id=request.refund_id,
            lines=lines,
            # Checked again on the record being written: a refund written meanwhile counts,
            # for the amount and for the units of each line.
            check=lambda r: _check(r, _amount_for(r, request) if lines else amount),
        )
    else:
        index, created = record.refunds.index(existing), False
    refund = record.refunds[index]
    if not created and not _matches(refund, request, lines):
        raise ConflictError(
            f"refundId {request.refund_id} was already used for a refund of {refund.amount}; "
            "use a new refundId for another refund"
        )
    if refund.status == "pending":
        # Opayo could not be asked: still pending, carried out by a retry or the sweep.
        with suppress(UpstreamError):
            refund = steps.execute_refund(deps, record, index)
    return RefundReply(refund=refund, created=created, record=deps.store.get(order_id))


def reply_body(reply: RefundReply) -> tuple[int, dict[str, Any]]:
    """201 for a refund made now, 200 for a repeat, 202 while Opayo has not answered, and 409
    (with the refund) when Opayo refused it."""
    refund = reply.refund.model_dump(mode="json", exclude={"reference_transaction_id"})
    body: dict[str, Any] = {"refund": refund, "order": reply.record.public_view()}
    if reply.refund.status == "failed":
        return 409, {"error": f"Opayo refused the refund: {reply.refund.status_detail}", **body}
    if reply.refund.status == "pending":
        return 202, body
    return (201 if reply.created else 200), body
