"""`POST /orders`: accept an order from the shop or ERP and start the saga once it is paid.

201 with the order for a new order, 200 for a repeat of the same order, 202 with `challenge`
(acsUrl, cReq, threeDSSessionData) when Opayo asks the shopper for a 3-D Secure challenge,
400 naming the field for bad input (a body that is not UTF-8, nesting deeper than accepted, a
card number anywhere, an unknown vendor, seller account or marketplace), 413 for a body over
MAX_ORDER_REQUEST_BYTES, 409 for a different order under an existing id.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from opayo_fba.api.documented import responses
from opayo_fba.api.errors import json_reply
from opayo_fba.api.resolver import RequestBody, new_router
from opayo_fba.intake.orders import (
    MAX_ORDER_REQUEST_BYTES,
    MAX_ORDER_REQUEST_DEPTH,
    OrderSubmission,
    submit_order,
)
from opayo_fba.intake.three_d_secure import submission_reply
from opayo_fba.lambda_support import wiring
from opayo_fba.observability import metrics

router = new_router()
BODY = RequestBody(OrderSubmission, "order", MAX_ORDER_REQUEST_BYTES, MAX_ORDER_REQUEST_DEPTH)


@router.post(
    "/orders",
    operation_id="submitOrder",
    summary="Submit an order with its payment",
    description=__doc__,
    tags=["orders"],
    responses=responses(
        {
            201: ("The order, accepted", "OrderView"),
            200: ("The same order, submitted before", "OrderView"),
            202: ("The order, waiting for the shopper's 3-D Secure challenge",
                  "OrderAwaitingChallenge"),
        },
        (400, 409, 413, 503),
    ),
)  # fmt: skip
def submit_order_route(submission: Annotated[OrderSubmission, Body()]) -> Response[Any]:
    before = wiring().store.find(str(submission.order.order_id))
    record = submit_order(submission, wiring().intake())
    metrics.add_metric(name="OrdersReceived", unit="Count", value=0 if before else 1)
    return json_reply(*submission_reply(record, existed=before is not None))
