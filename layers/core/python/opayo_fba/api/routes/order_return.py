"""`POST /orders/{orderId}/returns`: ask Amazon for a return authorization for shipped units.

Body `{returnId, items: [{lineId, quantity}], reasonCode, comment?}`. 201 with the return and
its RMA details (Amazon's RMA id, the address to send the parcel to, the RMA page) for a new
return, 200 for a repeat of a returnId already used for the same units, 409 with the reason
for units not shipped or already returned, a returnId used for other units, an order not
shipped, or a return Amazon refused; 400 naming the field (a reason code Amazon does not
accept for the SKU lists those it does), 404 for an unknown order, 503 when Amazon cannot be
asked right now (try again: the same returnId is the same return).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from opayo_fba.after_sale.returns import (
    MAX_RETURN_REQUEST_BYTES,
    MAX_RETURN_REQUEST_DEPTH,
    ReturnRequest,
    request_return,
)
from opayo_fba.api.documented import responses
from opayo_fba.api.errors import json_reply
from opayo_fba.api.resolver import OrderIdPath, RequestBody, new_router
from opayo_fba.lambda_support import wiring

router = new_router()
BODY = RequestBody(ReturnRequest, "return", MAX_RETURN_REQUEST_BYTES, MAX_RETURN_REQUEST_DEPTH)


@router.post(
    "/orders/<orderId>/returns",
    operation_id="returnOrder",
    summary="Ask Amazon to authorise the return of shipped units",
    description=__doc__,
    tags=["after the sale"],
    responses=responses(
        {
            201: ("The return, authorised, and the order", "ReturnBody"),
            200: ("The same return, requested before", "ReturnBody"),
        },
        (400, 404, 409, 413, 503),
    ),
)
def return_order_route(
    order_id: Annotated[OrderIdPath, Path(alias="orderId")],
    request: Annotated[ReturnRequest, Body()],
) -> Response[Any]:
    w = wiring()
    record = w.store.get(order_id)
    made, created, record = request_return(
        w.saga(), w.amazon(record.seller_account), order_id, request
    )
    body = {"return": made.model_dump(mode="json"), "order": record.public_view()}
    return json_reply(201 if created else 200, body)
