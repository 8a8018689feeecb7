"""Returns: `POST /orders/{orderId}/returns` asks Amazon for a return authorization, and a
return Amazon has received is refunded.

MCF leaves the customer's refund to the seller (sp-api reference, "After the sale"). So:
1. The shop or ERP names the units coming back (`items: [{lineId, quantity}]`) and a reason
   code Amazon accepts for each SKU (listReturnReasonCodes). One createFulfillmentReturn item
   is one unit, with a sellerReturnItemId derived from the caller's `returnId`, so a repeat of
   the request is the same return (Amazon refuses a repeated id; the connector then reports
   the first answer). The RMA details (Amazon's RMA id, the address, the RMA page) go back to
   the shop to send to the customer, and `ReturnAuthorized` to the bus.
2. The order stays in the follow-up index; the after-sale tracker (and, sooner, a Return
   notification, which makes the order due at once) reads the fulfillment order. Once every
   unit of a return shows `Processed` with its `returnReceivedCondition`, the return is
   refunded: each unit worth what `opayo_fba.refunds.allocation` says, less the merchant's
   deduction for its condition (`returnDeductions`, a percentage per condition; none by
   default), through the one refund path (kind `return`, one refund per return). The order
   becomes `returned` and `ReturnReceived` goes to the bus.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opayo_fba.errors import ConflictError, InvalidInputError
from opayo_fba.model import FbaShipmentStatus, Money, RefundLine
from opayo_fba.model.address import CleanText
from opayo_fba.model.fulfillment import ReturnAuthorization
from opayo_fba.refunds.allocation import count_units, line_ids, units_value
from opayo_fba.saga import steps
from opayo_fba.saga.errors import UpstreamError
from opayo_fba.saga.steps import SagaDependencies, save
from opayo_fba.store.orders import OrderRecord, OrderReturn

MAX_RETURN_REQUEST_BYTES = 16_384
MAX_RETURN_REQUEST_DEPTH = 6
ReturnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,40}$")]


class ReturnLineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)

    line_id: str = Field(alias="lineId", min_length=1, max_length=50)
    quantity: int = Field(ge=1, le=250)


class ReturnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)

    return_id: ReturnId = Field(alias="returnId")
    items: tuple[ReturnLineRequest, ...] = Field(min_length=1, max_length=100)
    reason_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] = Field(
        alias="reasonCode"
    )
    comment: CleanText = None
    """At most CleanText's 255 characters (what was always enforced; the 1000 once written
    here was never applied, so the document and the edge now say 255 too)."""

    def units(self) -> dict[str, int]:
        return count_units((item.line_id, item.quantity) for item in self.items)


def parse_return_request(body: str) -> ReturnRequest:
    """The body: bounded in size and depth, screened for card numbers, validated."""
    from opayo_fba.intake.orders import parse_request

    return parse_request(
        body,
        ReturnRequest,
        what="return",
        max_bytes=MAX_RETURN_REQUEST_BYTES,
        max_depth=MAX_RETURN_REQUEST_DEPTH,
    )


class ReturnsAmazon(Protocol):
    def return_reason_codes(
        self, seller_sku: str, seller_fulfillment_order_id: str | None = None
    ) -> list[Any]: ...

    def create_fulfillment_return(
        self, seller_fulfillment_order_id: str, items: Any
    ) -> dict[str, Any]: ...


def return_item_id(return_id: str, line_id: str, unit: int) -> str:
    """One unit's sellerReturnItemId (Amazon: at most 80 characters), from the request alone."""
    candidate = f"{return_id}-{line_id}-{unit}"
    if len(candidate) <= 80:
        return candidate
    return "RET-" + hashlib.sha256(candidate.encode()).hexdigest()[:40]


def _shipped_units(record: OrderRecord) -> dict[str, list[str]]:
    """For each line, the Amazon shipment id of each unit that shipped."""
    units: dict[str, list[str]] = {}
    shipments = record.fulfillment.shipments if record.fulfillment is not None else ()
    for shipment in shipments:
        if shipment.status is not FbaShipmentStatus.SHIPPED:
            continue
        for item in shipment.items:
            units.setdefault(item.seller_fulfillment_order_item_id, []).extend(
                [shipment.amazon_shipment_id] * item.quantity
            )
    return units


def _returned_units(record: OrderRecord, but: str | None = None) -> dict[str, int]:
    return count_units(
        (line.line_id, line.quantity)
        for r in record.returns
        if r.return_id != but
        for line in r.lines
    )


def request_return(
    deps: SagaDependencies, amazon: ReturnsAmazon, order_id: str, request: ReturnRequest
) -> tuple[OrderReturn, bool, OrderRecord]:
    """Ask Amazon to authorise the return (once per returnId); (return, created, order)."""
    from opayo_fba.convert.fba_outbound import fulfillment_return_from_fba

    record = deps.store.get(order_id)
    existing = next((r for r in record.returns if r.return_id == request.return_id), None)
    lines = tuple(RefundLine(line_id=k, quantity=v) for k, v in sorted(request.units().items()))
    if existing is not None:
        if existing.lines != lines:
            raise ConflictError(
                f"returnId {request.return_id} was already used for other items; use a new one"
            )
        return existing, False, record
    if record.captured is None:
        raise ConflictError(f"order {order_id} was not paid for, so nothing can be returned")
    shipped = _shipped_units(record)
    if not shipped:
        raise ConflictError(f"order {order_id} has not shipped: cancel it instead")
    ordered = line_ids(record.order)
    already = _returned_units(record)
    sfo_id = str((record.fulfillment_request or {}).get("sellerFulfillmentOrderId") or "")
    items: list[dict[str, Any]] = []
    for line_id, count in request.units().items():
        if line_id not in ordered:
            known = ", ".join(sorted(ordered))
            raise InvalidInputError(
                f"items: the order has no line {line_id!r} (its lines: {known})"
            )
        units = shipped.get(line_id, [])
        left = len(units) - already.get(line_id, 0)
        if count > left:
            raise ConflictError(
                f"items: line {line_id!r} has {left} shipped units not yet returned, not {count}"
            )
        codes = amazon.return_reason_codes(_seller_sku(record, line_id), sfo_id)
        accepted = {code.code for code in codes}
        if request.reason_code not in accepted:
            raise InvalidInputError(
                f"reasonCode {request.reason_code!r} is not one Amazon accepts for line "
                f"{line_id!r}; use one of: {', '.join(sorted(accepted))}"
            )
        first = already.get(line_id, 0)
        for unit in range(first, first + count):
            item: dict[str, Any] = {
                "sellerReturnItemId": return_item_id(request.return_id, line_id, unit + 1),
                "sellerFulfillmentOrderItemId": line_id,
                "amazonShipmentId": units[unit],
                "returnReasonCode": request.reason_code,
            }
            if request.comment:
                item["returnComment"] = request.comment
            items.append(item)
    answer = fulfillment_return_from_fba(amazon.create_fulfillment_return(sfo_id, items))
    if answer.invalid_return_items:
        reasons = "; ".join(
            f"{i.seller_fulfillment_order_item_id}: {i.reason_code}"
            for i in answer.invalid_return_items
        )
        raise ConflictError(f"Amazon refused the return: {reasons}")
    made = OrderReturn(
        return_id=request.return_id,
        lines=lines,
        reason_code=request.reason_code,
        item_ids=tuple(i["sellerReturnItemId"] for i in items),
        authorizations=answer.return_authorizations,
        requested_at=datetime.now(UTC),
    )

    def keep(r: OrderRecord) -> None:
        if any(x.return_id == made.return_id for x in r.returns):
            return
        r.returns.append(made)
        r.note("return_authorized", f"{made.return_id}: {len(items)} units")
        r.follow_up_at = datetime.now(UTC)  # followed until Amazon has received it

    record = save(deps, order_id, keep)
    deps.events.publish(
        "ReturnAuthorized",
        {
            "eventId": f"{order_id}#ReturnAuthorized#{made.return_id}",
            "orderId": order_id,
            "returnId": made.return_id,
            "lines": [{"lineId": x.line_id, "quantity": x.quantity} for x in lines],
            "authorizations": [_authorization(a) for a in made.authorizations],
        },
    )
    return made, True, record


def _seller_sku(record: OrderRecord, line_id: str) -> str:
    for item in (record.fulfillment_request or {}).get("items") or []:
        if item.get("sellerFulfillmentOrderItemId") == line_id:
            return str(item["sellerSku"])
    raise InvalidInputError(f"items: line {line_id!r} was not sent to Amazon")


def _authorization(authorization: ReturnAuthorization) -> dict[str, Any]:
    return {
        "returnAuthorizationId": authorization.return_authorization_id,
        "amazonRmaId": authorization.amazon_rma_id,
        "rmaPageUrl": authorization.rma_page_url,
        "returnToAddress": authorization.return_to_address.model_dump(mode="json"),
    }


def open_returns(record: OrderRecord) -> bool:
    return any(r.received_at is None for r in record.returns)


def receive_returns(
    deps: SagaDependencies,
    record: OrderRecord,
    *,
    deductions: Mapping[str, int] | None = None,
) -> list[OrderReturn]:
    """Returns whose every unit Amazon now shows Processed: recorded, refunded, announced.

    `record.fulfillment` must be freshly read from Amazon. Returns the returns received now.
    """
    fulfillment = record.fulfillment
    if fulfillment is None:
        return []
    by_id = {item.seller_return_item_id: item for item in fulfillment.return_items}
    received: list[OrderReturn] = []
    for made in record.returns:
        if made.received_at is not None:
            continue
        items = [by_id.get(item_id) for item_id in made.item_ids]
        if not items or any(item is None or not item.received for item in items):
            continue
        conditions = [str(item.return_received_condition) for item in items if item]
        received.append(
            made.model_copy(
                update={"received_at": datetime.now(UTC), "conditions": tuple(conditions)}
            )
        )
    for done in received:
        _refund_return(deps, record.order_id, done, deductions or {})
    return received


def _refund_return(
    deps: SagaDependencies, order_id: str, done: OrderReturn, deductions: Mapping[str, int]
) -> None:
    from opayo_fba.refunds.allocation import line_values
    from opayo_fba.refunds.ledger import refundable, refunded_units

    record = deps.store.get(order_id)
    values = line_values(record.order)
    ordered = line_ids(record.order)
    already = refunded_units(record)
    amount = 0
    unit_conditions = iter(done.conditions)
    refunded: dict[str, int] = {}
    for line in done.lines:
        value, quantity = values[line.line_id], ordered[line.line_id].quantity
        for _ in range(line.quantity):
            before = already.get(line.line_id, 0) + refunded.get(line.line_id, 0)
            if before >= quantity:
                continue  # this unit was refunded already (a shop refund, units not shipped)
            unit = units_value(value, quantity, before, 1).amount
            kept = deductions.get(next(unit_conditions, "Sellable"), 0)
            amount += unit * (100 - kept) // 100
            refunded[line.line_id] = refunded.get(line.line_id, 0) + 1

    currency = values[done.lines[0].line_id].currency
    request_id = f"return:{done.return_id}"
    refund = next((r for r in record.refunds if r.request_id == request_id), None)
    if refund is None:
        money = min(Money(amount=amount, currency=currency), refundable(record))
        if money.amount > 0:
            record, index, _ = steps.write_down_refund(
                deps,
                order_id,
                money,
                reason=f"return {done.return_id} received ({', '.join(done.conditions)})",
                kind="return",
                request_id=request_id,
                lines=tuple(RefundLine(line_id=k, quantity=v) for k, v in sorted(refunded.items())),
            )
            refund = record.refunds[index]

    # Written down before the return is marked received: a run stopped in between finds the
    # return still open and this same refund (its request id), never a second one.
    def keep(r: OrderRecord) -> None:
        for index, existing in enumerate(r.returns):
            if existing.return_id == done.return_id and existing.received_at is None:
                r.returns[index] = done
                r.note("return_received", f"{done.return_id}: {', '.join(done.conditions)}")

    record = save(deps, order_id, keep)
    if refund is not None and refund.status == "pending":
        # Opayo could not be asked: still pending, carried out by the hourly check.
        with suppress(UpstreamError):
            refund = steps.execute_refund(deps, record, record.refunds.index(refund))
    money = refund.amount if refund is not None else Money(amount=0, currency=currency)
    deps.events.publish(
        "ReturnReceived",
        {
            "eventId": f"{order_id}#ReturnReceived#{done.return_id}",
            "orderId": order_id,
            "returnId": done.return_id,
            "conditions": list(done.conditions),
            "refund": {"amount": money.amount, "currency": money.currency},
            "refundStatus": refund.status if refund is not None else "none",
        },
    )
