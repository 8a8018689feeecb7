"""`POST /orders/{orderId}/cancel`: the merchant cancels; the saga undoes what was done.

202 with the order once Amazon confirms the fulfillment order can still be cancelled and the
request is recorded (the saga cancels and aborts or refunds), 404 for an unknown order, 409
with the reason when Amazon is already picking or has shipped it, or the order already ended,
503 when Amazon cannot be asked right now (try again), 400 for an orderId that cannot be one
or a card number in the path or query (never echoed).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from opayo_fba.api.documented import responses
from opayo_fba.api.errors import json_reply
from opayo_fba.api.resolver import OrderIdPath, new_router
from opayo_fba.intake.cancellation import request_cancellation
from opayo_fba.lambda_support import wiring

router = new_router()


@router.post(
    "/orders/<orderId>/cancel",
    operation_id="cancelOrder",
    summary="Cancel an order Amazon has not started picking",
    description=__doc__,
    tags=["orders"],
    responses=responses(
        {202: ("The order, its cancellation recorded", "OrderView")},
        (400, 404, 409, 503),
        body=False,
    ),
)
def cancel_order_route(order_id: Annotated[OrderIdPath, Path(alias="orderId")]) -> Response[Any]:
    w = wiring()
    record = request_cancellation(w.store, order_id, "merchant request", w.resumer, amazon=w.amazon)
    return json_reply(202, record.public_view())
