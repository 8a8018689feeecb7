"""An order's actions on its page: cancel, refund, resubmit (an order Amazon could not fulfil,
held for another try: the "approve" of a hold; cancelling it is the "reject"), each asked of
the stack's own API (console/actions.py), after a confirmation that says what will happen.

The order's page draws a form per action its state allows; the API has the last word and
its answer (a 409 with the reason, say) is shown as it gave it. A POST without `confirm=yes`
shows the confirmation and changes nothing; only the confirmation's "Yes" sends it. Both
pass the guard's CSRF and Origin checks first. Refunds and resubmissions carry the id minted
when the form was drawn, so sending the same form twice is one refund.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opayo_fba.console.actions import Action, request_id
from opayo_fba.model import OrderStatus
from opayo_fba.model.money import CURRENCY_EXPONENTS
from opayo_fba.store.orders import OrderRecord

if TYPE_CHECKING:
    from opayo_fba.console.app import Console

CANCELLABLE = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.PAYMENT_PENDING,
        OrderStatus.PAYMENT_AUTHORISED,
        OrderStatus.PAID,
        OrderStatus.FULFILMENT_PENDING,
        OrderStatus.FULFILMENT_PROCESSING,
    }
)
ACTIONS: tuple[Action, ...] = ("cancel", "refund", "resubmit")
_ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$")
_REQUEST_ID = re.compile(r"^console-(refund|resubmit)-[0-9a-f]{16}$")
_AMOUNT = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,3})?$")


@dataclass(frozen=True)
class Offered:
    """The actions an order's page offers, with the ids their forms carry."""

    cancel: bool
    refund: bool
    resubmit: bool
    refund_id: str
    resubmit_id: str
    currency: str | None
    refundable: str | None
    """What is left to refund, as a decimal (the captured amount less what was refunded)."""


def _decimal(minor: int, currency: str) -> str:
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def offered(record: OrderRecord) -> Offered:
    captured = record.captured
    refunded = record.refunded
    left = None
    if captured is not None:
        left = captured.amount - (
            refunded.amount if refunded and refunded.currency == captured.currency else 0
        )
    return Offered(
        cancel=record.status in CANCELLABLE,
        refund=left is not None and left > 0,
        resubmit=record.status is OrderStatus.UNFULFILLABLE,
        refund_id=request_id("refund"),
        resubmit_id=request_id("resubmit"),
        currency=captured.currency if captured is not None else None,
        refundable=_decimal(left, captured.currency) if captured and left else None,
    )


class BadAction(ValueError):
    """A form the action cannot be asked with; the message says which field and why."""


def action_body(action: Action, form: dict[str, str], record: OrderRecord) -> dict[str, Any] | None:
    """The API request body of the action, from the form (BadAction for a bad field)."""
    if action == "cancel":
        return None
    identifier = form.get("request_id", "")
    match = _REQUEST_ID.match(identifier)
    if match is None or match.group(1) != action:
        raise BadAction("this form's id is missing or not one the console drew; reload the order")
    if action == "resubmit":
        return {"resubmitId": identifier}
    captured = record.captured
    if captured is None:
        raise BadAction("the order has nothing captured to refund")
    text = form.get("amount", "").strip()
    exponent = CURRENCY_EXPONENTS.get(captured.currency, 2)
    if not _AMOUNT.match(text):
        raise BadAction(f"amount must be a number such as 12.50 {captured.currency}")
    try:
        minor = Decimal(text).scaleb(exponent)
    except InvalidOperation:
        raise BadAction("amount must be a number") from None
    if minor != minor.to_integral_value() or minor <= 0:
        raise BadAction(f"amount must be positive, in whole {captured.currency} minor units")
    reason = " ".join(form.get("reason", "").split())
    if not 1 <= len(reason) <= 200:
        raise BadAction("give a reason of 1 to 200 characters")
    return {
        "refundId": identifier,
        "amount": {"amount": int(minor), "currency": captured.currency},
        "reason": reason,
    }


def routes(console: Console) -> list[Route]:
    backend = console.backend

    async def act(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        action = request.path_params["action"]
        if not _ORDER_ID.match(order_id):
            reason = "An order id is 1 to 64 letters, digits and . _ : / # -."
            return console.problem(request, reason, 400)
        if action not in ACTIONS:
            return console.problem(request, f"An order's actions are {', '.join(ACTIONS)}.", 404)
        record = backend.order(order_id)
        if record is None:
            return console.problem(request, f"There is no order {order_id}.", 404)
        why = backend.actions_refused
        if why is not None:
            return console.problem(request, f"Nothing was done: {why}.", 409)
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        try:
            body = action_body(action, form, record)
        except BadAction as error:
            return console.problem(request, f"Nothing was done: {error}.", 400)
        context: dict[str, Any] = {"record": record, "action": action, "body": body, "form": form}
        if form.get("confirm") != "yes":
            return console.render(request, "order_action_confirm.html", context)
        try:
            reply = backend.order_action(action, order_id, body)
        except ConnectionError as error:
            return console.problem(request, f"Nothing was done: {error}.", 503)
        context["reply"] = reply
        status = 200 if reply.status < 400 else reply.status if reply.status < 500 else 503
        return console.render(request, "order_action_done.html", context, status)

    return [Route("/orders/{order_id:path}/actions/{action}", act, methods=["POST"])]
