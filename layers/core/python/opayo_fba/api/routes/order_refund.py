"""`POST /orders/{orderId}/refunds`: the shop or ERP refunds an order, whole or in part.

Body `{refundId, amount: {amount, currency} | lines: [{lineId, quantity}], reason}`. 201 with
the refund and the order once Opayo has refunded it, 200 for a repeat of a refundId already
used for the same refund, 202 while Opayo has not answered (the refund stays pending and is
carried out by a repeat or the scheduled sweep), 409 with the reason for a refund beyond what
can still be refunded, an order not captured, a refundId used for another refund, or one
Opayo refused; 400 naming the field for bad input, 404 for an unknown order.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from opayo_fba.api.documented import json_content, responses
from opayo_fba.api.errors import json_reply
from opayo_fba.api.resolver import OrderIdPath, RequestBody, new_router
from opayo_fba.lambda_support import wiring
from opayo_fba.refunds.requests import (
    MAX_REFUND_REQUEST_BYTES,
    MAX_REFUND_REQUEST_DEPTH,
    RefundRequest,
    reply_body,
    request_refund,
)

router = new_router()
BODY = RequestBody(RefundRequest, "refund", MAX_REFUND_REQUEST_BYTES, MAX_REFUND_REQUEST_DEPTH)
_DOCUMENTED = responses(
    {
        201: ("The refund, made, and the order", "RefundBody"),
        200: ("The same refund, requested before", "RefundBody"),
        202: ("The refund, pending: Opayo has not answered yet", "RefundBody"),
    },
    (400, 404, 409, 413),
)
_DOCUMENTED[409]["content"] = json_content("ErrorBody | RefundRefusedBody")


@router.post(
    "/orders/<orderId>/refunds",
    operation_id="refundOrder",
    summary="Refund an order, whole or in part",
    description=__doc__,
    tags=["after the sale"],
    responses=_DOCUMENTED,
)
def refund_order_route(
    order_id: Annotated[OrderIdPath, Path(alias="orderId")],
    request: Annotated[RefundRequest, Body()],
) -> Response[Any]:
    return json_reply(*reply_body(request_refund(wiring().saga(), order_id, request)))
