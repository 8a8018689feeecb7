"""`GET /orders/{orderId}`: the order's canonical status, payment, fulfillment and history.

404 for an unknown order (its id quoted masked), 400 for an orderId that cannot be one or a
card number in the path or query (never echoed).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from opayo_fba.api.documented import responses
from opayo_fba.api.errors import json_reply
from opayo_fba.api.resolver import OrderIdPath, new_router
from opayo_fba.card_numbers import quote_input
from opayo_fba.errors import NotFoundError
from opayo_fba.lambda_support import wiring

router = new_router()


@router.get(
    "/orders/<orderId>",
    operation_id="getOrder",
    summary="An order's status, payment, fulfillment and history",
    description=__doc__,
    tags=["orders"],
    responses=responses({200: ("The order", "OrderView")}, (400, 404), body=False),
)
def get_order_route(order_id: Annotated[OrderIdPath, Path(alias="orderId")]) -> Response[Any]:
    record = wiring().store.find(order_id)
    if record is None:
        raise NotFoundError(f"no order {quote_input(order_id)}")
    return json_reply(200, record.public_view())
