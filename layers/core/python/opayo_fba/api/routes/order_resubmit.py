"""`POST /orders/{orderId}/resubmit`: try again an order Amazon could not fulfil.

Body `{resubmitId}`. 202 with the order once Amazon says it can now fulfil it and the next
attempt is started (a new fulfillment order id; the Deferred still held is captured, or the
card is charged again by a Pi Repeat after Amazon accepts the order); 200 for a repeat of the
same resubmitId; 409 with the reason for an order that did not end unfulfillable, one Amazon
still cannot fulfil, or one only the shopper can pay again (nothing is written); 400 naming
the field for bad input, 404 for an unknown order, 503 when Amazon or Opayo cannot be asked.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from opayo_fba.api.documented import responses
from opayo_fba.api.errors import json_reply
from opayo_fba.api.resolver import OrderIdPath, RequestBody, new_router
from opayo_fba.lambda_support import wiring
from opayo_fba.saga.resubmit import (
    MAX_RESUBMIT_REQUEST_BYTES,
    MAX_RESUBMIT_REQUEST_DEPTH,
    ResubmitRequest,
    reply_body,
    resubmit_order,
)

router = new_router()
BODY = RequestBody(
    ResubmitRequest, "resubmit", MAX_RESUBMIT_REQUEST_BYTES, MAX_RESUBMIT_REQUEST_DEPTH
)


@router.post(
    "/orders/<orderId>/resubmit",
    operation_id="resubmitOrder",
    summary="Try again an order Amazon could not fulfil",
    description=__doc__,
    tags=["after the sale"],
    responses=responses(
        {
            202: ("The order, its next attempt started", "ResubmitBody"),
            200: ("The same resubmission, requested before", "ResubmitBody"),
        },
        (400, 404, 409, 413, 503),
    ),
)
def resubmit_order_route(
    order_id: Annotated[OrderIdPath, Path(alias="orderId")],
    request: Annotated[ResubmitRequest, Body()],
) -> Response[Any]:
    w = wiring()
    return json_reply(*reply_body(resubmit_order(w.saga(), w.starter, order_id, request)))
